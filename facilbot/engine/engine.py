"""The engine facade: shows, sessions, controls, inbound events, and the owned runners.

One ``Engine`` per process. It owns the sessions it holds a lease on (DESIGN §5): a maintenance
pass renews the leases, adopts orphans (sessions whose owner died), and checks each owned
session's version as a safety net behind PostgreSQL ``NOTIFY``. The database is the truth;
timers only wake runners.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine import answer
from facilbot.engine.attaching import attach_session
from facilbot.engine.batch import (
    OUTCOME_LINGER,
    ClaimBatcher,
    Loader,
    OutcomeBatcher,
    Pacer,
    Turns,
    Writer,
    announce,
    first_writes,
)
from facilbot.engine.clock import Clock, VirtualClock, stopping, wait_event
from facilbot.engine.errors import (
    ControlRefused,
    UnknownFiring,
    UnknownPlatform,
    UnknownSession,
    UnknownShowVersion,
)
from facilbot.engine.live import LiveHub
from facilbot.engine.runner import Fired, SessionRunner
from facilbot.engine.state import SessionState
from facilbot.engine.view import build_state
from facilbot.journey import commitments as journey_commitments
from facilbot.outbound import outbox
from facilbot.store import activity, leases
from facilbot.store import controls as store_controls
from facilbot.store import events as store_events
from facilbot.store import firings as store_firings
from facilbot.store import participants as store_participants
from facilbot.store import sessions as store_sessions
from facilbot.store import shows as store_shows
from facilbot.store.db import Database, reading
from facilbot.store.firings import FiringRecord
from facilbot.store.inbound import encode_event
from facilbot.store.retry import in_transaction
from integrations.contract import (
    Carrier,
    Channel,
    ChatCommand,
    ChatMessage,
    InboundEvent,
    MeetingAdapter,
    MeetingEnded,
    MeetingStarted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMovedToRoom,
    PollAnswer,
)
from runofshow.controls import Control, Start, control_from_json
from runofshow.loader import LoadedShow, load_show_text
from runofshow.model import Show
from runofshow.plan import live_plan
from runofshow.replan import propose

log = logging.getLogger("facilbot.engine")

CONTROL_KINDS = (
    "start",
    "pause",
    "resume",
    "extend",
    "skip",
    "jump",
    "fire",
    "break",
    "end",
    "replan",
    "replan_policy",
)
ADOPT_LIMIT = 2000
#: Seconds before its moment that a cue's claim (a reservation) is written. Long enough for a
#: burst's claims to be written before the moment (a thousand take ~0.15 s on the loaded
#: 2-core machine); short, because a kill -9 leaves the reservations whose moment passes
#: before the restart ambiguous (maybe sent), and those are reported, not repeated.
RESERVE_AHEAD = 1.0
#: How long after another instance's row runs out the watching pass runs (seconds).
_EXPIRY_MARGIN = 0.05


#: The API's control kinds that the planner's log names differently.
_CONTROL_TYPES = {"fire": "fire_now", "break": "call_break"}


def to_control(kind: str, payload: Mapping[str, Any], at: datetime) -> Control:
    """A control-log row as the planner's control object (``ControlError`` if malformed)."""
    return control_from_json(
        {**payload, "type": _CONTROL_TYPES.get(kind, kind), "at": at.isoformat()}
    )


class Engine:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        instance_id: str,
        adapters: Mapping[str, MeetingAdapter] | None = None,
        lease_seconds: float = 10.0,
        channel_timeout: float = 5.0,
        maintenance_interval: float | None = None,
        on_fired: Callable[[Fired], None] | None = None,
        channel_overrides: Mapping[str, Mapping[Channel, Carrier]] | None = None,
        reserve_ahead: float = RESERVE_AHEAD,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.clock = clock
        self.instance_id = instance_id
        self.adapters: dict[str, MeetingAdapter] = dict(adapters or {})
        # Per platform, carriers that replace the service's own bridge/companion channels
        # (the simulator brings its own, so simulated people see what the bridge does).
        self.channel_overrides = {k: dict(v) for k, v in (channel_overrides or {}).items()}
        self.lease_seconds = lease_seconds
        # Claims are written this long before their moment (runner.py's docstring); never
        # more than a fraction of the lease, which a reservation must fall within.
        self.reserve_ahead = max(0.0, min(reserve_ahead, lease_seconds / 4))
        # The send guard: when this instance's leases may run out, on the monotonic clock,
        # measured from before the last heartbeat that renewed them (``may_send``).
        self._monotonic = monotonic
        self.lease_deadline = -float("inf")
        self.channel_timeout = channel_timeout
        self.maintenance_interval = maintenance_interval or max(lease_seconds / 3, 0.2)
        self.hub = LiveHub()
        # Runners woken at the same instant claim (and record outcomes) in one transaction.
        # SQLite has one writer at a time; writers that collide wait in its busy handler,
        # which sleeps in steps of up to 100 ms. This process's own writers take turns in
        # memory instead, without sleeping, claims first (``batch.Turns``).
        self._turns = Turns() if db.dialect == "sqlite" else None
        self.claims = ClaimBatcher(
            functools.partial(self.writing, urgent=True), instance_id, clock.now
        )
        # Reservations stream in as steadily as cues fall due: written a window at a time.
        self.reservations = ClaimBatcher(
            functools.partial(self.writing, urgent=True), instance_id, clock.now, OUTCOME_LINGER
        )
        self.outcomes = OutcomeBatcher(self.writing)
        self.pacer = Pacer()
        # A thousand runners start together (at start, after a failover) and a burst of starts
        # wakes a thousand at once: their reads and their first writes go in batches too. One
        # connection and one statement per runner queued them on the pool for seconds (and
        # timed out on PostgreSQL's pool of 20) while the cues fell due.
        self.starting: Loader[tuple[store_sessions.SessionRecord | None, list[FiringRecord]]]
        self.starting = Loader("runner-reads", self._read_runners)
        self.first_writes = Writer("runner-first-writes", self.writing, first_writes)
        self._runnings = Writer("running", self.writing, self._mark_running_many)
        # Sessions end as their shows do, spread like their cues: nobody waits on the record.
        self._endings = Writer("ended", self.writing, self._mark_ended_many, OUTCOME_LINGER)
        self.announcements = Writer("announcements", self.writing, announce)
        self._control_reads = Loader("control-reads", self._read_controls)
        self._show_loads: dict[int, asyncio.Future[Show]] = {}
        self.runners: dict[str, SessionRunner] = {}
        self.counters: Counter[str] = Counter()
        self._on_fired = on_fired
        self._shows: OrderedDict[int, Show] = OrderedDict()
        self._controls: dict[str, list[Control]] = {}
        # Bumped whenever a session's cached log is dropped, so that a read which started
        # before the drop (and so may miss the new control) is not cached after it.
        self._generations: Counter[str] = Counter()
        self._versions: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Loop time of the next maintenance pass (see _schedule_next_pass).
        self._next_pass = 0.0
        self._pass_moved = asyncio.Event()
        # The heartbeat's own connection (PostgreSQL), one pass at a time: see _beating.
        self._beat: AsyncConnection | None = None
        self._beat_lock = asyncio.Lock()
        self._listen: Any = None
        self.running = False
        if isinstance(clock, VirtualClock):
            clock.add_settler(self.settle)

    @contextlib.asynccontextmanager
    async def writing(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite this process's writers take turns (``urgent``, a
        claim, goes first: see ``batch.Turns``)."""
        if self._turns is None:
            async with self.db.engine.begin() as connection:
                yield connection
            return
        async with self._turns.turn(urgent=urgent), self.db.engine.begin() as connection:
            yield connection

    def may_send(self) -> bool:
        """Whether this instance's leases surely still run: a claim (above all a reservation
        made ahead) is sent only then. The renewal set ``lease_until`` to the database's now
        plus the lease, and that now came after the moment measured here before the renewal
        was sent, so the lease runs at least until ``lease_deadline`` whatever the clocks say;
        another instance adopts a session only after its ``lease_until``.

        A database only this process can open (SQLite under its instance lock) has no other
        instance to take a session over: there a stalled heartbeat (a loaded machine, a laptop
        asleep) must not turn due cues into interrupted ones."""
        if self.db.lock is not None:
            return True
        return self._monotonic() < self.lease_deadline

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Take the sessions this instance may run and start the maintenance loop."""
        if self.running:
            return
        self.running = True
        if self.db.dialect == "sqlite":
            # One instance per SQLite database (the store's lock enforces it), so every lease
            # left by an earlier process of ours is stale: take them at once.
            async with self.writing() as connection:
                for record in await store_sessions.active_sessions(connection):
                    if record.owner and record.owner != self.instance_id:
                        await leases.release_lease(connection, record.id, record.owner)
        else:
            async with self.writing() as connection:
                await leases.prune_instances(connection)
        self._next_pass = asyncio.get_running_loop().time() + self.maintenance_interval
        await self.maintain()
        if self.db.dialect == "postgresql":
            await self._start_listening()
        self._tasks.append(
            asyncio.create_task(self._maintenance_loop(), name="facilbot-maintenance")
        )

    async def stop(self, *, release: bool = True) -> None:
        self.running = False
        for task in self._tasks:
            task.cancel()
        for runner in list(self.runners.values()):
            if runner.task is not None:
                runner.task.cancel()
        await asyncio.gather(
            *self._tasks, *(r.task for r in self.runners.values() if r.task), return_exceptions=True
        )
        self._tasks.clear()
        if self._listen is not None:
            with contextlib.suppress(Exception):
                await self._listen.close()
            self._listen = None
        if release:
            owned = list(self.runners)
            # The runners are stopped: reservations they held were never sent. Given back,
            # the next holder claims them afresh instead of reporting them.
            reserved = [fid for r in self.runners.values() for fid, _ in r.reserved.values()]

            async def release_all(connection: AsyncConnection) -> list[str]:
                await store_firings.release_reservations(connection, reserved)
                # One statement, rows locked in id order (store.sessions "Lock order").
                released = await leases.release_leases(connection, owned, self.instance_id)
                if self.db.dialect == "postgresql":
                    # Uncounted at once: the others' shares grow to cover what we let go.
                    await leases.deregister_instance(connection, self.instance_id)
                return released

            try:
                await in_transaction(self.writing, release_all)
            except Exception as error:
                # The stop goes on (the database is closed next): what was not given back
                # lapses after the lease, and on SQLite the next start takes it back at once.
                log.warning(
                    "giving back the leases at stop failed (%s); they lapse within %gs",
                    type(error).__name__,
                    self.lease_seconds,
                )
        async with self._beat_lock:
            await self._drop_beat_connection()
        self.runners.clear()

    async def _maintenance_loop(self) -> None:
        # Leases live on the database clock, so this loop runs on real time, not show time.
        loop = asyncio.get_running_loop()
        while True:
            delay = self._next_pass - loop.time()
            if delay > 0:
                # Woken early when a pass made elsewhere (attach, restart) moved the next one.
                self._pass_moved.clear()
                await wait_event(self._pass_moved, delay)
                continue
            self._next_pass = loop.time() + self.maintenance_interval
            try:
                await self.maintain()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if stopping():
                    raise
                # The driver's own exception names the cause (e.g. DeadlockDetectedError); its
                # message may quote data, so only the type is logged.
                cause = getattr(error, "orig", None) or error
                cause = cause.__cause__ or cause
                log.warning(
                    "maintenance pass failed (%s: %s); will retry",
                    type(error).__name__,
                    type(cause).__name__,
                )

    async def maintain(self) -> None:
        """One heartbeat: renew leases, drop lost sessions, adopt orphans, check versions."""
        shared = self.db.dialect == "postgresql"

        async def heartbeat(connection: AsyncConnection) -> leases.Beat:
            # Renewing locks our rows in id order; adopting never waits (SKIP LOCKED): see
            # "Lock order" in store.sessions. A deadlock or serialization failure re-runs it.
            # Up to ADOPT_LIMIT orphans a pass: a dead instance's sessions are taken over in
            # one heartbeat, not a hundred at a time; on PostgreSQL each instance takes its
            # fair share of them (store.leases.heartbeat), so they spread over the survivors.
            return await leases.heartbeat(
                connection,
                self.instance_id,
                self.lease_seconds,
                limit=ADOPT_LIMIT,
                shared=shared,
                stale_after=self.maintenance_interval,
            )

        began = self._monotonic()  # before the renewal: see may_send
        async with self._beat_lock:
            try:
                beat = await in_transaction(self._beating, heartbeat)
            except Exception:
                await self._drop_beat_connection()  # a broken one is opened again next pass
                raise
        self.lease_deadline = began + self.lease_seconds
        kept, adopted = set(beat.kept), beat.adopted
        self._schedule_next_pass(beat.census)
        for session_id in list(self.runners):
            runner = self.runners[session_id]
            if session_id not in kept and session_id not in adopted:
                if runner.task is not None:
                    runner.task.cancel()
                self.runners.pop(session_id, None)
            elif runner.task is not None and runner.task.done():
                self.runners.pop(session_id, None)
        for session_id in sorted(kept | set(adopted)):
            if session_id not in self.runners:
                self._start_runner(session_id)
        async with self._beat_lock, self._beating() as connection:
            versions = await store_controls.session_versions(connection, list(self.runners))
        for session_id, version in versions.items():
            if self._versions.get(session_id) != version:
                self._versions[session_id] = version
                self._forget_controls(session_id)
                owned = self.runners.get(session_id)  # it may have ended meanwhile
                if owned is not None:
                    owned.poke()

    @contextlib.asynccontextmanager
    async def _beating(self) -> AsyncIterator[AsyncConnection]:
        """A transaction for the heartbeat; on PostgreSQL on a connection of its own.

        Out of the runners' pool: when a thousand runners queue on the pool (a storm of
        claims or refusals under load) a heartbeat waiting its turn let the leases lapse,
        peers adopted the sessions, more claims were refused, and the pool queued longer
        (seen with 4 instances of 1,000 sessions on 2 cores). Callers hold ``_beat_lock``.
        """
        if self.db.dialect != "postgresql" or not self.running:
            async with self.writing() as connection:
                yield connection
            return
        if self._beat is None:
            self._beat = await self.db.engine.connect()
        async with self._beat.begin():
            yield self._beat

    async def _drop_beat_connection(self) -> None:
        beat, self._beat = self._beat, None
        if beat is not None:
            with contextlib.suppress(Exception):
                await beat.close()

    def _schedule_next_pass(self, census: leases.Census | None) -> None:
        """Bring the next pass forward to just after another instance's row runs out, when
        that comes before the regular interval.

        A live instance renews its row every interval, a third of the lease, so its row always
        has two thirds of a lease left when we look: only one that stopped renewing can run
        out within our next interval. Waking right then takes its sessions over at
        lease + one round trip after its last heartbeat, where the regular cadence added up
        to a whole interval (a third of the lease) on top. If it was only late and renews in
        time, the extra pass costs one heartbeat.
        """
        if census is None or census.next_expiry is None:
            return
        # Its session leases ran out no later than its row (renewed before it, same
        # transaction); the margin covers the round trip that measured next_expiry.
        at = asyncio.get_running_loop().time() + census.next_expiry + _EXPIRY_MARGIN
        if at < self._next_pass:
            self._next_pass = at
            self._pass_moved.set()

    def owns(self, session_id: str) -> bool:
        """Whether this instance runs the session now (holds its lease)."""
        return session_id in self.runners

    async def restart_session(self, session_id: str) -> None:
        """Stop the session's runner, if this instance runs it, and let the next heartbeat
        start it again from the database (after something its runner read at start changed)."""
        runner = self.runners.pop(session_id, None)
        if runner is not None and runner.task is not None:
            runner.task.cancel()
            await asyncio.gather(runner.task, return_exceptions=True)
        if self.running:
            await self.maintain()

    async def move_meeting(self, session_id: str, *, old_ref: str, new_ref: str) -> bool:
        """Point a session at another reference for its meeting (a Teams join URL becomes its
        chat id) while it still names ``old_ref``, and restart its runner; True if moved."""

        async def move(connection: AsyncConnection) -> bool:
            # One session row; re-run whole on a deadlock or serialization failure (Teams'
            # _resolve_session comes here while the heartbeat renews the same row).
            return await store_sessions.move_meeting(
                connection, session_id, old_ref=old_ref, new_ref=new_ref
            )

        moved = await in_transaction(self.writing, move)
        if moved:
            await self.restart_session(session_id)
        return moved

    def _start_runner(self, session_id: str) -> None:
        runner = SessionRunner(self, session_id)
        self.runners[session_id] = runner
        runner.task = asyncio.create_task(runner.run(), name=f"facilbot-session-{session_id}")

    async def _start_listening(self) -> None:
        """LISTEN for control changes written through any instance (PostgreSQL only)."""
        try:
            import asyncpg  # type: ignore[import-untyped]

            url = self.db.engine.url.set(drivername="postgresql")
            dsn = url.render_as_string(hide_password=False)
            self._listen = await asyncpg.connect(dsn)
            await self._listen.add_listener(store_controls.CONTROL_CHANNEL, self._on_notify)
        except Exception as error:
            # The periodic version check still delivers controls, only later.
            log.warning(
                "LISTEN unavailable (%s); relying on the periodic check", type(error).__name__
            )
            self._listen = None

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        session_id = payload.split(" ", 1)[0]
        self._forget_controls(session_id)
        runner = self.runners.get(session_id)
        if runner is not None:
            runner.poke()

    async def settle(self) -> None:
        """Return once every runner is asleep (the virtual clock waits on this in tests)."""
        for _ in range(1000):
            for _ in range(5):
                await asyncio.sleep(0)
            busy = [
                r
                for r in self.runners.values()
                if r.task and not r.task.done() and not r.idle.is_set()
            ]
            if not busy:
                return
            await asyncio.wait([asyncio.ensure_future(r.idle.wait()) for r in busy], timeout=5)

    def on_fired(self, fired: Fired) -> None:
        self.counters[fired.status] += 1
        self.hub.publish(
            fired.session_id,
            {
                "type": "fired",
                "key": fired.key,
                "what": fired.what,
                "status": fired.status,
                "channel": fired.channel,
            },
        )
        if self._on_fired is not None:
            try:
                self._on_fired(fired)
            except Exception as error:
                # An observer's failure (a closed pipe under the demo, say) must never stop
                # the session's runner.
                log.warning("on_fired observer failed (%s)", type(error).__name__)

    # -- shows -----------------------------------------------------------------------------

    async def upload_show(
        self, name: str, text: str, by: str, *, loaded: LoadedShow | None = None
    ) -> tuple[store_shows.ShowVersionRecord, LoadedShow]:
        """Validate and store a show version (same text twice gives the same version).

        ``loaded`` is ``text`` already parsed by the caller, so it is not parsed twice;
        otherwise it is parsed in a worker thread, off the event loop.
        """
        if loaded is None or loaded.text != text:
            loaded = await asyncio.to_thread(load_show_text, text, f"{name}.yaml")
        async with self.writing() as connection:
            record, _created = await store_shows.save_show_version(
                connection,
                name=name,
                yaml_text=text,
                title=loaded.show.title,
                uploaded_at=self.clock.now(),
                uploaded_by=by,
            )
        self._shows[record.id] = loaded.show
        return record, loaded

    async def show_for_version(self, version_id: int) -> Show:
        show = self._shows.get(version_id)
        if show is not None:
            return show
        # One load per version however many ask at once: a thousand runners of one show
        # starting together parsed it a thousand times (in threads, still holding the GIL).
        pending = self._show_loads.get(version_id)
        if pending is None:
            pending = asyncio.ensure_future(self._load_show(version_id))
            self._show_loads[version_id] = pending
            pending.add_done_callback(lambda _: self._show_loads.pop(version_id, None))
        return await asyncio.shield(pending)

    async def _load_show(self, version_id: int) -> Show:
        show = self._shows.get(version_id)
        if show is None:
            async with reading(self.db.engine) as connection:
                record = await store_shows.get_show_version(connection, version_id)
            if record is None:
                raise UnknownShowVersion(f"no show version {version_id}")
            # Parsing a long show takes milliseconds: keep it off the event loop.
            loaded = await asyncio.to_thread(
                load_show_text, record.yaml_text, f"{record.name}.yaml"
            )
            show = loaded.show
            self._shows[version_id] = show
            while len(self._shows) > 256:
                self._shows.popitem(last=False)
        return show

    # -- sessions --------------------------------------------------------------------------

    async def attach(
        self,
        show_version_id: int,
        platform: str,
        meeting_ref: str,
        *,
        planned_start: datetime | None = None,
        producers: Sequence[Mapping[str, str]] = (),
        recurring_ref: str | None = None,
        by: str,
        replace: bool = False,
    ) -> str:
        if platform not in self.adapters:
            enabled = ", ".join(sorted(self.adapters)) or "none"
            raise UnknownPlatform(
                f"platform {platform!r} is not configured on this server (enabled: {enabled})"
            )
        meeting_ref = meeting_ref.strip()
        if not meeting_ref or len(meeting_ref) > 200:
            raise ControlRefused("meeting_ref must be 1–200 characters")
        await self.show_for_version(show_version_id)

        async def create(connection: AsyncConnection) -> str:
            session_id = await attach_session(
                connection,
                show_version_id=show_version_id,
                platform=platform,
                meeting_ref=meeting_ref,
                at=self.clock.now(),
                by=by,
                planned_start=planned_start,
                producers=producers,
                recurring_ref=recurring_ref,
                replace=replace,
            )
            return session_id

        session_id = await in_transaction(self.writing, create)
        if self.running:
            await self.maintain()
        return session_id

    async def controls(self, session_id: str) -> list[Control]:
        cached = self._controls.get(session_id)
        if cached is not None:
            return cached
        generation = self._generations[session_id]
        records = await self._control_reads.submit(session_id)
        controls = [to_control(r.kind, r.payload, r.at) for r in records if r.kind != "attach"]
        if self._generations[session_id] == generation:
            self._controls[session_id] = controls
        return controls

    async def _read_controls(
        self, session_ids: list[str]
    ) -> Mapping[str, list[store_controls.ControlRecord]]:
        async with reading(self.db.engine) as connection:
            return await store_controls.controls_for_many(connection, session_ids)

    async def _read_runners(
        self, session_ids: list[str]
    ) -> Mapping[str, tuple[store_sessions.SessionRecord | None, list[FiringRecord]]]:
        """What starting runners read: their session rows and their firings, in one read."""
        async with reading(self.db.engine) as connection:
            records = await store_sessions.get_sessions(connection, session_ids)
            firings = await store_firings.firings_for_many(connection, session_ids)
        return {sid: (records.get(sid), firings.get(sid, [])) for sid in session_ids}

    def _forget_controls(self, session_id: str) -> None:
        self._controls.pop(session_id, None)
        self._generations[session_id] += 1

    async def control(self, session_id: str, kind: str, payload: Mapping[str, Any], by: str) -> int:
        """Append a control to the session's log; the owner re-derives its timeline."""
        if kind not in CONTROL_KINDS:
            raise ControlRefused(
                f"unknown control {kind!r}; choose one of {', '.join(CONTROL_KINDS)}"
            )
        async with reading(self.db.engine) as connection:
            record = await store_sessions.get_session(connection, session_id)
        if record is None:
            raise UnknownSession(session_id)
        if record.status == "ended":
            raise ControlRefused("the session has ended")
        show = await self.show_for_version(record.show_version_id)
        clean = _check_payload(kind, payload, show)
        now = self.clock.now()
        controls = await self.controls(session_id)
        started = any(isinstance(c, Start) for c in controls)
        if kind != "start" and kind != "end" and not started:
            raise ControlRefused(f"the show has not started; '{kind}' needs a running show")
        if kind == "start" and started:
            raise ControlRefused("the show has already started")
        plan = live_plan(show, controls, now)
        if plan.status == "ended":
            raise ControlRefused("the show has ended")
        if kind == "pause" and plan.status == "paused":
            raise ControlRefused("the show is already paused")
        if kind == "resume" and plan.status != "paused":
            raise ControlRefused("the show is not paused")
        if kind == "replan":
            clean = _accept_replan(show, controls, now, clean)
        if kind == "fire":
            item = plan.item(clean["key"])
            if item is None or item.origin != "show":
                keys = ", ".join(i.key for i in plan.items if i.state == "upcoming")[:300]
                raise ControlRefused(f"no upcoming cue {clean['key']!r}; upcoming: {keys}")
            if item.state != "upcoming":
                raise ControlRefused(f"cue {clean['key']!r} is {item.state}, not upcoming")
        # The planner says when a control would change nothing (e.g. jump to the current
        # segment): refuse it with its reason instead of logging a no-op.
        proposed = to_control(kind, clean, now)
        tried = live_plan(show, [*controls, proposed], now)
        for ignored in tried.ignored:
            if ignored.index == len(controls):
                raise ControlRefused(ignored.reason)

        async def append(connection: AsyncConnection) -> int:
            seq = await store_controls.append_control(connection, session_id, kind, clean, now, by)
            await outbox.add(
                connection,
                "control.applied",
                {
                    "session_id": session_id,
                    "seq": seq,
                    "kind": kind,
                    "payload": clean,
                    "by": by,
                    "at": now,
                },
                at=now,
                session_id=session_id,
            )
            return seq

        seq = await in_transaction(self.writing, append)
        self._forget_controls(session_id)
        self._versions.pop(session_id, None)
        runner = self.runners.get(session_id)
        if runner is not None:
            runner.poke()
        self.hub.publish(session_id, {"type": "control", "kind": kind, "seq": seq, "by": by})
        if kind != "replan":
            await self._auto_replan(session_id, show, now)
        return seq

    async def _auto_replan(self, session_id: str, show: Show, now: datetime) -> None:
        """The producer chose "always accept for this session": take the standing proposal."""
        proposal = propose(show, await self.controls(session_id), now)
        if proposal is not None and proposal.auto and proposal.options[0].changes:
            await self.control(session_id, "replan", {"option": 0}, "replan:auto")

    async def mark_running(self, session_id: str, at: datetime) -> None:
        # Batched: every session started on the hour turns "running" at the same instant.
        if await self._runnings.submit((session_id, at)):
            self.hub.publish(session_id, {"type": "status", "status": "running"})

    async def mark_ended(self, session_id: str, at: datetime) -> None:
        # Batched too: sessions started on the hour end together, and a transaction each
        # (status, event, presence) queued ahead of other sessions' cues.
        if await self._endings.submit((session_id, at)):
            self.hub.publish(session_id, {"type": "status", "status": "ended"})

    async def _mark_running_many(
        self, connection: AsyncConnection, requests: list[tuple[str, datetime]]
    ) -> list[bool]:
        return await _move_sessions(connection, requests, "running", "session.started")

    async def _mark_ended_many(
        self, connection: AsyncConnection, requests: list[tuple[str, datetime]]
    ) -> list[bool]:
        changed = await _move_sessions(connection, requests, "ended", "session.ended")
        # Leaves that arrive after the end (Zoom sends meeting.ended first at times) find no
        # live session: close everyone's presence at the end instead.
        await store_participants.close_presence_many(
            connection,
            {sid: at for (sid, at), moved in zip(requests, changed, strict=True) if moved},
        )
        return changed

    async def acknowledge(self, session_id: str, firing_id: int, by: str) -> bool:
        """The producer pressed "done" on a cue (or the bridge confirmed it)."""
        async with self.writing() as connection:
            firing = await store_firings.get_firing(connection, firing_id)
            if firing is None or firing.session_id != session_id:
                raise UnknownFiring(f"no firing {firing_id} in session {session_id}")
            done = await store_firings.acknowledge_firing(
                connection, firing_id, by=by, at=self.clock.now()
            )
        if done:
            self.hub.publish(session_id, {"type": "acknowledged", "firing_id": firing_id, "by": by})
        return done

    async def state(self, session_id: str) -> SessionState:
        async with reading(self.db.engine) as connection:
            record = await store_sessions.get_session(connection, session_id)
            if record is None:
                raise UnknownSession(session_id)
            show = await self.show_for_version(record.show_version_id)
            return await build_state(
                connection,
                record,
                show,
                await self.controls(session_id),
                self.clock.now(),
                bridge_connected=self.hub.bridge_connected(session_id),
            )

    # -- inbound events --------------------------------------------------------------------

    async def accept(self, events: Sequence[InboundEvent]) -> list[InboundEvent]:
        """Persist verified events once each; returns those not seen before (to ``ingest``).

        The stored payload is the normalised event (``facilbot.store.inbound``), so an event
        persisted but not processed before a stop is processed on the next start; never the
        platform's raw body, its signature or a token.
        """
        now = self.clock.now()
        rows = [
            {
                "platform": str(event.platform),
                "event_id": event.event_id,
                "type": type(event).__name__,
                "meeting_ref": event.meeting_ref,
                "payload": encode_event(event),
                "received_at": now,
            }
            for event in events
        ]
        async with self.writing() as connection:
            stored = await store_events.record_platform_events(connection, rows)
        fresh: list[InboundEvent] = []
        for event in events:
            key = (str(event.platform), event.event_id)
            if key in stored:
                stored.discard(key)  # the same event twice in one batch: the first is new
                fresh.append(event)
            else:
                self.counters["duplicate_events"] += 1
        return fresh

    async def processed(self, event: InboundEvent) -> None:
        async with self.writing() as connection:
            await store_events.mark_event_processed(
                connection, str(event.platform), event.event_id, self.clock.now()
            )

    async def ingest(self, event: InboundEvent) -> list[str]:
        """Apply one verified, de-duplicated platform event to the sessions on its meeting."""
        async with reading(self.db.engine) as connection:
            sessions = await store_sessions.sessions_for_meeting(
                connection, str(event.platform), event.meeting_ref
            )
        touched = []
        for record in sessions:
            await self._apply(record, event)
            touched.append(record.id)
            runner = self.runners.get(record.id)
            if runner is not None:
                runner.poke()
        return touched

    async def _apply(self, record: store_sessions.SessionRecord, event: InboundEvent) -> None:
        session_id = record.id
        at = self.clock.now()
        if isinstance(event, MeetingStarted):
            if not any(isinstance(c, Start) for c in await self.controls(session_id)):
                await self.control(session_id, "start", {}, f"{event.platform}:meeting.started")
            return
        if isinstance(event, MeetingEnded):
            if record.status != "ended":
                await self.control(session_id, "end", {}, f"{event.platform}:meeting.ended")
            return
        if isinstance(event, ChatCommand):
            await self._command(record, event)
            return
        async with self.writing() as connection:
            if isinstance(event, ParticipantJoined):
                person = event.participant
                pid = await store_participants.upsert_participant(
                    connection,
                    session_id,
                    person.id,
                    name=person.name,
                    seen_at=at,
                    email=person.email,
                    role=str(person.role),
                    attributes=dict(person.attributes),
                )
                await store_participants.participant_joined(connection, pid, at, event.room)
            elif isinstance(event, ParticipantLeft | ParticipantMovedToRoom):
                known = await store_participants.participant_id(
                    connection, session_id, event.participant_id
                )
                if known is not None:
                    await store_participants.participant_left(connection, known, at)
                    if isinstance(event, ParticipantMovedToRoom):
                        await store_participants.participant_joined(
                            connection, known, at, event.room
                        )
            elif isinstance(event, ChatMessage):
                await activity.add_chat_message(
                    connection,
                    session_id,
                    sender_name=event.sender_name,
                    text=event.text,
                    at=at,
                    participant_ref=event.sender_id,
                    platform_message_id=event.event_id,
                )
                if await self._commitments_open(
                    connection, session_id
                ) and await journey_commitments.capture_from_chat(
                    connection,
                    session_id,
                    event.sender_id,
                    name=event.sender_name,
                    text=event.text,
                    at=at,
                ):
                    await outbox.add(
                        connection,
                        "commitment.created",
                        {
                            "session_id": session_id,
                            "participant_ref": event.sender_id,
                            "name": event.sender_name,
                            "text": event.text.strip()[:2000],
                            "source": "chat",
                            "at": at,
                        },
                        at=at,
                        session_id=session_id,
                    )
                    self.hub.publish(session_id, {"type": "commitment", "name": event.sender_name})
            elif isinstance(event, PollAnswer):
                await activity.record_poll_answer(
                    connection, session_id, event.poll_key, event.participant_id, event.choices, at
                )
        self.hub.publish(session_id, {"type": "event", "event": type(event).__name__})

    async def _commitments_open(self, connection: Any, session_id: str) -> bool:
        return await journey_commitments.window_open(connection, session_id)

    async def _command(self, record: store_sessions.SessionRecord, command: ChatCommand) -> None:
        await answer.handle_command(self, record, command)

    async def show_replan(self, record: store_sessions.SessionRecord, show: Show) -> str:
        """``/fb replan``: the standing proposal, for the chat and the producer's console."""
        proposal = propose(show, await self.controls(record.id), self.clock.now())
        if proposal is None:
            text = "no re-plan needed: the session is heading for its planned end"
        else:
            choices = " · ".join(f"{n}) {o.label}" for n, o in enumerate(proposal.options, 1))
            text = f"running {proposal.late_by // 60}m late: {choices}; /fb replan accept N"
        self.hub.publish(record.id, {"type": "replan", "text": text})
        return text


def _accept_replan(
    show: Show, controls: Sequence[Control], now: datetime, clean: Mapping[str, Any]
) -> dict[str, Any]:
    """The option the producer took, as the lengths themselves: a restart derives the same
    plan from the log whatever the re-planner would propose then."""
    proposal = propose(show, controls, now)
    if proposal is None:
        raise ControlRefused("no re-plan to accept: the session is heading for its planned end")
    index = clean["option"]
    if index >= len(proposal.options):
        raise ControlRefused(
            f"the proposal has {len(proposal.options)} option(s); 'option' counts from 0"
        )
    option = proposal.options[index]
    if not option.changes:
        raise ControlRefused(f"option {index} changes nothing ({option.label}); dismiss instead")
    return {"durations": option.durations, "reason": option.label[:500]}


def _check_payload(kind: str, payload: Mapping[str, Any], show: Show) -> dict[str, Any]:
    """The control's payload, checked; ControlRefused with a reason otherwise."""
    if kind == "extend":
        seconds = payload.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds == 0:
            raise ControlRefused("extend needs 'seconds': a non-zero whole number")
        if not -7200 <= seconds <= 14400:
            raise ControlRefused("extend takes between -7200 and 14400 seconds")
        return {"seconds": seconds}
    if kind == "break":
        seconds = payload.get("seconds", 600)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 60 <= seconds <= 7200:
            raise ControlRefused("break needs 'seconds' between 60 and 7200")
        return {"seconds": seconds}
    if kind == "jump":
        segment_id = payload.get("segment_id")
        ids = [s.id for s in show.segments]
        if segment_id not in ids:
            raise ControlRefused(f"jump needs 'segment_id', one of: {', '.join(ids)}")
        return {"segment_id": segment_id}
    if kind == "fire":
        key = payload.get("key")
        if not isinstance(key, str) or not key:
            raise ControlRefused("fire needs 'key': the id of a cue")
        return {"key": key}
    if kind == "replan":
        option = payload.get("option", 0)
        if isinstance(option, bool) or not isinstance(option, int) or not 0 <= option <= 9:
            raise ControlRefused("replan takes 'option': which option to accept, 0 to 9")
        return {"option": option}
    if kind == "replan_policy":
        auto = payload.get("auto", False)
        if not isinstance(auto, bool):
            raise ControlRefused("replan_policy takes 'auto': true (always accept) or false")
        return {"auto": auto}
    return {}


async def _move_sessions(
    connection: AsyncConnection, requests: list[tuple[str, datetime]], status: str, event: str
) -> list[bool]:
    """Sessions to ``status``, each at its own moment and with its ``event`` in the same
    transaction (the outbox's rule); whether each changed."""
    moments = dict(requests)
    moved = await store_sessions.set_sessions_status(connection, moments, status)
    await outbox.add_each(
        connection,
        [(event, {"session_id": sid, "at": moments[sid]}, sid, moments[sid]) for sid in moved],
    )
    changed = set(moved)
    return [sid in changed for sid, _ in requests]
