"""Teams in the service: the bot's credentials and checkers, Graph subscriptions, attendance.

``TeamsRuntime`` holds what the Teams webhook routes need (``BotAuthenticator``, the Graph
``ValidationTokenChecker``, the encryption key for rich notifications, the ``TeamsAdapter``
the engine carries actions with) and keeps each owned Teams session's meeting chat wired:

* **sync** (periodic, and after meeting start/end): for each Teams session this instance runs,
  resolve a join URL to the meeting chat (``chatInfo.threadId``; the session's ``meeting_ref``
  is rewritten before the show starts), install the app into the chat when a catalog id is set,
  and subscribe to the chat's messages; when no running session is left on a chat, delete its
  subscription; after a session ends, fetch the attendance report and reconcile it with the
  roster the bot saw.
* **renewal**: every subscription is renewed ``renew_margin`` seconds before it expires, on the
  engine's clock (tests move it); a subscription Graph no longer knows is created again.
* **lifecycle notifications**: ``reauthorizationRequired`` → reauthorize and renew;
  ``subscriptionRemoved`` → create again and resync; ``missed`` → resync (the chat's latest
  messages go through the same de-duplicated ingest, so nothing is applied twice).

The Graph SDK (``msgraph``) is imported only when Graph is first used, in a worker thread, so
neither the service's start-up nor the event loop pays for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from facilbot.background import BackgroundWork
from facilbot.engine.engine import Engine
from facilbot.platforms.teams import store as teams_store
from facilbot.platforms.teams.settings import TeamsSettings
from facilbot.settings import SettingsError
from facilbot.store import participants as store_participants
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from facilbot.webhooks.ingest import WebhookIngest
from integrations.contract import InboundEvent, PollAnswer
from integrations.teams.activities import MEETING_START, teams_meeting_id
from integrations.teams.activities import meeting_ref as activity_meeting_ref
from integrations.teams.adapter import TeamsAdapter
from integrations.teams.botauth import BotAuthenticator
from integrations.teams.connector import BotConnectorClient
from integrations.teams.entra import BOT_FRAMEWORK_SCOPE, GRAPH_SCOPE, EntraTokenProvider
from integrations.teams.graph import AttendanceRecord, GraphError, MeetingInfo, TeamsGraph
from integrations.teams.notifications import (
    LifecycleEvent,
    NotificationError,
    ValidationTokenChecker,
    chat_event,
)

log = logging.getLogger("facilbot.teams")

BOT_PATH = "/webhooks/teams/bot"
GRAPH_PATH = "/webhooks/teams/graph"
LIFECYCLE_PATH = "/webhooks/teams/graph/lifecycle"
#: attendance fetches tried after a session ends before giving up (reports can take a while)
ATTENDANCE_ATTEMPTS = 6


def _epoch_of(clock: Any) -> Callable[[], float]:
    return lambda: float(clock.now().timestamp())


def _sleep_of(clock: Any) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        await clock.sleep_until(clock.now() + timedelta(seconds=seconds))

    return sleep


def build_teams_adapter(settings: TeamsSettings, *, http: httpx.AsyncClient) -> TeamsAdapter:
    """The adapter the engine carries Teams actions with (Bot Connector, Entra token)."""
    assert settings.app_id and settings.app_password and settings.tenant_id
    tokens = EntraTokenProvider(
        client_id=settings.app_id,
        client_secret=settings.app_password.get_secret_value(),
        tenant=settings.bot_token_tenant or settings.tenant_id,
        scope=BOT_FRAMEWORK_SCOPE,
        http=http,
        authority=settings.login_base_url,
    )
    connector = BotConnectorClient(tokens, http=http)
    return TeamsAdapter(connector, notify_breaks=settings.notify_breaks)


@dataclass(frozen=True, slots=True)
class EncryptionKeys:
    """The certificate Graph encrypts rich notifications for, and its private key."""

    certificate_b64: str  # base64 DER, public part only: what the subscription carries
    certificate_id: str
    private_key: rsa.RSAPrivateKey


def load_encryption_keys(settings: TeamsSettings) -> EncryptionKeys | None:
    """From the PEM files named in the settings; None when not configured."""
    cert_path = settings.encryption_certificate
    key_path = settings.encryption_private_key
    if cert_path is None and key_path is None:
        return None
    if cert_path is None or key_path is None:
        raise SettingsError(
            "set both FACILBOT_TEAMS_ENCRYPTION_CERTIFICATE and "
            "FACILBOT_TEAMS_ENCRYPTION_PRIVATE_KEY, or neither"
        )
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise SettingsError(
            f"cannot read the Teams encryption certificate or key: {type(error).__name__}"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SettingsError("FACILBOT_TEAMS_ENCRYPTION_PRIVATE_KEY must be an RSA key")
    return encryption_keys(certificate, key, settings.encryption_certificate_id)


def encryption_keys(
    certificate: x509.Certificate, key: rsa.RSAPrivateKey, certificate_id: str
) -> EncryptionKeys:
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != (
        key.public_key().public_numbers()
    ):
        raise SettingsError("the Teams encryption private key does not match the certificate")
    if not 2048 <= key.key_size <= 4096:
        raise SettingsError("the Teams encryption key must be RSA with 2048 to 4096 bits")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return EncryptionKeys(base64.b64encode(der).decode(), certificate_id, key)


def is_join_url(meeting_ref: str) -> bool:
    return meeting_ref.startswith(("https://", "http://"))


def organizer_from_join_url(join_url: str) -> str | None:
    """The organizer's object id (``Oid``) from the ``context`` of a Teams join URL."""
    context = parse_qs(urlsplit(join_url).query).get("context")
    if not context:
        return None
    try:
        data = json.loads(context[0])
    except ValueError:
        return None
    oid = data.get("Oid") if isinstance(data, dict) else None
    return oid if isinstance(oid, str) and re.fullmatch(r"[0-9a-fA-F-]{36}", oid) else None


_RESOURCE_CHAT = re.compile(r"chats\('([^']+)'\)|chats/([^/]+)/messages", re.IGNORECASE)


def chat_of_resource(resource: str) -> str | None:
    """The chat id in a notification's ``resource`` (``chats('19:…')/messages('…')``)."""
    match = _RESOURCE_CHAT.search(resource)
    if match is None:
        return None
    return match[1] or match[2]


class TeamsRuntime(BackgroundWork):
    """Everything Teams needs while the service runs (one per process)."""

    def __init__(
        self,
        settings: TeamsSettings,
        engine: Engine,
        adapter: TeamsAdapter,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        ingest: WebhookIngest,
        keys: EncryptionKeys | None = None,
        graph: TeamsGraph | None = None,
        sync_interval: float | None = 15.0,
        renew_margin: float = 600.0,
        attendance_delay: float = 300.0,
        attendance_attempts: int = ATTENDANCE_ATTEMPTS,
        results_flush_after: float = 5.0,
    ) -> None:
        assert settings.app_id and settings.tenant_id
        assert settings.app_password is not None
        super().__init__(engine.clock, label="Teams", log=log, sync_interval=sync_interval)
        self.settings = settings
        self.engine = engine
        self.adapter = adapter
        self.http = http
        self.keys = keys
        self.clock = engine.clock
        self.epoch = _epoch_of(engine.clock)
        self.sleep = _sleep_of(engine.clock)
        self.app_id = settings.app_id
        self.client_state = (
            settings.graph_client_state.get_secret_value() if settings.graph_client_state else None
        )
        login = settings.login_base_url.rstrip("/")
        self.authenticator = BotAuthenticator(
            self.app_id,
            http=http,
            metadata_url=settings.openid_metadata_url,
            clock=self.epoch,
        )
        self.validation = ValidationTokenChecker(
            app_ids=[self.app_id],
            tenant_id=settings.tenant_id,
            http=http,
            metadata_url=f"{login}/common/.well-known/openid-configuration",
            clock=self.epoch,
        )
        self._graph_tokens = EntraTokenProvider(
            client_id=self.app_id,
            client_secret=settings.app_password.get_secret_value(),
            tenant=settings.tenant_id,
            scope=GRAPH_SCOPE,
            http=http,
            authority=login,
            clock=self.epoch,
        )
        self._graph = graph
        self.ingest = ingest
        self.base_url = base_url.rstrip("/")
        #: ended sessions this recent still get their attendance report fetched
        self.recent = timedelta(days=7)
        self.renew_margin = renew_margin
        self.attendance_delay = attendance_delay
        self.attendance_attempts = attendance_attempts
        self.results_flush_after = results_flush_after
        self._known: dict[str, tuple[str, str | None]] = {}  # meeting_ref -> (url, meeting id)
        self._renewals: dict[str, asyncio.Task[None]] = {}  # meeting_ref -> renewal task
        self._flushes: dict[str, asyncio.Task[None]] = {}  # poll key -> pending results flush

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore what the adapter must know after a restart, resume renewals, start syncing."""
        async with reading(self.engine.db.engine) as connection:
            rows = await teams_store.conversations(connection)
        for row in rows:
            if row.service_url:
                self.adapter.attach(row.meeting_ref, row.service_url, row.teams_meeting_id)
                self._known[row.meeting_ref] = (row.service_url, row.teams_meeting_id)
            if row.subscription_id and row.subscription_expires_at:
                self._schedule_renewal(row.meeting_ref, row.subscription_expires_at)
        await super().start()

    async def stop(self) -> None:
        await self._cancel([*self._renewals.values(), *self._flushes.values()])
        self._renewals.clear()
        self._flushes.clear()

    async def graph(self) -> TeamsGraph:
        """The Graph client, built on first use; the SDK is imported in a worker thread."""
        if self._graph is None:
            await asyncio.to_thread(_import_graph_sdk)
            self._graph = TeamsGraph(
                self._graph_tokens,
                http=self.http,
                base_url=f"{self.settings.graph_base_url.rstrip('/')}/v1.0",
                clock=self.epoch,
                sleep=self.sleep,
            )
        return self._graph

    # -- what authenticated bot activities teach us ----------------------------------------

    async def remember(self, activity: dict[str, Any]) -> None:
        """Keep a meeting chat's service URL (and join URL on meeting start) in the store, so
        a restarted service can post before anyone speaks. Call only after authentication."""
        self.adapter.observe_activity(activity)
        service_url = activity.get("serviceUrl")
        if not isinstance(service_url, str):
            return
        ref = activity_meeting_ref(activity)
        meeting_id = teams_meeting_id(activity)
        fields: dict[str, Any] = {}
        if self._known.get(ref) != (service_url, meeting_id):
            fields.update(service_url=service_url[:500], teams_meeting_id=meeting_id)
        value = activity.get("value")
        if activity.get("name") == MEETING_START and isinstance(value, dict):
            join_url = value.get("JoinUrl")
            if isinstance(join_url, str) and is_join_url(join_url):
                fields["join_url"] = join_url[:4000]
                organizer = organizer_from_join_url(join_url)
                if organizer:
                    fields["organizer_id"] = organizer
        if not fields:
            return
        async with self.engine.db.engine.begin() as connection:
            await teams_store.save_conversation(connection, ref, self.clock.now(), **fields)
        self._known[ref] = (service_url, meeting_id)

    def after_accept(self, events: list[InboundEvent], new: int) -> None:
        """Work that follows stored bot events: live poll results, chat wiring at start/end."""
        if new == 0:
            return
        for event in events:
            if isinstance(event, PollAnswer):
                self.spawn(self._record_answer(event), "poll-results")
        names = {type(event).__name__ for event in events}
        if names & {"MeetingStarted", "MeetingEnded"}:
            self.spawn(self.sync(), "sync")

    async def _record_answer(self, answer: PollAnswer) -> None:
        await self.adapter.record_answer(answer)
        # An answer within the adapter's interval only marks the results dirty: flush them
        # once the interval has passed, on the engine's clock.
        if answer.poll_key not in self._flushes:
            task = asyncio.create_task(self._flush_later(answer.poll_key))
            self._flushes[answer.poll_key] = task

    async def _flush_later(self, poll_key: str) -> None:
        try:
            await self.sleep(self.results_flush_after)
            async with self._working():
                await self.adapter.flush_results(poll_key)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("Teams poll results update failed (%s)", type(error).__name__)
        finally:
            self._flushes.pop(poll_key, None)

    # -- sync -------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Wire the chats of the Teams sessions this instance runs; unwire finished ones."""
        async with self._sync_lock, self._working():
            async with reading(self.engine.db.engine) as connection:
                rows = await store_sessions.platform_sessions(
                    connection, "teams", ended_since=self.clock.now() - self.recent
                )
                chats = {c.meeting_ref: c for c in await teams_store.conversations(connection)}
            for chat in chats.values():
                if chat.service_url and self._known.get(chat.meeting_ref) != (
                    chat.service_url,
                    chat.teams_meeting_id,
                ):
                    self.adapter.attach(chat.meeting_ref, chat.service_url, chat.teams_meeting_id)
                    self._known[chat.meeting_ref] = (chat.service_url, chat.teams_meeting_id)
            live: set[str] = set()
            for row in rows:
                if row.status == "ended" or not self.engine.owns(row.id):
                    continue
                ref = row.meeting_ref
                if is_join_url(ref):
                    resolved = await self._resolve_session(row.id, ref, row.status)
                    if resolved is None:
                        continue
                    ref = resolved
                live.add(ref)
                await self._wire(ref)
            for ref, chat in chats.items():
                if chat.subscription_id and ref not in live and not await self._still_used(ref):
                    await self._unsubscribe(ref, chat.subscription_id)
            for row in rows:
                if row.status == "ended" and row.ended_at is not None:
                    await self._attendance_if_due(row)

    async def _still_used(self, meeting_ref: str) -> bool:
        """A session not ended on this chat (perhaps run by another instance)."""
        async with reading(self.engine.db.engine) as connection:
            found = await store_sessions.sessions_for_meeting(connection, "teams", meeting_ref)
        return bool(found)

    async def resolve_join_url(self, join_url: str, organizer_id: str | None = None) -> MeetingInfo:
        """The meeting behind a join URL (Graph), remembered for its chat. Raises LookupError
        when no organizer is known or Graph has no such meeting, GraphError otherwise."""
        organizer = organizer_id or organizer_from_join_url(join_url) or self.settings.organizer_id
        if not organizer:
            raise LookupError(
                "the join URL names no organizer: give organizer_id or set "
                "FACILBOT_TEAMS_ORGANIZER_ID"
            )
        graph = await self.graph()
        try:
            meeting = await graph.resolve_meeting(organizer, join_url)
        except GraphError as error:
            if error.status in (400, 404):
                raise LookupError(f"Graph found no such meeting ({error.reason})") from None
            raise
        async with self.engine.db.engine.begin() as connection:
            await teams_store.save_conversation(
                connection,
                meeting.thread_id,
                self.clock.now(),
                join_url=join_url,
                organizer_id=organizer,
                online_meeting_id=meeting.id,
            )
        return meeting

    async def _resolve_session(self, session_id: str, join_url: str, status: str) -> str | None:
        """Find the meeting chat behind a join URL and make it the session's meeting_ref."""
        if status == "running":
            return None  # the show runs already: its meeting_ref cannot change under it
        try:
            meeting = await self.resolve_join_url(join_url)
        except (LookupError, GraphError) as error:
            self.count("resolve_failed")
            reason = error.reason if isinstance(error, GraphError) else str(error)
            log.warning("session %s: meeting not resolved (%s)", session_id, reason)
            return None
        # The runner read the old meeting_ref when it started: the engine restarts it.
        if await self.engine.move_meeting(session_id, old_ref=join_url, new_ref=meeting.thread_id):
            log.info("session %s: join URL resolved to its meeting chat", session_id)
        return meeting.thread_id

    async def _wire(self, meeting_ref: str) -> None:
        async with reading(self.engine.db.engine) as connection:
            chat = await teams_store.conversation(connection, meeting_ref)
        catalog = self.settings.catalog_app_id
        try:
            if catalog and (chat is None or not chat.app_installed):
                graph = await self.graph()
                if await graph.ensure_app_installed(meeting_ref, catalog):
                    self.count("app_installed")
                async with self.engine.db.engine.begin() as connection:
                    await teams_store.save_conversation(
                        connection, meeting_ref, self.clock.now(), app_installed=True
                    )
            if chat is None or chat.subscription_id is None:
                await self._subscribe(meeting_ref)
        except GraphError as error:
            self.count("wire_failed")
            log.warning("Teams chat not wired yet (%s); will retry", error.reason)

    # -- subscriptions ----------------------------------------------------------------------

    async def _subscribe(self, meeting_ref: str) -> None:
        if not self.client_state:
            self.count("no_client_state")
            log.warning("no Graph subscription: FACILBOT_GRAPH_CLIENT_STATE is not set")
            return
        base = self.base_url
        graph = await self.graph()
        info = await graph.subscribe_chat_messages(
            meeting_ref,
            notification_url=f"{base}{GRAPH_PATH}",
            lifecycle_url=f"{base}{LIFECYCLE_PATH}",
            client_state=self.client_state,
            encryption_certificate=self.keys.certificate_b64 if self.keys else None,
            encryption_certificate_id=self.keys.certificate_id if self.keys else None,
        )
        async with self.engine.db.engine.begin() as connection:
            await teams_store.save_conversation(
                connection,
                meeting_ref,
                self.clock.now(),
                subscription_id=info.id,
                subscription_expires_at=info.expires_at,
            )
        self.count("subscribed")
        self._schedule_renewal(meeting_ref, info.expires_at)

    async def _unsubscribe(self, meeting_ref: str, subscription_id: str) -> None:
        task = self._renewals.pop(meeting_ref, None)
        if task is not None:
            task.cancel()
        try:
            graph = await self.graph()
            await graph.delete_subscription(subscription_id)
        except GraphError as error:
            log.warning("Teams subscription not deleted (%s); will retry", error.reason)
            return
        async with self.engine.db.engine.begin() as connection:
            await teams_store.save_conversation(
                connection,
                meeting_ref,
                self.clock.now(),
                subscription_id=None,
                subscription_expires_at=None,
            )
        self.count("unsubscribed")

    def _schedule_renewal(self, meeting_ref: str, expires_at: datetime) -> None:
        old = self._renewals.pop(meeting_ref, None)
        if old is not None and old is not asyncio.current_task():
            old.cancel()
        self._renewals[meeting_ref] = asyncio.create_task(
            self._renew_when_due(meeting_ref, expires_at),
            name=f"facilbot-teams-renew-{meeting_ref[:40]}",
        )

    async def _renew_when_due(self, meeting_ref: str, expires_at: datetime) -> None:
        when = expires_at - timedelta(seconds=self.renew_margin)
        while True:
            await self.clock.sleep_until(when)
            async with self._working():
                async with reading(self.engine.db.engine) as connection:
                    chat = await teams_store.conversation(connection, meeting_ref)
                if chat is None or chat.subscription_id is None:
                    return
                try:
                    await self._renew(meeting_ref, chat.subscription_id)
                    return  # _renew scheduled the next one
                except GraphError as error:
                    if error.status == 404:
                        self.count("recreated")
                        await self._recreate(meeting_ref)
                        return
                    log.warning("Teams subscription renewal failed (%s)", error.reason)
                    self.count("renew_failed")
                    retry = self.clock.now() + timedelta(seconds=60)
                    expiry = chat.subscription_expires_at or retry
                    when = min(retry, expiry - timedelta(seconds=5))
                    if when <= self.clock.now():
                        when = retry

    async def _renew(self, meeting_ref: str, subscription_id: str) -> None:
        graph = await self.graph()
        info = await graph.renew_subscription(subscription_id)
        async with self.engine.db.engine.begin() as connection:
            await teams_store.save_conversation(
                connection, meeting_ref, self.clock.now(), subscription_expires_at=info.expires_at
            )
        self.count("renewed")
        self._schedule_renewal(meeting_ref, info.expires_at)

    async def _recreate(self, meeting_ref: str) -> None:
        async with self.engine.db.engine.begin() as connection:
            await teams_store.save_conversation(
                connection,
                meeting_ref,
                self.clock.now(),
                subscription_id=None,
                subscription_expires_at=None,
            )
        if await self._still_used(meeting_ref):
            await self._subscribe(meeting_ref)
            await self.resync(meeting_ref)

    async def on_lifecycle(self, event: LifecycleEvent) -> None:
        """Act on a Graph lifecycle notification (its clientState already checked)."""
        async with self._working():
            async with reading(self.engine.db.engine) as connection:
                chat = await teams_store.conversation_by_subscription(
                    connection, event.subscription_id
                )
            if chat is None:
                self.count("lifecycle_unknown_subscription")
                return
            self.count(f"lifecycle_{event.event}")
            if event.event == "reauthorizationRequired":
                graph = await self.graph()
                try:
                    await graph.reauthorize_subscription(event.subscription_id)
                    await self._renew(chat.meeting_ref, event.subscription_id)
                except GraphError as error:
                    if error.status != 404:
                        raise
                    await self._recreate(chat.meeting_ref)
            elif event.event == "subscriptionRemoved":
                await self._recreate(chat.meeting_ref)
            else:  # missed
                await self.resync(chat.meeting_ref)

    async def resync(self, meeting_ref: str) -> int:
        """Feed the chat's latest messages through the de-duplicated ingest; how many were
        new. Messages from before the earliest running session on the chat are left out."""
        async with reading(self.engine.db.engine) as connection:
            since = await store_sessions.sessions_for_meeting(connection, "teams", meeting_ref)
        if not since:
            return 0
        cutoff = min(row.started_at or row.created_at for row in since)
        graph = await self.graph()
        events: list[InboundEvent] = []
        for message in reversed(await graph.chat_messages(meeting_ref)):
            try:
                event = chat_event(message, meeting_ref)
            except NotificationError:
                continue
            if event is not None and event.occurred_at >= cutoff:
                events.append(event)
        if not events:
            return 0
        submitted = await self.ingest.submit(events)
        self.count("resynced")
        return submitted.new

    # -- attendance -------------------------------------------------------------------------

    async def _attendance_if_due(self, session: Any) -> None:
        async with reading(self.engine.db.engine) as connection:
            run = await teams_store.attendance_run(connection, session.id)
            chat = await teams_store.conversation(connection, session.meeting_ref)
        if run is not None and (
            run.done_at is not None or run.attempts >= self.attendance_attempts
        ):
            return
        now = self.clock.now()
        due = session.ended_at + timedelta(seconds=self.attendance_delay)
        if run is not None:
            due = max(due, run.last_try_at + timedelta(seconds=self.attendance_delay))
        if now < due:
            return
        try:
            rows = await self._reconcile(session, chat)
        except GraphError as error:
            async with self.engine.db.engine.begin() as connection:
                await teams_store.record_attendance_run(
                    connection, session.id, at=now, done=False, error=error.reason
                )
            return
        async with self.engine.db.engine.begin() as connection:
            if rows is None:
                await teams_store.record_attendance_run(
                    connection, session.id, at=now, done=False, error="no attendance report yet"
                )
                return
            await teams_store.replace_attendance(connection, session.id, rows)
            await teams_store.record_attendance_run(
                connection, session.id, at=now, done=True, records=len(rows)
            )
        self.count("attendance_reconciled")

    async def _reconcile(
        self, session: Any, chat: teams_store.ConversationRecord | None
    ) -> list[teams_store.AttendanceRow] | None:
        """Graph's attendance against the bot's roster; None when no report exists yet."""
        if chat is None or not chat.join_url:
            raise GraphError("the meeting's join URL is not known (no meetingStart seen)")
        organizer = chat.organizer_id or self.settings.organizer_id
        if not organizer:
            raise GraphError("the meeting's organizer is not known")
        graph = await self.graph()
        meeting_id = chat.online_meeting_id
        if meeting_id is None:
            meeting_id = (await graph.resolve_meeting(organizer, chat.join_url)).id
            async with self.engine.db.engine.begin() as connection:
                await teams_store.save_conversation(
                    connection, chat.meeting_ref, self.clock.now(), online_meeting_id=meeting_id
                )
        records = await graph.attendance(organizer, meeting_id)
        if not records:
            return None
        async with reading(self.engine.db.engine) as connection:
            seen = await store_participants.participants_for(connection, session.id)
        return reconcile(records, seen, session.started_at, session.ended_at)


def reconcile(
    records: list[AttendanceRecord],
    seen: list[store_participants.ParticipantRecord],
    started_at: datetime | None,
    ended_at: datetime | None,
) -> list[teams_store.AttendanceRow]:
    """Match report records to the bot's roster by Entra object id, else e-mail address.

    Records with join/leave intervals count only the time inside the session (a recurring
    meeting's chat has one report per occurrence); a record with intervals all outside it is
    another occurrence's and is left out."""
    slack = timedelta(minutes=5)
    start = (started_at or datetime.min.replace(tzinfo=UTC)) - slack
    end = (ended_at or datetime.max.replace(tzinfo=UTC)) + slack
    by_ref = {p.participant_ref: p for p in seen}
    by_email = {p.email.lower(): p for p in seen if p.email}
    matched: set[str] = set()
    rows: list[teams_store.AttendanceRow] = []
    for record in records:
        seconds = record.seconds
        if record.intervals:
            inside = 0.0
            for joined, left in record.intervals:
                a = max(joined or start, start)
                b = min(left or end, end)
                inside += max(0.0, (b - a).total_seconds())
            if inside <= 0:
                continue
            seconds = min(seconds, round(inside)) if seconds else round(inside)
        person = (by_ref.get(record.participant_id) if record.participant_id else None) or (
            by_email.get(record.email.lower()) if record.email else None
        )
        if person is not None:
            matched.add(person.participant_ref)
        rows.append(
            teams_store.AttendanceRow(
                participant_ref=record.participant_id
                or (person.participant_ref if person else None),
                name=record.name or (person.name if person else "") or (record.email or "?"),
                email=record.email or (person.email if person else None),
                role=record.role,
                seconds=seconds,
                source="both" if person is not None else "report",
            )
        )
    for person in seen:
        if person.participant_ref not in matched:
            rows.append(
                teams_store.AttendanceRow(
                    participant_ref=person.participant_ref,
                    name=person.name,
                    email=person.email,
                    role=person.role,
                    seconds=0,
                    source="bot",
                )
            )
    return rows


def _import_graph_sdk() -> None:
    import msgraph.graph_service_client  # noqa: F401 - the slow part, off the event loop
