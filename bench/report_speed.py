"""How long a session report over 10,000 cues and 300 people takes, against a baseline.

Run as ``python bench/report_speed.py [--runs N]``. The rows are what the store would hand the
report (a 4-hour show of 40 segments with 250 cues each, every cue fired and recorded, 300
people with two presence intervals each, 3,000 chat messages, poll answers and commitments);
the report is computed from them (plan against actual, practices, participation, polls) and
rendered as JSON, HTML with its SVG, and the CSV zip. The baseline, in the same run, is
``json.dumps`` of the same rows: what writing them out without computing anything costs.
Target (DESIGN §7): well under a second — this script fails above 0.5 s for report + JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as ``python bench/report_speed.py`` from anywhere
    sys.path.insert(0, str(ROOT))

from facilbot.reports.data import SessionData  # noqa: E402
from facilbot.reports.render import to_csv_zip, to_html, to_json  # noqa: E402
from facilbot.reports.session import session_report  # noqa: E402
from facilbot.store.activity import ChatRecord, CommitmentRecord, PollAnswerRecord  # noqa: E402
from facilbot.store.controls import ControlRecord  # noqa: E402
from facilbot.store.firings import FiringRecord  # noqa: E402
from facilbot.store.participants import ParticipantRecord, PresenceRecord  # noqa: E402
from facilbot.store.sessions import SessionRecord  # noqa: E402
from runofshow.loader import load_show_text  # noqa: E402
from runofshow.plan import live_plan  # noqa: E402

TARGET = 0.5  # seconds for the report and its JSON
START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
SEGMENTS, CUES_PER_SEGMENT, PEOPLE = 40, 250, 300


def show_text() -> str:
    lines = ["title: Report benchmark", f"duration: {SEGMENTS * 6}m", "rules: {breaks: []}"]
    lines.append("segments:")
    kinds = ["connection", "talk", "activity", "discussion"]
    for s in range(SEGMENTS):
        lines += [f"  - id: s{s}", f"    kind: {kinds[s % 4]}", "    duration: 6m", "    cues:"]
        for c in range(CUES_PER_SEGMENT):
            lines.append(f"      - at: {c}s")
            if c == 0 and s % 4 == 1:
                lines.append(f"        poll: {{question: 'Q{s}?', options: [A, B, C]}}")
            else:
                lines.append(f"        say: 'prompt {s}-{c}'")
    return "\n".join(lines) + "\n"


def rows() -> SessionData:
    show = load_show_text(show_text(), "bench.yaml").show
    started = START + timedelta(minutes=2)
    end = started + timedelta(minutes=SEGMENTS * 6)
    from runofshow.controls import End, Start

    plan = live_plan(show, [Start(started), End(end)], end + timedelta(minutes=1))
    firings = [
        FiringRecord(
            id=index,
            session_id="s",
            key=item.key,
            action=item.action,
            planned_at=item.due,
            claimed_at=item.due,
            sent_at=item.due + timedelta(milliseconds=index % 900),
            status="sent",
            channel=("server_api", "bridge", "companion", "producer_cue")[index % 4],
            outcome="delivered",
            attempts=[],
            error=None,
            claimed_by="bench",
        )
        for index, item in enumerate(plan.items, start=1)
        if item.state == "due"
    ]
    people = [
        ParticipantRecord(
            id=i,
            session_id="s",
            participant_ref=f"p{i}",
            name=f"Person {i}",
            email=None,
            role="attendee",
            attributes={},
            first_seen_at=START,
        )
        for i in range(PEOPLE)
    ]
    presence = []
    for i in range(PEOPLE):
        presence.append(
            PresenceRecord(i, START + timedelta(seconds=i), started + timedelta(hours=1), None)
        )
        presence.append(PresenceRecord(i, started + timedelta(hours=1, minutes=5), None, None))
    chat = [
        ChatRecord(
            f"p{i % PEOPLE}",
            f"Person {i % PEOPLE}",
            "hello",
            started + timedelta(seconds=4 * i),
            None,
        )
        for i in range(3000)
    ]
    polls = [f.key for f in firings if f.action == "poll_open"]
    answers = [
        PollAnswerRecord(key, f"p{i}", ["A"], started + timedelta(minutes=1))
        for key in polls
        for i in range(0, PEOPLE, 2)
    ]
    commitments = [
        CommitmentRecord(f"p{i}", f"Person {i}", "do it", end - timedelta(minutes=1), "chat")
        for i in range(0, PEOPLE, 3)
    ]
    session = SessionRecord(
        id="s",
        show_version_id=1,
        platform="sim",
        meeting_ref="m",
        status="ended",
        planned_start=START,
        created_at=START,
        started_at=started,
        ended_at=end,
        owner=None,
        lease_until=None,
        version=3,
        producers=[],
        recurring_ref=None,
    )
    controls = [
        ControlRecord("s", 2, "start", {}, started, "bench"),
        ControlRecord("s", 3, "end", {}, end, "bench"),
    ]
    return SessionData(
        session=session,
        show=show,
        show_name="bench",
        show_version=1,
        controls=controls,
        firings=firings,
        participants=people,
        presence=presence,
        chat=chat,
        answers=answers,
        commitments=commitments,
        now=end + timedelta(minutes=5),
    )


TABLES = ("controls", "firings", "participants", "presence", "chat", "answers", "commitments")


def baseline(data: SessionData) -> str:
    """Writing the same rows out as JSON, computing nothing (one dict per row, times as text)."""
    tables: dict[str, Any] = {}
    for name in TABLES:
        rows = getattr(data, name)
        names = [f.name for f in dataclasses.fields(rows[0])] if rows else []
        tables[name] = [{n: getattr(row, n) for n in names} for row in rows]
    return json.dumps(tables, default=str)


def calibration() -> float:
    """A million additions: how fast this machine is right now (shared machines vary)."""
    start = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.perf_counter() - start


def timed(run: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    data = rows()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: a million Python additions take {calibration() * 1000:.0f} ms right now "
        f"(load average {load} on {os.cpu_count()} CPUs)"
    )
    print(
        f"rows: {len(data.firings):,} cues, {len(data.participants)} people, "
        f"{len(data.presence)} presence intervals, {len(data.chat):,} chat messages, "
        f"{len(data.answers):,} poll answers, {len(data.commitments)} commitments"
    )
    figures: dict[str, list[float]] = {
        "report+json": [],
        "html+svg": [],
        "csv zip": [],
        "baseline": [],
    }
    for _ in range(args.runs):
        seconds, report = timed(lambda: session_report(data))
        figures["report+json"].append(seconds + timed(partial(to_json, report))[0])
        figures["html+svg"].append(timed(partial(to_html, report))[0])
        figures["csv zip"].append(timed(partial(to_csv_zip, report))[0])
        figures["baseline"].append(timed(partial(baseline, data))[0])
    base = statistics.median(figures["baseline"])
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"  {name:<12} median {median * 1000:7.1f} ms  ({median / base:4.1f}× the baseline)")
    result = statistics.median(figures["report+json"])
    verdict = "met" if result < TARGET else "MISSED"
    print(f"target: report + JSON under {TARGET * 1000:.0f} ms: {verdict}")
    return 0 if result < TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
