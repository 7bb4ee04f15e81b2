"""Producer cues expire: a cue not marked done by the time its moment has passed (its segment
is over, or the window it opened has closed) is recorded as missed, and every open cue closes
when the show ends. The console then lists only what still needs the producer's hands."""

from __future__ import annotations

from datetime import datetime

from integrations.contract import Outcome
from runofshow.plan import LivePlan

#: The outcome a missed cue is recorded with (its status stays ``sent``: it was shown).
MISSED = str(Outcome.missed)
MISSED_REASON = "its moment passed before it was marked done"


def deadline(plan: LivePlan, key: str, now: datetime) -> datetime | None:
    """When to look at the cue ``key`` again: the end of the window it opened or of the next
    piece of its segment to end, whichever is first; None when there is nothing to wait for."""
    item = plan.item(key)
    if item is None:
        return None
    ends = [other.due for other in plan.items if other.closes == key and other.due > now]
    ends += [s.end for s in plan.segments if s.segment_id == item.segment_id and s.end > now]
    return min(ends) if ends else None


def passed(plan: LivePlan, key: str, now: datetime) -> bool:
    """Whether the cue's moment is over: its segment ran (every piece ended or was skipped)
    or the window it opened has closed."""
    item = plan.item(key)
    if item is None:
        return False
    # By times, not states: the runner reuses a running plan derived earlier, whose states
    # are as of then.
    pieces = [s for s in plan.segments if s.segment_id == item.segment_id]
    if pieces and all(s.state == "skipped" or s.end <= now for s in pieces):
        return True
    return any(other.closes == key and other.due <= now for other in plan.items)
