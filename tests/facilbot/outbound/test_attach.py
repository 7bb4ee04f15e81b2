"""Attaching without a person: one live session per meeting, Idempotency-Key, ``replace``, and
``facilbot attach`` / ``facilbot webhooks`` on the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from facilbot.auth import Role
from facilbot.cli import main
from facilbot.platforms.sim import PLANNED_START_POLL
from facilbot.store import sessions as stored_sessions
from facilbot.store import shows
from facilbot.store.db import create_engine
from tests.support.api import SMALL_SHOW, START

from .conftest import Hooks


async def post(hooks: Hooks, body: dict[str, Any], **headers: str) -> Any:
    return await hooks.client.post("/sessions", json=body, headers={**hooks.auth(), **headers})


async def test_a_second_attach_to_a_live_meeting_is_409_naming_it(hooks: Hooks) -> None:
    version = await hooks.upload()
    first = await hooks.attach(version, meeting_ref="m-1")
    again = await post(hooks, {"show_version_id": version, "platform": "sim", "meeting_ref": "m-1"})
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "meeting_in_use"
    assert again.json()["session_id"] == first and first in again.json()["detail"]
    listed = await hooks.client.get("/sessions", headers=hooks.auth(Role.viewer))
    assert [s["id"] for s in listed.json()] == [first]
    # Another meeting is fine; and once the first session ended, so is the same meeting.
    await hooks.attach(version, meeting_ref="m-2")
    await hooks.control(first, "end")
    await hooks.advance(1)
    await hooks.attach(version, meeting_ref="m-1")


async def test_replace_ends_the_live_session(hooks: Hooks) -> None:
    version = await hooks.upload()
    first = await hooks.attach(version, meeting_ref="m-1")
    second = await hooks.attach(version, meeting_ref="m-1", replace=True)
    await hooks.settle()
    ended = await hooks.client.get(f"/sessions/{first}", headers=hooks.auth())
    assert ended.json()["status"] == "ended"
    listed = await hooks.client.get("/sessions", headers=hooks.auth(Role.viewer))
    assert [s["id"] for s in listed.json()] == [second]


async def test_an_idempotency_key_returns_the_first_answer(hooks: Hooks) -> None:
    version = await hooks.upload()
    body = {"show_version_id": version, "platform": "sim", "meeting_ref": "lms-77"}
    first = await post(hooks, body, **{"Idempotency-Key": "enrol-77"})
    assert first.status_code == 201, first.text
    repeat = await post(hooks, body, **{"Idempotency-Key": "enrol-77"})
    assert repeat.status_code == 201
    assert repeat.json()["id"] == first.json()["id"]
    changed = await post(
        hooks, {**body, "meeting_ref": "lms-78"}, **{"Idempotency-Key": "enrol-77"}
    )
    assert changed.status_code == 422
    assert "different request" in changed.json()["detail"]
    listed = await hooks.client.get("/sessions", headers=hooks.auth(Role.viewer))
    assert [s["id"] for s in listed.json()] == [first.json()["id"]]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated SQLite database of its own: the CLI runs its own event loop."""
    monkeypatch.setenv("FACILBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("FACILBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FACILBOT_ENV", "development")
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    assert main(["migrate"]) == 0
    return tmp_path


def test_webhooks_cli_adds_lists_rotates_and_deletes(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["webhooks", "add", "http://127.0.0.1:9/hook"]) == 2
    assert "FACILBOT_WEBHOOKS_ALLOW_PRIVATE" in capsys.readouterr().err
    monkeypatch.setenv("FACILBOT_WEBHOOKS_ALLOW_PRIVATE", "1")
    assert main(["webhooks", "add", "http://127.0.0.1:9/hook", "--events", "session.ended"]) == 0
    out = capsys.readouterr()
    secret = out.out.strip()
    assert secret.startswith("whsec_")
    endpoint = out.err.split()[2]
    assert main(["webhooks", "list"]) == 0
    listed = capsys.readouterr().out
    assert endpoint in listed and "session.ended" in listed and secret not in listed
    assert main(["webhooks", "rotate", endpoint]) == 0
    rotated = capsys.readouterr().out.strip()
    assert rotated.startswith("whsec_") and rotated != secret
    assert main(["webhooks", "disable", endpoint]) == 0
    assert main(["webhooks", "list"]) == 0
    assert "disabled" in capsys.readouterr().out
    assert main(["webhooks", "enable", endpoint]) == 0
    assert main(["webhooks", "deliveries", endpoint]) == 0
    assert main(["webhooks", "add", "https://x.example/", "--events", "nope.never"]) == 2
    assert "unknown event type" in capsys.readouterr().err
    assert main(["webhooks", "delete", endpoint]) == 0
    assert main(["webhooks", "delete", endpoint]) == 1
    assert main(["webhooks", "replay"]) == 2
    # The secret never reaches the database in the clear.
    assert secret.encode() not in b"".join(p.read_bytes() for p in cli_env.glob("*.db*"))


def test_attach_cli(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def upload() -> None:
        engine = create_engine(f"sqlite:///{cli_env / 'cli.db'}")
        async with engine.begin() as connection:
            await shows.save_show_version(
                connection,
                name="onboarding",
                yaml_text=SMALL_SHOW,
                title="API test show",
                uploaded_at=START,
                uploaded_by="test",
            )
        await engine.dispose()

    asyncio.run(upload())
    capsys.readouterr()
    assert main(["attach", "nothing-here", "--platform", "sim", "--meeting", "m"]) == 1
    assert "no show named" in capsys.readouterr().err
    assert (
        main(["attach", "onboarding", "--platform", "sim", "--meeting", "m", "--at", "9:00"]) == 2
    )
    assert "ISO 8601" in capsys.readouterr().err
    args = ["attach", "onboarding", "--platform", "sim", "--meeting", "m-9"]
    planned = ["--at", "2026-03-04T09:00+01:00", "--producer", "Ana", "--producer", "b@x.org"]
    assert main([*args, *planned]) == 0
    first = capsys.readouterr().out.strip()
    assert main(args) == 1
    assert first in capsys.readouterr().err
    assert main([*args, "--replace"]) == 0
    second = capsys.readouterr().out.strip()
    assert second != first

    async def sessions() -> list[tuple[str, str, object]]:
        engine = create_engine(f"sqlite:///{cli_env / 'cli.db'}")
        async with engine.connect() as connection:
            records = await stored_sessions.sessions_for_meeting(
                connection, "sim", "m-9", include_ended=True
            )
        await engine.dispose()
        return [(r.id, r.status, r.planned_start) for r in records]

    found = asyncio.run(sessions())
    assert [(i, s) for i, s, _ in found] == [(first, "ended"), (second, "attached")]
    assert found[0][2] == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


async def test_a_sim_session_attached_ahead_starts_at_its_planned_start(hooks: Hooks) -> None:
    version = await hooks.upload()
    planned = START + timedelta(minutes=10)
    session_id = await hooks.attach(version, planned_start=planned.isoformat())
    await hooks.advance(9 * 60)
    await asyncio.sleep(PLANNED_START_POLL * 3)
    state = await hooks.client.get(f"/sessions/{session_id}", headers=hooks.auth())
    assert state.json()["status"] in ("attached", "waiting")
    await hooks.advance(60)
    for _ in range(40):
        await asyncio.sleep(PLANNED_START_POLL / 4)
        await hooks.settle()
        state = await hooks.client.get(f"/sessions/{session_id}", headers=hooks.auth())
        if state.json()["status"] == "running":
            break
    assert state.json()["status"] == "running"
    listed = await hooks.client.get("/sessions", headers=hooks.auth(Role.viewer))
    assert listed.json()[0]["started_at"].startswith("2025-03-04T09:10")
