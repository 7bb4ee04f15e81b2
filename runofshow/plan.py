"""The planner: when does what happen, given a show, its control log and the time now.

``live_plan(show, controls, now)`` is a pure function. It replays the control log in order
with one forward sweep over *show time* (running time since the start, pauses excluded), and
emits every segment piece and item as the sweep passes it. Controls only change what is still
ahead of them, so what the plan says about the past never changes when a control is appended:
the engine can claim each (session, item key) exactly once across restarts.

The live guards (``runofshow.guards``) run inside the same sweep: a filler prompt when the next
interaction would come later than the cadence limit, and a warned, inserted break when the
continuous time would break the show's break rules. Both measure show time: a pause is the
producer's call and counts neither as work nor as rest.

How controls act (all at their own moment; what was already due stays as it was):

* ``Pause``/``Resume``: everything after the pause moves later by its length; while paused the
  forecast assumes a resume now, and items released during the pause stay "upcoming".
* ``Extend``: the current segment's end (and what hangs on it: closes, warnings) and everything
  after it move; cut below what has run, it ends the segment now, like ``Skip``.
* ``Skip``/``Jump``/``End``: unfired items are skipped, except closers of something already
  opened (an open poll, open rooms, a running break), which happen at that moment.
  An ``End`` during a pause also skips what the pause was holding (bar such closers). A segment run
  again after a jump back gets the run suffix in its keys: ``debrief#2``, ``debrief-1#2@close``.
* ``FireNow``: the cue fires at once (even while paused) and its closers keep their distance.
* ``CallBreak``: the current segment is interrupted (it continues after the break, in a second
  piece); during a break it lengthens the break.
* ``Replan``: the named segments get new lengths (the current one never below what has run;
  0 drops a segment still ahead). ``ReplanPolicy`` changes nothing here.

A break shorter than the shortest rest of the rules (called short, shortened, skipped) does
not end the continuous stretch, and the producer is warned when it is cut that short; a
``break:`` cue inside a segment ends the stretch as a break segment does.

Times inside the sweep are whole microseconds, so that comparisons are exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from heapq import heappop, heappush
from operator import attrgetter
from typing import Literal

from runofshow.controls import (
    CallBreak,
    Control,
    End,
    Extend,
    FireNow,
    Jump,
    Pause,
    Replan,
    ReplanPolicy,
    Resume,
    Skip,
    Start,
)
from runofshow.durations import format_duration
from runofshow.guards import BreakGuard, Placed, decide_break, filler_text, min_rest
from runofshow.model import INTERACTIVE_KINDS, Segment, SegmentKind, Show
from runofshow.schedule import INTERACTIVE_ACTIONS, segment_instants

US = 1_000_000  # microseconds per second

#: Actions that close something an earlier action opened; they still happen when their
#: segment is skipped or the show ends (rooms and polls must close).
CLOSERS = frozenset({"poll_close", "breakout_close", "break_end", "commitments_close"})
_BREAK_ACTIONS = frozenset({"break_start", "break_end"})
#: Actions the guards add on top of ``schedule.ACTIONS``.
GUARD_ACTIONS = ("filler", "break_warning")

Status = Literal["waiting", "running", "paused", "ended"]
SegmentState = Literal["done", "current", "upcoming", "skipped"]
ItemState = Literal["due", "upcoming", "skipped"]
Origin = Literal["show", "guard", "control"]


@dataclass(frozen=True, slots=True)
class PlannedSegment:
    """One piece of a segment on the clock. A segment interrupted by a break comes in pieces."""

    segment_id: str  # the show's segment id, or the key of an inserted break
    key: str  # unique per run: "debrief", "debrief#2" when run again, "~break:debrief"
    kind: str  # a SegmentKind value; inserted breaks are "break"
    start: datetime
    end: datetime
    state: SegmentState
    inserted: bool  # a break the show does not contain (called by the producer or a guard)
    origin: Origin
    offset: int = 0  # seconds into the segment at which this piece starts
    replaces: tuple[str, ...] = ()  # a guard break: the planned break(s) whose place it took

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """One action at one moment. ``key`` is the exactly-once key of its firing."""

    key: str
    segment_id: str
    action: str  # schedule.ACTIONS, or "filler" / "break_warning"
    due: datetime
    state: ItemState
    origin: Origin
    cue_index: int | None = None  # index into show.segment(segment_id).cues
    text: str | None = None  # guard and inserted-break items carry their text
    closes: str | None = None  # for closers (poll_close, break_end, ...): the key they close


@dataclass(frozen=True, slots=True)
class IgnoredControl:
    """A control in the log that changed nothing, and why (the API can refuse it with this)."""

    index: int
    control: Control
    reason: str


@dataclass(frozen=True, slots=True)
class LivePlan:
    status: Status
    now: datetime
    start: datetime  # when the show started (or would start)
    end: datetime  # when it ended (or will end, as things stand)
    segments: tuple[PlannedSegment, ...]
    items: tuple[PlannedItem, ...]  # sorted by due
    ignored: tuple[IgnoredControl, ...] = ()

    @property
    def current_segment(self) -> PlannedSegment | None:
        return next((s for s in self.segments if s.state == "current"), None)

    @property
    def time_left_in_segment(self) -> timedelta | None:
        current = self.current_segment
        return None if current is None else max(current.end - self.now, timedelta(0))

    def next_item(self, now: datetime | None = None) -> PlannedItem | None:
        """The first item still to fire (at or after ``now``, default the plan's now)."""
        moment = self.now if now is None else now
        return next(
            (i for i in self.items if i.state == "upcoming" and i.due >= moment),
            next((i for i in self.items if i.state == "upcoming"), None),
        )

    def item(self, key: str) -> PlannedItem | None:
        return next((i for i in self.items if i.key == key), None)

    def due_items(self) -> Iterator[PlannedItem]:
        return (i for i in self.items if i.state == "due")


def plan(show: Show, start: datetime) -> LivePlan:
    """The show as planned, started at ``start``: every segment and item upcoming."""
    return _Sim(show, _utc(start, "start")).run([Start(start)], _utc(start, "start"), planned=True)


def live_plan(show: Show, controls: Sequence[Control], now: datetime) -> LivePlan:
    """The timeline of a session: ``show`` with its control log applied, seen at ``now``.

    Controls are taken in log order; one stamped earlier than its predecessor counts at its
    predecessor's time. Before a ``Start`` the show is forecast as if it started now.
    """
    moment = _utc(now, "now")
    return _Sim(show, moment).run(controls, moment, planned=False)


def describe_item(
    show: Show, item: PlannedItem, segments: Mapping[str, Segment] | None = None
) -> str:
    """What an item does, in a few words: the say text, the poll question, the room set-up.

    ``segments`` (the show's segments by id) spares a caller describing every item of a long
    show a search through the segments for each.
    """
    if item.text is not None:
        return item.text
    try:
        segment = show.segment(item.segment_id) if segments is None else segments[item.segment_id]
    except KeyError:
        return item.action.replace("_", " ")
    if item.cue_index is not None and item.cue_index < len(segment.cues):
        cue = segment.cues[item.cue_index]
        if cue.say is not None:
            return cue.say
        if cue.producer is not None:
            return cue.producer
        if cue.poll is not None:
            suffix = " (closes)" if item.action == "poll_close" else ""
            return f"{cue.poll.question} [{' / '.join(cue.poll.options)}]{suffix}"
        if cue.breakout is not None:
            return _rooms(cue.breakout.size, cue.breakout.rooms, item.action)
        if cue.break_ is not None:
            return f"break {format_duration(cue.break_.duration)}"
        if cue.commitments is not None:
            return cue.commitments.prompt
    if item.action.startswith("breakout"):
        bo = segment.breakout
        return _rooms(bo.size if bo else None, bo.rooms if bo else None, item.action)
    if item.action == "commitments_open":
        return segment.prompt or "commitments open"
    return item.action.replace("_", " ")


def _spoken(seconds: int) -> str:
    """``600`` → ``10 min``; ``90`` → ``1 min 30 s``."""
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def _rooms(size: int | None, rooms: int | None, action: str) -> str:
    verb = {"breakout_open": "open", "breakout_warn": "closing soon", "breakout_close": "close"}
    shape = f"rooms of {size}" if size else f"{rooms} rooms" if rooms else "rooms"
    return f"breakout {shape}: {verb.get(action, action)}"


def _utc(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone, got {at.isoformat()}")
    return at.astimezone(UTC)


# --- the sweep -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Instant:
    offset: int  # microseconds from the start of its element
    base: str  # key without the run suffix
    action: str
    cue_index: int | None
    opener: str | None  # for closers: the base key of what they close


@dataclass(eq=False, slots=True)
class _El:
    """One run of a show segment, or one inserted break."""

    key: str
    segment_id: str
    kind: SegmentKind
    length: int  # microseconds; whole seconds while the element can still change
    origin: Origin
    segment: Segment | None = None
    index: int = -1
    suffix: str = ""  # "#2" on a re-run
    text: str | None = None
    started: bool = False
    floor: int = 0  # items not yet fired never move before this offset (after shortening)
    done: dict[str, str] = field(default_factory=dict)  # base key -> fired|skipped|moved
    fillers: int = 0
    replaces: tuple[str, ...] = ()
    _cache: tuple[int, list[_Instant]] | None = None
    # Derived from the instants at one length, like _cache: by base key (fire-now looks cues
    # up), and the [start, end) offsets of the break cues (the guards' layout of what is ahead).
    _by_base: tuple[int, dict[str, _Instant]] | None = None
    _rests: tuple[int, list[tuple[int, int]]] | None = None

    @property
    def is_break(self) -> bool:
        return self.kind == SegmentKind.break_

    @property
    def interactive(self) -> bool:
        return self.kind in INTERACTIVE_KINDS

    def instants(self) -> list[_Instant]:
        if self._cache is not None and self._cache[0] == self.length:
            return self._cache[1]
        out: list[_Instant] = []
        if self.segment is None:
            out.append(_Instant(0, self.key, "break_start", None, None))
            out.append(_Instant(self.length, f"{self.key}@end", "break_end", None, self.key))
        else:
            seconds = self.length // US
            segment = self.segment
            if seconds != segment.duration:
                segment = segment.model_copy(update={"duration": seconds})
            found = segment_instants(segment, self.index, 0)
            keys = {i.key for i in found}
            for inst in found:
                opener = None
                if inst.action in CLOSERS:
                    head = inst.key.rsplit("@", 1)[0]
                    opener = next(
                        (k for k in (head, f"{head}@open", f"{head}@start") if k in keys), None
                    )
                out.append(_Instant(inst.at * US, inst.key, inst.action, inst.cue_index, opener))
        self._cache = (self.length, out)
        return out

    def by_base(self) -> dict[str, _Instant]:
        if self._by_base is None or self._by_base[0] != self.length:
            self._by_base = (self.length, {i.base: i for i in self.instants()})
        return self._by_base[1]

    def rests(self) -> list[tuple[int, int]]:
        """Where ``break:`` cues rest people: [start, end) offsets, unclipped, in cue order.

        Worked out once per length: the guards re-decide after every control and at every
        segment start, over every element ahead, and walking each one's cues again made a
        replay grow with controls times cues.
        """
        if self._rests is None or self._rests[0] != self.length:
            opened: dict[str, int] = {}
            found: list[tuple[int, int]] = []
            for inst in self.instants():
                if inst.cue_index is None:
                    continue
                if inst.action == "break_start":
                    opened[inst.base] = inst.offset
                elif inst.action == "break_end" and inst.opener in opened:
                    found.append((opened.pop(inst.opener), inst.offset))
            self._rests = (self.length, found)
        return self._rests[1]

    def pending(self) -> list[_Instant]:
        """Items not fired, skipped or moved yet, at their offsets (never before ``floor``)."""
        floor, done = self.floor, self.done
        # Instants are never mutated: one at or after the floor is shared, not copied (a
        # report replays shows of 10,000 cues, and copying each is a tenth of the replay).
        out = [
            i if i.offset >= floor else _Instant(floor, i.base, i.action, i.cue_index, i.opener)
            for i in self.instants()
            if i.base not in done
        ]
        out.sort(key=_offset)  # stable: keeps schedule order at equal offsets
        return out


@dataclass(slots=True)
class _Item:
    key: str
    segment_id: str
    action: str
    show: int
    epoch: int
    skipped: bool
    origin: Origin
    cue_index: int | None
    text: str | None
    seq: int
    real: datetime | None = None  # fixed wall time (fire-now)
    closes: str | None = None


@dataclass(slots=True)
class _Piece:
    el: _El
    offset: int
    start: int
    start_epoch: int
    end: int = 0
    end_epoch: int = 0
    skipped: bool = False


@dataclass(order=True, slots=True)
class _Floating:
    show: int
    seq: int
    key: str = field(compare=False)
    segment_id: str = field(compare=False)
    action: str = field(compare=False)
    cue_index: int | None = field(compare=False)
    closes: str | None = field(compare=False)


class _Sim:
    def __init__(self, show: Show, now: datetime, *, batch: bool = True) -> None:
        self.show = show
        # True: the sweep emits each run of items up to the next other event at once (what
        # the planner does); False: one time at a time, re-deciding the next event after each
        # (the straightforward sweep, kept for the tests to check the runs against).
        self.batch = batch
        self.rules = show.rules
        self.now = now
        self.gap = show.rules.interaction_gap * US
        self.items: list[_Item] = []
        self.pieces: list[_Piece] = []
        self.ignored: list[IgnoredControl] = []
        self.seq = 0
        # clock
        self.start_real = now
        self.started = False
        self.ended = False
        self.paused = False
        self.pauses: list[int] = []  # length of each pause in microseconds
        self.pause_real = now
        self.anchor_real = now
        self.anchor_show = 0
        self.t = 0  # show time the sweep has reached
        # where we are
        self.cur: _El | None = None
        self.cur_off = 0
        self.cur_start = 0
        self.piece: _Piece | None = None
        # The current element's items still ahead, as a stack: the next one is last, so
        # taking it is pop() (pop(0) moved the whole list per item: quadratic in its cues).
        self.pend: list[_Instant] = []
        self.queue: list[tuple[_El, int]] = []
        self.runs = [0] * len(show.segments)
        self.floating: list[_Floating] = []
        # guards
        self.last = 0  # show time of the last interaction (or of a break's end)
        self.stretch_start: int | None = None
        self.guard: BreakGuard | None = None
        self.warned: set[str] = set()
        self.taken: set[str] = set()  # guard breaks that have begun
        self.fillers = 0
        self.call_breaks = 0
        self.min_rest = min_rest(show.rules.breaks)
        self.held: int | None = None  # the stretch a break interrupted (restored if too short)
        self.rest_from: int | None = None  # when the current run of breaks began
        self.short_end: int | None = None  # when the last break too short to count ended
        self.cue_rest_from: int | None = None  # when a break cue inside a segment began

    # -- driving ------------------------------------------------------------------------------

    def run(self, controls: Sequence[Control], now: datetime, *, planned: bool) -> LivePlan:
        previous: datetime | None = None
        for index, control in enumerate(controls):
            at = control.at if previous is None or control.at >= previous else previous
            previous = at
            if isinstance(control, CallBreak):
                self.call_breaks += 1
            reason = self._apply(control, at)
            if reason is not None:
                self.ignored.append(IgnoredControl(index, control, reason))
        waiting = not self.started
        if waiting and not self.ended:
            self._start(now)
        if self.paused:
            self.pauses[-1] = max(0, _us(now - self.pause_real))
        if not self.ended:
            self._sweep(None)
        return self._result(now, planned or (waiting and not self.ended))

    def _apply(self, control: Control, at: datetime) -> str | None:
        if isinstance(control, Start):
            if self.ended:
                return "the show has ended"
            if self.started:
                return "the show has already started"
            self._start(at)
            return None
        if not self.started:
            if isinstance(control, End):
                self.start_real = at
                self.ended = True
                for index, segment in enumerate(self.show.segments):
                    self._skip_fresh(self._new_el(index, segment), 0)
                return None
            return "the show has not started"
        if self.ended:
            return "the show has ended"
        s = self._show_time(at)
        self._sweep(s)  # while paused this only settles what happens at the paused moment
        if self.cur is None:
            self.ended = True  # ran out before this control
            return "the show has ended"
        reason = self._control(control, at, s)
        self._check_short_break(s)
        self._decide(s)
        return reason

    def _control(self, control: Control, at: datetime, s: int) -> str | None:
        match control:
            case Pause():
                if self.paused:
                    return "the show is already paused"
                self.paused = True
                self.pause_real = at
                self.pauses.append(0)
            case Resume():
                if not self.paused:
                    return "the show is not paused"
                self.paused = False
                self.pauses[-1] = max(0, _us(at - self.pause_real))
                self.anchor_real, self.anchor_show = at, s
            case Extend(seconds=seconds):
                self._extend(s, seconds * US)
            case Skip():
                self._terminate_current(s)
            case Jump(segment_id=target):
                return self._jump(s, target)
            case FireNow(key=key):
                return self._fire_now(s, at, key)
            case CallBreak(seconds=seconds):
                self._call_break(s, seconds * US)
            case End():
                self._end(s, at)
            case Replan(durations=durations):
                self._replan(s, dict(durations))
            case ReplanPolicy():
                pass
            case _:
                return f"unknown control {control!r}"
        return None

    def _start(self, at: datetime) -> None:
        self.started = True
        self.start_real = self.anchor_real = at
        self.queue = [(self._new_el(i, seg), 0) for i, seg in enumerate(self.show.segments)]
        el, off = self.queue.pop(0)
        self._begin(el, off, 0)

    def _show_time(self, at: datetime) -> int:
        if self.paused:
            return self.anchor_show if self.cur is None else self.t
        return max(self.t, self.anchor_show + _us(at - self.anchor_real))

    # -- the sweep ----------------------------------------------------------------------------

    def _sweep(self, target: int | None) -> None:
        """Emit everything up to and including show time ``target`` (None: to the end)."""
        while self.cur is not None:
            # The earliest of the next events; written out rather than min() over a generator,
            # since this loop turns once per item (10,000 times for a long show).
            cur_end = self._cur_end()
            x = cur_end
            float_at = self.floating[0].show if self.floating else None
            if float_at is not None and float_at < x:
                x = float_at
            guard = self.guard
            warn_at = guard.warn_at if guard and guard.warn_key not in self.warned else None
            if warn_at is not None and warn_at < x:
                x = warn_at
            cut_at = guard.at if guard and guard.at < cur_end else None
            if cut_at is not None and cut_at < x:
                x = cut_at
            if not self.cur.is_break and not self.cur.interactive:
                filler_at = max(self.last + self.gap, self.t)  # the last branch below
                if filler_at < x:
                    x = filler_at
            # Items come first at equal times. Every item up to the next other event (or the
            # target) goes out in one run: emitting an item moves no other event earlier.
            item_at = self._at(self.pend[-1]) if self.pend else None
            if item_at is not None and item_at <= x:
                if target is not None and item_at > target:
                    break
                limit = x if target is None else min(x, target)
                self._emit_pending(limit if self.batch else item_at)
                continue
            if target is not None and x > target:
                break
            self.t = x
            if x == float_at:
                self._emit_floating(x)
            elif x == warn_at:
                assert guard is not None
                self._emit_warning(guard, x)
            elif x == cur_end:
                self._transition(x)
            elif x == cut_at:
                assert guard is not None
                self._cut(guard, x)
            else:
                self._emit_filler(x)
        if self.cur is None:
            while self.floating:
                self._emit_floating(self.t)
        elif target is not None:
            self.t = max(self.t, target)

    def _cur_end(self) -> int:
        assert self.cur is not None
        return self.cur_start + (self.cur.length - self.cur_off)

    def _at(self, inst: _Instant) -> int:
        return self.cur_start + (inst.offset - self.cur_off)

    def _emit_pending(self, limit: int) -> None:
        """Emit the pending items due up to ``limit``, in order.

        The sweep calls this with the time of the next event that is not an item: an item
        only moves the filler later (it is an interaction) and leaves the segment's end, the
        floating closers and the guard as they were, except the end of a ``break:`` cue,
        which can re-decide the guard: the run stops there and the sweep looks again.
        """
        cur = self.cur
        assert cur is not None
        pend, shift = self.pend, self.cur_start - self.cur_off  # _at() of each, inlined
        while pend:
            x = pend[-1].offset + shift
            if x > limit:
                return
            inst = pend.pop()
            self.t = x
            # emitting keeps cur, its offsets and pend as they are
            self._emit_inst(cur, inst, x, skipped=False)
            if inst.action == "break_end" and inst.cue_index is not None:
                return

    def _emit_inst(self, el: _El, inst: _Instant, x: int, *, skipped: bool) -> None:
        # Once per item (10,000 times in a long show): the _item() call and the run-key
        # helper are written out here, and only break cues go on to _cue_break().
        el.done[inst.base] = "skipped" if skipped else "fired"
        suffix, action, opener = el.suffix, inst.action, inst.opener
        self.seq += 1
        self.items.append(
            _Item(
                _run_key(inst.base, suffix) if suffix else inst.base,
                el.segment_id,
                action,
                x,
                len(self.pauses),
                skipped,
                el.origin,
                inst.cue_index,
                el.text if el.segment is None else None,
                self.seq,
                None,
                (_run_key(opener, suffix) if suffix else opener) if opener else None,
            )
        )
        if skipped:
            return
        if action in INTERACTIVE_ACTIONS and x > self.last:
            self.last = x
        if action in _BREAK_ACTIONS and inst.cue_index is not None and not el.is_break:
            self._cue_break(action, x)

    def _cue_break(self, action: str, x: int) -> None:
        """A ``break:`` cue inside a segment: long enough, it ends the stretch like a break."""
        if action == "break_start":
            self.cue_rest_from = x
        elif action == "break_end" and self.cue_rest_from is not None:
            rested = x - self.cue_rest_from
            self.cue_rest_from = None
            if rested >= self.min_rest and self.stretch_start is not None:
                self.stretch_start = x
                self._decide(x)

    def _item(
        self,
        key: str,
        segment_id: str,
        action: str,
        x: int,
        origin: Origin,
        cue_index: int | None,
        text: str | None,
        *,
        skipped: bool = False,
        real: datetime | None = None,
        closes: str | None = None,
    ) -> None:
        self.seq += 1
        self.items.append(
            _Item(
                key,
                segment_id,
                action,
                x,
                len(self.pauses),
                skipped,
                origin,
                cue_index,
                text,
                self.seq,
                real,
                closes,
            )
        )

    def _emit_floating(self, x: int) -> None:
        f = heappop(self.floating)
        self._item(f.key, f.segment_id, f.action, x, "control", f.cue_index, None, closes=f.closes)

    def _emit_warning(self, guard: BreakGuard, x: int) -> None:
        assert self.cur is not None
        self.warned.add(guard.warn_key)
        self._item(
            guard.warn_key,
            self.cur.segment_id,
            "break_warning",
            x,
            "guard",
            None,
            guard.warning_text(x),
        )

    def _emit_filler(self, x: int) -> None:
        assert self.cur is not None
        self.cur.fillers += 1
        key = f"~filler:{self.cur.key}:{self.cur.fillers}"
        text, action = filler_text(self.show.prompt_bank, self.fillers, self.rules.interaction_gap)
        self.fillers += 1
        self._item(key, self.cur.segment_id, action, x, "guard", None, text)
        self.last = x

    def _begin(self, el: _El, off: int, x: int) -> None:
        el.started = True
        self.cur, self.cur_off, self.cur_start = el, off, x
        self.piece = _Piece(el, off, x, len(self.pauses))
        self.pend = el.pending()[::-1]
        if el.is_break:
            if self.stretch_start is not None:
                self.held, self.rest_from = self.stretch_start, x
            self.stretch_start = None
            self.guard = None
        elif self.stretch_start is None:
            short = self.rest_from is not None and x - self.rest_from < self.min_rest
            # A break too short to count for any rule does not end the stretch it interrupted.
            self.stretch_start = self.held if short and self.held is not None else x
            if short:
                self.short_end = x
            self.held = self.rest_from = None
            self._decide(x)

    def _finish(self, x: int, *, split: bool = False) -> None:
        """Close the current piece at ``x``; an empty piece left by a split is dropped."""
        assert self.cur is not None and self.piece is not None
        piece = self.piece
        piece.end, piece.end_epoch = x, len(self.pauses)
        if x > piece.start or piece.start_epoch != piece.end_epoch or not split:
            self.pieces.append(piece)
        if self.cur.is_break or self.cur.interactive:
            self.last = x
        self.cur, self.piece, self.pend = None, None, []

    def _transition(self, x: int) -> None:
        self._finish(x)
        guard = self.guard
        if guard is not None and guard.at == x and self.queue:
            self.guard = None
            self._begin(self._guard_el(guard), 0, x)
            self._merge(guard, x)
        elif self.queue:
            el, off = self.queue.pop(0)
            self._begin(el, off, x)

    def _cut(self, guard: BreakGuard, x: int) -> None:
        assert self.cur is not None
        el, off = self.cur, self.cur_off + (x - self.cur_start)
        self._finish(x, split=True)
        self.queue.insert(0, (el, off))
        self.guard = None
        self._begin(self._guard_el(guard), 0, x)
        self._merge(guard, x)

    def _merge(self, guard: BreakGuard, x: int) -> None:
        """The planned break(s) a guard break takes the place of are skipped: one break."""
        if not guard.replaces:
            return
        kept: list[tuple[_El, int]] = []
        for el, off in self.queue:
            if el.key in guard.replaces and not el.started:
                self._skip_fresh(el, x)
            else:
                kept.append((el, off))
        self.queue = kept

    def _guard_el(self, guard: BreakGuard) -> _El:
        self.taken.add(guard.key)
        return _El(
            guard.key,
            guard.key,
            SegmentKind.break_,
            guard.rest,
            "guard",
            text=guard.break_text(),
            replaces=guard.replaces,
        )

    def _new_el(self, index: int, segment: Segment) -> _El:
        self.runs[index] += 1
        n = self.runs[index]
        suffix = "" if n == 1 else f"#{n}"
        return _El(
            segment.id + suffix,
            segment.id,
            segment.kind,
            segment.duration * US,
            "show",
            segment=segment,
            index=index,
            suffix=suffix,
        )

    # -- controls -----------------------------------------------------------------------------

    def _elapsed(self, s: int) -> int:
        return self.cur_off + (s - self.cur_start)

    def _extend(self, s: int, delta: int) -> None:
        el = self.cur
        assert el is not None
        elapsed = self._elapsed(s)
        if el.length + delta <= elapsed:
            self._terminate_current(s)
            return
        el.length += delta
        el.floor = max(el.floor, elapsed)
        skipped: set[str] = set()
        for inst in el.instants():
            if inst.base in el.done:
                continue
            gone = inst.opener in skipped or (
                inst.action not in CLOSERS and inst.offset >= el.length and inst.offset > 0
            )
            if gone:
                skipped.add(inst.base)
                self._emit_inst(el, inst, s, skipped=True)
        self.pend = [i for i in el.pending() if i.offset >= self.cur_off][::-1]

    def _resolve(self, el: _El, x: int, pending: list[_Instant]) -> None:
        """End ``el`` now: closers of what was opened happen now, everything else is skipped."""
        for inst in pending:
            opened = inst.opener is not None and el.done.get(inst.opener) == "fired"
            self._emit_inst(el, inst, x, skipped=not (inst.action in CLOSERS and opened))

    def _terminate_current(self, s: int) -> None:
        el = self.cur
        assert el is not None
        self._resolve(el, s, self.pend[::-1])
        self.pend = []
        el.length = self._elapsed(s)

    def _terminate_queued(self, el: _El, off: int, s: int) -> None:
        if el.started:
            self._resolve(el, s, el.pending())
        else:
            self._skip_fresh(el, s)

    def _skip_fresh(self, el: _El, s: int) -> None:
        self.pieces.append(_Piece(el, 0, s, len(self.pauses), s, len(self.pauses), skipped=True))
        for inst in el.pending():
            self._emit_inst(el, inst, s, skipped=True)

    def _jump(self, s: int, target: str) -> str | None:
        index = next((i for i, seg in enumerate(self.show.segments) if seg.id == target), None)
        if index is None:
            return f"no segment {target!r} in this show"
        self._terminate_current(s)
        count = len(self.show.segments)
        fresh = {el.index: el for el, _ in self.queue if not el.started and el.segment}
        keep = {i: fresh[i] for i in range(index, count) if i in fresh}
        for el, off in self.queue:
            if keep.get(el.index) is not el:
                self._terminate_queued(el, off, s)
        self.queue = [
            (keep[i] if i in keep else self._new_el(i, self.show.segments[i]), 0)
            for i in range(index, count)
        ]
        return None

    def _fire_now(self, s: int, at: datetime, key: str) -> str | None:
        for el in [e for e in [self.cur] if e is not None] + [e for e, _ in self.queue]:
            head, at_sign, tail = key.partition("@")
            if el.segment is None or not head.endswith(el.suffix):
                continue
            base = head[: len(head) - len(el.suffix)] + at_sign + tail
            insts = el.by_base()
            inst = insts.get(base)
            if inst is None or inst.cue_index is None:
                continue
            if base in el.done:
                done = "been skipped" if el.done[base] == "skipped" else "fired"
                return f"{key} has already {done}"
            if inst.opener is not None and el.done.get(inst.opener) != "fired":
                return f"{key} closes {_run_key(inst.opener, el.suffix)}, which has not fired"
            el.done[base] = "moved"
            closes = _run_key(inst.opener, el.suffix) if inst.opener else None
            self._item(
                key,
                el.segment_id,
                inst.action,
                s,
                "control",
                inst.cue_index,
                None,
                real=at,
                closes=closes,
            )
            if inst.action in INTERACTIVE_ACTIONS:
                self.last = max(self.last, s)
            for other in insts.values():
                if other.opener == base and other.base not in el.done:
                    el.done[other.base] = "moved"
                    self.seq += 1
                    heappush(
                        self.floating,
                        _Floating(
                            s + max(0, other.offset - inst.offset),
                            self.seq,
                            _run_key(other.base, el.suffix),
                            el.segment_id,
                            other.action,
                            other.cue_index,
                            key,
                        ),
                    )
            if el is self.cur:
                self.pend = [i for i in self.pend if i.base not in el.done]
            return None
        return f"no upcoming cue with key {key!r}"

    def _call_break(self, s: int, length: int) -> None:
        el = self.cur
        assert el is not None
        if el.is_break:
            self._extend(s, length)
            return
        off = self._elapsed(s)
        self._finish(s, split=True)
        self.queue.insert(0, (el, off))
        key = f"~callbreak:{self.call_breaks}"
        brk = _El(
            key,
            key,
            SegmentKind.break_,
            length,
            "control",
            # Pasted into the meeting chat as it is: a sentence for people, not a log line.
            text=f"Break: back in {_spoken(length // US)}. Stretch, get water, look away.",
        )
        self._begin(brk, 0, s)

    def _replan(self, s: int, durations: dict[str, int]) -> None:
        cur = self.cur
        assert cur is not None
        if cur.segment is not None and cur.segment_id in durations:
            delta = durations[cur.segment_id] * US - cur.length
            if delta:
                self._extend(s, delta)
        kept: list[tuple[_El, int]] = []
        for el, off in self.queue:
            if el.segment is not None and not el.started and el.segment_id in durations:
                length = durations[el.segment_id] * US
                if length == 0:
                    self._skip_fresh(el, s)
                    continue
                el.length = length
            kept.append((el, off))
        self.queue = kept

    def _check_short_break(self, s: int) -> None:
        """Warn the producer, once per break, when a break no longer counts for the rules."""
        cur = self.cur
        if cur is None or not cur.is_break or self.rest_from is None or not self.min_rest:
            return
        length = self._cur_end() - self.rest_from
        key = f"~short:{cur.key}"
        if length >= self.min_rest or key in self.warned:
            return
        self.warned.add(key)
        text = (
            f"this break is now {format_duration(length // US)}, shorter than the "
            f"{format_duration(self.min_rest // US)} a break needs to count: the break rules "
            "keep running and another break will be due"
        )
        self._item(key, cur.segment_id, "break_warning", s, "guard", None, text)

    def _end(self, s: int, at: datetime) -> None:
        held = len(self.pauses) if self.paused else None
        if self.paused:  # the show ends at the End, not when the pause would have ended
            self.paused = False
            self.pauses[-1] = max(0, _us(at - self.pause_real))
        self._terminate_current(s)
        self._finish(s)
        for el, off in self.queue:
            self._terminate_queued(el, off, s)
        self.queue = []
        while self.floating:
            self._emit_floating(s)
        self.guard = None
        self.ended = True
        self.t = s
        if held is not None:
            self._drop_held(held)

    def _drop_held(self, epoch: int) -> None:
        """End during a pause: what the pause held never fires, except closers of what is open.

        Items released during the pause (by a Skip, Jump, ... or by this End) were "upcoming"
        until now, so skipping them changes no past. A closer of something the pause held (a poll
        released and then ended) goes with it.
        """
        dropped: set[str] = set()
        for it in self.items:  # in emission order: an opener comes before its closers
            if it.epoch != epoch or it.real is not None or it.skipped:
                continue
            if it.action in CLOSERS and it.closes not in dropped:
                continue
            it.skipped = True
            dropped.add(it.key)

    # -- guards -------------------------------------------------------------------------------

    def _decide(self, s: int) -> None:
        """(Re)decide the next guard break of the current stretch, as things stand at ``s``."""
        cur = self.cur
        if cur is None or cur.is_break or self.stretch_start is None or not self.rules.breaks:
            self.guard = None
            return
        end = self._cur_end()
        layout = _placed(cur, self.cur_off, self.cur_start)
        for el, off in self.queue:
            layout.extend(_placed(el, off, end))
            end += el.length - off
        # What has run (a break cue already taken) is not ahead: the guards plan from now.
        layout = [placed for placed in layout if placed.end > s] or layout[-1:]
        self.guard = decide_break(
            layout, self.stretch_start, s, self.rules.breaks, self.taken, self.short_end == s
        )

    # -- the result ---------------------------------------------------------------------------

    def _result(self, now: datetime, planned: bool) -> LivePlan:
        cumulative = [0]
        for length in self.pauses:
            cumulative.append(cumulative[-1] + length)

        # The wall time each epoch's show time 0 stands for (one datetime per pause, not one
        # addition of two timedeltas per item).
        bases = [self.start_real + timedelta(microseconds=c) for c in cumulative]

        def real(show_us: int, epoch: int) -> datetime:
            return bases[epoch] + timedelta(microseconds=show_us)

        last_pause = len(self.pauses) if self.paused else -1
        # By (due, seq): self.items is in seq order, so a stable sort of the positions by due
        # is that order, with no tuple per item (timedelta(0, 0, us): no keyword parsing).
        emitted = self.items
        dues = [
            bases[i.epoch] + timedelta(0, 0, i.show) if i.real is None else i.real for i in emitted
        ]
        items: list[PlannedItem] = []
        for n in sorted(range(len(dues)), key=dues.__getitem__):
            due, it = dues[n], emitted[n]
            state: ItemState
            if it.skipped:
                state = "skipped"
            elif planned or due > now or (it.epoch == last_pause and it.real is None):
                state = "upcoming"  # items released during the current pause wait for resume
            else:
                state = "due"
            items.append(
                PlannedItem(
                    it.key,
                    it.segment_id,
                    it.action,
                    due,
                    state,
                    it.origin,
                    it.cue_index,
                    it.text,
                    it.closes,
                )
            )
        segments: list[PlannedSegment] = []
        order = {id(p): n for n, p in enumerate(self.pieces)}
        pieces = sorted(self.pieces, key=lambda p: (real(p.start, p.start_epoch), order[id(p)]))
        for p in pieces:
            start, end = real(p.start, p.start_epoch), real(p.end, p.end_epoch)
            seg_state: SegmentState
            if p.skipped:
                seg_state = "skipped"
            elif planned or start > now:
                seg_state = "upcoming"
            elif end <= now:
                seg_state = "done"
            else:
                seg_state = "current"
            segments.append(
                PlannedSegment(
                    p.el.segment_id,
                    p.el.key,
                    p.el.kind.value,
                    start,
                    end,
                    seg_state,
                    p.el.segment is None,
                    p.el.origin,
                    p.offset // US,
                    p.el.replaces,
                )
            )
        ran = [s for s in segments if s.state != "skipped"]
        end_at = ran[-1].end if ran else self.start_real
        status: Status
        if planned:
            status = "waiting"
        elif self.ended or end_at <= now:
            status = "ended"
        elif self.paused:
            status = "paused"
        else:
            status = "running"
        return LivePlan(
            status, now, self.start_real, end_at, tuple(segments), tuple(items), tuple(self.ignored)
        )


def _placed(el: _El, off: int, start: int) -> list[Placed]:
    """An element ahead as the guards see it: split where a ``break:`` cue rests people."""
    end = start + el.length - off
    if el.segment is None or el.is_break:
        return [Placed(el.key, el.is_break, off, start, end)]
    rests: list[tuple[int, int]] = []
    for began, ended in el.rests():
        a, b = max(began, off), min(ended, el.length)
        if b > a:
            rests.append((a, b))
    out: list[Placed] = []
    cursor = off
    for a, b in sorted(rests):
        if a < cursor:
            continue
        if a > cursor:
            out.append(Placed(el.key, False, cursor, start + cursor - off, start + a - off))
        out.append(Placed(el.key, True, a, start + a - off, start + b - off, cue_break=True))
        cursor = b
    if el.length > cursor or not out:
        out.append(Placed(el.key, False, cursor, start + cursor - off, end))
    return out


_offset = attrgetter("offset")


def _run_key(base: str, suffix: str) -> str:
    """The key of an item in a re-run: the run suffix goes before any ``@``: ``a-1#2@close``."""
    if not suffix:
        return base
    head, at_sign, tail = base.partition("@")
    return head + suffix + at_sign + tail


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)
