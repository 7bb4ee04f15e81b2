"""Development mail: without SMTP the follow-ups become .eml files in the data directory,
which ``facilbot mail outbox`` lists; ``facilbot followups list`` shows the schedule."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from facilbot import cli
from facilbot.engine.clock import VirtualClock
from facilbot.store.db import Database
from tests.facilbot.journey.conftest import COMMITMENT, FRIDAY, ended_session
from tests.facilbot.journey.test_followups import REMINDER
from tests.support.api import ApiHarness, open_api, service_settings


@pytest.fixture
async def dev_api(
    store: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ApiHarness]:
    monkeypatch.delenv("FACILBOT_SMTP_URL", raising=False)
    settings = service_settings(tmp_path, pages_secret="journey-test-secret-0123456789abcdef")
    async with open_api(settings, store, clock=VirtualClock(FRIDAY)) as harness:
        yield harness


async def test_without_smtp_mail_is_written_to_the_outbox(
    dev_api: ApiHarness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session_id = await ended_session(dev_api)
    await dev_api.clock.advance_to(REMINDER)
    assert dev_api.services.followups is not None
    report = await dev_api.services.followups.run_once()
    assert report.sent == 1
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "Ana Alves <ana@example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert COMMITMENT in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    monkeypatch.setenv("FACILBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FACILBOT_DATABASE_URL", str(dev_api.db.engine.url.render_as_string(False)))
    assert cli.main(["mail", "outbox"]) == 0
    listed = capsys.readouterr().out
    assert "1 message(s)" in listed and "Ana Alves <ana@example.org>" in listed
    assert str(files[0]) in listed

    assert (
        await asyncio.to_thread(
            cli.main, ["followups", "list", "--session", session_id, "--format", "json"]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(r["who"], r["what"], r["status"]) for r in rows] == [
        ("Ana Alves", "reminder", "sent"),
        ("Ana Alves", "check-in 30d", "scheduled"),
        ("Ana Alves", "check-in 60d", "scheduled"),
        ("Ana Alves", "check-in 90d", "scheduled"),
    ]
    assert rows[0]["due_local"] == "2025-03-17T09:00:00+01:00"
    assert await asyncio.to_thread(cli.main, ["followups", "list"]) == 0
    assert "Mon 2025-03-17 09:00" in capsys.readouterr().out
