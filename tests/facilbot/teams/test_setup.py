"""Teams wiring from the settings: the adapter, the runtime in the app's lifespan, the
encryption certificate files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from facilbot.api.app import create_app
from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine
from facilbot.integrations_setup import build_adapters
from facilbot.settings import SettingsError
from facilbot.store.db import Database
from facilbot.teams_service import TeamsRuntime, load_encryption_keys, teams_enabled
from integrations.teams.adapter import TeamsAdapter
from tests.integrations.teams.fakes import rsa_key

from .conftest import START, make_settings, self_signed_certificate


def test_the_adapter_is_built_when_the_credentials_are_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert teams_enabled(settings)
    assert isinstance(build_adapters(settings)["teams"], TeamsAdapter)
    bare = make_settings(tmp_path, teams_app_password=None)
    assert not teams_enabled(bare)
    assert "teams" not in build_adapters(bare)


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
        make_settings(
            tmp_path,
            teams_encryption_certificate=cert_path,
            teams_encryption_private_key=key_path,
            teams_encryption_certificate_id="rotated-2",
        )
    )
    assert keys is not None and keys.certificate_id == "rotated-2"
    assert "PRIVATE" not in keys.certificate_b64
    assert load_encryption_keys(make_settings(tmp_path)) is None
    with pytest.raises(SettingsError, match="both"):
        load_encryption_keys(make_settings(tmp_path, teams_encryption_certificate=cert_path))
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
            make_settings(
                tmp_path,
                teams_encryption_certificate=cert_path,
                teams_encryption_private_key=other,
            )
        )
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(SettingsError, match="cannot read"):
        load_encryption_keys(
            make_settings(
                tmp_path,
                teams_encryption_certificate=tmp_path / "junk.pem",
                teams_encryption_private_key=key_path,
            )
        )


async def test_the_app_starts_the_runtime_when_teams_is_configured(
    store: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    async with httpx.AsyncClient() as http:
        adapters = build_adapters(settings, http=http)
        engine = Engine(store, VirtualClock(START), instance_id="setup-test", adapters=adapters)
        await engine.start()
        app = create_app(settings, engine=engine)
        try:
            async with app.router.lifespan_context(app):
                runtime = app.state.teams_runtime
                assert isinstance(runtime, TeamsRuntime)
                assert runtime.adapter is adapters["teams"]
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="https://t.example"
                ) as client:
                    response = await client.post("/webhooks/teams/bot", json={})
                assert response.status_code == 401  # configured: the token is what is missing
            assert app.state.teams_runtime is None
        finally:
            await engine.stop()
