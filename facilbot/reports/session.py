"""The session report: plan against what was recorded, computed without I/O.

:func:`session_report` takes a :class:`SessionData` bundle and returns a JSON-ready dict (times
are ISO 8601 strings with their offset; ``*_offset`` fields are seconds from the actual start,
for drawing). Its top-level keys: ``session``, ``segments``, ``cues``, ``practices``,
``participants``, ``polls``, ``commitments``, ``controls``, plus ``timeline``, ``activity``,
``notes``, ``guards`` and ``summary``.

Where the actual segments come from: the planner (``runofshow.plan.live_plan``) replayed over
the *recorded* control log at the session's recorded end (or now, while it runs): the timeline
is, by design, a pure function of the log, so this is what ran; the show's static plan only
gives the "planned" columns. Cue figures come from the firings, people figures from presence,
chat, poll answers and commitments.
"""

from __future__ import annotations

import bisect
import gc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from facilbot.reports.data import JourneyProvider, SessionData
from runofshow.controls import Control, Extend, Pause, Resume, Skip, control_from_json
from runofshow.guards import US, end_allowance
from runofshow.model import INTERACTIVE_KINDS, Segment, SegmentKind, Show
from runofshow.plan import CLOSERS, describe_item, live_plan

Report = dict[str, Any]

#: Fired actions that ask participants to do something (guards' fillers included).
INTERACTIVE_ACTIONS = frozenset({"say", "poll_open", "breakout_open", "commitments_open", "filler"})
#: A segment counts as overrun when it ran longer than planned by more than this.
OVERRUN_GRACE = 60
#: Personal sections dropped from the stored aggregates of a pruned session.
PERSONAL_KEYS = ("participants", "commitments", "chat")
#: Width of a bucket of the activity-over-time figure, in seconds.
ACTIVITY_BUCKET = 60


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _n(value: float) -> float:
    """Whole numbers as ints (CSV cells read "480", not "480.0"), else 3 decimals."""
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def _seconds(delta: timedelta) -> float:
    return _n(delta.total_seconds())


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def planner_controls(data: SessionData) -> list[Control]:
    """The recorded control log as the planner reads it (the attach entry is not a control)."""
    out: list[Control] = []
    for record in data.controls:
        if record.kind == "attach":
            continue
        kind = {"fire": "fire_now", "break": "call_break"}.get(record.kind, record.kind)
        fields = {k: v for k, v in record.payload.items() if k != "type"}
        out.append(control_from_json({"type": kind, "at": record.at.isoformat(), **fields}))
    return out


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold the cycle collector while a report is built.

    A report of 10,000 cues allocates a few hundred thousand dicts and strings, and every
    700 allocations wake the collector, which then walks the recorded rows again and again:
    a fifth of the time in ``bench/report_speed.py``. The report is a tree (no cycles to
    collect), so nothing is lost by collecting after it. Process-wide, like the collector:
    the previous state is put back, and reference counting frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def session_report(data: SessionData, *, journey: JourneyProvider | None = None) -> Report:
    """Everything the report shows, from what was recorded."""
    with _cyclic_gc_paused():
        return _session_report(data, journey)


def _session_report(data: SessionData, journey: JourneyProvider | None) -> Report:
    if data.aggregates is not None:
        # Pruned: personal rows are gone; the figures stored before pruning stand.
        return {**data.aggregates, "pruned": True}
    record = data.session
    show = data.show
    controls = planner_controls(data)
    ended = record.status == "ended"
    end_at = record.ended_at if ended and record.ended_at else None
    now = data.now or end_at or record.created_at
    timeline = live_plan(show, controls, end_at or now)
    started = next((c.at for c in controls if c.type == "start"), None)
    actual_start = started or record.started_at
    actual_end = end_at if end_at is not None else (now if actual_start else None)
    if actual_end is not None and timeline.status == "ended" and not ended:
        actual_end = min(actual_end, timeline.end)
    planned_start = record.planned_start or actual_start or record.created_at
    planned = _as_written(show, planned_start)

    cuts = {c.at for c in controls if c.type in ("skip", "jump", "end")}
    segments, pieces = _segments(show, planned, timeline, actual_start, cuts)
    pauses = _pauses(controls, actual_end)
    cues, guards = _cues(data, timeline, actual_start)
    people = _participants(data, actual_start, actual_end)
    practices = _practices(show, pieces, cues, pauses, people, data, actual_start, actual_end)
    polls = _polls(data, people)
    commitments = _commitments(data, people)
    control_rows = _controls(data, actual_start)
    activity = _activity(data, pieces, actual_start, actual_end)
    planned_end = planned_start + timedelta(seconds=sum(s.duration for s in show.segments))
    titles = {s.id: s.title for s in show.segments}
    why = _why(controls, pieces, segments, planned_start, actual_start, pauses)
    report: Report = {
        "session": {
            "id": record.id,
            "show": data.show_name,
            "show_version": data.show_version,
            "title": show.title,
            "platform": record.platform,
            # the zone the renderers show times in (the JSON's times stay ISO 8601 in UTC)
            "timezone": show.timezone or "UTC",
            # what the journey sections are measured against (0 / False: the show has none)
            "prework_items": len(show.prework),
            "follow_ups": show.follow_up is not None,
            "status": record.status,
            "partial": not ended,
            "planned_start": iso(planned_start),
            "planned_end": iso(planned_end),
            "planned_seconds": show.duration,
            "actual_start": iso(actual_start),
            "actual_end": iso(actual_end),
            "actual_seconds": (
                _seconds(actual_end - actual_start) if actual_start and actual_end else None
            ),
            "late_start_seconds": (
                _seconds(actual_start - planned_start) if actual_start else None
            ),
            "end_difference_seconds": (
                _seconds(actual_end - planned_end) if actual_end and ended else None
            ),
            "why": why,
            "reported_at": iso(now),
        },
        "segments": segments,
        "timeline": [
            {
                "key": p["key"],
                "segment_id": p["segment_id"],
                "title": titles.get(p["segment_id"]) or ("Break" if p["inserted"] else None),
                "kind": p["kind"],
                "inserted": p["inserted"],
                "origin": p["origin"],
                "start": iso(p["start"]),
                "end": iso(p["end"]),
                "start_offset": _seconds(p["start"] - actual_start) if actual_start else 0,
                "seconds": _seconds(p["end"] - p["start"]),
            }
            for p in pieces
        ],
        "cues": cues,
        "guards": guards,
        "practices": practices,
        "controls": control_rows,
        "participants": people,
        "polls": polls,
        "commitments": commitments,
        "activity": activity,
        "notes": [
            {
                "segment_id": n.segment_id,
                "text": n.text,
                "author": n.author,
                "role": n.role,
                "at": iso(n.created_at),
            }
            for n in data.notes
        ],
        "pruned": False,
    }
    report["summary"] = _summary(report)
    if journey is not None:
        found = journey(data, [p["ref"] for p in people])
        for person in people:
            person["journey"] = dict(found.get(person["ref"], {}))
    return finish(report)


# --- segments --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Planned:
    segment_id: str
    start: datetime
    duration: timedelta


@dataclass(frozen=True, slots=True)
class _AsWritten:
    segments: tuple[_Planned, ...]


def _as_written(show: Show, start: datetime) -> _AsWritten:
    """The show as its author wrote it: segments back to back from the planned start (what
    the live guards would add is a deviation, reported as such, not part of the plan)."""
    out = []
    cursor = start
    for segment in show.segments:
        length = timedelta(seconds=segment.duration)
        out.append(_Planned(segment.id, cursor, length))
        cursor += length
    return _AsWritten(tuple(out))


def _segments(
    show: Show, planned: Any, timeline: Any, origin: datetime | None, cuts: set[datetime]
) -> tuple[list[Report], list[Report]]:
    """One row per segment run (show segments in plan order, inserted breaks where they ran),
    and the actual pieces on the clock (for the practices and the picture)."""
    planned_by_id: dict[str, Any] = {}
    for piece in planned.segments:
        planned_by_id.setdefault(piece.segment_id, piece)
    titles = {s.id: s.title for s in show.segments}
    runs: dict[str, list[Any]] = defaultdict(list)
    order: list[str] = []
    for piece in timeline.segments:
        if piece.key not in runs:
            order.append(piece.key)
        runs[piece.key].append(piece)
    pieces: list[Report] = []
    rows: list[Report] = []
    seen_ids: set[str] = set()

    def offset(at: datetime) -> float | None:
        return None if origin is None else _seconds(at - origin)

    for key in order:
        parts = runs[key]
        ran = [p for p in parts if p.state in ("done", "current") and p.end > p.start]
        first = parts[0]
        if first.state == "upcoming" and not ran:
            continue
        for p in ran:
            pieces.append(
                {
                    "key": key,
                    "segment_id": p.segment_id,
                    "kind": p.kind,
                    "start": p.start,
                    "end": p.end,
                    "inserted": p.inserted,
                    "origin": p.origin,
                }
            )
        seen_ids.add(first.segment_id)
        template = planned_by_id.get(first.segment_id)
        actual_seconds = sum((p.end - p.start).total_seconds() for p in ran)
        state = (
            "skipped"
            if not ran
            else "running"
            if any(p.state == "current" for p in parts)
            else "done"
        )
        if ran and state == "done" and ran[-1].end in cuts and not first.inserted:
            # ended by a skip, jump or end before its (possibly extended) time ran out
            state = "cut short"
        planned_seconds = int(template.duration.total_seconds()) if template else None
        if template is not None and first.inserted:
            planned_seconds = None
        actual_start = ran[0].start if ran else None
        rows.append(
            {
                "id": first.segment_id if not first.inserted else key,
                "key": key,
                "title": titles.get(first.segment_id) or ("Break" if first.inserted else None),
                "kind": first.kind,
                "inserted": first.inserted,
                "origin": first.origin,
                "planned_start": iso(template.start) if template and not first.inserted else None,
                "planned_seconds": planned_seconds,
                "actual_start": iso(actual_start),
                "actual_end": iso(ran[-1].end) if ran else None,
                "actual_seconds": _n(actual_seconds) if ran else 0,
                "overrun_seconds": (
                    _n(actual_seconds - planned_seconds)
                    if planned_seconds is not None and state in ("done", "cut short")
                    else None
                ),
                "state": state,
                "pieces": len(ran),
                "actual_offset": offset(actual_start) if actual_start else None,
            }
        )
    for segment in show.segments:
        if segment.id in seen_ids:
            continue
        template = planned_by_id.get(segment.id)
        rows.append(
            {
                "id": segment.id,
                "key": segment.id,
                "title": segment.title,
                "kind": str(segment.kind),
                "inserted": False,
                "origin": "show",
                "planned_start": iso(template.start) if template else None,
                "planned_seconds": segment.duration,
                "actual_start": None,
                "actual_end": None,
                "actual_seconds": 0,
                "overrun_seconds": None,
                "state": "not reached",
                "pieces": 0,
                "actual_offset": None,
            }
        )
    return rows, pieces


def _pauses(controls: Sequence[Control], until: datetime | None) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    since: datetime | None = None
    for control in controls:
        if isinstance(control, Pause) and since is None:
            since = control.at
        elif isinstance(control, Resume) and since is not None:
            out.append((since, control.at))
            since = None
        elif control.type == "end" and since is not None:
            out.append((since, control.at))
            since = None
    if since is not None and until is not None:
        out.append((since, until))
    return out


def _why(
    controls: Sequence[Control],
    pieces: Sequence[Report],
    segments: Sequence[Report],
    planned_start: datetime,
    actual_start: datetime | None,
    pauses: Sequence[tuple[datetime, datetime]],
) -> list[Report]:
    """The reasons the actual end differs from the planned end, each with its seconds."""
    reasons: list[Report] = []
    if actual_start is not None and actual_start != planned_start:
        reasons.append({"reason": "late start", "seconds": _seconds(actual_start - planned_start)})
    extended = sum(c.seconds for c in controls if isinstance(c, Extend))
    if extended:
        count = sum(1 for c in controls if isinstance(c, Extend))
        reasons.append({"reason": f"extensions ({count})", "seconds": extended})
    paused = sum((b - a).total_seconds() for a, b in pauses)
    if paused:
        reasons.append({"reason": f"pauses ({len(pauses)})", "seconds": _n(paused)})
    for origin, label in (("control", "breaks called"), ("guard", "breaks inserted by guards")):
        breaks = [p for p in pieces if p["inserted"] and p["origin"] == origin]
        if breaks:
            seconds = sum((p["end"] - p["start"]).total_seconds() for p in breaks)
            reasons.append({"reason": f"{label} ({len(breaks)})", "seconds": _n(seconds)})
    skipped = [s for s in segments if s["state"] in ("skipped", "cut short", "not reached")]
    lost = 0.0
    for row in skipped:
        if row["planned_seconds"] is not None and not row["inserted"]:
            lost += row["planned_seconds"] - row["actual_seconds"]
    if lost:
        skips = sum(1 for c in controls if isinstance(c, Skip))
        names = ", ".join(s["id"] for s in skipped)
        reasons.append(
            {"reason": f"skipped or cut ({names}; {skips} skip controls)", "seconds": -lost}
        )
    return reasons


# --- cues ------------------------------------------------------------------------------------


def _cues(
    data: SessionData, timeline: Any, origin: datetime | None
) -> tuple[list[Report], list[Report]]:
    # This loop runs once per cue (10,000 in the benchmark): what does not depend on the
    # firing is worked out once, and times are formatted directly rather than through iso().
    items = {item.key: item for item in timeline.items}
    rows: list[Report] = []
    guards: list[Report] = []
    producers = [str(p.get("name", "")) for p in data.session.producers]
    show = data.show
    segments: dict[str, Segment] = {}
    for segment in show.segments:
        segments.setdefault(segment.id, segment)  # the first of an id, as show.segment() finds
    for firing in data.firings:
        item = items.get(firing.key)
        what = firing.action if item is None else describe_item(show, item, segments)
        sent = firing.sent_at
        planned_at = firing.planned_at
        by_hand = firing.channel == "producer_cue"
        row = {
            "key": firing.key,
            "segment_id": item.segment_id if item else firing.key.split("-")[0],
            "action": firing.action,
            "what": what,
            "origin": item.origin if item else "show",
            "planned_at": planned_at.isoformat(),
            "fired_at": sent.isoformat() if sent else None,
            "late_seconds": _n((sent - planned_at).total_seconds()) if sent else None,
            "channel": firing.channel,
            "status": firing.status,
            "outcome": firing.outcome,
            "by_hand": by_hand,
            "done_by_hand": (firing.status == "acknowledged") if by_hand else None,
            # who pressed "done", and when (recorded since migration 0010; None before it)
            "done_by": firing.acknowledged_by,
            "done_at": firing.acknowledged_at.isoformat() if firing.acknowledged_at else None,
            "producers": list(producers) if by_hand else [],
            "error": firing.error,
            # for drawing only: plain floats (rounding 10,000 of them costs more than it gives)
            "offset": (planned_at - origin).total_seconds() if origin else None,
            "fired_offset": (sent - origin).total_seconds() if origin and sent else None,
        }
        rows.append(row)
        if item is not None and item.origin == "guard" and item.action not in CLOSERS:
            guards.append(
                {
                    "key": firing.key,
                    "action": firing.action,
                    "at": iso(firing.sent_at or firing.planned_at),
                    "why": _guard_reason(data.show, item.action, what),
                }
            )
    fired = {f.key for f in data.firings}
    began: dict[str, datetime] = {}
    for piece in timeline.segments:
        if piece.state in ("done", "current"):
            began.setdefault(piece.segment_id, piece.start)
    for item in timeline.items:
        if item.state != "skipped" or item.key in fired:
            continue
        due = item.due
        if item.cue_index is not None and item.segment_id in began:
            # the planner stamps a skipped item with the skip's time; report when it was due
            cue = data.show.segment(item.segment_id).cues[item.cue_index]
            due = max(due, began[item.segment_id] + timedelta(seconds=cue.at))
        # Skipped with its segment (skip, jump, end): never claimed, so no firing row.
        rows.append(
            {
                "key": item.key,
                "segment_id": item.segment_id,
                "action": item.action,
                "what": describe_item(data.show, item, segments),
                "origin": item.origin,
                "planned_at": iso(due),
                "fired_at": None,
                "late_seconds": None,
                "channel": None,
                "status": "skipped",
                "outcome": None,
                "by_hand": False,
                "done_by_hand": None,
                "done_by": None,
                "done_at": None,
                "producers": [],
                "error": None,
                "offset": _seconds(due - origin) if origin else None,
                "fired_offset": None,
            }
        )
    rows.sort(key=itemgetter("planned_at", "key"))
    for item in timeline.items:
        if item.action in CLOSERS:
            continue
        if item.origin == "guard" and item.key not in {g["key"] for g in guards}:
            if item.state == "due" or item.action == "break_start":
                guards.append(
                    {
                        "key": item.key,
                        "action": item.action,
                        "at": iso(item.due),
                        "why": _guard_reason(data.show, item.action, item.text or item.action),
                    }
                )
    return rows, guards


def _guard_reason(show: Show, action: str, what: str) -> str:
    if action == "filler":
        gap = show.rules.interaction_gap // 60
        return f"no interaction planned within the {gap}-minute cadence limit: {what}"
    return f"continuous time would break a break rule: {what}"


# --- participants ----------------------------------------------------------------------------


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Touching intervals (a move to a room) are one stay in the meeting."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _participants(data: SessionData, start: datetime | None, end: datetime | None) -> list[Report]:
    by_id = {p.id: p for p in data.participants}
    raw: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    limit = end or data.now or data.session.created_at
    for interval in data.presence:
        left = interval.left_at or limit
        if left > interval.joined_at:
            raw[interval.participant_id].append((interval.joined_at, min(left, limit)))
    typed = Counter(c.participant_ref for c in data.chat if c.participant_ref)
    answered = Counter(a.participant_ref for a in data.answers)
    committed = {c.participant_ref for c in data.commitments}
    people: list[Report] = []
    for pid, person in by_id.items():
        stays = _merged(raw.get(pid, []))
        seconds = sum((b - a).total_seconds() for a, b in stays)
        first = stays[0][0] if stays else None
        late = _seconds(first - start) if first and start and first > start else 0.0
        ref = person.participant_ref
        people.append(
            {
                "ref": ref,
                "name": person.name,
                "role": person.role,
                "intervals": [{"joined": iso(a), "left": iso(b)} for a, b in stays],
                "minutes_present": round(seconds / 60, 2),
                "joined_late_seconds": late,
                "returns": max(0, len(stays) - 1),
                "messages": typed.get(ref, 0),
                "answers": answered.get(ref, 0),
                "committed": ref in committed,
                "active": bool(typed.get(ref) or answered.get(ref) or ref in committed),
                "present": bool(stays),
                "_stays": stays,
            }
        )
    return people


def _attendees(people: Sequence[Report]) -> list[Report]:
    """People the practices count: attendees who were there (hosts and co-hosts run it)."""
    return [p for p in people if p["present"] and p["role"] == "attendee"]


# --- practices -------------------------------------------------------------------------------


def _practices(
    show: Show,
    pieces: Sequence[Report],
    cues: Sequence[Report],
    pauses: Sequence[tuple[datetime, datetime]],
    people: Sequence[Report],
    data: SessionData,
    start: datetime | None,
    end: datetime | None,
) -> Report:
    rules = show.rules
    if start is None or end is None or end <= start:
        return {"partial": True, "interaction_gap": None, "breaks": [], "rules": []}

    def work(a: datetime, b: datetime) -> float:
        """Show time between a and b: pauses count as neither work nor rest."""
        return (b - a).total_seconds() - sum(_overlap(a, b, p0, p1) for p0, p1 in pauses)

    # Interaction: interactive segments cover their whole time, breaks and pauses are not a
    # gap, and each fired interactive cue is a moment of interaction.
    covered: list[tuple[datetime, datetime]] = list(pauses)
    for piece in pieces:
        kind = piece["kind"]
        if kind == SegmentKind.break_ or kind in {str(k) for k in INTERACTIVE_KINDS}:
            covered.append((piece["start"], piece["end"]))
    moments = sorted(
        f.sent_at
        for f in data.firings
        if f.action in INTERACTIVE_ACTIONS and f.sent_at is not None and f.status != "skipped"
    )
    covered += [(m, m) for m in moments]
    merged = _merged(covered)
    longest = (0.0, start, start)
    cursor = start
    for a, b in [*merged, (end, end)]:
        if a > cursor:
            gap = work(cursor, min(a, end))
            if gap > longest[0]:
                longest = (gap, cursor, min(a, end))
        cursor = max(cursor, b)
        if cursor >= end:
            break
    gap_seconds, gap_from, gap_to = longest
    gap_segment = next((p["segment_id"] for p in pieces if p["start"] <= gap_from < p["end"]), None)
    gaps_over = []
    cursor = start
    for a, b in [*merged, (end, end)]:
        if a > cursor and work(cursor, min(a, end)) > rules.interaction_gap:
            gaps_over.append(
                {
                    "from": iso(cursor),
                    "to": iso(min(a, end)),
                    "seconds": _n(work(cursor, min(a, end))),
                    "from_offset": _seconds(cursor - start),
                    "to_offset": _seconds(min(a, end) - start),
                }
            )
        cursor = max(cursor, b)
    # Breaks against each rule: the longest continuous work between breaks of enough rest
    # (the end of the session counts as a break).
    breaks = [p for p in pieces if p["kind"] == SegmentKind.break_]
    break_rows = [
        {
            "key": b["key"],
            "start": iso(b["start"]),
            "seconds": _n(work(b["start"], b["end"])),
            "inserted": b["inserted"],
            "origin": b["origin"],
            "start_offset": _seconds(b["start"] - start),
            "end_offset": _seconds(b["end"] - start),
        }
        for b in breaks
    ]
    rule_rows = []
    for rule in rules.breaks:
        resting = [b for b in breaks if work(b["start"], b["end"]) >= rule.rest]
        cursor = start
        stretch = 0.0
        for rest in resting:
            stretch = max(stretch, work(cursor, rest["start"]))
            cursor = rest["end"]
        last = work(cursor, end)
        # The end of the session is the last stretch's break, with the same allowance past the
        # limit that the live guards give it (runofshow.guards.end_allowance): nobody is sent
        # on a break just to come back for the close.
        allowance = end_allowance(rule) / US
        kept = stretch <= rule.work and last <= rule.work + allowance
        stretch = max(stretch, last)
        rule_rows.append(
            {
                "rule": str(rule),
                "longest_work_seconds": _n(stretch),
                "limit_seconds": rule.work,
                "end_allowance_seconds": _n(allowance),
                "kept": kept,
            }
        )
    connection = next((p for p in pieces if p["kind"] == SegmentKind.connection), None)
    connection_offset = _seconds(connection["start"] - start) if connection else None
    non_break = sum(work(p["start"], p["end"]) for p in pieces if p["kind"] != SegmentKind.break_)
    talk = sum(work(p["start"], p["end"]) for p in pieces if p["kind"] == SegmentKind.talk)
    present = _attendees(people)
    committed = [p for p in present if p["committed"]]
    return {
        "partial": data.session.status != "ended",
        "interaction_gap": {
            "longest_seconds": _n(gap_seconds),
            "from": iso(gap_from),
            "to": iso(gap_to),
            "segment_id": gap_segment,
            "limit_seconds": rules.interaction_gap,
            "kept": gap_seconds <= rules.interaction_gap,
            "over_limit": gaps_over,
        },
        "breaks": break_rows,
        "rules": rule_rows,
        "connection": {
            "segment_id": connection["segment_id"] if connection else None,
            "offset_seconds": connection_offset,
            "within_seconds": rules.connection_within,
            "kept": connection_offset is not None and connection_offset <= rules.connection_within,
        },
        "talk_share": {
            "talk_seconds": _n(talk),
            "non_break_seconds": _n(non_break),
            "percent": round(100 * talk / non_break, 1) if non_break else None,
            "max_percent": rules.talk_share_max,
            "kept": non_break > 0 and 100 * talk / non_break <= rules.talk_share_max,
        },
        "commitments": {
            "committed": len(committed),
            "present": len(present),
            "percent": round(100 * len(committed) / len(present), 1) if present else None,
        },
    }


# --- polls, commitments, controls, activity ---------------------------------------------------


def _present_during(people: Sequence[Report], a: datetime, b: datetime) -> set[str]:
    return {
        p["ref"] for p in _attendees(people) if any(s0 <= b and s1 >= a for s0, s1 in p["_stays"])
    }


def _polls(data: SessionData, people: Sequence[Report]) -> list[Report]:
    opened = [f for f in data.firings if f.action == "poll_open" and f.status != "skipped"]
    closes = {
        f.key.removesuffix("@close"): f.sent_at or f.planned_at
        for f in data.firings
        if f.action == "poll_close"
    }
    answers: dict[str, list[Any]] = defaultdict(list)
    for answer in data.answers:
        answers[answer.poll_key].append(answer)
    questions = _poll_questions(data.show)
    out = []
    for firing in opened:
        base = firing.key.split("#")[0]
        question, options, keep_same = questions.get(base, (firing.key, [], False))
        start = firing.sent_at or firing.planned_at
        stop = closes.get(firing.key) or data.session.ended_at or data.now or start
        present = _present_during(people, start, stop)
        given = answers.get(firing.key, [])
        counts = Counter(choice for a in given for choice in a.answer)
        responders = {a.participant_ref for a in given}
        in_room = responders & present
        out.append(
            {
                "key": firing.key,
                "question": question,
                "options": options,
                "keep_same": keep_same,
                "counts": {
                    o: counts.get(o, 0) for o in [*options, *sorted(set(counts) - set(options))]
                },
                "answers": len(given),
                "present": len(present),
                "response_rate": round(100 * len(in_room) / len(present), 1) if present else None,
                "opened_at": iso(start),
            }
        )
    return out


def _poll_questions(show: Show) -> dict[str, tuple[str, list[str], bool]]:
    found: dict[str, tuple[str, list[str], bool]] = {}
    for segment in show.segments:
        for index, cue in enumerate(segment.cues):
            if cue.poll is not None:
                notes = cue.producer_notes
                keep = bool(getattr(notes, "keep_same", None))
                found[segment.cue_id(index)] = (cue.poll.question, list(cue.poll.options), keep)
    return found


def _commitments(data: SessionData, people: Sequence[Report]) -> Report:
    committed = {c.participant_ref for c in data.commitments}
    return {
        "items": [
            {
                "ref": c.participant_ref,
                "name": c.name,
                "text": c.text,
                "at": iso(c.at),
                "source": c.source,
            }
            for c in data.commitments
        ],
        "present_without": [p["name"] for p in _attendees(people) if p["ref"] not in committed],
    }


def _controls(data: SessionData, origin: datetime | None) -> list[Report]:
    rows = []
    for record in data.controls:
        if record.kind == "attach":
            continue
        rows.append(
            {
                "seq": record.seq,
                "kind": record.kind,
                "at": iso(record.at),
                "by": record.by,
                "detail": {k: v for k, v in record.payload.items() if k != "type"},
                "by_hand": ":" not in record.by,
                "offset": _seconds(record.at - origin) if origin else None,
            }
        )
    return rows


def _activity(
    data: SessionData, pieces: Sequence[Report], start: datetime | None, end: datetime | None
) -> Report:
    """Chat messages, poll answers and commitments per segment and per minute."""
    moments: list[tuple[datetime, str]] = [(c.at, c.participant_ref or "") for c in data.chat]
    moments += [(a.at, a.participant_ref) for a in data.answers]
    moments.sort()
    per_segment: list[Report] = []
    times = [m[0] for m in moments]
    for piece in pieces:
        lo = bisect.bisect_left(times, piece["start"])
        hi = bisect.bisect_left(times, piece["end"])
        per_segment.append(
            {
                "key": piece["key"],
                "segment_id": piece["segment_id"],
                "events": hi - lo,
                "people": len({ref for _, ref in moments[lo:hi] if ref}),
            }
        )
    buckets: list[int] = []
    if start is not None and end is not None and end > start:
        size = int((end - start).total_seconds() // ACTIVITY_BUCKET) + 1
        buckets = [0] * size
        for at, _ref in moments:
            index = int((at - start).total_seconds() // ACTIVITY_BUCKET)
            if 0 <= index < size:
                buckets[index] += 1
    return {"per_segment": per_segment, "per_minute": buckets, "bucket_seconds": ACTIVITY_BUCKET}


def _summary(report: Report) -> Report:
    cues = report["cues"]
    fired = [c for c in cues if c["fired_at"]]
    lates = sorted(c["late_seconds"] for c in fired if c["late_seconds"] is not None)
    people = _attendees(report["participants"])
    return {
        "cues": len(cues),
        "cues_by_status": dict(Counter(c["status"] for c in cues)),
        "cues_by_channel": dict(Counter(c["channel"] for c in cues if c["channel"])),
        "by_hand": sum(1 for c in cues if c["by_hand"]),
        "by_hand_done": sum(1 for c in cues if c["done_by_hand"]),
        # producer cues marked done, per person who pressed "done"
        "by_hand_done_by": dict(
            Counter(c["done_by"] for c in cues if c["done_by_hand"] and c["done_by"])
        ),
        "max_late_seconds": lates[-1] if lates else None,
        "attendees": len(people),
        "active": sum(1 for p in people if p["active"]),
        "interventions": sum(1 for c in report["controls"] if c["by_hand"]),
    }


def strip_private(report: Mapping[str, Any]) -> Report:
    """The figures kept after pruning: no names, no texts of people, no intervals."""
    out = {k: v for k, v in report.items() if k not in PERSONAL_KEYS}
    out["participants"] = []
    out["commitments"] = {"items": [], "present_without": []}
    return out


def finish(report: Report) -> Report:
    """Drop the working fields the renderers do not need."""
    for person in report.get("participants", []):
        person.pop("_stays", None)
    return report
