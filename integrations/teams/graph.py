"""The Microsoft Graph side of Teams, through ``msgraph-sdk`` (the optional ``teams`` extra).

The SDK is large and slow to import, so it is imported only when a ``TeamsGraph`` is built
(``_sdk()``), never at module import. Its request adapter gets our own ``httpx.AsyncClient``
(tests give it a ``MockTransport`` fake) and base URL, and an authentication provider that takes
app-only tokens from ``EntraTokenProvider`` (client credentials, scope
``https://graph.microsoft.com/.default``). The SDK's default middleware is not used: its retry
handler sleeps on the wall clock; 429, 502, 503, 504 and network errors are retried here (on
every call, the POSTs included) with ``Retry-After`` and the injected clock and sleep, by
:mod:`integrations.resilience`; a 401 renews the token once.

Operations (see NOTES.md for the documentation each follows):

* ``resolve_meeting``: ``GET /users/{organizer}/onlineMeetings?$filter=JoinWebUrl eq '…'``
  (application access needs an application access policy for the organizer) -> the chat thread;
* ``ensure_app_installed``: ``GET``/``POST /chats/{id}/installedApps``;
* chat-message subscriptions: ``POST/PATCH/DELETE /subscriptions``, ``POST …/reauthorize``;
* ``attendance``: ``GET …/onlineMeetings/{id}/attendanceReports`` and their records.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, TypeVar

import httpx

from integrations.resilience import CallTokens, RetryPolicy, Transient, retry_after_seconds

from ._clock import Clock, Sleep, real_sleep, wall_clock
from .entra import EntraTokenProvider, TokenError

GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
#: Teams chatMessage subscriptions: 60 minutes without a lifecycle URL; the documentation also
#: allows longer (under 3 days) when a lifecycleNotificationUrl is given. We stay at one hour.
CHAT_SUBSCRIPTION_MINUTES = 60
RETRIED_STATUSES = (429, 502, 503, 504)

T = TypeVar("T")

#: the tokens of the Graph call in flight: kiota asks ``_TokenAuth`` for a token deep inside the
#: SDK, where no argument of ours reaches, and a refused token must be the one renewed
_call_tokens: ContextVar[CallTokens | None] = ContextVar("graph_call_tokens", default=None)


class GraphError(Exception):
    """A Graph call failed. ``status`` is the HTTP status when Graph answered; ``code`` the
    OData error code; ``retry_after`` set when Graph asked us to wait longer than allowed."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class MeetingInfo:
    id: str
    thread_id: str  # chatInfo.threadId: the meeting chat, facilbot's meeting_ref for Teams
    join_url: str | None
    subject: str | None


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    id: str
    resource: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AttendanceRecord:
    participant_id: str | None  # Entra object id (guests may have none)
    name: str | None
    email: str | None
    role: str | None
    seconds: int
    intervals: tuple[tuple[datetime | None, datetime | None], ...]


def _sdk() -> ModuleType:
    try:
        import msgraph
    except ImportError as error:  # pragma: no cover - depends on the extra
        raise GraphError("msgraph-sdk is not installed: pip install 'facilbot[teams]'") from error
    return msgraph


class _TokenAuth:
    """A kiota authentication provider backed by our cached Entra token."""

    def __init__(self, tokens: EntraTokenProvider) -> None:
        self._tokens = tokens

    async def authenticate_request(
        self, request: Any, additional_authentication_context: dict[str, Any] | None = None
    ) -> None:
        tokens = _call_tokens.get()
        token = await (tokens.token() if tokens is not None else self._tokens.token())
        if request.headers.contains("Authorization"):
            request.headers.remove("Authorization")
        request.headers.add("Authorization", f"Bearer {token}")


class TeamsGraph:
    def __init__(
        self,
        tokens: EntraTokenProvider,
        *,
        http: httpx.AsyncClient,
        base_url: str = GRAPH_BASE_URL,
        clock: Clock = wall_clock,
        sleep: Sleep = real_sleep,
        deadline: float = 20.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        jitter: random.Random | None = None,
    ) -> None:
        _sdk()
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_service_client import GraphServiceClient

        # kiota only calls authenticate_request: our provider needs no kiota base class
        auth: Any = _TokenAuth(tokens)
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = base_url.rstrip("/")
        self._client = GraphServiceClient(request_adapter=adapter)
        self._tokens = tokens
        self._clock = clock
        self._deadline = deadline
        self._retry = RetryPolicy(
            clock=clock,
            sleep=sleep,
            jitter=(jitter or random.Random()).random,
            max_attempts=max_attempts,
            backoff_base=backoff,
        )

    # -- meetings ------------------------------------------------------------------------------

    async def resolve_meeting(self, organizer_id: str, join_url: str) -> MeetingInfo:
        """The online meeting behind ``join_url``, organised by ``organizer_id`` (object id)."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.online_meetings.online_meetings_request_builder import (
            OnlineMeetingsRequestBuilder,
        )

        escaped = join_url.replace("'", "''")  # OData string literal
        query = OnlineMeetingsRequestBuilder.OnlineMeetingsRequestBuilderGetQueryParameters(
            filter=f"JoinWebUrl eq '{escaped}'"
        )
        config = RequestConfiguration(query_parameters=query)
        builder = self._client.users.by_user_id(organizer_id).online_meetings
        result = await self._call(lambda: builder.get(request_configuration=config))
        meetings = list(result.value or []) if result is not None else []
        if not meetings:
            raise GraphError("no online meeting with that join URL for that organizer", status=404)
        meeting = meetings[0]
        thread = meeting.chat_info.thread_id if meeting.chat_info else None
        if not meeting.id or not thread:
            raise GraphError("online meeting has no id or chat thread")
        return MeetingInfo(
            id=meeting.id,
            thread_id=thread,
            join_url=meeting.join_web_url,
            subject=meeting.subject,
        )

    async def ensure_app_installed(self, chat_id: str, teams_app_id: str) -> bool:
        """Install our Teams app (catalog id) into the chat unless it is there; True if installed
        now."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.chats.item.installed_apps.installed_apps_request_builder import (
            InstalledAppsRequestBuilder,
        )
        from msgraph.generated.models.teams_app_installation import TeamsAppInstallation

        builder = self._client.chats.by_chat_id(chat_id).installed_apps
        escaped = teams_app_id.replace("'", "''")
        query = InstalledAppsRequestBuilder.InstalledAppsRequestBuilderGetQueryParameters(
            expand=["teamsApp"], filter=f"teamsApp/id eq '{escaped}'"
        )
        config = RequestConfiguration(query_parameters=query)
        found = await self._call(lambda: builder.get(request_configuration=config))
        if found is not None and any(
            item.teams_app is not None and item.teams_app.id == teams_app_id
            for item in found.value or []
        ):
            return False
        base = self._client.request_adapter.base_url
        body = TeamsAppInstallation(
            additional_data={"teamsApp@odata.bind": f"{base}/appCatalogs/teamsApps/{teams_app_id}"}
        )
        await self._call(lambda: builder.post(body))
        return True

    # -- subscriptions -------------------------------------------------------------------------

    async def subscribe_chat_messages(
        self,
        chat_id: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        minutes: int = CHAT_SUBSCRIPTION_MINUTES,
        encryption_certificate: str | None = None,
        encryption_certificate_id: str | None = None,
    ) -> SubscriptionInfo:
        """Subscribe to messages created/updated in the chat. With a certificate (base64 DER,
        public key only) Graph includes the encrypted message in each notification."""
        from msgraph.generated.models.subscription import Subscription

        resource = f"/chats/{chat_id}/messages"
        include = encryption_certificate is not None
        if include and not encryption_certificate_id:
            raise ValueError("encryption_certificate_id is required with a certificate")
        body = Subscription(
            change_type="created,updated",
            notification_url=notification_url,
            lifecycle_notification_url=lifecycle_url,
            resource=resource,
            client_state=client_state,
            expiration_date_time=self._expiry(minutes),
            include_resource_data=include,
            encryption_certificate=encryption_certificate,
            encryption_certificate_id=encryption_certificate_id,
        )
        created = await self._call(lambda: self._client.subscriptions.post(body))
        return _subscription(created, resource)

    async def renew_subscription(
        self, subscription_id: str, minutes: int = CHAT_SUBSCRIPTION_MINUTES
    ) -> SubscriptionInfo:
        from msgraph.generated.models.subscription import Subscription

        body = Subscription(expiration_date_time=self._expiry(minutes))
        item = self._client.subscriptions.by_subscription_id(subscription_id)
        renewed = await self._call(lambda: item.patch(body))
        return _subscription(renewed, (renewed.resource or "") if renewed is not None else "")

    async def reauthorize_subscription(self, subscription_id: str) -> None:
        item = self._client.subscriptions.by_subscription_id(subscription_id)
        await self._call(lambda: item.reauthorize.post())

    async def delete_subscription(self, subscription_id: str) -> None:
        """Remove a subscription; one that is already gone counts as removed."""
        item = self._client.subscriptions.by_subscription_id(subscription_id)
        try:
            await self._call(lambda: item.delete())
        except GraphError as error:
            if error.status != 404:
                raise

    async def chat_messages(self, chat_id: str, top: int = 50) -> list[dict[str, Any]]:
        """The chat's latest messages (newest first), shaped like Graph's ``chatMessage`` JSON
        (what ``notifications.chat_event`` reads): to resync after missed notifications.
        ``GET /chats/{id}/messages?$top=…&$orderby=createdDateTime desc``."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.chats.item.messages.messages_request_builder import (
            MessagesRequestBuilder,
        )

        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            top=max(1, min(top, 50)), orderby=["createdDateTime desc"]
        )
        config = RequestConfiguration(query_parameters=query)
        builder = self._client.chats.by_chat_id(chat_id).messages
        page = await self._call(lambda: builder.get(request_configuration=config))
        return [_message_json(m) for m in (page.value or [])] if page is not None else []

    # -- after the meeting ---------------------------------------------------------------------

    async def attendance(self, organizer_id: str, meeting_id: str) -> list[AttendanceRecord]:
        """Every attendance record of every report of the meeting (one report per session)."""
        meeting = self._client.users.by_user_id(organizer_id).online_meetings.by_online_meeting_id(
            meeting_id
        )
        reports = await self._call(lambda: meeting.attendance_reports.get())
        records: list[AttendanceRecord] = []
        for report in (reports.value or []) if reports is not None else []:
            if not report.id:
                continue
            item = meeting.attendance_reports.by_meeting_attendance_report_id(report.id)
            page = await self._call(item.attendance_records.get)
            for record in (page.value or []) if page is not None else []:
                records.append(_attendance(record))
        return records

    # -- plumbing ------------------------------------------------------------------------------

    def _expiry(self, minutes: int) -> datetime:
        if not 1 <= minutes <= 4320:
            raise ValueError("subscription minutes must be between 1 and 4320")
        return datetime.fromtimestamp(self._clock(), UTC) + timedelta(minutes=minutes)

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        from kiota_abstractions.api_error import APIError

        until = self._clock() + self._deadline
        tokens = self._tokens.for_call(until)

        async def attempt() -> T:
            while True:
                in_flight = _call_tokens.set(tokens)
                try:
                    return await request()
                except TokenError as error:
                    raise GraphError(f"no Graph token: {error.reason}") from None
                except APIError as error:
                    if error.response_status_code == 401 and tokens.refused():
                        continue
                    raise _answered(error, self._clock()) from None
                except httpx.HTTPError as error:
                    raise _unreachable(error) from None
                finally:
                    _call_tokens.reset(in_flight)

        return await self._retry.run(attempt, until=until)


def _answered(error: Any, now: float) -> GraphError | Transient:
    """What an error answer (kiota's ``APIError``) means: :class:`Transient` if worth another
    try, else the :class:`GraphError` to raise."""
    status = error.response_status_code
    code = _odata_code(error)
    if status not in RETRIED_STATUSES:
        return GraphError(
            f"Graph answered {status}" + (f" ({code})" if code else ""), status=status, code=code
        )
    hint = retry_after_seconds(_header(error.response_headers or {}, "Retry-After"), now)
    return Transient(
        lambda wait: GraphError(
            f"Graph answered {status}",
            status=status,
            code=code,
            retry_after=wait if status == 429 else None,
        ),
        retry_after=hint,
    )


def _unreachable(error: httpx.HTTPError) -> Transient:
    failure = f"Graph unreachable: {type(error).__name__}"
    return Transient(lambda _wait: GraphError(failure))


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return value if isinstance(value, str) else ",".join(value)
    return None


def _odata_code(error: Any) -> str | None:
    inner = getattr(error, "error", None)
    code = getattr(inner, "code", None)
    return code if isinstance(code, str) else None


def _subscription(sub: Any, resource: str) -> SubscriptionInfo:
    if sub is None or not sub.id or sub.expiration_date_time is None:
        raise GraphError("subscription answer has no id or expiry")
    expires = sub.expiration_date_time
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return SubscriptionInfo(id=sub.id, resource=sub.resource or resource, expires_at=expires)


def _attendance(record: Any) -> AttendanceRecord:
    identity = record.identity
    intervals = tuple(
        (interval.join_date_time, interval.leave_date_time)
        for interval in record.attendance_intervals or []
    )
    return AttendanceRecord(
        participant_id=identity.id if identity is not None else None,
        name=identity.display_name if identity is not None else None,
        email=record.email_address,
        role=record.role,
        seconds=int(record.total_attendance_in_seconds or 0),
        intervals=intervals,
    )


def _message_json(message: Any) -> dict[str, Any]:
    sender = message.from_
    user = sender.user if sender is not None else None
    kind = message.message_type
    return {
        "id": message.id,
        "messageType": getattr(kind, "value", kind) or "message",
        "createdDateTime": (
            message.created_date_time.isoformat() if message.created_date_time else None
        ),
        "deletedDateTime": (
            message.deleted_date_time.isoformat() if message.deleted_date_time else None
        ),
        "from": (
            {"user": {"id": user.id, "displayName": user.display_name}}
            if user is not None
            else ({"application": {}} if sender is not None else None)
        ),
        "body": {"content": message.body.content if message.body is not None else None},
    }
