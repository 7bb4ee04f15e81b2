"""``facilbot demo``: the default show and the 3-hour workshop, each with the scenario's
scripted ``/fb extend 5``, say how the session ended against the plan (accelerated clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facilbot.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def summary(capsys: pytest.CaptureFixture[str], *args: str, speed: int = 3000) -> dict[str, str]:
    code = main(["demo", "--speed", str(speed), "--quiet", *args])
    out = capsys.readouterr().out
    assert code in (0, 1), out  # 1 only when a cue failed on a loaded machine; judged below
    lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    return {line.split()[0]: line.split(None, 1)[1] for line in lines}


def test_the_default_demo_inserts_no_break_and_reports_its_end(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    found = summary(capsys, "--data-dir", str(tmp_path))
    # No 20-minute break before a 5-minute close: the end of the session counts as the break.
    assert found["breaks"] == "0 taken: 0 planned, 0 inserted"
    assert found["timing"] == (
        "ended after 1:35:00 of 1:30:00 planned: 5m late: extended roleplay by 5m"
    )


def test_the_workshop_demo_merges_the_guard_break_into_the_coffee_break(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Slower: the scripted extension must land inside the 25-minute activity on a busy machine.
    path = str(EXAMPLES / "workshop-3h.yaml")
    found = summary(capsys, path, "--data-dir", str(tmp_path), speed=600)
    assert found["breaks"] == "3 taken: 2 planned, 1 inserted (1 in place of a planned break)"
    assert found["timing"].startswith("ended after 3:05:00 of 3:00:00 planned: 5m late: ")
    assert "a break moved to keep the break rules (coffee)" in found["timing"]


def test_always_replan_lands_the_default_demo_on_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    found = summary(capsys, "--always-replan", "--data-dir", str(tmp_path))
    assert found["breaks"] == "0 taken: 0 planned, 0 inserted"
    assert found["timing"] == "ended after 1:30:00 of 1:30:00 planned: on time"
