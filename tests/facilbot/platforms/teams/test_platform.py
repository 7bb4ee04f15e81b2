"""Teams as a platform of the service: built from its own settings when listed, its runtime
started with the service, the encryption certificate files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from facilbot.app import create_app, running_services
from facilbot.engine.clock import VirtualClock
from facilbot.platforms.registry import enabled_platforms
from facilbot.platforms.teams import TeamsPlatform
from facilbot.platforms.teams.runtime import TeamsRuntime, load_encryption_keys
from facilbot.settings import SettingsError
from facilbot.store.db import Database
from integrations.teams.adapter import TeamsAdapter
from tests.integrations.teams.fakes import APP_ID, APP_PASSWORD, TENANT, rsa_key

from .conftest import START, make_settings, self_signed_certificate, teams_settings


@pytest.fixture
def teams_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("FACILBOT_TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("FACILBOT_TEAMS_APP_PASSWORD", APP_PASSWORD)
    monkeypatch.setenv("FACILBOT_TEAMS_TENANT_ID", TENANT)


def test_the_adapter_is_built_when_listed_and_the_credentials_are_set(
    teams_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [teams] = enabled_platforms(make_settings(tmp_path))
    assert isinstance(teams, TeamsPlatform)
    assert isinstance(teams.adapter(httpx.AsyncClient()), TeamsAdapter)
    assert enabled_platforms(make_settings(tmp_path, platforms="sim"))[0].name == "sim"
    monkeypatch.delenv("FACILBOT_TEAMS_APP_PASSWORD")
    with pytest.raises(SettingsError, match="FACILBOT_TEAMS_APP_PASSWORD is not set"):
        enabled_platforms(make_settings(tmp_path))


def write_pem(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = self_signed_certificate()
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_encryption_keys_are_read_from_pem_files(tmp_path: Path) -> None:
    cert_path, key_path = write_pem(tmp_path)
    keys = load_encryption_keys(
        teams_settings(
            encryption_certificate=cert_path,
            encryption_private_key=key_path,
            encryption_certificate_id="rotated-2",
        )
    )
    assert keys is not None and keys.certificate_id == "rotated-2"
    assert "PRIVATE" not in keys.certificate_b64
    assert load_encryption_keys(teams_settings()) is None
    with pytest.raises(SettingsError, match="both"):
        load_encryption_keys(teams_settings(encryption_certificate=cert_path))
    other = tmp_path / "other.pem"
    other.write_bytes(
        rsa_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SettingsError, match="does not match"):
        load_encryption_keys(
            teams_settings(encryption_certificate=cert_path, encryption_private_key=other)
        )
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(SettingsError, match="cannot read"):
        load_encryption_keys(
            teams_settings(
                encryption_certificate=tmp_path / "junk.pem", encryption_private_key=key_path
            )
        )


async def test_the_service_starts_the_runtime_when_teams_is_listed(
    teams_env: None, store: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    async with running_services(settings, clock=VirtualClock(START), database=store) as services:
        teams = services.platforms["teams"]
        assert isinstance(teams, TeamsPlatform)
        assert isinstance(teams.runtime, TeamsRuntime)
        assert teams.runtime.adapter is services.engine.adapters["teams"]
        assert teams.runtime.ingest is services.ingest
        app = create_app(settings, services=services)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://t.example"
            ) as client,
        ):
            response = await client.post("/webhooks/teams/bot", json={})
        assert response.status_code == 401  # configured: the token is what is missing
