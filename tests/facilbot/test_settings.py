"""Configuration from FACILBOT_* variables and .env, with production refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from facilbot.platforms.registry import enabled_platforms
from facilbot.platforms.zoom.settings import ZoomSettings
from facilbot.settings import (
    Settings,
    SettingsError,
    async_database_url,
    default_data_dir,
    load_settings,
    read_settings,
    redact_url,
)

SAFE_PRODUCTION = {
    "env": "production",
    "base_url": "https://facilbot.example.org",
    "platforms": "zoom,teams",
    "zoom_webhook_secret_token": "zoom-webhook-secret",
    "zoom_account_id": "acc",
    "zoom_client_id": "cid",
    "zoom_client_secret": "csecret",
    "teams_app_id": "00000000-0000-0000-0000-000000000001",
    "teams_app_password": "app-password",
    "teams_tenant_id": "00000000-0000-0000-0000-00000000000a",
    "graph_client_state": "a-long-random-client-state",
    "pages_secret": "0123456789abcdef0123456789abcdef",
}


def start_up(monkeypatch: pytest.MonkeyPatch, **values: object) -> Settings:
    """What ``facilbot serve`` checks before it opens anything: the service's settings, then
    each listed platform's own (read from the environment, as in production)."""
    core = {name: value for name, value in values.items() if name in Settings.model_fields}
    for name, value in values.items():
        if name not in core and value is not None:
            monkeypatch.setenv(f"FACILBOT_{name.upper()}", str(value))
    settings = load_settings(**core)
    enabled_platforms(settings)
    return settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FACILBOT_* variable or .env from the machine running the tests leaks in."""
    import os

    for name in list(os.environ):
        if name.startswith("FACILBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)


def test_laptop_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = load_settings()
    data_dir = tmp_path / "home" / ".local" / "share" / "facilbot"
    assert settings.env == "development" and not settings.debug
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite+aiosqlite:///{data_dir / 'facilbot.db'}"
    assert settings.is_sqlite
    assert settings.lease_seconds == 10
    assert settings.platforms == frozenset({"sim"})
    zoom = read_settings(ZoomSettings)
    assert zoom.api_base_url == "https://api.zoom.us/v2"
    assert zoom.oauth_url == "https://zoom.us/oauth/token"
    assert settings.instance_id.endswith(f"-{__import__('os').getpid()}")
    assert not data_dir.exists()  # reading settings creates nothing


def test_xdg_data_home_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "facilbot"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the spec says: absolute only
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "facilbot"


def test_environment_variables_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "FACILBOT_LEASE_SECONDS=4\nFACILBOT_PORT=9000\nFACILBOT_ZOOM_CLIENT_ID=from-dotenv\n"
    )
    monkeypatch.setenv("FACILBOT_PORT", "9100")  # the environment beats .env
    monkeypatch.setenv("FACILBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FACILBOT_PLATFORMS", "zoom, sim")
    settings = load_settings()
    assert (settings.lease_seconds, settings.port) == (4, 9100)
    assert read_settings(ZoomSettings).client_id == "from-dotenv"
    assert settings.platforms == frozenset({"zoom", "sim"})
    assert settings.database_url.endswith(f"{tmp_path / 'data' / 'facilbot.db'}")
    assert read_settings(ZoomSettings, _env_file=None).client_id is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/fb", "postgresql+asyncpg://u:p@db:5432/fb"),
        ("postgres://u@db/fb", "postgresql+asyncpg://u@db/fb"),
        ("postgresql+asyncpg://u@db/fb", "postgresql+asyncpg://u@db/fb"),
        ("sqlite:////var/lib/fb.db", "sqlite+aiosqlite:////var/lib/fb.db"),
        ("sqlite+aiosqlite:///fb.db", "sqlite+aiosqlite:///fb.db"),
    ],
)
def test_database_urls_use_async_drivers(given: str, expected: str) -> None:
    assert async_database_url(given) == expected
    assert load_settings(database_url=given).database_url == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"database_url": "mysql://x/y"}, "FACILBOT_DATABASE_URL: .*unsupported scheme 'mysql'"),
        ({"database_url": "not a url"}, "FACILBOT_DATABASE_URL: .*must look like"),
        ({"lease_seconds": 0}, "FACILBOT_LEASE_SECONDS"),
        ({"env": "staging"}, "FACILBOT_ENV"),
        ({"base_url": "ftp://x"}, "FACILBOT_BASE_URL"),
        ({"platforms": "zoom,skype"}, "FACILBOT_PLATFORMS"),
        ({"outbound_webhook_secret": "s3"}, "FACILBOT_OUTBOUND_WEBHOOK_SECRET: .*is not used"),
    ],
)
def test_bad_values_are_named_precisely(
    overrides: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError, match=message):
        start_up(monkeypatch, **overrides)


def test_production_accepts_a_safe_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = start_up(monkeypatch, **SAFE_PRODUCTION)
    assert settings.production_problems() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base_url": "http://facilbot.example.org"}, "FACILBOT_BASE_URL must be https"),
        ({"debug": True}, "FACILBOT_DEBUG must be off"),
        ({"pages_secret": "short"}, "FACILBOT_PAGES_SECRET must be set"),
        ({"zoom_webhook_secret_token": ""}, "FACILBOT_ZOOM_WEBHOOK_SECRET_TOKEN is required"),
        ({"graph_client_state": ""}, "FACILBOT_GRAPH_CLIENT_STATE is required when teams"),
        ({"graph_client_state": "short"}, "FACILBOT_GRAPH_CLIENT_STATE must be at least 16"),
    ],
)
def test_production_refuses_unsafe_configuration(
    change: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = {**SAFE_PRODUCTION, **change}
    with pytest.raises(SettingsError, match=message) as refused:
        start_up(monkeypatch, **overrides)
    assert "refusing to run in production" in str(refused.value)
    overrides["env"] = "development"
    start_up(monkeypatch, **overrides)  # the same values are fine on a laptop


@pytest.mark.parametrize("env", ["production", "development"])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zoom_client_secret": None}, "FACILBOT_ZOOM_CLIENT_SECRET is not set"),
        ({"teams_app_password": None}, "FACILBOT_TEAMS_APP_PASSWORD is not set"),
    ],
)
def test_a_listed_platform_without_its_credentials_does_not_start(
    env: str, change: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        start_up(monkeypatch, **{**SAFE_PRODUCTION, **change, "env": env})
    assert "FACILBOT_PLATFORMS" in str(refused.value)  # says what switched it on


def test_a_platform_that_is_off_needs_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = {k: v for k, v in SAFE_PRODUCTION.items() if not k.startswith(("zoom", "teams"))}
    overrides["platforms"] = "teams"
    overrides["teams_app_id"] = "id"
    overrides["teams_app_password"] = "pw"
    overrides["teams_tenant_id"] = "tenant"
    start_up(monkeypatch, **overrides)


def test_secrets_never_show_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = start_up(
        monkeypatch, **{**SAFE_PRODUCTION, "database_url": "postgresql://fb:db-password@db/fb"}
    )
    zoom = read_settings(ZoomSettings)
    shown = repr(settings) + str(settings) + repr(zoom) + str(zoom)
    for secret in (
        "zoom-webhook-secret",
        "csecret",
        "app-password",
        "a-long-random",
        "db-password",
    ):
        assert secret not in shown
    assert isinstance(zoom.client_secret, SecretStr)
    assert zoom.client_secret.get_secret_value() == "csecret"
    assert "db-password" in settings.database_url  # the real value is still usable
    with pytest.raises(SettingsError) as refused:
        load_settings(port="hunter2-not-a-port")
    assert "hunter2" not in str(refused.value)


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


def test_settings_are_immutable() -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(ValueError):
        settings.port = 1  # type: ignore[misc]
