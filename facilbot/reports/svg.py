"""The planned-versus-actual timeline and the activity chart, drawn server-side as SVG.

Why no charting library and no template engine: the picture is a few dozen rectangles, lines
and labels on one time axis. Plotly or Altair would add megabytes and a JavaScript runtime to
a page that must print and work without scripts; matplotlib draws raster-first and is slow to
import (~0.5 s, more than the whole report). Building the SVG from strings keeps it small, fast
and easy to audit; every text that came from a show or a person goes through ``escape``.
"""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH = 1000
LEFT = 90  # room for the lane labels
LANE = 28
#: Segment fills, each dark enough for the white 11px labels on them to reach WCAG AA (4.5:1).
COLOURS = {
    "connection": "#1f7a6f",
    "talk": "#c4472a",
    "activity": "#457b9d",
    "discussion": "#6a4c93",
    "breakout": "#1d3557",
    "break": "#6b6b6b",
    "commitments": "#a65a17",
}
CHANNEL_SHAPES = {"server_api": "circle", "bridge": "diamond", "companion": "square"}


def _late_colour(late: float | None, status: str) -> str:
    if status in ("skipped", "failed", "interrupted") or late is None:
        return "#b00020"
    if late <= 5:
        return "#2b8a3e"
    if late <= 60:
        return "#e0a800"
    return "#d9480f"


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}"


def timeline_svg(report: dict[str, Any]) -> str:
    """Plan and actual as two lanes of segments, cues as marks, gaps over the limit shaded."""
    from datetime import datetime

    session = report["session"]
    if not session.get("actual_start"):
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="30" role="img" '
            'aria-label="not started"><text x="4" y="20">The session has not started.</text></svg>'
        )
    start_at, span, scale = _axis(report)

    def x(offset: float) -> float:
        return round(LEFT + (float(offset) - start_at) * scale, 1)

    origin = datetime.fromisoformat(session["actual_start"])
    top = 20
    plan_y, actual_y, cue_y = top, top + LANE + 8, top + 2 * (LANE + 8)
    height = cue_y + LANE + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" class="timeline" aria-label="planned versus actual timeline">',
        "<title>Planned versus actual</title>",
        f'<text x="4" y="{plan_y + 18}" class="lane">planned</text>',
        f'<text x="4" y="{actual_y + 18}" class="lane">actual</text>',
        f'<text x="4" y="{cue_y + 18}" class="lane">cues</text>',
    ]
    for gap in (report["practices"].get("interaction_gap") or {}).get("over_limit", []):
        gx = x(gap["from_offset"])
        width = max(1.0, x(gap["to_offset"]) - gx)
        out.append(
            f'<rect x="{gx}" y="{actual_y - 4}" width="{width:.1f}" height="{2 * LANE + 16}" '
            f'fill="#ffd6d6" class="gap"><title>{escape(_clock(gap["seconds"]))} without an '
            "interaction (over the cadence limit)</title></rect>"
        )
    for row in report["segments"]:
        if row["planned_start"] and row["planned_seconds"]:
            offset = (datetime.fromisoformat(row["planned_start"]) - origin).total_seconds()
            out.append(_bar(x(offset), plan_y, row["planned_seconds"] * scale, row, "planned"))
    for piece in report.get("timeline", []):
        out.append(
            _bar(x(piece["start_offset"]), actual_y, piece["seconds"] * scale, piece, "actual")
        )
    for cue in report["cues"]:
        offset = cue["fired_offset"] if cue["fired_offset"] is not None else cue["offset"]
        if offset is None:
            continue
        colour = _late_colour(cue["late_seconds"], cue["status"])
        cx, cy = x(offset), cue_y + LANE / 2
        shape = CHANNEL_SHAPES.get(cue["channel"] or "", "triangle")
        late = cue["late_seconds"]
        when = cue["status"] if late is None else f"late {late} s"
        tip = f"{cue['key']} · {cue['action']} · {cue['channel'] or cue['status']} · {when}"
        mark = {
            "circle": f'<circle cx="{cx}" cy="{cy}" r="5" fill="{colour}"',
            "square": f'<rect x="{cx - 4}" y="{cy - 4}" width="8" height="8" fill="{colour}"',
            "diamond": f'<polygon points="{cx},{cy - 6} {cx + 6},{cy} {cx},{cy + 6} {cx - 6},{cy}"'
            f' fill="{colour}"',
            "triangle": f'<polygon points="{cx},{cy - 6} {cx + 6},{cy + 5} {cx - 6},{cy + 5}" '
            f'fill="{colour}"',
        }[shape]
        out.append(f'{mark} class="cue"><title>{escape(tip)}</title></{_tag(shape)}>')
    axis_y = cue_y + LANE + 16
    step = 600 if span <= 3 * 3600 else 1800
    tick = (int(start_at) // step) * step
    while tick <= start_at + span:
        if tick >= start_at:
            out.append(
                f'<line x1="{x(tick)}" y1="{top - 4}" x2="{x(tick)}" y2="{axis_y - 10}" '
                'class="tick"/>'
                f'<text x="{x(tick)}" y="{axis_y}" class="axis" text-anchor="middle">'
                f"{_clock(tick) if tick >= 0 else '-' + _clock(-tick)}</text>"
            )
        tick += step
    out.append("</svg>")
    return "".join(out)


def _axis(report: dict[str, Any]) -> tuple[float, float, float]:
    """The shared time axis of both pictures: (first offset, seconds shown, pixels per second),
    offsets in seconds from the actual start; the plan may begin earlier (a late start)."""
    from datetime import datetime

    session = report["session"]
    origin = datetime.fromisoformat(session["actual_start"])
    shift = (datetime.fromisoformat(session["planned_start"]) - origin).total_seconds()
    start_at = min(0.0, shift)
    end_at = max(float(session.get("actual_seconds") or 0), shift + session["planned_seconds"], 1.0)
    span = end_at - start_at
    return start_at, span, (WIDTH - LEFT - 10) / span


def _tag(shape: str) -> str:
    return {"circle": "circle", "square": "rect"}.get(shape, "polygon")


def _bar(x: float, y: int, width: float, row: dict[str, Any], lane: str) -> str:
    colour = COLOURS.get(row["kind"], "#777")
    label = row.get("title") or row.get("segment_id") or row.get("id") or ""
    seconds = row.get("seconds") if lane == "actual" else row.get("planned_seconds")
    tip = f"{label} ({row['kind']}) {lane} {_clock(seconds or 0)}"
    text = ""
    if width > 46:
        text = (
            f'<text x="{x + 4:.1f}" y="{y + 18}" class="bar-label">'
            f"{escape(str(label)[: int(width // 7)])}</text>"
        )
    dash = ' stroke-dasharray="4 2"' if row.get("inserted") else ""
    return (
        f'<g><rect x="{x}" y="{y}" width="{max(width, 1.0):.1f}" height="{LANE}" '
        f'fill="{colour}" stroke="#fff"{dash} class="seg {lane}">'
        f"<title>{escape(tip)}</title></rect>{text}</g>"
    )


def activity_svg(report: dict[str, Any]) -> str:
    """Chat messages and poll answers per minute, as bars under the timeline."""
    activity = report.get("activity", {})
    buckets: list[int] = activity.get("per_minute", [])
    if not buckets or not report["session"].get("actual_start"):
        return ""
    start_at, _span, scale = _axis(report)
    peak = max(buckets) or 1
    height = 80
    width = activity.get("bucket_seconds", 60) * scale
    bars = []
    for index, count in enumerate(buckets):
        if count:
            h = round(count / peak * (height - 10), 1)
            left = LEFT + (index * activity.get("bucket_seconds", 60) - start_at) * scale
            bars.append(
                f'<rect x="{left:.1f}" y="{height - h}" '
                f'width="{max(width - 1, 1):.1f}" '
                f'height="{h}" fill="#457b9d"><title>minute {index}: {count}</title></rect>'
            )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        'role="img" class="activity" aria-label="activity over time">'
        f'<text x="4" y="{height - 4}" class="lane">activity</text>'
        f'<text x="4" y="14" class="lane">peak {peak}/min</text>' + "".join(bars) + "</svg>"
    )
