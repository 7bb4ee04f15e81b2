"""The break rules as the live guards keep them, for the property tests of the planner and the
engine (``runofshow.guards``: the end of the session counts as the break when it comes within
the rule's allowance of its limit)."""

from __future__ import annotations

from collections.abc import Sequence

from runofshow.guards import US, end_allowance
from runofshow.model import BreakRule
from runofshow.schedule import Stretch, stretch_ok


def live_ok(stretch: Stretch, rules: Sequence[BreakRule]) -> bool:
    """``stretch_ok`` as the live guards keep it: the end of the session counts as the break
    when it comes within the rule's allowance."""
    if stretch.following_break is None:
        return not rules or any(
            stretch.length * US <= r.work * US + end_allowance(r) for r in rules
        )
    return stretch_ok(stretch, rules)
