"""One owned session on the clock: derive the timeline, fire what is due, sleep until the next.

The runner keeps no state that matters: the show version, the control log and the firings are
read from the database, and the timeline is ``live_plan(show, controls, now)`` — a restart or
another instance derives exactly the same thing. Each item is claimed in the database before
it is sent (``claim_firing``: unique per session and key, and only while this instance holds
the lease), so an item fires at most once whatever crashes or races happen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from facilbot.engine.actions import PROMPT_ACTIONS, Built, build_action
from facilbot.engine.live import SessionCarrier
from facilbot.store import firings as store_firings
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from facilbot.store.firings import FiringClaim, FiringOutcome
from facilbot.store.participants import present_now
from integrations.contract import Action, Carrier, Channel, Participant, ProducerCue, Role
from integrations.routing import channels_for, route, to_producer_cue
from runofshow.controls import Control
from runofshow.model import Show
from runofshow.plan import LivePlan, PlannedItem, live_plan

if TYPE_CHECKING:
    from facilbot.engine.engine import Engine

log = logging.getLogger("facilbot.engine")

#: Actions the participants must also see on the companion page whatever channel carried them
#: (Zoom's REST only pauses the recording for a break; the bridge or the producer opens rooms).
ANNOUNCED = frozenset({"start_break", "end_break", "open_breakouts", "close_breakouts"})


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


class SessionRunner:
    def __init__(self, engine: Engine, session_id: str) -> None:
        self.engine = engine
        self.session_id = session_id
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.fired: set[str] = set()
        self.late_skipped: set[str] = set()  # prompts the late policy skipped
        self.marked_running = False
        self.lost = False
        self._cached: tuple[list[Control], LivePlan] | None = None

    def poke(self) -> None:
        """Something changed (a control, an event): re-derive the timeline now."""
        self.idle.clear()
        self.wake.set()

    async def run(self) -> None:
        engine = self.engine
        try:
            async with reading(engine.db.engine) as connection:
                record = await store_sessions.get_session(connection, self.session_id)
                firings = await store_firings.firings_for(connection, self.session_id)
            if record is None or record.status == "ended":
                return
            self.fired = {f.key for f in firings}
            self.late_skipped = {f.key for f in firings if f.status == "skipped"}
            show = await engine.show_for_version(record.show_version_id)
            async with engine.writing() as connection:
                interrupted = await store_firings.mark_interrupted(connection, self.session_id)
                if record.status == "attached":
                    await store_sessions.set_session_status(
                        connection, self.session_id, "waiting", engine.clock.now()
                    )
            if interrupted:
                log.warning(
                    "session %s: %d cue(s) were claimed but not sent before a stop; "
                    "reported as interrupted, not repeated",
                    self.session_id,
                    len(interrupted),
                )
                engine.hub.publish(self.session_id, {"type": "interrupted", "firings": interrupted})
            await self._loop(show, record.platform, record.meeting_ref)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug must not take the other sessions down; it is logged by type and the
            # session is picked up again by the next maintenance pass.
            log.exception("session %s: runner stopped on an unexpected error", self.session_id)
        finally:
            self.idle.set()

    async def _loop(self, show: Show, platform: str, meeting_ref: str) -> None:
        engine = self.engine
        while not self.lost:
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

    async def _sleep(self, until: datetime | None) -> None:
        if self.wake.is_set():
            return
        waiter = asyncio.ensure_future(self.wake.wait())
        sleeper = (
            asyncio.ensure_future(self.engine.clock.sleep_until(until))
            if until is not None
            else None
        )
        self.idle.set()
        try:
            pending = {waiter} if sleeper is None else {waiter, sleeper}
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.idle.clear()
            for task in (waiter, sleeper):
                if task is not None and not task.done():
                    task.cancel()

    async def _fire(
        self, show: Show, plan: LivePlan, item: PlannedItem, platform: str, meeting_ref: str
    ) -> None:
        engine = self.engine
        now = engine.clock.now()
        late = now - item.due
        late_ms = late.total_seconds() * 1000
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
            await self._finish(firing_id, "skipped", error="its poll was skipped (late)")
            self._announce(item, f"skipped (late): {item.key}", "skipped", None, late_ms)
            return
        if item.action in PROMPT_ACTIONS and late > grace:
            self.late_skipped.add(item.key)
            await self._finish(
                firing_id,
                "skipped",
                error=f"late by {late.total_seconds():.0f}s (grace {grace.seconds}s)",
            )
            self._announce(item, f"skipped (late): {item.key}", "skipped", None, late_ms)
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
        status = "failed" if delivery.outcome == "failed" else "sent"
        await self._finish(
            firing_id,
            status,
            sent_at=engine.clock.now(),
            channel=str(delivery.channel),
            outcome=str(delivery.outcome),
            attempts=attempts,
            error=delivery.detail if status == "failed" else None,
        )
        self._announce(item, built.what, status, str(delivery.channel), late_ms)

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

    async def _finish(self, firing_id: int, status: str, **fields: object) -> None:
        await self.engine.outcomes.submit(FiringOutcome(firing_id, status, **fields))  # type: ignore[arg-type]

    def _announce(
        self, item: PlannedItem, what: str, status: str, channel: str | None, late_ms: float
    ) -> None:
        fired = Fired(
            self.session_id, item.key, item.action, what, status, channel, late_ms, item.segment_id
        )
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


ControlsLoader = Callable[[str], "asyncio.Future[list[Control]]"]
RunnerMap = Mapping[str, SessionRunner]
