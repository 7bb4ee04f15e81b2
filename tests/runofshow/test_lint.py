"""The linter: each rule fires on a minimal bad show and not on a good one, at the right place."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from runofshow.lint import RULES, Finding, lint, rule
from runofshow.loader import load_show, load_show_text
from runofshow.model import Severity

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = (
    "roleplay-90m",
    "circular-design-4h",
    "carbon-accounting-flipped-2h",
    "onboarding-welcome",
)

# A 90-minute show that keeps every practice: no finding at any level.
GOOD = """\
title: Clean show
duration: 90m
access: {recording: true, captions: true, transcript: false}
segments:
  - id: arrive
    kind: connection
    duration: 5m
    producer_notes: Greet people by name as they arrive.
    cues:
      - at: 0m
        say: In one word, how are you arriving today?
  - id: kickoff
    kind: talk
    duration: 10m
    producer_notes: If the chat goes quiet, read out one question.
    cues:
      - at: 5m
        poll: {question: Who resists most?, options: [CFO, Plant manager, Procurement]}
  - id: roleplay
    kind: breakout
    duration: 35m
    producer_notes: {watch_for: Rooms that finish early, keep_same: Threes, flex: Cut to 30m}
    breakout: {size: 3, assign: {mix_by: department}, warn_before_close: 2m}
  - id: pause
    kind: break
    duration: 10m
  - id: debrief
    kind: discussion
    duration: 25m
    producer_notes: Collect one insight per room.
  - id: commit
    kind: commitments
    duration: 5m
    producer_notes: Read three commitments aloud.
"""

KICKOFF = """\
  - id: kickoff
    kind: talk
    duration: 10m
    producer_notes: If the chat goes quiet, read out one question.
    cues:
      - at: 5m
        poll: {question: Who resists most?, options: [CFO, Plant manager, Procurement]}
"""


def edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert text.count(old) == 1, f"{old!r} must occur once"
        text = text.replace(old, new)
    return text


def where(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the (single) occurrence of ``needle``."""
    assert text.count(needle) == 1, f"{needle!r} must occur once"
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def run(text: str, code: str | None = None) -> list[Finding]:
    found = lint(load_show_text(text, "show.yaml"))
    return [f for f in found if code is None or f.code == code]


def one(text: str, code: str) -> Finding:
    found = run(text, code)
    assert len(found) == 1, found
    return found[0]


def at(finding: Finding) -> tuple[int, int]:
    return finding.line, finding.column


def test_good_show_has_no_findings() -> None:
    assert run(GOOD) == []


# --- FB101 interaction cadence ---------------------------------------------------------------


def test_cadence_names_the_stretch_and_points_at_its_segment() -> None:
    text = edit(
        GOOD,
        (KICKOFF, "  - id: kickoff\n    kind: talk\n    duration: 15m\n    producer_notes: x\n"),
        ("    duration: 35m\n", "    duration: 30m\n"),
    )
    f = one(text, "FB101")
    assert at(f) == where(text, "id: kickoff")
    assert f.severity == Severity.error and f.rule == "interaction-cadence"
    assert "15 minutes without an interaction, 0:05–0:20 (limit 7m)" in f.message
    assert "by 0:12" in f.message


def test_cadence_stretch_after_a_cue_points_at_the_cue() -> None:
    text = edit(
        GOOD,
        ("    duration: 10m\n    producer_notes: If", "    duration: 15m\n    producer_notes: If"),
        ("      - at: 5m\n        poll:", "      - at: 2m\n        poll:"),
        ("    duration: 35m\n", "    duration: 30m\n"),
    )
    f = one(text, "FB101")
    assert at(f) == where(text, "at: 2m")
    assert "13 minutes without an interaction, 0:07–0:20" in f.message


def test_cadence_joins_talk_segments_in_a_row() -> None:
    text = edit(
        GOOD,
        (
            KICKOFF,
            "  - id: talk-a\n    kind: talk\n    duration: 5m\n"
            "  - id: talk-b\n    kind: talk\n    duration: 5m\n",
        ),
    )
    f = one(text, "FB101")
    assert at(f) == where(text, "id: talk-a")
    assert "10 minutes without an interaction, 0:05–0:15" in f.message


def test_cadence_limit_comes_from_the_show_rules() -> None:
    text = edit(GOOD, (KICKOFF, "  - id: kickoff\n    kind: talk\n    duration: 10m\n"))
    assert [f.code for f in run(text)] == ["FB101"]
    assert run(edit(text, ("segments:\n", "rules: {interaction_gap: 10m}\nsegments:\n"))) == []


def test_cadence_reports_odd_seconds() -> None:
    text = edit(GOOD, ("      - at: 5m\n        poll:", "      - at: 30s\n        poll:"))
    f = one(text, "FB101")
    assert "9m30s without an interaction, 0:05:30–0:15" in f.message


# --- FB201 breaks ----------------------------------------------------------------------------


def test_break_after_a_long_stretch_is_too_short() -> None:
    text = edit(
        GOOD,
        ("    duration: 35m\n", "    duration: 45m\n"),
        ("    duration: 25m\n", "    duration: 15m\n"),
    )
    f = one(text, "FB201")
    assert at(f) == where(text, "id: pause")
    assert "1h of continuous time, 0:00–1:00, is followed by a break of only 10m" in f.message
    assert "at least 20m (90/20)" in f.message


def test_stretch_longer_than_every_rule_points_where_the_limit_runs_out() -> None:
    text = edit(
        GOOD,
        ("duration: 90m", "duration: 95m"),
        (
            "  - id: pause\n    kind: break\n    duration: 10m\n",
            "  - id: more\n    kind: activity\n    duration: 10m\n    producer_notes: x\n",
        ),
        (
            "    duration: 5m\n    producer_notes: Read",
            "    duration: 10m\n    producer_notes: Read",
        ),
    )
    f = one(text, "FB201")
    assert at(f) == where(text, "id: commit")  # the segment running at 1:30
    assert "1h35m of continuous time, 0:00–1:35, is longer than the break rules allow" in f.message
    assert "at least 10m by 0:50 (50/10) or a break of at least 20m by 1:30 (90/20)" in f.message


def test_the_end_of_the_session_counts_as_a_break() -> None:
    text = edit(
        GOOD,
        ("duration: 90m", "duration: 80m"),
        ("  - id: pause\n    kind: break\n    duration: 10m\n", ""),
    )
    assert run(text, "FB201") == []  # 80 minutes, then the end


def test_break_rules_come_from_the_show() -> None:
    text = edit(GOOD, ("segments:\n", 'rules: {breaks: ["40/10"]}\nsegments:\n'))
    f = one(text, "FB201")
    assert "by 0:40 (40/10)" in f.message


# --- FB301 connection first, FB302 commitments last ------------------------------------------


def test_no_connection_points_at_segments() -> None:
    text = edit(GOOD, ("    kind: connection\n", "    kind: activity\n"))
    f = one(text, "FB301")
    assert at(f) == where(text, "segments:")
    assert "no connection activity" in f.message and "first 10m" in f.message


def test_talk_before_connection_and_late_connection() -> None:
    arrive = GOOD[GOOD.index("  - id: arrive") : GOOD.index("  - id: kickoff")]
    text = edit(GOOD, (arrive, ""), ("  - id: roleplay", arrive + "  - id: roleplay"))
    f = one(text, "FB301")  # arrive at 0:10 is still in time
    assert at(f) == where(text, "id: kickoff")
    assert "('kickoff', talk) starts at 0:00, before the connection activity 'arrive' at 0:10" in (
        f.message
    )
    late = edit(
        text,
        ("    duration: 10m\n    producer_notes: If", "    duration: 11m\n    producer_notes: If"),
        ("    duration: 35m\n", "    duration: 34m\n"),
    )
    found = run(late, "FB301")
    assert [at(f) for f in found] == [where(late, "id: kickoff"), where(late, "id: arrive")]
    assert "'arrive' starts at 0:11; start it within the first 10m" in found[1].message


def test_no_commitments_points_at_the_last_segment() -> None:
    text = edit(GOOD, ("    kind: commitments\n", "    kind: discussion\n"))
    f = one(text, "FB302")
    assert at(f) == where(text, "id: commit")
    assert f.severity == Severity.warning
    assert "does not end with commitments" in f.message


def test_commitments_must_be_last_and_late() -> None:
    text = edit(
        GOOD,
        ("    duration: 25m\n", "    duration: 20m\n"),
        (
            "    producer_notes: Read three commitments aloud.\n",
            "    producer_notes: Read.\n"
            "  - id: bye\n    kind: discussion\n    duration: 5m\n    producer_notes: x\n",
        ),
    )
    f = one(text, "FB302")
    assert at(f) == where(text, "id: bye")
    assert "ends with 'bye' (discussion) after the commitments at 1:20" in f.message
    early = edit(
        GOOD,
        ("    duration: 25m\n", "    duration: 15m\n"),
        (
            "    duration: 5m\n    producer_notes: Read",
            "    duration: 15m\n    producer_notes: Read",
        ),
    )
    f = one(early, "FB302")
    assert at(f) == where(early, "id: commit")
    assert (
        "commitments start at 1:15, 15m before the end; start them within the last 10m" in f.message
    )


def test_a_commitments_cue_in_the_last_segment_counts() -> None:
    text = edit(
        GOOD,
        ("    kind: commitments\n    duration: 5m\n", "    kind: discussion\n    duration: 5m\n"),
        (
            "    producer_notes: Read three commitments aloud.\n",
            "    producer_notes: Read three commitments aloud.\n    cues:\n"
            "      - at: 0m\n        commitments: {prompt: One action in 48 hours?}\n",
        ),
    )
    assert run(text, "FB302") == []


# --- FB401 talk share, FB402 variety ---------------------------------------------------------


def test_talk_share() -> None:
    text = edit(
        GOOD,
        ("    duration: 10m\n    producer_notes: If", "    duration: 20m\n    producer_notes: If"),
        (
            "      - at: 5m\n        poll:",
            "      - at: 5m\n        say: Any questions?\n"
            "      - at: 10m\n        say: Another?\n      - at: 15m\n        poll:",
        ),
        ("    duration: 35m\n", "    duration: 25m\n"),
    )
    f = one(text, "FB401")
    assert at(f) == where(text, "id: kickoff")
    assert "facilitator talk is 25 % of non-break time (20m of 1h20m; limit 20 %)" in f.message
    assert run(edit(text, ("segments:\n", "rules: {talk_share_max: 25%}\nsegments:\n"))) == []


def test_talk_share_just_over_the_limit_shows_a_decimal() -> None:
    text = edit(
        GOOD,
        ("segments:\n", "rules: {talk_share_max: 12%}\nsegments:\n"),
    )
    f = one(text, "FB401")  # 10m of 80m = 12.5 %
    assert "12.5 %" in f.message


def test_variety() -> None:
    text = edit(GOOD, ("segments:\n", "rules: {segments_per_3h: 12}\nsegments:\n"))
    f = one(text, "FB402")  # 12 per 3 h over 80 minutes: 5 expected, 4 present
    assert at(f) == where(text, "segments:")
    assert "4 activity segments in 1h20m of non-break time; expected at least 5" in f.message


# --- FB5xx timing ----------------------------------------------------------------------------


def test_duration_sum() -> None:
    text = edit(GOOD, ("duration: 90m", "duration: 1h35m"))
    f = one(text, "FB501")
    assert at(f) == where(text, "1h35m")
    assert "add up to 1h30m, but the show lasts 1h35m (5m unplanned)" in f.message
    f = one(edit(GOOD, ("duration: 90m", "duration: 85m")), "FB501")
    assert "(5m too much)" in f.message


def test_breakout_warning_outside_the_breakout() -> None:
    text = edit(GOOD, ("warn_before_close: 2m", "warn_before_close: 40m"))
    f = one(text, "FB502")
    assert at(f) == where(text, "40m}")
    assert "the warning 40m before close falls outside the breakout, which is open for 35m" in (
        f.message
    )
    assert run(edit(GOOD, ("warn_before_close: 2m", "warn_before_close: 0s"))) == []


def test_breakout_cue_warning_uses_its_duration() -> None:
    text = edit(
        GOOD,
        (
            "        say: In one word, how are you arriving today?\n",
            "        say: In one word, how are you arriving today?\n"
            "      - at: 1m\n        breakout: {size: 2, duration: 3m, warn_before_close: 3m}\n",
        ),
    )
    f = one(text, "FB502")
    assert at(f) == where(text, "3m}")
    assert "which is open for 3m" in f.message


def test_poll_outlasting_its_segment() -> None:
    text = edit(GOOD, ("Procurement]}", "Procurement], open_for: 6m}"))
    f = one(text, "FB503")
    assert at(f) == where(text, "6m}")
    assert "the poll is set to last 6m, but only 5m of its segment is left" in f.message


def test_breakout_outlasting_its_segment() -> None:
    text = edit(GOOD, ("{size: 3,", "{size: 3, duration: 40m,"))
    f = one(text, "FB503")
    assert at(f) == where(text, "40m,")
    assert "the breakout is set to last 40m, but only 35m" in f.message


@pytest.mark.parametrize(
    ("cue", "target", "message"),
    [
        ("break: {duration: 5m}", "5m}", "the break is set to last 5m, but only 2m"),
        ("commitments: {collect_for: 3m}", "3m}", "collecting commitments is set to last 3m"),
        ("breakout: {size: 2, duration: 4m}", "4m}", "the breakout is set to last 4m"),
    ],
)
def test_cues_outlasting_their_segment(cue: str, target: str, message: str) -> None:
    text = edit(GOOD, ("Procurement]}\n", f"Procurement]}}\n      - at: 8m\n        {cue}\n"))
    f = one(text, "FB503")
    assert at(f) == where(text, target)
    assert message in f.message


def test_breakout_segment_without_settings_uses_the_default_warning() -> None:
    text = edit(
        GOOD,
        ("    duration: 35m\n", "    duration: 2m\n"),
        ("    breakout: {size: 3, assign: {mix_by: department}, warn_before_close: 2m}\n", ""),
    )
    f = one(text, "FB502")
    assert at(f) == where(text, "2m\n    producer_notes: {watch_for")
    assert "the warning 2m before close falls outside the breakout, which is open for 2m" in (
        f.message
    )


@pytest.mark.parametrize(
    ("options", "message", "target"),
    [
        ("[CFO]", "the poll has 1 option; give 2 to 10 distinct options", "[CFO]"),
        ("[CFO, cfo ]", "poll option 'cfo' repeats option 1", "cfo ]"),
        ("[CFO, '']", "an empty poll option", "'']"),
        (f"[{', '.join(f'o{n}' for n in range(11))}]", "the poll has 11 options", "[o0,"),
    ],
)
def test_poll_options(options: str, message: str, target: str) -> None:
    text = edit(GOOD, ("[CFO, Plant manager, Procurement]", options))
    f = one(text, "FB504")
    assert message in f.message
    assert at(f) == where(text, target)
    assert f.severity == Severity.error


# --- FB6xx readiness and access ---------------------------------------------------------------


def test_producer_notes_on_interactive_segments_and_cues() -> None:
    text = edit(
        GOOD,
        ("    producer_notes: Collect one insight per room.\n", ""),
        ("    producer_notes: If the chat goes quiet, read out one question.\n", ""),
    )
    found = run(text, "FB601")
    assert [at(f) for f in found] == [where(text, "at: 5m"), where(text, "id: debrief")]
    assert "the poll cue 'kickoff-1' has no producer notes" in found[0].message
    assert "the discussion segment 'debrief' has no producer notes" in found[1].message
    assert {f.severity for f in found} == {Severity.advice}


def test_cue_notes_cover_an_interactive_segment() -> None:
    text = edit(
        GOOD,
        ("    producer_notes: Greet people by name as they arrive.\n", ""),
        (
            "        say: In one word, how are you arriving today?\n",
            "        say: In one word, how are you arriving today?\n"
            "        producer_notes: Greet.\n",
        ),
    )
    assert run(text) == []


def test_access_not_declared() -> None:
    text = edit(GOOD, ("access: {recording: true, captions: true, transcript: false}\n", ""))
    f = one(text, "FB602")
    assert at(f) == (1, 1)
    assert "recording, captions and transcript are not declared" in f.message
    text = edit(GOOD, ("captions: true, ", ""))
    f = one(text, "FB602")
    assert at(f) == where(text, "access:")
    assert "access: captions is not declared" in f.message


# --- configuration -----------------------------------------------------------------------------


def test_severity_override_by_code_and_name_and_off() -> None:
    bare = edit(GOOD, ("access: {recording: true, captions: true, transcript: false}\n", ""))
    assert one(
        edit(bare, ("segments:\n", "lint: {FB602: error}\nsegments:\n")), "FB602"
    ).severity == (Severity.error)
    assert one(
        edit(bare, ("segments:\n", "lint: {access: warning}\nsegments:\n")), "FB602"
    ).severity == (Severity.warning)
    assert run(edit(bare, ("segments:\n", "lint: {fb602: off}\nsegments:\n"))) == []


def test_unknown_code_in_lint_settings() -> None:
    text = edit(GOOD, ("segments:\n", "lint:\n  FB1O1: off\nsegments:\n"))
    f = one(text, "FB001")
    assert at(f) == where(text, "FB1O1")
    assert f.severity == Severity.error
    assert "unknown rule 'FB1O1' in lint; did you mean FB101?" in f.message


# --- suppression -------------------------------------------------------------------------------

BAD_KICKOFF = edit(
    GOOD,
    (KICKOFF, "  - id: kickoff\n    kind: talk\n    duration: 10m\n    producer_notes: x\n"),
)


def test_suppression_with_a_reason_on_the_line_above() -> None:
    text = edit(
        BAD_KICKOFF,
        (
            "  - id: kickoff",
            "  # facilbot: ignore FB101 -- the CEO speaks uninterrupted here\n  - id: kickoff",
        ),
    )
    assert run(text) == []


def test_suppression_trailing_and_stacked_and_by_name() -> None:
    trailing = edit(
        BAD_KICKOFF, ("  - id: kickoff", "  - id: kickoff  # facilbot: ignore FB101 -- CEO")
    )
    assert run(trailing) == []
    stacked = edit(
        BAD_KICKOFF,
        (
            "  - id: kickoff",
            "  # facilbot: ignore interaction-cadence -- CEO\n\n"
            "  # another comment\n  - id: kickoff",
        ),
    )
    assert run(stacked) == []


def test_suppression_without_reason_is_not_applied() -> None:
    text = edit(BAD_KICKOFF, ("  - id: kickoff", "  # facilbot: ignore FB101\n  - id: kickoff"))
    found = run(text)
    assert [f.code for f in found] == ["FB002", "FB101"]
    assert at(found[0]) == where(text, "# facilbot")
    assert "gives no reason, so it is not applied" in found[0].message


def test_unused_suppression_is_advice() -> None:
    text = edit(
        GOOD,
        ("  - id: kickoff", "  # facilbot: ignore FB101, FB401 -- just in case\n  - id: kickoff"),
    )
    found = run(text)
    assert [(f.code, f.severity) for f in found] == [("FB003", Severity.advice)] * 2
    assert "suppression of FB101 suppresses nothing on line" in found[0].message
    assert at(found[0]) == where(text, "# facilbot")


def test_suppression_only_covers_its_line() -> None:
    text = edit(
        BAD_KICKOFF,
        (
            "    kind: talk\n    duration: 10m",
            "    # facilbot: ignore FB101 -- x\n    kind: talk\n    duration: 10m",
        ),
    )
    assert [f.code for f in run(text)] == ["FB101", "FB003"]


def test_malformed_directives() -> None:
    text = edit(
        GOOD,
        (
            "title: Clean show\n",
            "title: Clean show  # facilbot: ignroe FB101 -- x\n"
            "# facilbot: ignore -- nothing\n# facilbot: ignore FB003 -- no\n"
            "# facilbot: ignore FB999 -- y\n",
        ),
    )
    found = run(text)
    assert [(f.code, f.line) for f in found] == [
        ("FB004", 1),
        ("FB004", 2),
        ("FB004", 3),
        ("FB001", 4),
    ]
    assert "unknown facilbot directive 'ignroe' (did you mean ignore?)" in found[0].message
    assert "names no rule" in found[1].message
    assert "FB003 cannot be suppressed inline" in found[2].message
    assert "unknown rule 'FB999' in suppression" in found[3].message


def test_directive_text_inside_a_string_is_not_a_comment() -> None:
    text = edit(
        GOOD,
        (
            "say: In one word, how are you arriving today?",
            "say: 'Type # facilbot: ignore if you like'",
        ),
    )
    assert run(text) == []
    block = edit(
        GOOD,
        (
            "    producer_notes: Greet people by name as they arrive.\n",
            "    producer_notes: |\n      Greet people.\n      # facilbot: ignore FB101\n",
        ),
    )
    assert run(block) == []


def test_framework_findings_can_be_configured() -> None:
    text = edit(GOOD, ("  - id: kickoff", "  # facilbot: ignore FB101 -- x\n  - id: kickoff"))
    assert run(edit(text, ("segments:\n", "lint: {FB003: off}\nsegments:\n"))) == []


# --- the whole -------------------------------------------------------------------------------


def test_findings_are_sorted_by_position() -> None:
    text = edit(
        BAD_KICKOFF,
        ("duration: 90m", "duration: 95m"),
        ("access: {recording: true, captions: true, transcript: false}\n", ""),
    )
    found = run(text)
    assert [f.code for f in found] == ["FB602", "FB501", "FB101"]
    assert found == sorted(found, key=lambda f: (f.line, f.column))
    assert str(found[1]).startswith("show.yaml:2:11: error FB501 ")


def test_rules_have_unique_codes_and_names_and_are_documented() -> None:
    codes = [r.code for r in RULES]
    assert len(set(codes)) == len(codes) and codes == sorted(codes)
    assert len({r.name for r in RULES}) == len(RULES)
    assert all(re.fullmatch(r"FB\d{3}", c) for c in codes)
    doc = (ROOT / "docs" / "lint-rules.md").read_text()
    for r in RULES:
        assert f"### {r.code} {r.name} ({r.default})" in doc
        assert r.practice
    assert rule("FB101").default == Severity.error


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_are_clean_at_warning_level(name: str) -> None:
    found = lint(load_show(ROOT / "examples" / f"{name}.yaml"))
    serious = [str(f) for f in found if f.severity in (Severity.error, Severity.warning)]
    assert serious == []


FORBIDDEN = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "httpx",
    "uvicorn",
    "alembic",
    "apscheduler",
    "msgraph",
    "zoomus",
    "integrations",
    "facilbot",
    "asyncpg",
    "aiosqlite",
    # Importing pydantic alone costs more than DESIGN §7's 100 ms for the whole lint command:
    # the linter validates with runofshow.plain instead.
    "pydantic",
    "pydantic_core",
)


def test_importing_the_linter_loads_no_web_database_or_platform_package() -> None:
    code = "import runofshow, runofshow.loader, runofshow.lint, sys; print(' '.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    loaded = sorted({m.split(".")[0] for m in out} & set(FORBIDDEN))
    assert loaded == []
