"""``facilbot plan``: the timeline table, JSON, time zones and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from facilbot.cli import main

ROOT = Path(__file__).parents[2]
ROLEPLAY = str(ROOT / "examples" / "roleplay-90m.yaml")  # timezone: Europe/Berlin, 90 minutes

LONG_TALK = """\
title: A lecture
duration: 30m
prompt_bank: ["What surprised you so far?"]
segments:
  - id: hello
    kind: connection
    duration: 5m
  - id: lecture
    kind: talk
    duration: 20m
  - id: chat
    kind: discussion
    duration: 5m
"""


def plan_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["plan", *args])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    code, out, err = plan_cli([*args, "--format", "json"], capsys)
    assert (code, err) == (0, "")
    data: dict = json.loads(out)  # type: ignore[type-arg]
    return data


def test_text_timeline_of_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = plan_cli([ROLEPLAY, "--start", "09:00", "--date", "2025-03-04"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Facilitative Consultant — session 3 (role-play)"
    assert lines[1] == "Tuesday 2025-03-04, 09:00–10:30 Europe/Berlin · 1h30m"
    assert lines[3].split() == ["time", "offset", "segment", "action", "what"]
    assert lines[4].split()[:4] == ["09:00", "+0:00", "check-in", "segment"]
    assert lines[5].split()[:4] == ["09:00", "+0:00", "check-in", "say"]
    assert "In one word, how are you arriving today?" in lines[5]
    assert any("Which stakeholder resists most?" in line for line in lines)
    # At a boundary, the rooms close before the debrief starts.
    close = next(n for n, line in enumerate(lines) if "breakout_close" in line)
    assert lines[close + 1].split()[2:4] == ["debrief", "segment"]
    assert lines[-1].split()[:5] == ["10:30", "+1:30", "commit", "commitments_close", "commitments"]
    assert not [line for line in lines if line.startswith("!")]


def test_json_shape_and_iso_times(capsys: pytest.CaptureFixture[str]) -> None:
    data = as_json([ROLEPLAY, "--start", "09:00", "--date", "2025-03-04"], capsys)
    assert set(data) == {
        "file",
        "title",
        "timezone",
        "start",
        "end",
        "duration_seconds",
        "segments",
        "items",
        "guards",
    }
    assert (data["timezone"], data["start"], data["end"]) == (
        "Europe/Berlin",
        "2025-03-04T09:00:00+01:00",
        "2025-03-04T10:30:00+01:00",
    )
    assert data["guards"] == {"fillers": 0, "breaks": 0}
    assert [s["segment_id"] for s in data["segments"]] == [
        "check-in",
        "case",
        "roleplay",
        "debrief",
        "commit",
    ]
    first = data["items"][0]
    assert first == {
        "key": "check-in-1",
        "segment_id": "check-in",
        "action": "say",
        "due": "2025-03-04T09:00:00+01:00",
        "offset_seconds": 0,
        "origin": "show",
        "cue_index": 0,
        "closes": None,
        "what": "In one word, how are you arriving today?",
    }
    dues = [datetime.fromisoformat(i["due"]) for i in data["items"]]
    assert dues == sorted(dues)
    assert [i["offset_seconds"] for i in data["items"]] == [
        int((d - dues[0]).total_seconds()) for d in dues
    ]
    keys = [i["key"] for i in data["items"]]
    assert len(keys) == len(set(keys))
    closer = next(i for i in data["items"] if i["key"] == "case-1@close")
    assert closer["closes"] == "case-1" and closer["offset_seconds"] == 11 * 60


def test_time_zone_option_and_daylight_saving(capsys: pytest.CaptureFixture[str]) -> None:
    ny = as_json([ROLEPLAY, "--date", "2025-03-04", "--tz", "America/New_York"], capsys)
    assert ny["start"] == "2025-03-04T09:00:00-05:00" and ny["timezone"] == "America/New_York"
    # Berlin moves to summer time at 02:00 on 2025-03-30: a show across it keeps its length.
    night = as_json([ROLEPLAY, "--start", "01:30", "--date", "2025-03-30"], capsys)
    assert night["start"] == "2025-03-30T01:30:00+01:00"
    assert night["end"] == "2025-03-30T04:00:00+02:00"
    assert night["duration_seconds"] == 90 * 60


def test_full_iso_start_is_shown_in_the_chosen_zone(capsys: pytest.CaptureFixture[str]) -> None:
    data = as_json([ROLEPLAY, "--start", "2025-03-04T08:00:00+00:00", "--tz", "Asia/Tokyo"], capsys)
    assert data["start"] == "2025-03-04T17:00:00+09:00"
    local = as_json([ROLEPLAY, "--start", "2025-03-04T08:00"], capsys)  # the show's zone
    assert local["start"] == "2025-03-04T08:00:00+01:00"


def test_without_a_date_the_plan_is_for_today(capsys: pytest.CaptureFixture[str]) -> None:
    data = as_json([ROLEPLAY, "--tz", "UTC"], capsys)
    start = datetime.fromisoformat(data["start"])
    assert (start.hour, start.minute) == (9, 0)
    assert abs(start.date() - datetime.now(start.tzinfo).date()) <= timedelta(days=1)


def test_guard_insertions_are_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lecture.yaml"
    path.write_text(LONG_TALK, encoding="utf-8")
    code, out, err = plan_cli([str(path), "--date", "2025-03-04", "--tz", "UTC"], capsys)
    assert (code, err) == (0, "")
    marked = [
        line.split() for line in out.splitlines() if line.startswith("! ") and ":" in line[:8]
    ]
    assert [row[:5] for row in marked] == [
        ["!", "09:12", "+0:12", "lecture", "filler"],
        ["!", "09:19", "+0:19", "lecture", "filler"],
    ]
    assert out.rstrip().endswith(
        "! inserted by the live guards: 2 filler prompt(s), 0 break(s); `facilbot lint` says why"
    )
    data = as_json([str(path), "--date", "2025-03-04", "--tz", "UTC"], capsys)
    assert data["guards"] == {"fillers": 2, "breaks": 0}
    filler = next(i for i in data["items"] if i["origin"] == "guard")
    assert filler["key"] == "~filler:lecture:1" and filler["what"] == "What surprised you so far?"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tz", "Mars/Olympus"], "facilbot plan: error: unknown time zone 'Mars/Olympus'"),
        (["--start", "25:00"], "facilbot plan: error: --start '25:00' is not a time of day"),
        (["--start", "soon"], "facilbot plan: error: --start 'soon' is not a time"),
        (["--date", "04.03.2025"], "facilbot plan: error: --date '04.03.2025' is not a date"),
        (["--start", "2025-03-04T09:00", "--date", "2025-03-04"], "not both"),
    ],
)
def test_bad_options_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = plan_cli([ROLEPLAY, *args], capsys)
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_unusable_files_exit_2_with_a_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(LONG_TALK.replace("duration: 20m", "duration: 20x"), encoding="utf-8")
    code, out, err = plan_cli([str(bad)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"{bad}:10:15: error ")
    assert "'20x' is not a duration" in err
    code, out, err = plan_cli([str(tmp_path / "missing.yaml")], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"{tmp_path / 'missing.yaml'}:1:1: error ")


def test_the_installed_command_runs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "facilbot.cli",
            "plan",
            ROLEPLAY,
            "--date",
            "2025-03-04",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["end"] == "2025-03-04T10:30:00+01:00"


def test_notes_print_under_their_segment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = plan_cli([ROLEPLAY, "--date", "2025-03-04", "--notes"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    check_in = next(
        n for n, line in enumerate(lines) if line.split()[2:4] == ["check-in", "segment"]
    )
    assert lines[check_in + 1].strip() == (
        "watch for: People who do not type in the first minute: greet them by name."
    )
    assert lines[check_in + 2].strip().startswith("keep the same: The one-word question")
    assert lines[check_in + 3].strip().startswith("flex: Skip reading every answer aloud")
    # a plain string is what to watch for
    assert "watch for: If the chat goes quiet, read out one question" in out
    without = plan_cli([ROLEPLAY, "--date", "2025-03-04"], capsys)[1]
    assert "watch for:" not in without
    data = as_json([ROLEPLAY, "--date", "2025-03-04", "--notes"], capsys)
    first = data["segments"][0]
    assert first["notes"]["keep_same"].startswith("The one-word question")
