"""The engine facade: shows, sessions, controls, inbound events, and the owned runners.

One ``Engine`` per process. It owns the sessions it holds a lease on (DESIGN §5): a maintenance
pass renews the leases, adopts orphans (sessions whose owner died), and checks each owned
session's version as a safety net behind PostgreSQL ``NOTIFY``. The database is the truth;
timers only wake runners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine.batch import ClaimBatcher, OutcomeBatcher
from facilbot.engine.clock import Clock, VirtualClock
from facilbot.engine.commands import CommandRefused, may_steer, parse_control
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
from facilbot.store import activity, leases
from facilbot.store import controls as store_controls
from facilbot.store import events as store_events
from facilbot.store import firings as store_firings
from facilbot.store import participants as store_participants
from facilbot.store import sessions as store_sessions
from facilbot.store import shows as store_shows
from facilbot.store.db import Database, reading
from facilbot.store.inbound import encode_event
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

log = logging.getLogger("facilbot.engine")

CONTROL_KINDS = ("start", "pause", "resume", "extend", "skip", "jump", "fire", "break", "end")
PLATFORMS = ("sim", "zoom", "teams")
ADOPT_LIMIT = 2000


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
    ) -> None:
        self.db = db
        self.clock = clock
        self.instance_id = instance_id
        self.adapters: dict[str, MeetingAdapter] = dict(adapters or {})
        # Per platform, carriers that replace the service's own bridge/companion channels
        # (the simulator brings its own, so simulated people see what the bridge does).
        self.channel_overrides = {k: dict(v) for k, v in (channel_overrides or {}).items()}
        self.lease_seconds = lease_seconds
        self.channel_timeout = channel_timeout
        self.maintenance_interval = maintenance_interval or max(lease_seconds / 3, 0.2)
        self.hub = LiveHub()
        # Runners woken at the same instant claim (and record outcomes) in one transaction.
        # SQLite has one writer at a time; writers that collide wait in its busy handler,
        # which sleeps in steps of up to 100 ms. Queue this process's own writers on an
        # asyncio lock instead, so they take turns without sleeping.
        self._write_lock = asyncio.Lock() if db.dialect == "sqlite" else None
        self.claims = ClaimBatcher(self.writing, instance_id, clock.now)
        self.outcomes = OutcomeBatcher(self.writing)
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
        self._listen: Any = None
        self.running = False
        if isinstance(clock, VirtualClock):
            clock.add_settler(self.settle)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite this process's writers take turns on a lock."""
        if self._write_lock is None:
            async with self.db.engine.begin() as connection:
                yield connection
            return
        async with self._write_lock, self.db.engine.begin() as connection:
            yield connection

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
            async with self.writing() as connection:
                for session_id in list(self.runners):
                    await leases.release_lease(connection, session_id, self.instance_id)
        self.runners.clear()

    async def _maintenance_loop(self) -> None:
        # Leases live on the database clock, so this loop runs on real time, not show time.
        while True:
            await asyncio.sleep(self.maintenance_interval)
            try:
                await self.maintain()
            except asyncio.CancelledError:
                raise
            except Exception as error:
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
        async with self.writing() as connection:
            kept = set(await leases.renew_leases(connection, self.instance_id, self.lease_seconds))
            # Up to ADOPT_LIMIT orphans a pass: a dead instance's sessions are taken over in
            # one heartbeat, not a hundred at a time (SKIP LOCKED splits them between
            # survivors).
            adopted = await leases.adopt_orphans(
                connection, self.instance_id, self.lease_seconds, limit=ADOPT_LIMIT
            )
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
        async with reading(self.db.engine) as connection:
            versions = await store_controls.session_versions(connection, list(self.runners))
        for session_id, version in versions.items():
            if self._versions.get(session_id) != version:
                self._versions[session_id] = version
                self._forget_controls(session_id)
                owned = self.runners.get(session_id)  # it may have ended meanwhile
                if owned is not None:
                    owned.poke()

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
    ) -> str:
        if platform not in PLATFORMS:
            raise UnknownPlatform(
                f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}"
            )
        if platform not in self.adapters:
            raise UnknownPlatform(f"platform {platform!r} is not configured on this server")
        meeting_ref = meeting_ref.strip()
        if not meeting_ref or len(meeting_ref) > 200:
            raise ControlRefused("meeting_ref must be 1–200 characters")
        await self.show_for_version(show_version_id)
        async with self.writing() as connection:
            session_id = await store_sessions.create_session(
                connection,
                show_version_id=show_version_id,
                platform=platform,
                meeting_ref=meeting_ref,
                created_at=self.clock.now(),
                planned_start=planned_start,
                producers=producers,
                recurring_ref=recurring_ref,
            )
            await store_controls.append_control(
                connection, session_id, "attach", {"platform": platform}, self.clock.now(), by
            )
        if self.running:
            await self.maintain()
        return session_id

    async def controls(self, session_id: str) -> list[Control]:
        cached = self._controls.get(session_id)
        if cached is not None:
            return cached
        generation = self._generations[session_id]
        async with reading(self.db.engine) as connection:
            records = await store_controls.controls_for(connection, session_id)
        controls = [to_control(r.kind, r.payload, r.at) for r in records if r.kind != "attach"]
        if self._generations[session_id] == generation:
            self._controls[session_id] = controls
        return controls

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
        async with self.writing() as connection:
            seq = await store_controls.append_control(connection, session_id, kind, clean, now, by)
        self._forget_controls(session_id)
        self._versions.pop(session_id, None)
        runner = self.runners.get(session_id)
        if runner is not None:
            runner.poke()
        self.hub.publish(session_id, {"type": "control", "kind": kind, "seq": seq, "by": by})
        return seq

    async def mark_running(self, session_id: str, at: datetime) -> None:
        async with self.writing() as connection:
            changed = await store_sessions.set_session_status(connection, session_id, "running", at)
        if changed:
            self.hub.publish(session_id, {"type": "status", "status": "running"})

    async def mark_ended(self, session_id: str, at: datetime) -> None:
        async with self.writing() as connection:
            changed = await store_sessions.set_session_status(connection, session_id, "ended", at)
            if changed:
                # Leaves that arrive after the end (Zoom sends meeting.ended first at times)
                # find no live session: close everyone's presence at the end instead.
                await store_participants.close_presence(connection, session_id, at)
        if changed:
            self.hub.publish(session_id, {"type": "status", "status": "ended"})

    async def acknowledge(self, session_id: str, firing_id: int, by: str) -> bool:
        """The producer pressed "done" on a cue (or the bridge confirmed it)."""
        async with self.writing() as connection:
            firing = await store_firings.get_firing(connection, firing_id)
            if firing is None or firing.session_id != session_id:
                raise UnknownFiring(f"no firing {firing_id} in session {session_id}")
            done = await store_firings.acknowledge_firing(connection, firing_id)
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
        fresh: list[InboundEvent] = []
        async with self.writing() as connection:
            for event in events:
                new = await store_events.record_platform_event(
                    connection,
                    platform=str(event.platform),
                    event_id=event.event_id,
                    type=type(event).__name__,
                    meeting_ref=event.meeting_ref,
                    payload=encode_event(event),
                    received_at=self.clock.now(),
                )
                if new:
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
                if await self._commitments_open(connection, session_id):
                    await activity.record_commitment(
                        connection,
                        session_id,
                        event.sender_id,
                        name=event.sender_name,
                        text=event.text.strip()[:2000],
                        at=at,
                    )
                    self.hub.publish(session_id, {"type": "commitment", "name": event.sender_name})
            elif isinstance(event, PollAnswer):
                await activity.record_poll_answer(
                    connection, session_id, event.poll_key, event.participant_id, event.choices, at
                )
        self.hub.publish(session_id, {"type": "event", "event": type(event).__name__})

    async def _commitments_open(self, connection: Any, session_id: str) -> bool:
        opened: set[str] = set()
        closed: set[str] = set()
        for firing in await store_firings.firings_for(connection, session_id):
            if firing.status in ("skipped", "interrupted"):
                continue
            if firing.action == "commitments_open":
                opened.add(firing.key.split("@")[0])
            elif firing.action == "commitments_close":
                closed.add(firing.key.split("@")[0])
        return bool(opened - closed)

    async def _command(self, record: store_sessions.SessionRecord, command: ChatCommand) -> None:
        show = await self.show_for_version(record.show_version_id)
        names = [*show.producers.names, *(p.get("name", "") for p in record.producers)]
        emails = [*show.producers.emails, *(p.get("email", "") for p in record.producers)]
        if not may_steer(command, names, emails):
            self.counters["command_refused"] += 1
            log.info("session %s: chat command from a non-producer ignored", record.id)
            return
        try:
            request = parse_control(command.verb, command.args)
            await self.control(
                record.id, request.kind, request.payload, f"chat:{command.sender_name}"
            )
        except (CommandRefused, ControlRefused) as refused:
            self.hub.publish(record.id, {"type": "command_refused", "reason": str(refused)})


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
    return {}
