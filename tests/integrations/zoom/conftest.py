"""Fixtures: a virtual clock, the fake Zoom, and a ZoomClient wired to it in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.zoom.rest import ZoomClient, ZoomCredentials
from tests.support.clock import FakeClock

from .fake_zoom import FakeZoom

FIXTURES = Path(__file__).parent / "fixtures"
MEETING_ID = 85746065432


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeZoom:
    return FakeZoom(clock=clock)


@pytest.fixture
async def client(fake: FakeZoom, clock: FakeClock) -> AsyncIterator[ZoomClient]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    zoom = ZoomClient(
        ZoomCredentials(fake.account_id, fake.client_id, fake.client_secret),
        api_base_url="https://api.zoom.us/v2",
        oauth_url="https://zoom.us/oauth/token",
        http=http,
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.5,
    )
    yield zoom
    await http.aclose()
