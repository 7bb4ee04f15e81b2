"""``facilbot demo``: a whole show against the simulated meeting, on an accelerated clock.

Everything is real except the meeting: the show is loaded and linted, stored in a (temporary)
SQLite database with the migrations applied, attached, and run by the same engine as
production — the simulated participants join late, chat, answer polls, go to rooms and type
their commitments, and each cue is claimed, routed and recorded exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from facilbot.engine.state import SessionState

DEFAULT_SHOW = "roleplay-90m.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "show", nargs="?", help=f"run-of-show file (default: examples/{DEFAULT_SHOW})"
    )
    parser.add_argument(
        "--speed", type=float, default=60.0, help="show seconds per real second (default 60)"
    )
    parser.add_argument(
        "--participants", type=int, default=12, help="simulated people (default 12)"
    )
    parser.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    parser.add_argument(
        "--profile",
        choices=("full", "zoom", "teams"),
        default="zoom",
        help="which platform's channels the simulator imitates (default zoom)",
    )
    parser.add_argument(
        "--data-dir", help="keep the demo database here instead of a temporary folder"
    )
    parser.add_argument("--quiet", action="store_true", help="only the closing summary")
    parser.add_argument(
        "--always-replan",
        action="store_true",
        help="accept every live re-plan (as a producer choosing 'always accept' would)",
    )


def find_show(name: str | None) -> Path:
    if name:
        return Path(name)
    candidates = [
        Path.cwd() / "examples" / DEFAULT_SHOW,
        Path(__file__).resolve().parents[2] / "examples" / DEFAULT_SHOW,
        Path(sys.prefix) / "share" / "facilbot" / "examples" / DEFAULT_SHOW,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[0]


def run(args: argparse.Namespace) -> int:
    from runofshow.source import ShowError

    if args.speed <= 0 or args.speed > 100000:
        print("facilbot demo: --speed must be between 0 and 100000", file=sys.stderr)
        return 2
    if not 2 <= args.participants <= 500:
        print("facilbot demo: --participants must be between 2 and 500", file=sys.stderr)
        return 2
    path = find_show(args.show)
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="facilbot-demo-")) if temporary else Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(_demo(args, path, data_dir, sys.stdout))
    except ShowError as error:
        for problem in error.problems:
            print(f"{problem}", file=sys.stderr)
        return 2
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


async def _demo(args: argparse.Namespace, path: Path, data_dir: Path, out: TextIO) -> int:
    from facilbot.engine.clock import ScaledClock
    from facilbot.engine.engine import Engine
    from facilbot.engine.runner import Fired
    from facilbot.journey import demo as journey_demo
    from facilbot.settings import load_settings
    from facilbot.store.db import open_database
    from integrations.contract import (
        ChatMessage,
        MeetingEnded,
        ParticipantJoined,
        ParticipantLeft,
    )
    from integrations.sim import SimAdapter, SimWorld, default_scenario
    from runofshow.lint import lint
    from runofshow.loader import load_show

    quiet = args.quiet
    loaded = load_show(path)
    show = loaded.show
    findings = [f for f in lint(loaded) if f.severity in ("error", "warning")]

    closed = {"pipe": False}

    def say(text: str) -> None:
        # Progress goes on even when the reader went away (``facilbot demo | head``): stop
        # printing, let the show finish and the database close cleanly.
        if quiet or closed["pipe"]:
            return
        try:
            print(text, file=out, flush=True)
        except BrokenPipeError:
            closed["pipe"] = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())

    say(f"facilbot demo — {show.title}")
    say(
        f"  show     {path} ({_clock(show.duration)}, {len(show.segments)} segments, "
        f"{len(findings)} lint findings at warning or error)"
    )
    os.environ.setdefault("FACILBOT_ENV", "development")
    settings = load_settings(
        data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'facilbot.db'}"
    )
    db = await open_database(settings)
    clock = ScaledClock(args.speed, origin=datetime.now(UTC).replace(microsecond=0))
    world = SimWorld()
    scenario = default_scenario(args.seed, args.participants, length=show.duration)
    # A new meeting each run: in a kept --data-dir, the same meeting's event ids would be
    # taken for redeliveries of the last run's and dropped (and cohorts need several runs).
    meeting = world.create(scenario, f"sim-demo-{secrets.token_hex(4)}")
    adapter = SimAdapter(world, args.profile)
    late: list[float] = []
    start_at = clock.now()

    def offset() -> str:
        return _clock((clock.now() - start_at).total_seconds())

    titles = {s.id: (s.title or s.id, str(s.kind)) for s in show.segments}
    shown = {"segment": ""}  # the segment whose header was printed last

    def header(segment_id: str, detail: str = "") -> None:
        if segment_id and segment_id != shown["segment"]:
            shown["segment"] = segment_id
            title, kind = titles.get(segment_id, ("Break", "break"))
            say(f"  {offset()}  ── {title} ({kind}){detail}")

    def fired(f: Fired) -> None:
        late.append(f.late_ms / args.speed)  # real milliseconds
        if not f.action.endswith(("_close", "_end")):
            header(f.segment_id)
        mark = {"sent": "▶", "skipped": "⤼", "failed": "✗"}.get(f.status, "•")
        via = f" via {f.channel}" if f.channel else ""
        say(f"  {offset()}  {mark} {f.what}{via}")

    engine = Engine(
        db,
        clock,
        instance_id=settings.instance_id,
        adapters={"sim": adapter},
        lease_seconds=settings.lease_seconds,
        channel_timeout=5.0,
        channel_overrides={"sim": adapter.carriers()},
        on_fired=fired,
    )
    try:
        record, _ = await engine.upload_show(path.stem, loaded.text, "demo", loaded=loaded)
        session_id = await engine.attach(
            record.id,
            "sim",
            meeting.meeting_ref,
            producers=[{"name": scenario.participants[1].participant.name}],
            by="demo",
        )
        await engine.start()
        # "Always accept" is a control of a running show: sent once the meeting has started it.
        always_replan = bool(getattr(args, "always_replan", False))
        say(
            f"  meeting  simulated ({args.participants} people, seed {args.seed}, "
            f"{args.profile} channels) at {args.speed:g}× speed; session {session_id}"
        )
        say("")
        meeting.start(clock.now())
        names = {p.id: p.participant.name for p in scenario.participants}
        while True:
            events = meeting.advance_to(clock.now())
            for event in await engine.accept(events):
                await engine.ingest(event)
                if isinstance(event, ParticipantJoined):
                    say(f"  {offset()}  + {event.participant.name} joined")
                elif isinstance(event, ParticipantLeft):
                    say(f"  {offset()}  - {names.get(event.participant_id, '?')} left")
                elif isinstance(event, ChatMessage) and meeting.collecting_commitments:
                    say(f"  {offset()}  ✎ {event.sender_name}: {event.text}")
                elif isinstance(event, MeetingEnded):
                    say(f"  {offset()}  meeting ended")
            state = await engine.state(session_id)
            if always_replan and state.status == "running":
                always_replan = False
                await engine.control(session_id, "replan_policy", {"auto": True}, "demo")
            segment = state.current_segment
            if segment is not None and segment.id != shown["segment"]:
                left = state.segment_time_left_seconds or 0
                nxt = state.next_item
                upcoming = ""
                if nxt is not None:
                    upcoming = f"; next: {nxt.what} in {_clock(nxt.countdown_seconds or 0)}"
                header(segment.id, f", {_clock(left)} left{upcoming}")
            if state.status == "ended":
                break
            wake = meeting.next_due()
            horizon = clock.now().timestamp() + 30  # show seconds: keep the status fresh
            until = min(wake.timestamp(), horizon) if wake else horizon
            await clock.sleep_until(datetime.fromtimestamp(until, UTC))
        await engine.settle()
        state = await engine.state(session_id)
        _summary(state, late, print if quiet else say)
        await _report(args, data_dir, session_id, db, clock.now(), print if quiet else say)
        await journey_demo.follow_ups(
            engine, session_id, print if quiet else say, None if args.data_dir is None else data_dir
        )
        problems = [f for f in state.firings if f.status in ("failed", "interrupted")]
        return 1 if problems else 0
    finally:
        await engine.stop()
        await db.close()


def _summary(state: SessionState, late: list[float], emit: Callable[[str], None]) -> None:
    emit("")
    emit("summary")
    statuses = Counter(f.status for f in state.firings)
    channels = Counter(f.channel for f in state.firings if f.channel)
    emit(
        f"  cues      {len(state.firings)} fired exactly once: "
        + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    )
    emit("  channels  " + ", ".join(f"{n} {c}" for c, n in sorted(channels.items())))
    if late:
        ordered = sorted(late)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        emit(
            f"  lateness  p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, "
            f"max {ordered[-1]:.1f} ms (real time)"
        )
    present = [p for p in state.participants if p.role == "attendee"]
    emit(f"  people    {len(state.participants)} joined ({len(present)} participants)")
    for poll in state.polls:
        counts = ", ".join(f"{option} {poll.counts.get(option, 0)}" for option in poll.options)
        emit(f"  poll      {poll.question} — {poll.answers} answers: {counts}")
    emit(
        f"  commit    {len(state.commitments)} commitments; not yet: "
        + (", ".join(state.not_committed) or "nobody")
    )
    cues = len(state.producer_cues)
    if cues:
        emit(f"  producer  {cues} cue(s) were for the producer to do by hand")
    taken = [s for s in state.segments if s.kind == "break" and s.state != "skipped"]
    merged = sum(1 for s in state.segments if s.kind == "break" and s.state == "skipped")
    inserted = sum(1 for s in taken if s.inserted)
    emit(
        f"  breaks    {len(taken)} taken: {len(taken) - inserted} planned, {inserted} inserted"
        + (f" ({merged} in place of a planned break)" if merged else "")
    )
    timing = state.timing
    if timing is not None and state.segments and state.segments[0].start is not None:
        began = state.segments[0].start
        ran = (timing.end - began).total_seconds()
        planned = (timing.planned_end - began).total_seconds()
        emit(
            f"  timing    ended after {_clock(ran)} of {_clock(planned)} planned: {timing.summary}"
        )


async def _report(
    args: argparse.Namespace, data_dir: Path, session_id: str, db: Any, now: datetime, emit: Any
) -> None:
    """Where the demo's report is: a page that outlives a temporary data folder."""
    from facilbot.reports.service import write_html_report

    kept = args.data_dir is not None
    folder = data_dir if kept else Path(tempfile.gettempdir())
    path = folder / ("report.html" if kept else f"facilbot-demo-report-{session_id[:8]}.html")
    written = await write_html_report(db.engine, session_id, now, path)
    if written is not None:
        emit(f"  report    {written.resolve().as_uri()}")
    if kept:
        emit(f"            FACILBOT_DATA_DIR={data_dir} facilbot report --last [--format html]")
