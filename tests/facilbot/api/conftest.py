"""The real app on a real migrated database (SQLite and PostgreSQL), real tokens, a virtual clock.

Requests go through httpx's ASGI transport into the app whose lifespan opened the database and
started the engine, exactly as ``facilbot serve`` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from facilbot.api.app import create_app
from facilbot.api.deps import Services
from facilbot.auth import Role, create_token
from facilbot.engine.clock import VirtualClock
from facilbot.settings import Settings, load_settings

START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

#: A small valid show: connection check-in, a talk with a poll, a producer cue, commitments.
SMALL_SHOW = """\
title: API test show
duration: 30m
segments:
  - id: arrive
    kind: connection
    duration: 5m
    cues:
      - at: 0m
        say: "In one word, how are you arriving today?"
  - id: talk
    kind: talk
    duration: 5m
    cues:
      - at: 1m
        poll: {question: "Which matters most?", options: [Speed, Quality]}
      - at: 3m
        id: lights
        producer: "Dim the lights"
  - id: work
    kind: activity
    duration: 15m
    cues:
      - at: 5m
        say: "Share one example in the chat."
      - at: 11m
        say: "Post your draft in the chat."
  - id: commit
    kind: commitments
    duration: 5m
    prompt: "Type one specific action you will take in the next 48 hours."
"""


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    clock: VirtualClock
    services: Services
    tokens: dict[Role, str]

    def auth(self, role: Role = Role.producer) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def upload(self, text: str = SMALL_SHOW, name: str = "small") -> int:
        response = await self.client.post(
            "/shows",
            params={"name": name},
            content=text.encode(),
            headers={**self.auth(Role.facilitator), "Content-Type": "application/yaml"},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["version"]["id"])

    async def attach(self, version_id: int, meeting_ref: str = "sim-1") -> str:
        response = await self.client.post(
            "/sessions",
            json={"show_version_id": version_id, "platform": "sim", "meeting_ref": meeting_ref},
            headers=self.auth(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def make_settings(database_url: str, data_dir: Path) -> Settings:
    return load_settings(
        _env_file=None,
        env="test",
        database_url=database_url,
        data_dir=data_dir,
        platforms="sim",
        instance_id="api-test",
        lease_seconds=30,
    )


async def make_tokens(services: Services) -> dict[Role, str]:
    tokens = {}
    async with services.db.engine.begin() as connection:
        for role in Role:
            _id, token = await create_token(
                connection, name=f"{role.value} tester", role=role, at=START
            )
            tokens[role] = token
    return tokens


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    clock = VirtualClock(START)
    app = create_app(make_settings(database_url, tmp_path), clock=clock)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        tokens = await make_tokens(services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://facilbot.test") as c:
            yield Api(app, c, clock, services, tokens)
