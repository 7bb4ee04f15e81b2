"""API tokens: shown once, stored hashed, verified, revoked; and the `facilbot token` command."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from facilbot import auth
from facilbot.store import tokens
from facilbot.store.models import ApiToken, table_of

T0 = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


def test_tokens_are_random_and_long() -> None:
    made = {auth.generate_token() for _ in range(100)}
    assert len(made) == 100
    for token in made:
        assert token.startswith("fb_") and len(token) == 3 + 43


def test_roles_include_the_ones_below() -> None:
    producer = auth.Principal(1, "Ana", auth.Role.producer)
    viewer = auth.Principal(2, "Bo", auth.Role.viewer)
    assert producer.can(auth.Role.facilitator) and producer.can(auth.Role.viewer)
    assert viewer.can(auth.Role.viewer) and not viewer.can(auth.Role.facilitator)
    with pytest.raises(ValueError, match="choose one of viewer, facilitator, producer"):
        auth.parse_role("admin")


async def test_a_token_is_stored_hashed_and_verifies(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        token_id, token = await auth.create_token(connection, name=" Ana ", role="producer", at=T0)
        stored = (await connection.execute(select(table_of(ApiToken)))).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in tuple(str(value) for value in stored)
    assert stored.name == "Ana"

    async with engine.begin() as connection:
        principal = await auth.verify_token(connection, token, T0 + timedelta(minutes=5))
    assert principal == auth.Principal(token_id, "Ana", auth.Role.producer)


@pytest.mark.parametrize("wrong", ["", "fb_", "Bearer x", "fb_" + "A" * 43, "x" * 5000])
async def test_unknown_or_malformed_tokens_are_refused(engine: AsyncEngine, wrong: str) -> None:
    async with engine.begin() as connection:
        await auth.create_token(connection, name="Ana", role="viewer", at=T0)
        assert await auth.verify_token(connection, wrong, T0) is None


async def test_a_revoked_token_stops_working(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        token_id, token = await auth.create_token(connection, name="Ana", role="viewer", at=T0)
        assert await tokens.revoke_token(connection, token_id, T0)
        assert not await tokens.revoke_token(connection, token_id, T0)
        assert not await tokens.revoke_token(connection, token_id + 100, T0)
        assert await auth.verify_token(connection, token, T0) is None


async def test_last_use_is_recorded_at_most_once_a_minute(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        _, token = await auth.create_token(connection, name="Ana", role="viewer", at=T0)
        for seconds in (0, 30, 59):
            await auth.verify_token(connection, token, T0 + timedelta(seconds=seconds))
        (record,) = await tokens.list_tokens(connection)
        assert record.last_used_at == T0
        await auth.verify_token(connection, token, T0 + timedelta(seconds=61))
        (record,) = await tokens.list_tokens(connection)
    assert record.last_used_at == T0 + timedelta(seconds=61)


async def test_a_token_needs_a_name_and_a_known_role(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        with pytest.raises(ValueError, match="needs a name"):
            await auth.create_token(connection, name="  ", role="viewer", at=T0)
        with pytest.raises(ValueError, match="unknown role"):
            await auth.create_token(connection, name="Ana", role="root", at=T0)


def _facilbot(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facilbot.cli", *args],
        env={**os.environ, "FACILBOT_DATABASE_URL": database_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_token_command(database_url: str, engine: AsyncEngine, tmp_path: Path) -> None:
    created = _facilbot(
        ["token", "create", "--role", "producer", "--name", "Ana"], database_url, tmp_path
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("fb_") and "shown only this once" in created.stderr

    async with engine.begin() as connection:
        principal = await auth.verify_token(connection, token, T0)
    assert principal is not None and principal.role is auth.Role.producer

    listed = _facilbot(["token", "list"], database_url, tmp_path)
    assert listed.returncode == 0
    assert "Ana" in listed.stdout and "producer" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout

    assert (
        _facilbot(["token", "revoke", str(principal.token_id)], database_url, tmp_path).returncode
        == 0
    )
    again = _facilbot(["token", "revoke", str(principal.token_id)], database_url, tmp_path)
    assert again.returncode == 1 and "no active token" in again.stderr
    assert "revoked" in _facilbot(["token", "list"], database_url, tmp_path).stdout

    bad = _facilbot(["token", "create", "--role", "root", "--name", "x"], database_url, tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_the_token_command_asks_for_migrations_first(tmp_path: Path) -> None:
    result = _facilbot(["token", "list"], f"sqlite:///{tmp_path / 'new.db'}", tmp_path)
    assert result.returncode == 2
    assert "run `facilbot migrate` first" in result.stderr and "Traceback" not in result.stderr
