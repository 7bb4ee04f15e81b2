"""The cohort report: every session of one show side by side, and what to change next time.

Pure: it takes the session reports (:func:`facilbot.reports.session.session_report`, or the
figures kept after pruning) and the show versions' texts, and computes per-segment spreads,
practices per session, polls kept the same across cohorts, notes by segment, what changed
between versions, and suggestions, each with its evidence.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from runofshow.model import Show

Report = dict[str, Any]

#: A segment "keeps overrunning" when it overran in at least this share of its sessions.
OVERRUN_SHARE = 0.5
#: A poll answered by fewer of the people present than this (%) gets a suggestion.
POLL_RATE_LOW = 50.0
#: Commitments from fewer of the people present than this (%) get a suggestion.
COMMIT_RATE_LOW = 70.0


def _m(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f}m" if abs(minutes - round(minutes)) < 0.05 else f"{minutes:.1f}m"


def cohort_report(name: str, reports: Sequence[Report], versions: Mapping[int, Show]) -> Report:
    sessions = [
        {
            "id": r["session"]["id"],
            "show_version": r["session"]["show_version"],
            "platform": r["session"]["platform"],
            "actual_start": r["session"]["actual_start"],
            "status": r["session"]["status"],
            "partial": r["session"]["partial"],
            "pruned": bool(r.get("pruned")),
            "late_start_seconds": r["session"]["late_start_seconds"],
            "end_difference_seconds": r["session"]["end_difference_seconds"],
            "interaction_gap_seconds": (r["practices"].get("interaction_gap") or {}).get(
                "longest_seconds"
            ),
            "interaction_gap_kept": (r["practices"].get("interaction_gap") or {}).get("kept"),
            "breaks_kept": {x["rule"]: x["kept"] for x in r["practices"].get("rules", [])},
            "attendees": r["summary"]["attendees"],
            "active": r["summary"]["active"],
            "active_percent": (
                round(100 * r["summary"]["active"] / r["summary"]["attendees"], 1)
                if r["summary"]["attendees"]
                else None
            ),
            "commitment_percent": (r["practices"].get("commitments") or {}).get("percent"),
            "by_hand": r["summary"]["by_hand"],
            # how often the producer acted by hand: cues marked done, and by whom
            "by_hand_done": r["summary"].get("by_hand_done", 0),
            "by_hand_done_by": dict(r["summary"].get("by_hand_done_by", {})),
            "interventions": r["summary"]["interventions"],
        }
        for r in reports
    ]
    segments = _segments(reports)
    polls = _polls(reports)
    notes: dict[str, list[Report]] = defaultdict(list)
    for r in reports:
        for note in r.get("notes", []):
            notes[note["segment_id"] or "(session)"].append(
                {**note, "session_id": r["session"]["id"]}
            )
    report: Report = {
        "show": name,
        "sessions": sessions,
        "segments": segments,
        "polls": polls,
        "notes": dict(notes),
        "version_changes": _changes(versions),
    }
    report["suggestions"] = _suggestions(report, reports)
    return report


def _segments(reports: Sequence[Report]) -> list[Report]:
    rows: dict[str, dict[str, Any]] = {}
    for r in reports:
        if not r["session"]["actual_start"]:
            continue  # never started: nothing ran, nothing was skipped
        for seg in r["segments"]:
            if seg["inserted"]:
                continue
            row = rows.setdefault(
                seg["id"], {"id": seg["id"], "title": seg["title"], "kind": seg["kind"], "runs": []}
            )
            row["runs"].append(
                {
                    "session_id": r["session"]["id"],
                    "show_version": r["session"]["show_version"],
                    "planned_seconds": seg["planned_seconds"],
                    "actual_seconds": seg["actual_seconds"],
                    "overrun_seconds": seg["overrun_seconds"],
                    "state": seg["state"],
                }
            )
    out = []
    for row in rows.values():
        ran = [x for x in row["runs"] if x["overrun_seconds"] is not None]
        actual = [x["actual_seconds"] for x in ran]
        overruns = [x["overrun_seconds"] for x in ran]
        over = [x for x in ran if x["overrun_seconds"] > 60]
        row.update(
            {
                "planned_seconds": sorted({x["planned_seconds"] for x in row["runs"]}),
                "median_actual_seconds": statistics.median(actual) if actual else None,
                "min_actual_seconds": min(actual) if actual else None,
                "max_actual_seconds": max(actual) if actual else None,
                "median_overrun_seconds": statistics.median(overruns) if overruns else None,
                "overran_in": [x["session_id"] for x in over],
                "median_overrun_of_overran": (
                    statistics.median(x["overrun_seconds"] for x in over) if over else None
                ),
                "ran_in": len(ran),
                "skipped_in": sum(
                    1 for x in row["runs"] if x["state"] in ("skipped", "not reached")
                ),
            }
        )
        out.append(row)
    return out


def _polls(reports: Sequence[Report]) -> list[Report]:
    by_question: dict[str, list[Report]] = defaultdict(list)
    for r in reports:
        for poll in r["polls"]:
            by_question[poll["question"]].append({**poll, "session_id": r["session"]["id"]})
    out = []
    for question, runs in by_question.items():
        totals: Counter[str] = Counter()
        for run in runs:
            totals.update(run["counts"])
        out.append(
            {
                "question": question,
                "keep_same": any(run["keep_same"] for run in runs),
                "sessions": [
                    {
                        "session_id": run["session_id"],
                        "counts": run["counts"],
                        "answers": run["answers"],
                        "present": run["present"],
                        "response_rate": run["response_rate"],
                    }
                    for run in runs
                ],
                "totals": dict(totals),
            }
        )
    return out


def _changes(versions: Mapping[int, Show]) -> list[Report]:
    out = []
    ordered = sorted(versions.items())
    for (old_v, old), (new_v, new) in itertools.pairwise(ordered):
        before = {s.id: s for s in old.segments}
        after = {s.id: s for s in new.segments}
        changes = [f"added segment {sid}" for sid in after if sid not in before]
        changes += [f"removed segment {sid}" for sid in before if sid not in after]
        for sid in after:
            if sid in before and before[sid].duration != after[sid].duration:
                changes.append(f"{sid}: {_m(before[sid].duration)} → {_m(after[sid].duration)}")
            if sid in before and len(before[sid].cues) != len(after[sid].cues):
                changes.append(f"{sid}: {len(before[sid].cues)} → {len(after[sid].cues)} cues")
        if old.duration != new.duration:
            changes.append(f"show length {_m(old.duration)} → {_m(new.duration)}")
        out.append({"from": old_v, "to": new_v, "changes": changes or ["wording only"]})
    return out


#: How a producer cue reads in a suggestion ("rooms were opened by hand in every …").
_BY_HAND_WORDS = {
    "breakout_open": "rooms were opened",
    "breakout_warn": "rooms were warned before closing",
    "breakout_close": "rooms were closed",
    "poll_open": "polls were launched",
    "poll_close": "polls were closed",
    "say": "prompts were posted",
    "commitments_open": "the commitment form was opened",
    "commitments_close": "the commitment form was closed",
    "break_start": "breaks were announced",
    "break_end": "the end of breaks was announced",
    "filler": "cadence prompts were posted",
}
_PLATFORM_NAMES = {"teams": "Teams", "zoom": "Zoom", "sim": "simulated"}


def _suggestions(cohort: Report, reports: Sequence[Report]) -> list[Report]:
    out: list[Report] = []
    total = len(reports)
    for seg in cohort["segments"]:
        over = seg["overran_in"]
        if seg["ran_in"] and len(over) / seg["ran_in"] >= OVERRUN_SHARE and len(over) >= 1:
            median = seg["median_overrun_of_overran"]
            planned = max(seg["planned_seconds"])
            out.append(
                {
                    "segment_id": seg["id"],
                    "text": (
                        f"{seg['id']} overran in {len(over)} of {seg['ran_in']} sessions, "
                        f"by a median of {_m(median)}: plan {_m(planned + median)} or cut "
                        "something from it"
                    ),
                    "evidence": {"overran_in": over, "median_overrun_seconds": median},
                }
            )
        if seg["skipped_in"] and seg["skipped_in"] >= max(1, total // 2):
            out.append(
                {
                    "segment_id": seg["id"],
                    "text": (
                        f"{seg['id']} was skipped in {seg['skipped_in']} of {total} sessions: "
                        "move it earlier, shorten what comes before, or drop it"
                    ),
                    "evidence": {"skipped_in": seg["skipped_in"]},
                }
            )
    for poll in cohort["polls"]:
        rates = [s["response_rate"] for s in poll["sessions"] if s["response_rate"] is not None]
        if rates and statistics.median(rates) < POLL_RATE_LOW:
            out.append(
                {
                    "text": (
                        f"the poll '{poll['question']}' got answers from "
                        f"{statistics.median(rates):.0f} % of the people present: announce it, "
                        "give it longer or make it easier to answer"
                    ),
                    # units in the keys, as elsewhere in the JSON (``_seconds``, ``_percent``)
                    "evidence": {"response_rates_percent": rates},
                }
            )
    # What went to the producer's hands in every session of a platform (producer cues and
    # break warnings are meant for the producer, so they do not count).
    by_hand: dict[tuple[str, str], dict[str, Counter[str]]] = defaultdict(dict)
    platforms: Counter[str] = Counter(r["session"]["platform"] for r in reports)
    for r in reports:
        for cue in r["cues"]:
            if cue["by_hand"] and cue["action"] not in ("producer", "break_warning"):
                key = (r["session"]["platform"], cue["action"])
                tally = by_hand[key].setdefault(r["session"]["id"], Counter())
                tally["cues"] += 1
                tally["done"] += bool(cue["done_by_hand"])
    always: dict[str, list[tuple[str, dict[str, Counter[str]]]]] = defaultdict(list)
    for (platform, action), per_session in sorted(by_hand.items()):
        if platforms[platform] >= 2 and len(per_session) == platforms[platform]:
            always[platform].append((action, per_session))
    order = {action: n for n, action in enumerate(_BY_HAND_WORDS)}  # open, warn, close
    for platform, found in always.items():
        found.sort(key=lambda pair: (order.get(pair[0], len(order)), pair[0]))
        words = [_BY_HAND_WORDS.get(a, a.replace("_", " ") + " was done") for a, _ in found]
        what = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        out.append(
            {
                "text": (
                    f"{what} by hand in every {_PLATFORM_NAMES.get(platform, platform)} "
                    "session: brief the producer on it, or use a channel that automates it"
                ),
                "evidence": {
                    "platform": platform,
                    "sessions": platforms[platform],
                    # per action, per session: producer cues raised and how many were marked done
                    "actions": {
                        action: {sid: dict(t) for sid, t in sorted(per_session.items())}
                        for action, per_session in found
                    },
                },
            }
        )
    gaps = [s for s in cohort["sessions"] if s["interaction_gap_kept"] is False]
    if gaps:
        out.append(
            {
                "text": (
                    f"the cadence limit was broken in {len(gaps)} of {total} sessions "
                    f"(longest {_m(max(s['interaction_gap_seconds'] for s in gaps))}): add a "
                    "prompt to the prompt bank or a cue in the longest talk"
                ),
                "evidence": {"sessions": [s["id"] for s in gaps]},
            }
        )
    low = [
        s
        for s in cohort["sessions"]
        if s["commitment_percent"] is not None and s["commitment_percent"] < COMMIT_RATE_LOW
    ]
    if low:
        out.append(
            {
                "text": (
                    f"commitments came from fewer than {COMMIT_RATE_LOW:.0f} % of the people "
                    f"present in {len(low)} of {total} sessions: start the commitments earlier"
                ),
                "evidence": {"commitment_percent": {s["id"]: s["commitment_percent"] for s in low}},
            }
        )
    return out


def _by_whom(counts: Mapping[str, int]) -> str:
    return "".join(f", {n} by {who}" for who, n in sorted(counts.items()))


def _kept(rules: Mapping[str, bool]) -> str:
    return " ".join(f"{rule}:{'ok' if kept else 'NO'}" for rule, kept in rules.items())


def cohort_text(report: Report) -> str:
    lines = [f"cohort report — show {report['show']} ({len(report['sessions'])} sessions)", ""]
    lines.append("sessions")
    for s in report["sessions"]:
        flags = " partial" if s["partial"] else ""
        flags += " pruned" if s["pruned"] else ""
        lines.append(
            f"  {s['id'][:8]} v{s['show_version']} {s['platform']:<6} {s['actual_start'] or '–'}"
            f"  gap {_m(s['interaction_gap_seconds'] or 0)}"
            f"  breaks {_kept(s['breaks_kept'])}"
            f"  attendees {s['attendees']} active {s['active_percent']} %"
            f"  commit {s['commitment_percent']} %  by hand {s['by_hand']}"
            f" ({s.get('by_hand_done', 0)} done{_by_whom(s.get('by_hand_done_by', {}))})"
            f"  interventions {s['interventions']}{flags}"
        )
    lines += ["", "segments (planned vs actual across sessions)"]
    for seg in report["segments"]:
        if seg["median_actual_seconds"] is None:
            lines.append(f"  {seg['id']:<20} never ran")
            continue
        lines.append(
            f"  {seg['id']:<20} planned {'/'.join(_m(p) for p in seg['planned_seconds'])}"
            f"  median {_m(seg['median_actual_seconds'])}"
            f"  spread {_m(seg['min_actual_seconds'])}–{_m(seg['max_actual_seconds'])}"
            f"  overran in {len(seg['overran_in'])} of {seg['ran_in']}"
        )
    if report["polls"]:
        lines += ["", "polls across cohorts"]
        for poll in report["polls"]:
            mark = " (kept the same)" if poll["keep_same"] else ""
            lines.append(f"  {poll['question']}{mark}")
            for s in poll["sessions"]:
                counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
                lines.append(f"    {s['session_id'][:8]}: {counts} ({s['response_rate']} %)")
    if report["notes"]:
        lines += ["", "debrief notes by segment"]
        for segment, notes in report["notes"].items():
            for note in notes:
                lines.append(f"  [{segment}] {note['role']}: {note['text']}")
    if report["version_changes"]:
        lines += ["", "changes between versions"]
        for change in report["version_changes"]:
            lines.append(f"  v{change['from']} → v{change['to']}: {'; '.join(change['changes'])}")
    if report.get("journey_lines"):
        lines += ["", "before and after the sessions (the journey)"]
        lines += [f"  {line}" for line in report["journey_lines"]]
    lines += ["", "before the next cohort"]
    for suggestion in report["suggestions"] or [{"text": "nothing stands out"}]:
        lines.append(f"  • {suggestion['text']}")
    return "\n".join(lines) + "\n"
