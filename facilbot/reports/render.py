"""A report as text, JSON, CSV (one table per file, zipped) or a printable HTML page.

The HTML is built with ``html.escape`` on every value rather than with a template engine: the
page is one static layout of tables around the SVG from :mod:`.svg`, and escaping at the one
place values are written keeps it auditable without a new dependency (Jinja2 would be the
choice if pages grew logic of their own).
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from functools import cache
from html import escape
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facilbot.journey import figures as journey_figures
from facilbot.reports.svg import activity_svg, timeline_svg

Report = dict[str, Any]

#: The CSV tables: name -> (columns, rows of the report).
CSV_TABLES = ("segments", "cues", "attendance", "poll_answers", "commitments", "controls", "notes")


def to_json(report: Report, *, pretty: bool = False) -> str:
    # Compact by default: with an indent, the json module falls back to its pure-Python
    # encoder, several times slower on a report of 10,000 cues.
    return json.dumps(report, ensure_ascii=False, indent=2 if pretty else None, default=str)


def _mins(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    whole = round(seconds)
    if whole >= 3600:
        return f"{sign}{whole // 3600}h{whole % 3600 // 60:02d}m"
    if whole % 60:
        return f"{sign}{whole // 60}m{whole % 60:02d}s"
    return f"{sign}{whole // 60}m"


def _done(cue: Report, otherwise: str, hm: Callable[[str | None], str]) -> str:
    """A producer cue's outcome in words: "done by Ana at 10:42:05", or ``otherwise``."""
    if not cue["done_by_hand"]:
        return otherwise
    who = cue.get("done_by")
    at = cue.get("done_at")
    return "done" + (f" by {who}" if who else "") + (f" at {hm(at)}" if at else "")


class _Clock:
    """The report's times as people read them: in the show's time zone (as the plan endpoint
    gives them; UTC when the show names none), clock times, the day said once.

    The JSON keeps ISO 8601 in UTC; only the renderers turn them local.
    """

    def __init__(self, report: Report) -> None:
        name = report["session"].get("timezone") or "UTC"
        try:
            self.zone: tzinfo = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            name, self.zone = "UTC", UTC
        self.name = name
        self.utc = name == "UTC"

    def local(self, iso: str) -> datetime:
        return datetime.fromisoformat(iso).astimezone(self.zone)

    def hm(self, iso: str | None) -> str:
        """``10:42:05``; "–" for no time."""
        if not iso:
            return "–"
        if self.utc and iso.endswith("+00:00"):
            return iso[11:19]  # already UTC: no parsing for each of 10,000 cues
        return self.local(iso).strftime("%H:%M:%S")

    def day(self, iso: str | None) -> str:
        """``Tue 4 Mar 2025``."""
        if not iso:
            return "–"
        at = self.local(iso)
        return f"{at:%a} {at.day} {at:%b %Y}"

    def span(self, start: str | None, end: str | None) -> str:
        """``Tue 4 Mar 2025 09:00:00 → 09:34:00``, the end's day added when it differs."""
        if not start:
            return "–"
        text = f"{self.day(start)} {self.hm(start)} → "
        if end and self.day(end) != self.day(start):
            text += f"{self.day(end)} "
        return text + self.hm(end)

    @property
    def label(self) -> str:
        """``Europe/Berlin`` or ``UTC``."""
        return self.name


# --- the journey ---------------------------------------------------------------------------

#: Check-in answers in words (``None``: the check-in went out and was not answered).
_ANSWER_WORDS = {"done": "done", "partly": "partly", "not_yet": "not yet", None: "no answer"}


def _share(part: int, whole: int) -> str:
    """``2 of 3 (67 %)``."""
    return f"{part} of {whole}" + (f" ({round(100 * part / whole)} %)" if whole else "")


def _journey_lines(report: Report) -> list[str]:
    """The journey around the live hour, summed over the session's people (the figures of
    :func:`facilbot.journey.figures.cohort`, for one session): [] when nobody has one."""
    if not any(p.get("journey") for p in report.get("participants", ())):
        return []
    j = journey_figures.cohort([report])
    s = report["session"]
    # Reports stored before these keys existed say nothing of the show: count what was done.
    prework = bool(s.get("prework_items", j["prework_done"]))
    follow_ups = bool(s.get("follow_ups", j["reminder_sent"] or j["check_ins"]))
    return journey_lines(j, prework=prework, follow_ups=follow_ups)


def journey_lines(j: Mapping[str, Any], *, prework: bool, follow_ups: bool) -> list[str]:
    """The journey's figures (:func:`facilbot.journey.figures.cohort`, of one session or of a
    cohort) as lines people read; ``prework``/``follow_ups``: whether the show has any."""
    people = j["people"]
    lines = [
        f"Pre-work done: {_share(j['prework_done'], people)}"
        if prework
        else "Pre-work: none in this show",
        f"Attended live: {_share(j['attended'], people)}, "
        f"{round(j['minutes_attended'])} minutes in all",
        f"Committed: {_share(j['committed'], people)}, "
        f"{j['asynchronous_commitments']} of them after the session (asynchronous)",
        f"Reminder sent: {_share(j['reminder_sent'], people)}"
        if follow_ups
        else "Follow-ups: none in this show",
    ]
    for label, counts in j["check_ins"].items():
        sent = sum(counts.values())
        answers = ", ".join(
            f"{_ANSWER_WORDS[key]} {counts[key]}" for key in ("done", "partly", "not_yet")
        )
        lines.append(f"{label.capitalize()}: sent to {sent}; {answers}, no answer {counts['none']}")
    ninety = j["application_at_90_days"]
    both, rest = ninety["prework_and_live"], ninety["everyone_else"]
    if both["answered"] or rest["answered"]:
        lines.append(
            "Applied at 90 days (done or partly): "
            f"pre-work and live {_applied(both)}; everyone else {_applied(rest)}"
        )
    return lines


def _applied(group: Mapping[str, Any]) -> str:
    if not group["answered"]:
        return f"no answers yet from {group['people']}"
    return (
        f"{group['applied']} of {group['answered']} who answered ({round(100 * group['rate'])} %)"
    )


def _journey_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """One row per person with a journey: pre-work, live minutes, commitment, reminder and
    each check-in's answer ("–": not sent)."""
    people = [p for p in report.get("participants", ()) if p.get("journey")]
    labels: list[str] = []
    for person in people:
        labels += [k for k in person["journey"].get("check_ins", {}) if k not in labels]
    labels.sort(key=_check_in_order)
    rows = []
    for person in people:
        j = person["journey"]
        committed = "–"
        if j.get("committed"):
            committed = "yes, after the session" if j.get("asynchronous_commitment") else "yes"
        answers = j.get("check_ins", {})
        rows.append(
            [
                j.get("name") or person["name"],
                "done" if j.get("prework_done") else "–",
                f"{round(j.get('minutes_attended', 0))} min" if j.get("attended") else "no",
                committed,
                "sent" if j.get("reminder_sent") else "–",
                *(
                    _ANSWER_WORDS.get(answers[k], str(answers[k])) if k in answers else "–"
                    for k in labels
                ),
            ]
        )
    header = ["name", "pre-work", "live", "commitment", "reminder", *labels]
    # A column the show has nothing for (no pre-work, no follow-ups) would only say "–".
    s = report["session"]
    dropped = {1} if s.get("prework_items") == 0 else set()
    dropped |= {4} if s.get("follow_ups") is False else set()
    if dropped:
        header = [h for n, h in enumerate(header) if n not in dropped]
        rows = [[v for n, v in enumerate(row) if n not in dropped] for row in rows]
    return header, rows


def _check_in_order(label: str) -> tuple[int, str]:
    """``check-in 30d`` before ``check-in 90d`` (and hours before days)."""
    amount = label.rsplit(" ", 1)[-1]
    number = int(amount[:-1]) if amount[:-1].isdigit() else 0
    return (number * (24 if amount.endswith("d") else 1), label)


# --- CSV -------------------------------------------------------------------------------------


#: The columns of each CSV table, in order (the JSON names of the report's rows).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "segments": (
        "id",
        "title",
        "kind",
        "state",
        "inserted",
        "planned_start",
        "planned_seconds",
        "actual_start",
        "actual_seconds",
        "overrun_seconds",
    ),
    "cues": (
        "key",
        "segment_id",
        "action",
        "what",
        "origin",
        "planned_at",
        "fired_at",
        "late_seconds",
        "channel",
        "status",
        "outcome",
        "by_hand",
        "done_by_hand",
        "done_by",
        "done_at",
    ),
    "attendance": (
        "name",
        "role",
        "joined",
        "left",
        "minutes_present",
        "messages",
        "answers",
        "committed",
    ),
    "poll_answers": ("poll", "question", "option", "count", "answers", "present", "response_rate"),
    "commitments": ("name", "text", "at", "source"),
    "controls": ("seq", "kind", "at", "by", "detail", "by_hand"),
    "notes": ("segment_id", "role", "author", "at", "text"),
}


def _csv_records(report: Report, table: str) -> Iterable[Mapping[str, Any]]:
    """The rows of one table as mappings; most are the report's own rows, a few are unfolded
    (one line per stay, per poll option) or flattened (a control's detail as JSON)."""
    if table == "attendance":
        return (
            {**person, **stay}
            for person in report["participants"]
            for stay in person["intervals"] or [{"joined": None, "left": None}]
        )
    if table == "poll_answers":
        return (
            {**poll, "poll": poll["key"], "option": option, "count": count}
            for poll in report["polls"]
            for option, count in poll["counts"].items()
        )
    if table == "controls":
        return ({**c, "detail": json.dumps(c["detail"])} for c in report["controls"])
    rows: list[Mapping[str, Any]] = (
        report["commitments"]["items"] if table == "commitments" else report.get(table, [])
    )
    return rows


def csv_rows(report: Report, table: str) -> tuple[list[str], list[list[Any]]]:
    """One table of the report as (header, rows)."""
    cols = CSV_COLUMNS[table]  # KeyError for a table that does not exist
    return list(cols), [[row.get(c) for c in cols] for row in _csv_records(report, table)]


def to_csv(report: Report, table: str) -> str:
    """RFC 4180: CRLF line ends, quotes doubled; UTF-8 with a BOM so spreadsheets read it."""
    header, rows = csv_rows(report, table)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return "\ufeff" + buffer.getvalue()


def to_csv_zip(report: Report, tables: Iterable[str] = CSV_TABLES) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            archive.writestr(f"{table}.csv", to_csv(report, table).encode("utf-8"))
    return buffer.getvalue()


# --- text ------------------------------------------------------------------------------------


def to_text(report: Report) -> str:
    s = report["session"]
    clock = _Clock(report)
    hm = clock.hm
    lines = [
        f"{s['title']} — session {s['id']}"
        + ("  [PARTIAL: still running]" if s["partial"] else "")
        + ("  [pruned: figures only]" if report.get("pruned") else ""),
        f"  show {s['show']} v{s['show_version']} on {s['platform']}, {s['status']}; "
        f"times in {clock.label}",
        f"  planned {clock.span(s['planned_start'], s['planned_end'])} "
        f"({_mins(s['planned_seconds'])})",
        f"  actual  {clock.span(s['actual_start'], s['actual_end'])} "
        f"({_mins(s['actual_seconds'])}); late start {_mins(s['late_start_seconds'])}, "
        f"end {_mins(s['end_difference_seconds'])} vs plan",
    ]
    for why in s["why"]:
        lines.append(f"    {why['reason']}: {_mins(why['seconds'])}")
    lines += ["", "segments (planned → actual, overrun)"]
    for row in report["segments"]:
        lines.append(
            f"  {row['id'][:24]:<24} {row['kind']:<11} {hm(row['planned_start'])} "
            f"{_mins(row['planned_seconds']):>7} → {hm(row['actual_start'])} "
            f"{_mins(row['actual_seconds']):>7}  {_mins(row['overrun_seconds']):>7}  {row['state']}"
        )
    p = report["practices"]
    lines += ["", "practices"]
    gap = p.get("interaction_gap")
    if gap:
        lines.append(
            f"  longest stretch without interaction {_mins(gap['longest_seconds'])} "
            f"in {gap['segment_id'] or '–'} (limit {_mins(gap['limit_seconds'])}: "
            f"{'kept' if gap['kept'] else 'NOT kept'})"
        )
    for rule in p.get("rules", []):
        lines.append(
            f"  {rule['rule']}: longest work {_mins(rule['longest_work_seconds'])} "
            f"({'kept' if rule['kept'] else 'NOT kept'})"
        )
    for brk in p.get("breaks", []):
        lines.append(f"  break {brk['key']} at {hm(brk['start'])} for {_mins(brk['seconds'])}")
    if p.get("connection"):
        c = p["connection"]
        lines.append(
            f"  connection at {_mins(c['offset_seconds'])} ({'kept' if c['kept'] else 'NOT kept'})"
        )
    if p.get("talk_share"):
        t = p["talk_share"]
        lines.append(f"  talk share {t['percent']} % (max {t['max_percent']} %)")
    if p.get("commitments"):
        c = p["commitments"]
        lines.append(f"  commitments from {c['committed']} of {c['present']} present")
    lines += ["", "cues (planned, fired, late, channel, status)"]
    for cue in report["cues"]:
        hand = ""
        if cue["by_hand"]:
            hand = " by hand: " + _done(cue, "NOT confirmed", hm)
        lines.append(
            f"  {hm(cue['planned_at'])} {hm(cue['fired_at'])} "
            f"{_mins(cue['late_seconds']):>6} {cue['channel'] or '–':<12} {cue['status']:<12} "
            f"{cue['what'][:50]}{hand}"
        )
    for guard in report.get("guards", []):
        lines.append(f"  guard {guard['key']} at {hm(guard['at'])}: {guard['why']}")
    lines += ["", "producer interventions"]
    for c in report["controls"]:
        lines.append(f"  {hm(c['at'])} {c['kind']:<8} by {c['by']} {json.dumps(c['detail'])}")
    lines += ["", "participation"]
    for person in report["participants"]:
        stays = ", ".join(f"{hm(i['joined'])}–{hm(i['left'])}" for i in person["intervals"])
        lines.append(
            f"  {person['name'][:24]:<24} {person['minutes_present']:>6.1f} min  {stays}"
            f"  msgs {person['messages']} answers {person['answers']}"
            + ("  committed" if person["committed"] else "")
        )
    for poll in report["polls"]:
        counts = ", ".join(f"{k} {v}" for k, v in poll["counts"].items())
        lines.append(
            f"  poll {poll['question']}: {counts}; {poll['answers']} answers, "
            f"{poll['response_rate']} % of {poll['present']} present"
        )
    lines += ["", "commitments"]
    for c in report["commitments"]["items"]:
        lines.append(f"  {c['name']}: {c['text']}")
    missing = report["commitments"]["present_without"]
    lines.append(f"  present without one: {', '.join(missing) or 'nobody'}")
    journey = _journey_lines(report)
    if journey:
        lines += ["", "before and after the session (the journey)"]
        lines += [f"  {line}" for line in journey]
    if report.get("notes"):
        lines += ["", "debrief notes"]
        for n in report["notes"]:
            lines.append(
                f"  [{n['segment_id'] or 'session'}] {n['role']} {n['author']}: {n['text']}"
            )
    return "\n".join(lines) + "\n"


# --- HTML ------------------------------------------------------------------------------------


@cache
def _style() -> str:
    """The report pages' own sheet, inlined so the file stands alone (one source of style)."""
    sheet = importlib.resources.files("facilbot.pages") / "static" / "report.css"
    return sheet.read_text("utf-8")


#: On a phone the wide tables and pictures scroll sideways in their box: a box that scrolls
#: takes the keyboard focus, so people who do not use a pointer can scroll it too (axe-core:
#: scrollable-region-focusable).
_SCROLLS = 'tabindex="0"'


def _table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: set[int], css: str = ""
) -> str:
    head = "".join(
        f"<th{' class=num' if i in numeric else ''}>{escape(h)}</th>" for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=num' if i in numeric else ''}>{escape('' if v is None else str(v))}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="table-wrap" {_SCROLLS}><table{f" class={css}" if css else ""}>'
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _kept(flag: bool | None) -> str:
    if flag is None:
        return "–"
    return '<span class="ok">kept</span>' if flag else '<span class="bad">not kept</span>'


def html_fragment(report: Report) -> str:
    """The report's body (what the report page shows inside its shell)."""
    s = report["session"]
    p = report["practices"]
    summary = report.get("summary", {})
    clock = _Clock(report)
    hm = clock.hm
    parts = [f"<h1>{escape(s['title'])}</h1>"]
    parts.append(
        f"<p>Show <b>{escape(s['show'])}</b> v{s['show_version']} on {escape(s['platform'])} · "
        f"session <code>{escape(s['id'])}</code> · {escape(s['status'])}</p>"
    )
    if s["partial"]:
        parts.append(
            '<p class="partial" id="partial">Partial report: the session is still running.</p>'
        )
    if report.get("pruned"):
        parts.append('<p class="partial">Personal data was pruned; the figures remain.</p>')
    kpis = [
        ("late start", _mins(s["late_start_seconds"])),
        ("end vs plan", _mins(s["end_difference_seconds"])),
        ("cues", str(summary.get("cues", len(report["cues"])))),
        ("by hand", f"{summary.get('by_hand_done', 0)}/{summary.get('by_hand', 0)} done"),
        ("attendees", str(summary.get("attendees", "–"))),
        ("active", str(summary.get("active", "–"))),
        ("interventions", str(summary.get("interventions", "–"))),
    ]
    parts.append(
        '<div class="kpis">'
        + "".join(f'<div class="kpi"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in kpis)
        + "</div>"
    )
    parts.append("<h2>Planned versus actual</h2>")
    parts.append(f'<div class="svg-wrap" {_SCROLLS}>{timeline_svg(report)}</div>')
    parts.append('<p class="swipe noprint">Swipe sideways for the whole timeline.</p>')
    parts.append(
        '<p class="legend"><span>● on time ≤5 s (green), late ≤60 s (amber), later (orange), '
        "skipped/failed (red)</span><span>● server · ◆ bridge · ■ companion · ▲ producer by hand"
        "</span><span>dashed: inserted break · pink: over the cadence limit</span></p>"
    )
    parts.append(f'<div class="svg-wrap" {_SCROLLS}>{activity_svg(report)}</div>')
    why = "; ".join(f"{w['reason']} {_mins(w['seconds'])}" for w in s["why"]) or "none"
    # Clock times read at a glance; the day and the zone once (full ISO times are in the JSON).
    day = clock.day(s["planned_start"]) if s["planned_start"] else ""
    parts.append(
        f"<p>Planned {hm(s['planned_start'])} → {hm(s['planned_end'])}; "
        f"actual {hm(s['actual_start'])} → {hm(s['actual_end'])}"
        f"{escape(f' ({day}, {clock.label})') if day else ''}. Why: {escape(why)}.</p>"
    )
    parts.append("<h2>Segments</h2>")
    parts.append(
        _table(
            [
                "segment",
                "kind",
                "planned start",
                "planned",
                "actual start",
                "actual",
                "overrun",
                "state",
            ],
            (
                [
                    r["title"] or r["id"],
                    r["kind"],
                    hm(r["planned_start"]),
                    _mins(r["planned_seconds"]),
                    hm(r["actual_start"]),
                    _mins(r["actual_seconds"]),
                    _mins(r["overrun_seconds"]),
                    r["state"],
                ]
                for r in report["segments"]
            ),
            {3, 5, 6},
        )
    )
    parts.append("<h2>Practices</h2><ul>")
    gap = p.get("interaction_gap")
    if gap:
        parts.append(
            f"<li>Longest stretch without an interaction: {_mins(gap['longest_seconds'])} in "
            f"{escape(gap['segment_id'] or '–')} (limit {_mins(gap['limit_seconds'])}) "
            f"{_kept(gap['kept'])}</li>"
        )
    for rule in p.get("rules", []):
        parts.append(
            f"<li>{escape(rule['rule'])}: longest continuous work "
            f"{_mins(rule['longest_work_seconds'])} "
            f"{_kept(rule['kept'])}</li>"
        )
    if p.get("connection"):
        c = p["connection"]
        parts.append(f"<li>Connection at {_mins(c['offset_seconds'])} {_kept(c['kept'])}</li>")
    if p.get("talk_share"):
        t = p["talk_share"]
        parts.append(
            f"<li>Talk share {t['percent']} % (max {t['max_percent']} %) {_kept(t['kept'])}</li>"
        )
    if p.get("commitments"):
        c = p["commitments"]
        parts.append(f"<li>Commitments from {c['committed']} of {c['present']} present</li>")
    parts.append("</ul>")
    parts.append("<h2>Cues</h2>")
    parts.append(
        _table(
            ["planned", "fired", "late", "channel", "status", "what", "by hand"],
            (
                [
                    hm(c["planned_at"]),
                    hm(c["fired_at"]),
                    _mins(c["late_seconds"]),
                    c["channel"],
                    c["status"],
                    c["what"],
                    _done(c, "not confirmed", hm) if c["by_hand"] else "",
                ]
                for c in report["cues"]
            ),
            {2},
        )
    )
    if report.get("guards"):
        parts.append("<h2>What the guards inserted</h2><ul>")
        parts += [f"<li>{hm(g['at'])} {escape(g['why'])}</li>" for g in report["guards"]]
        parts.append("</ul>")
    parts.append("<h2>Producer interventions</h2>")
    parts.append(
        _table(
            ["at", "control", "by", "detail"],
            (
                [hm(c["at"]), c["kind"], c["by"], json.dumps(c["detail"])]
                for c in report["controls"]
            ),
            set(),
        )
    )
    parts.append("<h2>Participation</h2>")
    parts.append(
        _table(
            ["name", "role", "present", "minutes", "messages", "answers", "committed"],
            (
                [
                    x["name"],
                    x["role"],
                    ", ".join(f"{hm(i['joined'])}–{hm(i['left'])}" for i in x["intervals"]),
                    x["minutes_present"],
                    x["messages"],
                    x["answers"],
                    "yes" if x["committed"] else "",
                ]
                for x in report["participants"]
            ),
            {3, 4, 5},
        )
    )
    for poll in report["polls"]:
        counts = ", ".join(f"{k}: {v}" for k, v in poll["counts"].items())
        parts.append(
            f"<p>Poll <b>{escape(poll['question'])}</b> — {escape(counts)}; "
            f"{poll['answers']} answers, "
            f"{poll['response_rate']} % of {poll['present']} present.</p>"
        )
    parts.append("<h2>Commitments</h2><ul>")
    parts += [
        f"<li><b>{escape(c['name'])}</b>: {escape(c['text'])}</li>"
        for c in report["commitments"]["items"]
    ]
    parts.append("</ul>")
    missing = report["commitments"]["present_without"]
    parts.append(f"<p>Present without a commitment: {escape(', '.join(missing) or 'nobody')}</p>")
    journey = _journey_lines(report)
    if journey:
        parts.append('<section id="journey-section" aria-labelledby="journey-heading">')
        parts.append('<h2 id="journey-heading">Before and after: the journey</h2>')
        parts.append('<ul id="journey">' + "".join(f"<li>{escape(x)}</li>" for x in journey))
        parts.append("</ul>")
        header, rows = _journey_table(report)
        parts.append(_table(header, rows, set(), "wide"))
        parts.append("</section>")
    parts.append('<h2 id="notes-heading">Debrief notes</h2><ul id="report-notes">')
    parts += [
        f"<li>[{escape(n['segment_id'] or 'session')}] {escape(n['role'])} {escape(n['author'])}: "
        f"{escape(n['text'])}</li>"
        for n in report.get("notes", [])
    ]
    parts.append("</ul>")
    return "\n".join(parts)


def to_html(report: Report) -> str:
    """A whole, self-contained page (no script): what ``--format html`` writes."""
    title = escape(f"Report — {report['session']['title']}")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_style()}</style></head><body><main>"
        f"{html_fragment(report)}</main></body></html>\n"
    )
