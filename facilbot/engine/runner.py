"""One owned session on the clock: derive the timeline, fire what is due, sleep until the next.

The runner keeps no state that matters: the show version, the control log and the firings are
read from the database, and the timeline is ``live_plan(show, controls, now)`` — a restart or
another instance derives exactly the same thing. Each item is claimed in the database before
it is sent (``claim_firing``: unique per session and key, and only while this instance holds
the lease), so an item fires at most once whatever crashes or races happen.

A claim is an exactly-once *reservation*: the runner writes it up to ``engine.reserve_ahead``
seconds before the item's moment, so that at the moment only the send happens (a thousand
sessions started on the hour made the claims the burst's write storm). A reservation is sent
only while the instance's lease may still run (``engine.may_send``), and is given back when its
item moves or is skipped before its moment (see "Reservations" in ``store.firings``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine import expiry
from facilbot.engine.actions import PROMPT_ACTIONS, Built, build_action
from facilbot.engine.batch import (
    ClaimBatcher,
    FirstWrite,
    FirstWritten,
    Loader,
    OutcomeBatcher,
    Pacer,
    Writer,
)
from facilbot.engine.clock import Clock
from facilbot.engine.live import LiveHub, SessionCarrier
from facilbot.outbound import outbox
from facilbot.store import firings as store_firings
from facilbot.store import sessions as store_sessions
from facilbot.store.db import Database, reading
from facilbot.store.firings import FiringClaim, FiringOutcome, FiringRecord
from facilbot.store.participants import present_now
from facilbot.store.retry import in_transaction
from integrations.contract import (
    Action,
    Carrier,
    Channel,
    MeetingAdapter,
    Participant,
    ProducerCue,
    Role,
)
from integrations.routing import channels_for, route, to_producer_cue
from runofshow.controls import Control
from runofshow.model import Show
from runofshow.plan import LivePlan, PlannedItem, live_plan

log = logging.getLogger("facilbot.engine")

#: Actions the participants must also see on the companion page whatever channel carried them
#: (Zoom's REST only pauses the recording for a break; the bridge or the producer opens rooms).
ANNOUNCED = frozenset({"start_break", "end_break", "open_breakouts", "close_breakouts"})
#: Prompts that the producer also gets as a cue to paste when only the companion page carried
#: them (on Zoom without the bridge, nobody may have the page open).
PASTE_TOO = frozenset({"say", "open_poll", "open_commitments", "warn_breakouts"})


@dataclass(frozen=True, slots=True)
class Fired:
    """What the engine just did, for the live view and the demo's progress output."""

    session_id: str
    key: str
    action: str
    what: str
    status: str
    channel: str | None
    late_ms: float
    segment_id: str = ""


class RunnerHost(Protocol):
    """What a runner needs of the engine that owns it (the engine is one; tests may pass
    another). Keeps ``runner`` from importing ``engine``."""

    db: Database
    clock: Clock
    hub: LiveHub
    claims: ClaimBatcher
    reservations: ClaimBatcher
    outcomes: OutcomeBatcher
    pacer: Pacer
    starting: Loader[tuple[store_sessions.SessionRecord | None, list[FiringRecord]]]
    first_writes: Writer[FirstWrite, FirstWritten]
    announcements: Writer[tuple[outbox.Once, ...], None]
    instance_id: str
    #: Seconds before an item's moment that its claim is written (0: at the moment).
    reserve_ahead: float
    adapters: dict[str, MeetingAdapter]
    channel_overrides: dict[str, dict[Channel, Carrier]]
    channel_timeout: float

    def writing(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    def may_send(self) -> bool:
        """Whether this instance's leases surely still run (on its monotonic clock)."""
        ...

    async def show_for_version(self, version_id: int) -> Show: ...

    async def controls(self, session_id: str) -> list[Control]: ...

    async def mark_running(self, session_id: str, at: datetime) -> None: ...

    async def mark_ended(self, session_id: str, at: datetime) -> None: ...

    def on_fired(self, fired: Fired) -> None: ...


def _renderer(adapter: object, meeting_ref: str) -> Callable[[Action], ProducerCue] | None:
    """The platform's own producer-cue wording when its adapter offers one (Teams names the
    menus to click), falling back to the generic one."""
    own = getattr(adapter, "producer_cue", None)
    if own is None:
        return None

    def render(action: Action) -> ProducerCue:
        cue = own(meeting_ref, action)
        return cue if isinstance(cue, ProducerCue) else to_producer_cue(action)

    return render


def window_end(plan: LivePlan, item: PlannedItem) -> datetime | None:
    """When the window an opening item starts closes: the due time of the item that the
    planner says closes it (``PlannedItem.closes``), if any."""
    return next((other.due for other in plan.items if other.closes == item.key), None)


def _retrieved(future: asyncio.Future[None]) -> None:
    # Its error was logged by nobody else: the runner that queued it is gone.
    if not future.cancelled() and future.exception() is not None:
        log.warning("an outcome of a stopped runner was not recorded: %r", future.exception())


class SessionRunner:
    def __init__(self, engine: RunnerHost, session_id: str) -> None:
        self.engine = engine
        self.session_id = session_id
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.fired: set[str] = set()
        # Items claimed ahead of their moment and not sent yet: key → (firing id, moment).
        self.reserved: dict[str, tuple[int, datetime]] = {}
        self.late_skipped: set[str] = set()  # prompts the late policy skipped
        self.open_cues: dict[int, str] = {}  # producer cues not yet done or missed: id → key
        self.segment_key: str | None = None  # the piece of the show on now, as last published
        self.announced: set[str] = set()  # segment keys whose start is in the outbox
        self.marked_running = False
        self.lost = False
        # Outcomes queued and not yet written, each with what to announce once it is: the
        # runner goes on to the next item without waiting for the record of the last one.
        self._unwritten: list[tuple[asyncio.Future[None], Fired]] = []
        self._cached: tuple[list[Control], LivePlan] | None = None
        self._woken: asyncio.Future[None] | None = None  # what _sleep waits on

    def poke(self) -> None:
        """Something changed (a control, an event): re-derive the timeline now."""
        self.idle.clear()
        self.wake.set()
        if self._woken is not None and not self._woken.done():
            self._woken.set_result(None)

    async def run(self) -> None:
        engine = self.engine
        try:
            # Read and first write go through the engine's batches: runners start by the
            # thousand (at start, after a failover) and one round trip each queued them for
            # seconds. The write runs in ``in_transaction`` (re-run on a deadlock) and is
            # skipped when there is nothing to write.
            record, firings = await engine.starting.submit(self.session_id)
            if record is None or record.status == "ended":
                return
            self.fired = {f.key for f in firings}
            self.late_skipped = {f.key for f in firings if f.status == "skipped"}
            self.open_cues = {f.id: f.key for f in firings if _open_cue(f)}
            show = await engine.show_for_version(record.show_version_id)
            unsent = any(f.status == "firing" and f.sent_at is None for f in firings)
            interrupted: list[int] = []
            if unsent or record.status == "attached":
                written = await engine.first_writes.submit(
                    FirstWrite(
                        self.session_id,
                        unsent,
                        record.status == "attached",
                        engine.clock.now(),
                        engine.instance_id,
                    )
                )
                interrupted = written.interrupted
                # Reservations whose moment has not come were given back: claim them again.
                self.fired.difference_update(written.released)
            if interrupted:
                log.warning(
                    "session %s: %d cue(s) were claimed but not sent before a stop; "
                    "reported as interrupted, not repeated",
                    self.session_id,
                    len(interrupted),
                )
                engine.hub.publish(self.session_id, {"type": "interrupted", "firings": interrupted})
            await self._loop(show, record.platform, record.meeting_ref)
            await self._outcomes_written()  # a lost lease returns straight from the loop
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug must not take the other sessions down; it is logged by type and the
            # session is picked up again by the next maintenance pass.
            log.exception("session %s: runner stopped on an unexpected error", self.session_id)
        finally:
            for future, _ in self._unwritten:  # cancelled or stopped: the batch still writes it
                future.add_done_callback(_retrieved)
            self._unwritten = []
            self.idle.set()

    async def _loop(self, show: Show, platform: str, meeting_ref: str) -> None:
        engine = self.engine
        ahead = timedelta(seconds=engine.reserve_ahead)
        while not self.lost:
            await engine.pacer.turn()  # a burst of wakes goes on a slice per loop turn
            self.wake.clear()
            controls = await engine.controls(self.session_id)
            now = engine.clock.now()
            plan, fresh = self._timeline(show, controls, now)
            if plan.status in ("running", "paused") and not self.marked_running:
                # Once per runner, not on every wake: a write per wake costs every session.
                await engine.mark_running(self.session_id, now)
                self.marked_running = True
            for item in plan.items:
                if item.due > now:
                    break
                # Only "due": before the start every item is a forecast, and items released
                # during the current pause wait for the resume (both are "upcoming").
                due = item.state == "due" or (
                    not fresh and item.state == "upcoming" and item.due <= now
                )
                if not due or item.key in self.fired:
                    continue
                await self._fire(show, plan, item, platform, meeting_ref)
                if self.lost:
                    return
            # Recorded before anything else this wake writes: the outbox keeps a cue's event
            # ahead of the segment's start or the session's end that follows it.
            await self._outcomes_written()
            if self.reserved:
                await self._release_moved(plan)
            if ahead and plan.status == "running":
                await self._reserve(plan, now, now + ahead)
                if self.lost:
                    return
            if self.open_cues:
                await self._expire_cues(plan, now, ending=plan.status == "ended")
            self._segment_changed(plan, now)
            await self._announce_segments(plan, now)
            if plan.status == "ended":
                await engine.mark_ended(self.session_id, engine.clock.now())
                return
            next_due = next(
                (
                    i.due
                    for i in plan.items
                    if i.due > now and i.state != "skipped" and i.key not in self.fired
                ),
                None,
            )
            if plan.status in ("waiting", "paused"):
                # Forecast times move with the clock until a start or a resume (a control,
                # which pokes the runner): a timer would only wake it for nothing.
                next_due = None
            elif next_due is None:
                # Nothing left to fire, but the show runs on: wake at its end to record it.
                next_due = plan.end
            if next_due is not None and plan.status == "running":
                # Wake at the next segment boundary too, so pages hear of the change then.
                bounds = [p.end for p in plan.segments if p.state != "skipped" and p.end > now]
                next_due = min([next_due, *bounds])
            if next_due is not None and ahead and plan.status == "running":
                # Wake early enough to reserve the next item not reserved yet.
                unreserved = next(
                    (
                        i.due
                        for i in plan.items
                        if i.due > now + ahead
                        and i.state != "skipped"
                        and i.key not in self.fired
                        and i.key not in self.reserved
                    ),
                    None,
                )
                if unreserved is not None:
                    next_due = min(next_due, unreserved - ahead)
            if next_due is not None and self.open_cues:
                # Wake when an open cue's moment may pass, to record it as missed then.
                ends = [expiry.deadline(plan, key, now) for key in self.open_cues.values()]
                next_due = min([next_due, *(e for e in ends if e is not None and e > now)])
            await self._sleep(next_due)

    def _timeline(
        self, show: Show, controls: list[Control], now: datetime
    ) -> tuple[LivePlan, bool]:
        """The plan, and whether it was derived just now.

        While the show runs and no control is added, the timeline does not move: only which
        items are due changes with the clock. So the plan derived at the last control is reused
        until the show's end, and a burst of sessions waking at the same instant costs a
        comparison each instead of a re-plan each. Waiting and paused shows move with the clock
        and are always re-derived. (``engine.controls`` hands out the same list object until
        the log changes.)
        """
        cached = self._cached
        if (
            cached is not None
            and cached[0] is controls
            and cached[1].status == "running"
            and now < cached[1].end
        ):
            return cached[1], False
        plan = live_plan(show, controls, now)
        self._cached = (controls, plan)
        return plan, True

    async def _reserve(self, plan: LivePlan, now: datetime, until: datetime) -> None:
        """Claim now the items due by ``until`` (the claim written ahead, see the module's
        docstring). Runners reserving at the same instant share one claim transaction."""
        for item in plan.items:
            if item.due > until:
                break
            if (
                item.due <= now
                or item.state == "skipped"
                or item.key in self.fired
                or item.key in self.reserved
            ):
                continue
            firing_id = await self.engine.reservations.submit(
                FiringClaim(self.session_id, item.key, item.action, item.due)
            )
            if firing_id is None:
                await self._claim_refused(item.key)
                if self.lost:
                    return
                continue
            self.reserved[item.key] = (firing_id, item.due)

    async def _release_moved(self, plan: LivePlan) -> None:
        """Give back the reservations whose item no longer falls at its reserved moment (a
        control moved or skipped it, the show was paused or ended): a reservation's moment is
        the moment it is sent, so a restart can tell a sent one from a never-sent one. The
        item is reserved again when it comes near."""
        stale = []
        for key, (firing_id, at) in self.reserved.items():
            item = plan.item(key)
            if (
                plan.status != "running"
                or item is None
                or item.state == "skipped"
                or item.due != at
            ):
                stale.append((key, firing_id))
        if not stale:
            return
        for key, _ in stale:
            del self.reserved[key]
        await self._give_back([fid for _, fid in stale])

    async def _give_back(self, firing_ids: list[int]) -> None:
        async def release(connection: AsyncConnection) -> list[int]:
            # Re-run whole should PostgreSQL abort it (an adopter closing out the same rows).
            return await store_firings.release_reservations(connection, firing_ids)

        await in_transaction(self.engine.writing, release)

    async def _sleep(self, until: datetime | None) -> None:
        if self.wake.is_set():
            return
        # One future, woken by the clock's sleeper or by poke(). (A task waiting on the wake
        # event beside the sleeper, under asyncio.wait, cost two tasks, a cancellation and
        # wait's own callbacks on every wake: a tenth of a burst's time on the loop.)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._woken = woken
        sleeper = (
            asyncio.ensure_future(self.engine.clock.sleep_until(until))
            if until is not None
            else None
        )
        if sleeper is not None:
            sleeper.add_done_callback(functools.partial(_resolve, woken))
        self.idle.set()
        try:
            await woken
        finally:
            self._woken = None
            self.idle.clear()
            if sleeper is not None and not sleeper.done():
                sleeper.cancel()

    async def _fire(
        self, show: Show, plan: LivePlan, item: PlannedItem, platform: str, meeting_ref: str
    ) -> None:
        engine = self.engine
        now = engine.clock.now()
        late = now - item.due
        late_ms = late.total_seconds() * 1000
        reservation = self.reserved.pop(item.key, None)
        if reservation is not None and reservation[1] == item.due:
            firing_id: int | None = reservation[0]
        else:
            if reservation is not None:  # moved since (normally given back on the way here)
                await self._give_back([reservation[0]])
            firing_id = await engine.claims.submit(
                FiringClaim(self.session_id, item.key, item.action, item.due)
            )
        if firing_id is None:
            await self._claim_refused(item.key)
            return
        self.fired.add(item.key)
        grace = timedelta(seconds=show.rules.late_grace)
        if item.action == "poll_close" and item.closes in self.late_skipped:
            # The poll itself was skipped as too late: there is nothing to close.
            fired = self._fired(item, f"skipped (late): {item.key}", "skipped", None, late_ms)
            self._finish(firing_id, "skipped", fired, error="its poll was skipped (late)")
            return
        if item.action in PROMPT_ACTIONS and late > grace:
            self.late_skipped.add(item.key)
            self._finish(
                firing_id,
                "skipped",
                self._fired(item, f"skipped (late): {item.key}", "skipped", None, late_ms),
                error=f"late by {late.total_seconds():.0f}s (grace {grace.seconds}s)",
            )
            return
        # Only room assignment needs who is here; other actions skip the read.
        participants = await self._participants() if item.action == "breakout_open" else []
        built = build_action(
            show,
            item,
            participants=participants,
            closes_at=window_end(plan, item),
            seed=self.session_id,  # stable across restarts, unlike hash()
        )
        adapter = engine.adapters.get(platform)
        carriers: dict[Channel, Carrier] = {
            channel: SessionCarrier(engine.hub, self.session_id, channel, engine.channel_timeout)
            for channel in (Channel.bridge, Channel.companion, Channel.producer_cue)
        }
        available = {Channel.companion, Channel.producer_cue}
        if engine.hub.bridge_connected(self.session_id):
            available.add(Channel.bridge)
        for channel, carrier in engine.channel_overrides.get(platform, {}).items():
            if channel is not Channel.producer_cue:
                carriers[channel] = carrier
                available.add(channel)
        if adapter is not None:
            carriers[Channel.server_api] = adapter
            available.add(Channel.server_api)
            order = channels_for(adapter.capabilities(), built.action.kind, available)
        else:
            order = (Channel.producer_cue,)
        if not engine.may_send():
            # The lease may have run out (no heartbeat got through for a lease's length):
            # another instance may hold the session and send this cue. Sending now could
            # double it; stopping leaves the claim unsent, to be reported by the next holder.
            log.warning(
                "session %s: not sending %s: the lease may have run out", self.session_id, item.key
            )
            self.lost = True
            return
        result = await route(
            meeting_ref,
            built.action,
            order,
            carriers,
            timeout=engine.channel_timeout,
            render=_renderer(adapter, meeting_ref),
        )
        delivery = result.delivery
        attempts: list[dict[str, object]] = [
            {"channel": str(a.channel), "ok": a.ok, "detail": a.reason} for a in result.attempts
        ]
        if built.action.kind in ANNOUNCED and delivery.channel is not Channel.companion:
            attempts.extend(await self._announce_too(meeting_ref, built, carriers))
        cue_carrier = carriers[Channel.producer_cue]
        if delivery.channel is Channel.producer_cue and isinstance(cue_carrier, SessionCarrier):
            if cue_carrier.last_cue is not None:
                attempts.append(
                    {"producer_cue": cue_carrier.last_cue.text, "paste": cue_carrier.last_cue.paste}
                )
                self.open_cues[firing_id] = item.key
        elif delivery.channel is Channel.companion and built.action.kind in PASTE_TOO:
            cue = (_renderer(adapter, meeting_ref) or to_producer_cue)(built.action)
            attempts.append(
                {
                    "producer_cue": f"Only the companion page showed this. {cue.text}",
                    "paste": cue.paste,
                }
            )
            self.open_cues[firing_id] = item.key
        status = "failed" if delivery.outcome == "failed" else "sent"
        self._finish(
            firing_id,
            status,
            self._fired(item, built.what, status, str(delivery.channel), late_ms),
            sent_at=engine.clock.now(),
            channel=str(delivery.channel),
            outcome=str(delivery.outcome),
            attempts=attempts,
            error=delivery.detail if status == "failed" else None,
        )

    def _segment_changed(self, plan: LivePlan, now: datetime) -> None:
        """Tell the live pages when the piece of the show on now changes (by times: a reused
        running plan's states are as of its derivation)."""
        on = next(
            (p.key for p in plan.segments if p.state != "skipped" and p.start <= now < p.end),
            None,
        )
        if on != self.segment_key:
            self.segment_key = on
            self.engine.hub.publish(self.session_id, {"type": "segment", "key": on})

    async def _announce_segments(self, plan: LivePlan, now: datetime) -> None:
        """Queue ``segment.started`` for every segment begun by now and not yet queued by this
        runner. A new runner (restart, hand-over) queues the past ones again and the outbox
        keeps the first of each (``outbox.add_once_many``), so none is lost or doubled. Runners
        crossing a boundary together write in one transaction (``batch.announce``)."""
        if plan.status not in ("running", "paused", "ended"):
            return  # before the start, a segment's start is a forecast
        begun = [
            p
            for p in plan.segments
            if p.offset == 0
            and p.state != "skipped"
            and p.start <= now
            and p.key not in self.announced
        ]
        if not begun:
            return
        await self.engine.announcements.submit(
            tuple(
                outbox.Once(
                    "segment.started",
                    {
                        "session_id": self.session_id,
                        "segment_id": piece.segment_id,
                        "key": piece.key,
                        "kind": piece.kind,
                        "inserted": piece.inserted,
                        "at": piece.start,
                        "ends_at": piece.end,
                    },
                    at=piece.start,
                    session_id=self.session_id,
                    once_key=piece.key,
                )
                for piece in begun
            )
        )
        self.announced.update(p.key for p in begun)

    async def _expire_cues(self, plan: LivePlan, now: datetime, *, ending: bool) -> None:
        """Record the open cues whose moment passed as missed (all of them at the end)."""
        stale = [
            firing_id
            for firing_id, key in self.open_cues.items()
            if ending or expiry.passed(plan, key, now)
        ]
        if not stale:
            return
        async with self.engine.writing() as connection:
            missed = await store_firings.mark_missed(connection, stale, expiry.MISSED_REASON)
        for firing_id in stale:
            self.open_cues.pop(firing_id, None)
        if missed:
            self.engine.hub.publish(self.session_id, {"type": "cues_missed", "firings": missed})

    async def _announce_too(
        self,
        meeting_ref: str,
        built: Built,
        carriers: Mapping[Channel, Carrier],
    ) -> list[dict[str, object]]:
        """Show the action on the companion page too (best effort), when it is available."""
        if Channel.companion not in carriers:
            return []
        rest = [Channel.companion]
        result = await route(
            meeting_ref, built.action, rest, carriers, timeout=self.engine.channel_timeout
        )
        return [
            {"channel": str(a.channel), "ok": a.ok, "detail": a.reason or "announced too"}
            for a in result.attempts
        ]

    def _finish(self, firing_id: int, status: str, fired: Fired, **fields: object) -> None:
        """Queue the outcome, to be announced as ``fired`` once it is written."""
        outcome = FiringOutcome(firing_id, status, **fields)  # type: ignore[arg-type]
        self._unwritten.append((self.engine.outcomes.enqueue(outcome), fired))

    def _fired(
        self, item: PlannedItem, what: str, status: str, channel: str | None, late_ms: float
    ) -> Fired:
        return Fired(
            self.session_id, item.key, item.action, what, status, channel, late_ms, item.segment_id
        )

    async def _outcomes_written(self) -> None:
        """Wait for the queued outcomes' records, then announce them (live pages read the
        record when they hear of a cue). A failed write raises here, as it did in line."""
        while self._unwritten:
            future, fired = self._unwritten[0]
            await future
            self._unwritten.pop(0)
            self.engine.on_fired(fired)

    async def _claim_refused(self, key: str) -> None:
        """The claim found the key taken or our lease gone; tell which, and stop if the latter."""
        async with reading(self.engine.db.engine) as connection:
            taken = {f.key for f in await store_firings.firings_for(connection, self.session_id)}
        if key in taken:
            self.fired |= taken
            return
        log.info("session %s: lease lost; another instance runs it now", self.session_id)
        self.lost = True

    async def _participants(self) -> list[Participant]:
        async with reading(self.engine.db.engine) as connection:
            records = await present_now(connection, self.session_id)
        out = []
        for record in records:
            role = Role(record.role) if record.role in Role.__members__ else Role.attendee
            if role is not Role.attendee:
                continue  # hosts and producers stay in the main room
            attributes = {str(k): str(v) for k, v in (record.attributes or {}).items()}
            out.append(
                Participant(record.participant_ref, record.name, record.email, role, attributes)
            )
        return out


def _resolve(future: asyncio.Future[None], _done: object) -> None:
    if not future.done():
        future.set_result(None)


def _open_cue(firing: store_firings.FiringRecord) -> bool:
    """A cue shown to the producer that is neither done nor missed yet."""
    if firing.status != "sent" or firing.outcome == expiry.MISSED:
        return False
    return firing.channel == "producer_cue" or any("producer_cue" in a for a in firing.attempts)


ControlsLoader = Callable[[str], "asyncio.Future[list[Control]]"]
RunnerMap = Mapping[str, SessionRunner]
