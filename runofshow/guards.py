"""The live guards' decisions, on show time in microseconds (see ``runofshow.plan``).

* cadence: a filler prompt at the cadence limit when nothing interactive comes by then;
* breaks: when the continuous stretch of non-break time ahead would break every break rule,
  a break of the needed rest at the latest allowed point, warned ahead of time.

What keeps a guard from making things worse:

* the end of the session counts as a break: no guard break when the session ends within the
  rule's allowance of its limit (``end_allowance``), nobody is sent away just to come back for
  the close;
* never two breaks back to back: a guard break within ``BOUNDARY_WINDOW`` of a planned break
  takes that break's place (one break, as long as the longer of the two), and a planned break
  that is too short is lengthened rather than preceded by another;
* a guard break whose limit is already behind (the producer skipped or shortened the break)
  is offered again at the next boundary within the window, warned first, unless another rule
  can still be kept: the rules are kept when any one of them is, and a break offered for a
  limit already missed keeps none.
* never a guard break right after a break the producer cut too short to count: it would be
  the same break again, back to back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from runofshow.durations import format_duration
from runofshow.model import BreakRule

US = 1_000_000
#: The producer is warned this long before a guard break.
WARN_AHEAD = 5 * 60 * US
#: A guard break goes at a segment boundary at most this long before the rule's limit; with no
#: boundary that close, the segment is interrupted at the limit.
BOUNDARY_WINDOW = 15 * 60 * US


@dataclass(frozen=True, slots=True)
class Placed:
    """An element of the layout ahead: the current one first, then the queue."""

    key: str  # the element's run key ("debrief", "debrief#2", "~callbreak:1")
    is_break: bool
    offset: int  # offset into its segment at which this piece starts
    start: int
    end: int
    cue_break: bool = False  # a ``break:`` cue inside a segment (cannot be replaced)


@dataclass(frozen=True, slots=True)
class BreakGuard:
    at: int  # show time at which the break starts
    rest: int  # its length
    key: str
    warn_at: int
    rule: str  # the rule it keeps, e.g. "50/10"
    replaces: tuple[str, ...] = ()  # keys of the planned break(s) whose place it takes

    @property
    def warn_key(self) -> str:
        return f"{self.key}@warn"

    def warning_text(self, now: int) -> str:
        ahead = format_duration(max(0, self.at - now) // US)
        return f"break in {ahead}: {format_duration(self.rest // US)} to keep the {self.rule} rule"

    def break_text(self) -> str:
        text = f"break of {format_duration(self.rest // US)} ({self.rule} rule)"
        if self.replaces:
            text += f", in place of {', '.join(self.replaces)}"
        return text


def end_allowance(rule: BreakRule) -> int:
    """How far past ``rule.work`` the end of the session may come and still count as the break
    (microseconds): a break longer than what is left after it helps nobody."""
    return min(rule.rest * US, BOUNDARY_WINDOW)


def min_rest(rules: Sequence[BreakRule]) -> int:
    """The shortest break that counts for any rule (microseconds); 0 without rules."""
    return min((r.rest for r in rules), default=0) * US


def decide_break(
    layout: Sequence[Placed],
    stretch_start: int,
    decided_at: int,
    rules: Sequence[BreakRule],
    used: Collection[str] = (),
    after_break: bool = False,
) -> BreakGuard | None:
    """The next guard break in the stretch that began at ``stretch_start``, or None.

    The stretch runs until the first break in ``layout`` (or the end of the show, which counts
    as a break). Only points at or after ``decided_at`` are eligible: the past is fixed.
    ``used`` holds the keys of guard breaks already taken (a jump back can bring the same
    place round again); a new break there gets a numbered key. ``after_break`` says a break
    too short to count ended at ``decided_at`` (the producer cut it short): a guard break at
    that moment would follow it back to back, so it goes strictly later.
    """
    if not rules or not layout:
        return None
    boundaries: list[int] = []
    stretch_end = layout[-1].end
    following: int | None = None
    planned: list[str] = []  # the whole break segments that end the stretch
    for index, placed in enumerate(layout):
        if placed.is_break:
            stretch_end = placed.start
            following = 0
            for after in layout[index:]:
                if not after.is_break:
                    break
                following += after.end - after.start
                if not after.cue_break and after.offset == 0:
                    planned.append(after.key)
                else:
                    planned = []
                    break
            break
        if placed.start > stretch_start:
            boundaries.append(placed.start)
    length = stretch_end - stretch_start
    if length <= 0 or any(_fits(length, following, rule) for rule in rules):
        return None
    candidates: list[tuple[int, int, BreakRule]] = []
    behind: list[BreakRule] = []
    earliest = decided_at + 1 if after_break else decided_at
    for rule in rules:
        work, rest = rule.work * US, rule.rest * US
        if length <= work:
            # Short enough for this rule, but the break after it is too short: top it up.
            assert following is not None
            # A whole planned break is lengthened (the guard takes its place, below); a break
            # cue cannot be, so the guard adds what it lacks.
            candidates.append((stretch_end, rest if planned else rest - following, rule))
            continue
        limit = stretch_start + work
        low = max(earliest, limit - BOUNDARY_WINDOW, stretch_start + 1)
        near = [b for b in boundaries if low <= b <= limit]
        if near:
            candidates.append((max(near), rest, rule))
        elif limit >= earliest:
            candidates.append((limit, rest, rule))
        else:
            behind.append(rule)
    if not candidates:
        # Every limit is already behind us (the producer skipped or shortened the break):
        # offer it again at the next boundary within the window, or interrupt once warned.
        # While some rule can still be kept, its candidate stands alone: a cheaper break for a
        # missed limit would keep no rule at all.
        rule = min(behind, key=lambda r: r.rest)
        # Strictly after the decision: a boundary at that very moment is the one a skip of the
        # guard's own break just made, and a break offered there is the same break again, back
        # to back (the producer said no to it); it comes back warned instead.
        soon = [b for b in boundaries if decided_at < b <= decided_at + BOUNDARY_WINDOW]
        again = min(soon) if soon else decided_at + WARN_AHEAD
        if again >= stretch_end:
            again = stretch_end
        if again < stretch_end or following is not None:
            candidates.append((again, rule.rest * US, rule))
    if not candidates:
        return None  # the end of the session comes first and counts as the break

    def merges(at: int) -> bool:
        # A planned break within reach: a guard break there takes its place, not comes before.
        return following is not None and bool(planned) and stretch_end - at <= BOUNDARY_WINDOW

    def cost(candidate: tuple[int, int, BreakRule]) -> int:
        at, rest, _ = candidate
        if merges(at):
            assert following is not None
            return max(0, rest - following)
        return rest

    # The least time added to the session first; then the latest point.
    at, rest, rule = min(candidates, key=lambda c: (cost(c), -c[0], c[1]))
    replaces: tuple[str, ...] = ()
    if merges(at):
        assert following is not None
        replaces = tuple(planned)
        rest = max(rest, following)
    key = base = _key_at(layout, at)
    n = 1
    while key in used:
        n += 1
        key = f"{base}~{n}"
    return BreakGuard(at, rest, key, max(at - WARN_AHEAD, decided_at), str(rule), replaces)


def _fits(length: int, following: int | None, rule: BreakRule) -> bool:
    if following is None:  # the end of the session counts as the break, with its allowance
        return length <= rule.work * US + end_allowance(rule)
    return length <= rule.work * US and following >= rule.rest * US


def _key_at(layout: Sequence[Placed], at: int) -> str:
    """A key for a break at ``at``: named after the piece it comes before or interrupts."""
    for placed in layout:
        if placed.start == at and placed.end > placed.start:
            return _break_key(placed.key, placed.offset)
    for placed in layout:
        if placed.start < at < placed.end:
            return _break_key(placed.key, placed.offset + at - placed.start)
    return _break_key(layout[-1].key, layout[-1].offset + at - layout[-1].start)


def _break_key(key: str, offset: int) -> str:
    return f"~break:{key}" if offset < US else f"~break:{key}+{format_duration(offset // US)}"


def filler_text(bank: Sequence[str], n: int, gap_seconds: int) -> tuple[str, str]:
    """The ``n``-th filler: (text, action). Cycles through the prompt bank; without one, a
    producer cue asks for a question."""
    if bank:
        return bank[n % len(bank)], "filler"
    return (
        f"no interaction for {format_duration(gap_seconds)}: ask the group a question in chat",
        "producer",
    )
