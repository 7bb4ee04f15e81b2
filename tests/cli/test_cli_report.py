"""``facilbot report`` and ``facilbot prune`` on the service's database (FACILBOT_DATABASE_URL):
the reported show of ``tests/facilbot/reports``, written through the real service first."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import pytest

from facilbot.cli import main
from facilbot.platforms.sim import SimPlatform
from facilbot.store.db import open_database
from tests.facilbot.reports.test_session_report import first_session, second_session
from tests.support.api import open_api, service_settings


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A SQLite file with two ended sessions of the show 'reportshow'; (first, second) ids."""
    url = f"sqlite:///{tmp_path / 'facilbot.db'}"

    async def record() -> tuple[str, str]:
        settings = service_settings(tmp_path, database_url=url)
        db = await open_database(settings)
        try:
            async with open_api(
                settings, db, platforms=[SimPlatform(rehearse=True, start_planned=False)]
            ) as api:
                return await first_session(api), await second_session(api)
        finally:
            await db.close()

    ids = asyncio.run(record())
    monkeypatch.setenv("FACILBOT_DATABASE_URL", url)
    monkeypatch.setenv("FACILBOT_ENV", "test")
    return ids


def test_report_last_and_formats(
    database: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = database
    assert main(["report", "--last", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("session", "segments", "cues", "practices", "participants", "polls"):
        assert key in report
    assert {"commitments", "controls"} <= set(report)
    assert report["session"]["id"] == second  # the most recently ended
    segment = report["segments"][0]
    assert {"id", "planned_start", "planned_seconds", "actual_start", "actual_seconds"} <= set(
        segment
    )
    assert segment["actual_start"].endswith("+00:00")  # ISO 8601 with its offset

    assert main(["report", first]) == 0
    text = capsys.readouterr().out
    assert "late start 3m" in text and "talk" in text and "present without one: Ben, Cleo" in text

    out = tmp_path / "r.html"
    assert main(["report", first, "--format", "html", "--out", str(out)]) == 0
    page = out.read_text("utf-8")
    assert "<svg" in page and "Report test show" in page

    archive = tmp_path / "r.zip"
    assert main(["report", first, "--format", "csv", "--out", str(archive)]) == 0
    names = zipfile.ZipFile(io.BytesIO(archive.read_bytes())).namelist()
    assert "segments.csv" in names and "controls.csv" in names
    capsys.readouterr()
    assert main(["report", first, "--format", "csv", "--table", "controls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "\ufeffseq,kind,at,by,detail,by_hand"
    assert len(lines) == 4  # start, extend, skip

    assert main(["report", "--show", "reportshow"]) == 0
    cohort = capsys.readouterr().out
    assert "2 sessions" in cohort and "talk overran in 1 of 2 sessions" in cohort


def test_report_refusals(database: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "00000000-0000-4000-8000-000000000000"]) == 1
    assert "no session" in capsys.readouterr().err
    assert main(["report", "--show", "nothing"]) == 1
    assert "no show named 'nothing'" in capsys.readouterr().err
    assert main(["report", "--last", "--table", "cues"]) == 2
    assert "--table goes with --format csv" in capsys.readouterr().err


def test_prune_command(database: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    first, second = database
    # The sessions ended in 2025 (the virtual clock); today is later than 30 days after.
    assert main(["prune", "--days", "30"]) == 0
    out = capsys.readouterr().out
    assert "pruned personal data of 2 session(s)" in out and first in out and second in out
    assert main(["report", first, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pruned"] is True and report["participants"] == []
    assert report["summary"]["attendees"] == 4
    assert main(["prune", "--days", "0"]) == 2
