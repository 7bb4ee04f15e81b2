"""Zoom as a platform of the service: built from its own settings when listed, its runtime
started with the service and stopped with it, its routes 503 when Zoom does not run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from facilbot.app import running_services
from facilbot.engine.clock import VirtualClock
from facilbot.platforms.registry import enabled_platforms
from facilbot.platforms.sim import SimPlatform
from facilbot.platforms.zoom import ZoomPlatform
from facilbot.platforms.zoom.runtime import ZoomRuntime
from facilbot.settings import SettingsError
from facilbot.store.db import Database
from integrations.zoom.adapter import ZOOM_CAPABILITIES
from tests.support.api import START, open_api, service_settings

ZOOM_ENV = {
    "FACILBOT_ZOOM_ACCOUNT_ID": "acct",
    "FACILBOT_ZOOM_CLIENT_ID": "client",
    "FACILBOT_ZOOM_CLIENT_SECRET": "secret",
}


@pytest.fixture
def zoom_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name, value in ZOOM_ENV.items():
        monkeypatch.setenv(name, value)


def test_zoom_is_built_when_listed_and_configured(zoom_env: None, tmp_path: Path) -> None:
    [sim, zoom] = enabled_platforms(service_settings(tmp_path, platforms="sim,zoom"))
    assert isinstance(sim, SimPlatform) and isinstance(zoom, ZoomPlatform)
    async_client = httpx.AsyncClient()
    assert zoom.adapter(async_client).capabilities() is ZOOM_CAPABILITIES


def test_credentials_alone_do_not_switch_zoom_on(zoom_env: None, tmp_path: Path) -> None:
    assert [p.name for p in enabled_platforms(service_settings(tmp_path, platforms="sim"))] == [
        "sim"
    ]


def test_zoom_listed_without_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACILBOT_ZOOM_ACCOUNT_ID", "acct")
    with pytest.raises(SettingsError) as error:
        enabled_platforms(service_settings(tmp_path, platforms="zoom"))
    message = str(error.value)
    assert "FACILBOT_ZOOM_CLIENT_ID, FACILBOT_ZOOM_CLIENT_SECRET are not set" in message
    assert "acct" not in message


async def test_the_service_closes_the_http_client_it_opened(
    zoom_env: None, store: Database, tmp_path: Path
) -> None:
    settings = service_settings(tmp_path, platforms="zoom")
    async with running_services(settings, clock=VirtualClock(START), database=store) as services:
        zoom = services.platforms["zoom"]
        assert isinstance(zoom, ZoomPlatform)
        client = zoom.adapter(httpx.AsyncClient())._client._http  # type: ignore[attr-defined]
        assert not client.is_closed
        assert isinstance(zoom.runtime, ZoomRuntime)
        assert zoom.runtime.adapter is services.engine.adapters["zoom"]
    assert client.is_closed


async def test_without_zoom_its_routes_say_how_to_switch_it_on(
    store: Database, tmp_path: Path
) -> None:
    async with open_api(service_settings(tmp_path, platforms="sim"), store) as api:
        assert "zoom" not in api.services.platforms
        response = await api.client.post("/webhooks/zoom", content=b"{}")
        assert response.status_code == 503
        assert response.json()["error"] == "not_configured"
        assert "FACILBOT_PLATFORMS" in response.json()["detail"]
