"""Zoom in the service: the REST channel's work before and after a meeting.

``ZoomRuntime`` reads like the Teams runtime: a periodic ``sync`` over the Zoom sessions, work
spawned after the webhook's answer, timers on the engine's clock (tests move it).

* **prepare** (a new Zoom session this instance owns): the show's poll cues become Zoom polls
  on the meeting (keys are the cue ids the engine fires, ``segment.cue_id(i)``), and the first
  breakout segment or cue whose rooms are given lists is pre-assigned (``settings.breakout_room``;
  Zoom matches people by email). Zoom's refusals (an instant meeting has no polls, a meeting
  already under way takes no pre-assignment, a name without an email) are *problems* kept on the
  session's report and published on the hub: the producer sees them, attaching never fails.
  When Zoom cannot be reached at all the step is tried again, a bounded number of times.
* **occurrences**: ``meeting.started``/``meeting.ended`` webhooks carry the occurrence's UUID,
  which the past-meeting endpoints need; :meth:`ZoomRuntime.observe` keeps it per meeting. If
  none was seen, ``GET /past_meetings/{meetingId}/instances`` is asked.
* **results** (after the session ended): ``results_delay`` seconds later (Zoom's reports take a
  few minutes), the poll report and the participant report are fetched, retried with backoff up
  to ``results_attempts`` times (429, 5xx, network errors, a report not ready yet). Answers to
  polls facilbot created are written to ``poll_answers`` (the source is kept in
  ``zoom_poll_results``); the participant report is reconciled with the roster the webhooks
  showed: both, report only, webhooks only, with the seconds each side counted.

Every Zoom call is async (``integrations.zoom.rest``); a failure is recorded and reported,
never raised into the service. An attempt is claimed in the database first, so with several
instances one of them runs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from facilbot.background import BackgroundWork
from facilbot.engine.engine import Engine
from facilbot.platforms.zoom import store as zoom_store
from facilbot.store import activity
from facilbot.store import participants as store_participants
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from integrations.contract import OpenBreakouts, OpenPoll, Room
from integrations.zoom.adapter import PrepareReport, ZoomAdapter
from integrations.zoom.rest import PastParticipant, PollAnswerRecord, ZoomApiError
from integrations.zoom.webhook import ZoomEnvelope
from runofshow.model import Breakout, Poll, SegmentKind, Show

log = logging.getLogger("facilbot.zoom")


#: seconds after a session's end before Zoom's reports are asked for (they take a while)
RESULTS_DELAY = 300.0
#: fetches tried after a session ends before giving up
RESULTS_ATTEMPTS = 5
#: prepare steps tried when Zoom could not be reached
PREPARE_ATTEMPTS = 3
INSTANCE_EVENTS = frozenset({"meeting.started", "meeting.ended"})
ANONYMOUS = "Anonymous Attendee"  # Zoom's name for an anonymous poll answer
INTERRUPTED = (
    "the prepare step was interrupted (the service stopped); polls may exist on the Zoom "
    "meeting already: check them in Zoom before creating any by hand"
)


class ResultsNotReady(Exception):
    """The post-meeting fetch cannot run yet (retried like a Zoom error)."""


# -- what to prepare -------------------------------------------------------------------------


def _given_rooms(breakout: Breakout) -> tuple[Room, ...]:
    lists = breakout.assign.rooms or []
    return tuple(
        Room(f"Room {number}", tuple(entries), tuple(entries))
        for number, entries in enumerate(lists, 1)
        if entries
    )


def _looks_like_email(text: str) -> bool:
    name, _, domain = text.strip().partition("@")
    return bool(name) and "." in domain and " " not in text.strip()


def prepare_items(show: Show) -> tuple[list[OpenPoll | OpenBreakouts], dict[str, str]]:
    """The show's polls and pre-assignable rooms, in show order, and the emails among the
    given room entries (Zoom pre-assigns by email; names alone are reported as problems)."""
    items: list[OpenPoll | OpenBreakouts] = []
    emails: dict[str, str] = {}

    def add_rooms(breakout: Breakout, duration: int) -> None:
        if breakout.assign.method != "rooms":
            return  # random or mixed rooms depend on who turns up: only the bridge can do them
        rooms = _given_rooms(breakout)
        if not rooms:
            return
        for room in rooms:
            for entry in room.participant_ids:
                if _looks_like_email(entry):
                    emails[entry] = entry.strip()
        items.append(OpenBreakouts(rooms=rooms, duration=breakout.duration or duration))

    for segment in show.segments:
        if segment.kind == SegmentKind.breakout and segment.breakout is not None:
            add_rooms(segment.breakout, segment.duration)
        for index, cue in enumerate(segment.cues):
            if cue.poll is not None:
                items.append(
                    OpenPoll(
                        poll_key=segment.cue_id(index),
                        question=cue.poll.question,
                        options=tuple(cue.poll.options),
                        multiple=cue.poll.multiple,
                        anonymous=cue.poll.anonymous,
                        open_for=cue.poll.open_for,
                    )
                )
            elif cue.breakout is not None:
                add_rooms(cue.breakout, segment.duration - cue.at)
    return items, emails


def show_polls(show: Show) -> dict[str, Poll]:
    """Every poll cue of the show by its key."""
    return {
        segment.cue_id(index): cue.poll
        for segment in show.segments
        for index, cue in enumerate(segment.cues)
        if cue.poll is not None
    }


# -- occurrences -----------------------------------------------------------------------------


def zoom_time(text: str | None) -> datetime | None:
    """A Zoom timestamp (``2026-05-04T09:00:00Z`` or ``2026-05-04 09:00:00``, UTC) or None."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pick_instance(
    candidates: Sequence[tuple[str, datetime | None, datetime | None]],
    start: datetime,
    end: datetime,
    *,
    slack: timedelta = timedelta(minutes=10),
    early: timedelta = timedelta(hours=2),
) -> str | None:
    """The occurrence (uuid, started, ended) that overlaps the session ``start``–``end``,
    nearest its start; an occurrence known only by its start must have begun at most ``early``
    before the session (a recurring meeting's earlier occurrences are not it)."""
    best: tuple[float, str] | None = None
    for uuid, started, ended in candidates:
        if started is None and ended is None:
            continue
        if started is not None and started > end + slack:
            continue
        if ended is not None and ended < start - slack:
            continue
        if ended is None and started is not None and started < start - early:
            continue
        distance = abs(((started or start) - start).total_seconds())
        if best is None or distance < best[0]:
            best = (distance, uuid)
    return best[1] if best else None


# -- reconciling -----------------------------------------------------------------------------


def _seen_seconds(
    presence: Sequence[store_participants.PresenceRecord], until: datetime | None
) -> dict[int, float]:
    seconds: dict[int, float] = defaultdict(float)
    for interval in presence:
        end = interval.left_at or until
        if end is not None:
            seconds[interval.participant_id] += max(0.0, (end - interval.joined_at).total_seconds())
    return seconds


class _Roster:
    """The people the webhooks showed, found by Zoom's id, email or (unique) name."""

    def __init__(self, seen: Sequence[store_participants.ParticipantRecord]) -> None:
        self.by_ref = {p.participant_ref: p for p in seen}
        self.by_email = {p.email.strip().casefold(): p for p in seen if p.email}
        names: dict[str, list[store_participants.ParticipantRecord]] = defaultdict(list)
        for person in seen:
            if person.name.strip():
                names[person.name.strip().casefold()].append(person)
        self.by_name = {name: people[0] for name, people in names.items() if len(people) == 1}

    def find(
        self, *ids: str | None, email: str | None = None, name: str | None = None
    ) -> store_participants.ParticipantRecord | None:
        for value in ids:
            if value and value in self.by_ref:
                return self.by_ref[value]
        if email and email.strip().casefold() in self.by_email:
            return self.by_email[email.strip().casefold()]
        if name and name.strip() and name != ANONYMOUS:
            return self.by_name.get(name.strip().casefold())
        return None


def _report_seconds(row: PastParticipant) -> float | None:
    if row.duration is not None:
        return float(max(row.duration, 0))
    joined, left = zoom_time(row.join_time), zoom_time(row.leave_time)
    if joined and left:
        return max(0.0, (left - joined).total_seconds())
    return None


def reconcile_attendance(
    report: Sequence[PastParticipant],
    seen: Sequence[store_participants.ParticipantRecord],
    presence: Sequence[store_participants.PresenceRecord],
    ended_at: datetime | None,
) -> list[zoom_store.AttendanceRow]:
    """Zoom's participant report (one row per join) against the webhooks' roster."""
    roster = _Roster(seen)
    seen_seconds = _seen_seconds(presence, ended_at)
    groups: dict[str, dict[str, Any]] = {}
    for row in report:
        person = roster.find(row.id, row.user_id, email=row.email, name=row.name)
        if person is not None:
            key = f"seen:{person.id}"
        else:
            key = row.id or (row.email or "").casefold() or f"name:{row.name.casefold()}"
        group = groups.setdefault(
            key, {"person": person, "row": row, "seconds": None, "email": row.email}
        )
        seconds = _report_seconds(row)
        if seconds is not None:
            group["seconds"] = (group["seconds"] or 0.0) + seconds
        group["email"] = group["email"] or row.email
    rows: list[zoom_store.AttendanceRow] = []
    matched: set[int] = set()
    for group in groups.values():
        person = group["person"]
        row = group["row"]
        seconds = group["seconds"]
        report_seconds = round(seconds) if seconds is not None else None
        if person is not None:
            matched.add(person.id)
            rows.append(
                zoom_store.AttendanceRow(
                    participant_ref=person.participant_ref,
                    name=person.name or row.name,
                    email=person.email or group["email"],
                    report_seconds=report_seconds,
                    seen_seconds=round(seen_seconds.get(person.id, 0.0)),
                    source="both",
                )
            )
        else:
            rows.append(
                zoom_store.AttendanceRow(
                    participant_ref=row.id or row.user_id,
                    name=row.name or group["email"] or "?",
                    email=group["email"],
                    report_seconds=report_seconds,
                    seen_seconds=None,
                    source="report",
                )
            )
    for person in seen:
        if person.id not in matched:
            rows.append(
                zoom_store.AttendanceRow(
                    participant_ref=person.participant_ref,
                    name=person.name,
                    email=person.email,
                    report_seconds=None,
                    seen_seconds=round(seen_seconds.get(person.id, 0.0)),
                    source="webhooks",
                )
            )
    return rows


@dataclass(frozen=True, slots=True)
class MappedAnswer:
    """One answer from Zoom's poll report, mapped to a show cue when it belongs to one."""

    poll_key: str | None
    zoom_poll_id: str | None
    question: str
    name: str
    email: str | None
    participant_ref: str | None
    choices: tuple[str, ...]
    at: datetime | None


def _choices(answer: str, poll: Poll | None) -> tuple[str, ...]:
    if poll is None or answer in poll.options:
        return (answer,)
    if poll.multiple:
        # Zoom joins the options a person picked on a multiple-choice question with ';'
        parts = tuple(part.strip() for part in answer.split(";") if part.strip())
        if parts and all(part in poll.options for part in parts):
            return parts
    return (answer,)


def map_answers(
    records: Sequence[PollAnswerRecord],
    polls: Mapping[str, Poll],
    zoom_polls: Mapping[str, str],
    seen: Sequence[store_participants.ParticipantRecord],
) -> list[MappedAnswer]:
    """Zoom's poll answers against the show: by the Zoom poll id facilbot created (else by the
    question's text), the person by email or unique name (else a ref of their own)."""
    by_zoom_id = {zoom_id: key for key, zoom_id in zoom_polls.items()}
    questions: dict[str, list[str]] = defaultdict(list)
    for cue_key, cue_poll in polls.items():
        questions[cue_poll.question.strip().casefold()].append(cue_key)
    roster = _Roster(seen)
    anonymous: dict[str | None, int] = defaultdict(int)
    mapped: list[MappedAnswer] = []
    for record in records:
        key: str | None = by_zoom_id.get(record.polling_id or "")
        if key is None:
            same = questions.get(record.question.strip().casefold(), [])
            key = same[0] if len(same) == 1 else None
        poll = polls.get(key) if key else None
        person = roster.find(email=record.email, name=record.name)
        if person is not None:
            ref = person.participant_ref
        elif record.email:
            ref = f"zoom:{record.email.strip().casefold()}"
        elif record.name and record.name != ANONYMOUS:
            ref = f"zoom:{record.name.strip()}"
        else:
            anonymous[key] += 1
            ref = f"zoom-anonymous-{anonymous[key]}"
        mapped.append(
            MappedAnswer(
                poll_key=key,
                zoom_poll_id=record.polling_id,
                question=record.question,
                name=record.name,
                email=record.email,
                participant_ref=ref[:200],
                choices=_choices(record.answer, poll),
                at=zoom_time(record.date_time),
            )
        )
    return mapped


# -- the runtime -----------------------------------------------------------------------------


class ZoomRuntime(BackgroundWork):
    """The Zoom REST channel's work while the service runs (one per process)."""

    def __init__(
        self,
        engine: Engine,
        adapter: ZoomAdapter,
        *,
        sync_interval: float | None = 15.0,
        results_delay: float = RESULTS_DELAY,
        results_attempts: int = RESULTS_ATTEMPTS,
        results_backoff: float = 300.0,
        results_backoff_cap: float = 3600.0,
        prepare_attempts: int = PREPARE_ATTEMPTS,
        prepare_backoff: float = 60.0,
        call_deadline: float = 30.0,
        stale_prepare: float = 600.0,
        recent: timedelta = timedelta(days=2),
    ) -> None:
        super().__init__(engine.clock, label="Zoom", log=log, sync_interval=sync_interval)
        self.engine = engine
        self.adapter = adapter
        self.clock = engine.clock
        self.results_delay = results_delay
        self.results_attempts = results_attempts
        self.results_backoff = results_backoff
        self.results_backoff_cap = results_backoff_cap
        self.prepare_attempts = prepare_attempts
        self.prepare_backoff = prepare_backoff
        self.call_deadline = call_deadline
        self.stale_prepare = stale_prepare
        self.recent = recent
        self._running: set[str] = set()  # "prepare:<id>" / "results:<id>" under way here
        self._timers: dict[str, tuple[datetime, asyncio.Task[None]]] = {}

    # -- life ------------------------------------------------------------------------------

    async def stop(self) -> None:
        await self._cancel([task for _, task in self._timers.values()])
        self._timers.clear()
        self._running.clear()

    def _failed(self, name: str, error: Exception) -> None:
        self.count("failed")
        super()._failed(name, error)

    def _wake_at(self, name: str, when: datetime) -> None:
        """Sync again at ``when`` on the engine's clock (one timer per name)."""
        known = self._timers.get(name)
        if known is not None and known[0] == when and not known[1].done():
            return
        if known is not None:
            known[1].cancel()

        async def wake() -> None:
            await self.clock.sleep_until(when)
            self._timers.pop(name, None)
            self.spawn(self.sync(), "sync")

        self._timers[name] = (when, asyncio.create_task(wake(), name=f"facilbot-zoom-{name}"))

    # -- webhooks --------------------------------------------------------------------------

    async def observe(self, envelope: ZoomEnvelope) -> None:
        """Keep the occurrence UUID a verified ``meeting.started``/``ended`` carries. Raises
        what the database raised, so the route answers 503 and Zoom delivers it again."""
        if envelope.event not in INSTANCE_EVENTS:
            return
        uuid = envelope.meeting_uuid
        ref = envelope.object.get("id")
        if uuid is None or isinstance(ref, bool) or not isinstance(ref, str | int):
            return
        # event_ts is when the event occurred (Zoom's docs); it dates this side of the
        # occurrence, the other side comes from its own event
        started = envelope.occurred_at if envelope.event == "meeting.started" else None
        ended = envelope.occurred_at if envelope.event == "meeting.ended" else None
        async with self.engine.db.engine.begin() as connection:
            await zoom_store.remember_instance(
                connection,
                uuid,
                str(ref),
                at=self.clock.now(),
                started_at=started,
                ended_at=ended,
            )
        self.count("instances_seen")

    # -- sync ------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Prepare new owned Zoom sessions; schedule and run the post-meeting fetches."""
        async with self._sync_lock, self._working():
            now = self.clock.now()
            async with reading(self.engine.db.engine) as connection:
                stale = await zoom_store.stale_prepares(
                    connection, now - timedelta(seconds=self.stale_prepare)
                )
            if stale:  # rare: read first, so an idle sync writes nothing
                async with self.engine.db.engine.begin() as connection:
                    await zoom_store.interrupt_prepares(connection, stale, INTERRUPTED)
            for session_id in stale:
                self.engine.hub.publish(
                    session_id,
                    {"type": "zoom_prepare", "status": "interrupted", "problems": [INTERRUPTED]},
                )
            async with reading(self.engine.db.engine) as connection:
                rows = await store_sessions.platform_sessions(
                    connection, "zoom", ended_since=now - self.recent
                )
                known = {
                    r.session_id: r
                    for r in await zoom_store.reports(connection, [row.id for row in rows])
                }
            for row in rows:
                found = known.get(row.id)
                if row.status != "ended":
                    self._consider_prepare(row, found, now)
                elif row.ended_at is not None:
                    await self._consider_results(row, found, now)

    def _consider_prepare(
        self,
        row: store_sessions.SessionRecord,
        found: zoom_store.ReportRecord | None,
        now: datetime,
    ) -> None:
        if not self.engine.owns(row.id):
            return  # another instance owns it
        if found is not None:
            retry = found.prepare_next_try_at
            if (
                found.prepare_status != "done"
                or retry is None
                or found.prepare_attempts >= self.prepare_attempts
            ):
                return
            if retry > now:
                self._wake_at(f"prepare:{row.id}", retry)
                return
        name = f"prepare:{row.id}"
        if name not in self._running:
            self._running.add(name)
            self.spawn(self._prepare(row.id, row.meeting_ref, row.show_version_id), name)

    async def _consider_results(
        self,
        row: store_sessions.SessionRecord,
        found: zoom_store.ReportRecord | None,
        now: datetime,
    ) -> None:
        if found is not None and (
            found.results_done_at is not None or found.results_attempts >= self.results_attempts
        ):
            return
        assert row.ended_at is not None  # only ended sessions get here
        first = row.ended_at + timedelta(seconds=self.results_delay)
        if found is None or found.results_next_try_at is None:
            async with self.engine.db.engine.begin() as connection:
                await zoom_store.ensure_results_scheduled(connection, row.id, first)
            async with reading(self.engine.db.engine) as connection:
                found = await zoom_store.report(connection, row.id)
            if found is None:
                return
        due = found.results_next_try_at or first
        if due > now:
            self._wake_at(f"results:{row.id}", due)
            return
        name = f"results:{row.id}"
        if name not in self._running:
            self._running.add(name)
            self.spawn(self._results(row.id), name)

    # -- prepare ---------------------------------------------------------------------------

    async def _prepare(self, session_id: str, meeting_ref: str, version_id: int) -> None:
        name = f"prepare:{session_id}"
        try:
            now = self.clock.now()
            async with self.engine.db.engine.begin() as connection:
                claimed = await zoom_store.claim_prepare(
                    connection, session_id, now, max_attempts=self.prepare_attempts
                )
                found = await zoom_store.report(connection, session_id)
            if not claimed or found is None:
                return
            show = await self.engine.show_for_version(version_id)
            items, emails = prepare_items(show)
            if not items:
                report = PrepareReport()  # nothing to do on Zoom: no call at all
            else:
                try:
                    report = await self.adapter.prepare(meeting_ref, items, emails=emails)
                except Exception as error:  # a bug must not leave the step "preparing"
                    log.warning("Zoom prepare failed (%s)", type(error).__name__)
                    report = PrepareReport(
                        problems=(f"cannot read meeting {meeting_ref}: {type(error).__name__}",),
                        unreachable=True,
                    )
            retry_at = None
            if report.unreachable and found.prepare_attempts < self.prepare_attempts:
                wait = self.prepare_backoff * 2 ** (found.prepare_attempts - 1)
                retry_at = self.clock.now() + timedelta(seconds=wait)
            async with self.engine.db.engine.begin() as connection:
                await zoom_store.finish_prepare(
                    connection,
                    session_id,
                    at=self.clock.now(),
                    polls=report.polls,
                    breakouts_assigned=report.breakouts_assigned,
                    problems=report.problems,
                    retry_at=retry_at,
                )
            self.count("prepared" if not report.problems else "prepared_with_problems")
            self.engine.hub.publish(
                session_id,
                {
                    "type": "zoom_prepare",
                    "status": "retrying" if retry_at else "done",
                    "polls": dict(report.polls),
                    "breakouts_assigned": report.breakouts_assigned,
                    "problems": list(report.problems),
                },
            )
            if retry_at is not None:
                self._wake_at(name, retry_at)
        finally:
            self._running.discard(name)

    # -- results ---------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> timedelta:
        seconds = min(self.results_backoff * 2 ** (attempt - 1), self.results_backoff_cap)
        return timedelta(seconds=seconds)

    async def _results(self, session_id: str) -> None:
        name = f"results:{session_id}"
        try:
            now = self.clock.now()
            async with self.engine.db.engine.begin() as connection:
                done = await zoom_store.report(connection, session_id)
                attempt = await zoom_store.claim_results(
                    connection,
                    session_id,
                    now,
                    max_attempts=self.results_attempts,
                    retry_after=self._backoff((done.results_attempts if done else 0) + 1),
                )
            if attempt is None:
                return  # not due, finished, or another instance took this attempt
            async with reading(self.engine.db.engine) as connection:
                record = await store_sessions.get_session(connection, session_id)
                found = await zoom_store.report(connection, session_id)
            if record is None or found is None:
                return
            try:
                await self._fetch(record, found, attempt)
            except Exception as error:
                if isinstance(error, ZoomApiError | ResultsNotReady):
                    reason = str(error)
                else:  # the type only: a message may quote what Zoom sent about people
                    reason = f"unexpected {type(error).__name__}"
                    log.warning("Zoom results for %s failed (%s)", session_id, reason)
                final = attempt >= self.results_attempts
                async with self.engine.db.engine.begin() as connection:
                    await zoom_store.fail_results(connection, session_id, reason, final=final)
                self.count("results_failed" if final else "results_retrying")
                self.engine.hub.publish(
                    session_id,
                    {
                        "type": "zoom_report",
                        "status": "failed" if final else "retrying",
                        "attempt": attempt,
                        "error": reason[:300],
                    },
                )
                if not final:
                    self._wake_at(name, now + self._backoff(attempt))
        finally:
            self._running.discard(name)

    async def _meeting_uuid(self, record: store_sessions.SessionRecord) -> str:
        start = record.started_at or record.created_at
        end = record.ended_at or self.clock.now()
        async with reading(self.engine.db.engine) as connection:
            seen = await zoom_store.instances_for(connection, record.meeting_ref)
        chosen = pick_instance([(i.uuid, i.started_at, i.ended_at) for i in seen], start, end)
        if chosen is not None:
            return chosen
        if not record.meeting_ref.isdigit():
            raise ResultsNotReady(f"{record.meeting_ref!r} is not a Zoom meeting id")
        past = await self.adapter.client.past_instances(
            record.meeting_ref, deadline=self.call_deadline
        )
        chosen = pick_instance([(p.uuid, zoom_time(p.start_time), None) for p in past], start, end)
        if chosen is None:
            raise ResultsNotReady(
                "the meeting occurrence is not known yet (no meeting.started/ended webhook, "
                "and Zoom lists no past occurrence at the session's time)"
            )
        async with self.engine.db.engine.begin() as connection:
            started = next((zoom_time(p.start_time) for p in past if p.uuid == chosen), None)
            await zoom_store.remember_instance(
                connection, chosen, record.meeting_ref, at=self.clock.now(), started_at=started
            )
        return chosen

    async def _fetch(
        self, record: store_sessions.SessionRecord, found: zoom_store.ReportRecord, attempt: int
    ) -> None:
        uuid = found.meeting_uuid or await self._meeting_uuid(record)
        client = self.adapter.client
        last = attempt >= self.results_attempts
        notes: list[str] = []
        # A 404 is "not ready yet" until the last attempt; then what Zoom has is kept. (Zoom
        # also has no participant report when only one person attended.)
        try:
            people = await client.past_participants(uuid, deadline=self.call_deadline)
        except ZoomApiError as error:
            if error.status != 404 or not last:
                raise
            people = []
            notes.append(f"no participant report from Zoom ({error})")
        try:
            answers = await client.past_polls(uuid, deadline=self.call_deadline)
        except ZoomApiError as error:
            if error.status != 404 or (found.polls and not last):
                raise
            answers = []  # with no poll facilbot created, no poll report loses nothing
            if found.polls:
                notes.append(f"no poll report from Zoom ({error})")
        show = await self.engine.show_for_version(record.show_version_id)
        async with reading(self.engine.db.engine) as connection:
            seen = await store_participants.participants_for(connection, record.id)
            presence = await store_participants.presence_for(connection, record.id)
        mapped = map_answers(answers, show_polls(show), found.polls, seen)
        attendance = reconcile_attendance(people, seen, presence, record.ended_at)
        at = self.clock.now()
        fallback_at = record.ended_at or at
        rows: list[zoom_store.PollResultRow] = []
        async with self.engine.db.engine.begin() as connection:
            for answer in mapped:
                stored = False
                if answer.poll_key is not None and answer.participant_ref is not None:
                    stored = await activity.record_poll_answer(
                        connection,
                        record.id,
                        answer.poll_key,
                        answer.participant_ref,
                        answer.choices,
                        answer.at or fallback_at,
                    )
                rows.append(
                    zoom_store.PollResultRow(
                        poll_key=answer.poll_key,
                        zoom_poll_id=answer.zoom_poll_id,
                        question=answer.question,
                        name=answer.name,
                        email=answer.email,
                        participant_ref=answer.participant_ref,
                        answer=answer.choices,
                        answered_at=answer.at,
                        stored=stored,
                    )
                )
            await zoom_store.store_results(
                connection,
                record.id,
                zoom_store.Results(polls=rows, attendance=attendance),
                at=at,
                meeting_uuid=uuid,
                note="; ".join(notes) or None,
            )
        self.count("results_done")
        sources: dict[str, int] = defaultdict(int)
        for person in attendance:
            sources[person.source] += 1
        self.engine.hub.publish(
            record.id,
            {
                "type": "zoom_report",
                "status": "done",
                "answers": len(rows),
                "answers_stored": sum(1 for row in rows if row.stored),
                "attendance": dict(sources),
            },
        )


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
