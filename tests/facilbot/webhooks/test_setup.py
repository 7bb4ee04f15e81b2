"""Building the platform adapters from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facilbot.integrations_setup import build_adapters, platform_adapters
from facilbot.settings import Settings, SettingsError, load_settings
from integrations.zoom.adapter import ZOOM_CAPABILITIES

ZOOM = {
    "zoom_account_id": "acct",
    "zoom_client_id": "client",
    "zoom_client_secret": "secret",
}


def settings(tmp_path: Path, **values: Any) -> Settings:
    return load_settings(_env_file=None, data_dir=tmp_path, **values)


def test_development_always_has_the_simulator(tmp_path: Path) -> None:
    adapters = build_adapters(settings(tmp_path, env="development", platforms="teams"))
    assert sorted(adapters) == ["sim"]
    assert build_adapters(settings(tmp_path, env="test", platforms="teams")) == {}


def test_zoom_is_built_when_configured(tmp_path: Path) -> None:
    adapters = build_adapters(settings(tmp_path, env="test", platforms="sim", **ZOOM))
    assert sorted(adapters) == ["sim", "zoom"]
    assert adapters["zoom"].capabilities() is ZOOM_CAPABILITIES


def test_zoom_enabled_without_credentials_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        build_adapters(settings(tmp_path, env="test", platforms="zoom", zoom_account_id="acct"))
    message = str(error.value)
    assert "FACILBOT_ZOOM_CLIENT_ID, FACILBOT_ZOOM_CLIENT_SECRET are not set" in message
    assert "acct" not in message


async def test_platform_adapters_close_their_http_client(tmp_path: Path) -> None:
    async with platform_adapters(settings(tmp_path, env="test", platforms="zoom", **ZOOM)) as built:
        client = built["zoom"]._client._http  # type: ignore[attr-defined]
        assert not client.is_closed
    assert client.is_closed
