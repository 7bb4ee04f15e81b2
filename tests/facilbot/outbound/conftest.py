"""The service with outbound webhooks to real receivers on 127.0.0.1 (virtual show clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilbot.auth import Role
from facilbot.store.db import Database
from tests.support.api import ApiHarness, open_api, service_settings


class Hooks(ApiHarness):
    async def add_endpoint(self, url: str, **body: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/outbound/endpoints", json={"url": url, **body}, headers=self.auth(Role.producer)
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        assert created["secret"].startswith("whsec_")
        return created

    async def deliver(self) -> None:
        """Until everything due now was attempted (what the worker's own loop does)."""
        await self.settle()
        await self.services.outbound.drain()

    async def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/outbound/endpoints/{endpoint_id}/deliveries", headers=self.auth()
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found


@pytest.fixture
async def hooks(store: Database, tmp_path: Path) -> AsyncIterator[Hooks]:
    settings = service_settings(tmp_path, webhooks_allow_private=True)
    async with open_api(settings, store, kind=Hooks) as harness:
        yield harness
