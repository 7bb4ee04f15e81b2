"""``facilbot plan FILE --start 09:00``: when every segment and cue happens, as planned.

Prints a timeline table (or JSON with ISO times). Rows marked ``!`` were inserted by the live
guards: a show that keeps its rules has none. Exit status: 0, or 2 when the file cannot be used
or an option is wrong.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runofshow import flex
from runofshow.durations import format_duration
from runofshow.loader import load_show
from runofshow.model import Show
from runofshow.plan import LivePlan, PlannedItem, PlannedSegment, describe_item, plan
from runofshow.source import ShowError

EXIT_OK, EXIT_UNUSABLE = 0, 2
WHAT_WIDTH = 72
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class UsageError(ValueError):
    """A command-line option that cannot be used; the message says how to write it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="run-of-show YAML file")
    parser.add_argument(
        "--start",
        default="09:00",
        help="start time HH:MM[:SS] (default 09:00), or a full ISO date-time",
    )
    parser.add_argument("--date", help="day of the session, YYYY-MM-DD (default: today)")
    parser.add_argument(
        "--tz", help="IANA time zone, e.g. Europe/Berlin (default: the show's, else local time)"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--notes",
        action="store_true",
        help="print each segment's producer notes (watch for, keep the same, flex) and "
        "facilitator notes under it",
    )


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load_show(args.file)
    except ShowError as exc:
        for problem in exc.problems:
            print(
                f"{problem.file}:{problem.line}:{problem.column}: error {problem.message}",
                file=sys.stderr,
            )
        return EXIT_UNUSABLE
    show = loaded.show
    try:
        zone = resolve_zone(args.tz, show)
        start = resolve_start(args.start, args.date, zone)
    except UsageError as exc:
        print(f"facilbot plan: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    timeline = plan(show, start)
    if args.format == "json":
        data = as_json(show, timeline, zone, loaded.file, notes=args.notes)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(as_text(show, timeline, zone, notes=args.notes))
    return EXIT_OK


def resolve_zone(name: str | None, show: Show) -> tzinfo:
    chosen = name or show.timezone
    if chosen is None:
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    try:
        return ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {chosen!r}; use an IANA name such as Europe/Berlin"
        ) from None


def resolve_start(text: str, day: str | None, zone: tzinfo) -> datetime:
    clock = _CLOCK.match(text.strip())
    if clock is None:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise UsageError(
                f"--start {text!r} is not a time; write HH:MM such as 09:00, "
                "or an ISO date-time such as 2025-03-04T09:00"
            ) from None
        if day is not None:
            raise UsageError("give the day either in --start or with --date, not both")
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise UsageError(f"--start {text!r} is not a time of day")
    if day is None:
        on = datetime.now(zone).date()
    else:
        try:
            on = date.fromisoformat(day)
        except ValueError:
            raise UsageError(f"--date {day!r} is not a date; write YYYY-MM-DD") from None
    return datetime.combine(on, time(hour, minute, second), tzinfo=zone)


def _offset(moment: datetime, start: datetime) -> str:
    minutes = int((moment - start) / timedelta(minutes=1))
    return f"+{minutes // 60}:{minutes % 60:02d}"


def _clip(text: str, width: int = WHAT_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _segment_what(show: Show, piece: PlannedSegment) -> str:
    length = format_duration(int(piece.duration.total_seconds()))
    if piece.inserted:
        return f"inserted break, {length}"
    segment = show.segment(piece.segment_id)
    parts = [f"{piece.kind}, {length}"]
    if piece.offset:
        parts[0] += f" (continues from {format_duration(piece.offset)})"
    else:
        parts[0] += f", flex {flex.describe(segment, show.rules.breaks)}"
    if segment.title:
        parts.append(segment.title)
    if segment.lead:
        parts.append(f"lead: {segment.lead}")
    return " · ".join(parts)


NOTE_LABELS = (
    ("watch_for", "watch for"),
    ("keep_same", "keep the same"),
    ("flex", "flex"),
    ("facilitator", "facilitator"),
)


def segment_notes(show: Show, segment_id: str) -> dict[str, str]:
    """A segment's notes by kind (a plain-string ``producer_notes`` is what to watch for)."""
    try:
        segment = show.segment(segment_id)
    except KeyError:
        return {}
    found: dict[str, str] = {}
    notes = segment.producer_notes
    if isinstance(notes, str):
        found["watch_for"] = notes
    elif notes is not None:
        for name in ("watch_for", "keep_same", "flex"):
            value = getattr(notes, name)
            if value:
                found[name] = value
    if segment.facilitator_notes:
        found["facilitator"] = segment.facilitator_notes
    return found


def as_text(show: Show, timeline: LivePlan, zone: tzinfo, *, notes: bool = False) -> str:
    start = timeline.start.astimezone(zone)
    end = timeline.end.astimezone(zone)
    zone_name = getattr(zone, "key", None) or start.strftime("%Z") or "local time"
    starting: dict[datetime, set[str]] = {}
    for piece in timeline.segments:
        starting.setdefault(piece.start, set()).add(piece.segment_id)
    # At a boundary: what closes the previous segment, then the segment, then what opens it.
    ordered: list[tuple[datetime, int, int, tuple[str, str, str, str, str, str]]] = []
    for n, piece in enumerate(timeline.segments):
        mark = "!" if piece.origin == "guard" else " "
        row = (
            mark,
            piece.start.astimezone(zone).strftime("%H:%M"),
            _offset(piece.start, timeline.start),
            piece.key,
            "segment",
            _clip(_segment_what(show, piece)),
        )
        ordered.append((piece.start, 1, n, row))
    for n, item in enumerate(timeline.items):
        rank = 2 if item.segment_id in starting.get(item.due, ()) else 0
        ordered.append((item.due, rank, n, _item_row(show, item, timeline.start, zone)))
    ordered.sort(key=lambda entry: entry[:3])
    rows = [entry[3] for entry in ordered]
    widths = [max(len(r[i]) for r in rows) if rows else 0 for i in range(5)]
    heading = ("", "time", "offset", "segment", "action", "what")
    widths = [max(w, len(h)) for w, h in zip(widths, heading, strict=False)]
    lines = [
        show.title,
        f"{start:%A %Y-%m-%d}, {start:%H:%M}–{end:%H:%M} {zone_name} · "
        f"{format_duration(int((timeline.end - timeline.start).total_seconds()))}",
        "",
    ]
    indent = " " * (sum(widths) + 5)
    noted: set[str] = set()
    for row in [heading, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(5)]
        lines.append(" ".join([*cells, row[5]]).rstrip())
        if notes and row[4] == "segment" and row[3] not in noted:
            noted.add(row[3])  # a segment cut by a break gets its notes once
            found = segment_notes(show, row[3])
            lines += [f"{indent}{label}: {found[k]}" for k, label in NOTE_LABELS if k in found]
    guards = [i for i in timeline.items if i.origin == "guard"]
    fillers = sum(1 for i in guards if i.action in ("filler", "producer"))
    breaks = sum(1 for i in guards if i.action == "break_start")
    if guards:
        lines += [
            "",
            f"! inserted by the live guards: {fillers} filler prompt(s), {breaks} break(s); "
            "`facilbot lint` says why",
        ]
    return "\n".join(lines) + "\n"


def _item_row(
    show: Show, item: PlannedItem, start: datetime, zone: tzinfo
) -> tuple[str, str, str, str, str, str]:
    mark = "!" if item.origin == "guard" else " "
    return (
        mark,
        item.due.astimezone(zone).strftime("%H:%M"),
        _offset(item.due, start),
        item.segment_id,
        item.action,
        _clip(describe_item(show, item)),
    )


def _flex_json(show: Show, piece: PlannedSegment) -> dict[str, Any]:
    if piece.inserted:
        return {}
    r = flex.flex_range(show.segment(piece.segment_id), show.rules.breaks)
    return {"flex": {"min_seconds": r.min, "max_seconds": r.max, "declared": r.declared}}


def as_json(
    show: Show, timeline: LivePlan, zone: tzinfo, file: str, *, notes: bool = False
) -> dict[str, Any]:
    def iso(moment: datetime) -> str:
        return moment.astimezone(zone).isoformat()

    def seconds(moment: datetime) -> int:
        return int((moment - timeline.start).total_seconds())

    titles = {s.id: s.title for s in show.segments}
    guards = [i for i in timeline.items if i.origin == "guard"]
    return {
        "file": file,
        "title": show.title,
        "timezone": getattr(zone, "key", None) or str(zone),
        "start": iso(timeline.start),
        "end": iso(timeline.end),
        "duration_seconds": seconds(timeline.end),
        "segments": [
            {
                "segment_id": s.segment_id,
                "key": s.key,
                "kind": s.kind,
                "title": titles.get(s.segment_id),
                "start": iso(s.start),
                "end": iso(s.end),
                "offset_seconds": seconds(s.start),
                "duration_seconds": int(s.duration.total_seconds()),
                "inserted": s.inserted,
                "origin": s.origin,
                **_flex_json(show, s),
                **({"notes": segment_notes(show, s.segment_id)} if notes else {}),
            }
            for s in timeline.segments
        ],
        "items": [
            {
                "key": i.key,
                "segment_id": i.segment_id,
                "action": i.action,
                "due": iso(i.due),
                "offset_seconds": seconds(i.due),
                "origin": i.origin,
                "cue_index": i.cue_index,
                "closes": i.closes,
                "what": describe_item(show, i),
            }
            for i in timeline.items
        ],
        "guards": {
            "fillers": sum(1 for i in guards if i.action in ("filler", "producer")),
            "breaks": sum(1 for i in guards if i.action == "break_start"),
        },
    }
