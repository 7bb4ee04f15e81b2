"""Microsoft Teams webhooks: the bot's messaging endpoint and Graph change notifications.

``POST /webhooks/teams/bot`` — Bot Framework activities. Order: bounded body, a Bearer token
present, JSON, the JWT validated by ``BotAuthenticator`` against the activity's ``serviceUrl``
(401 with the reason; 503 when the signing keys cannot be fetched, so the connector retries),
normalised (400 with the reason when malformed), stored de-duplicated (``WebhookIngest``),
answered at once. ``invoke`` activities get an invoke response body: Teams shows it to the
person who pressed the card's button (``adaptiveCard/action`` → ``AdaptiveCardInvokeResponse``).

``POST /webhooks/teams/graph`` and ``/webhooks/teams/graph/lifecycle`` — Graph notifications.
``?validationToken=`` is echoed as ``text/plain`` (Graph validates the URL when a subscription
is created). A notification whose ``clientState`` is not ours is not from our subscription:
it is dropped and counted, and the answer is still 202 — Graph retries non-2xx answers for
hours and throttles endpoints that fail, and a forger learns nothing from the status. Resource
data is decrypted and its ``validationTokens`` checked before anything is stored; a Graph
message and the bot's copy of the same message share the message id, so whichever comes second
is a duplicate. Lifecycle events are acted on after the 202. Bodies and tokens are never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from facilbot.api.body import JsonContent, read_body
from facilbot.api.deps import DB, Caller, Producer, ServicesDep, SessionId, get_services
from facilbot.api.errors import ApiError, not_found
from facilbot.platforms.base import running
from facilbot.platforms.teams.platform import TeamsPlatform
from facilbot.platforms.teams.runtime import ATTENDANCE_ATTEMPTS, TeamsRuntime, chat_of_resource
from facilbot.platforms.teams.store import attendance, attendance_run
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from facilbot.webhooks.ingest import WebhookIngest
from integrations.contract import InboundEvent, PollAnswer
from integrations.teams.activities import CARD_ACTION, MalformedActivity, normalise
from integrations.teams.botauth import BotAuthError
from integrations.teams.graph import GraphError
from integrations.teams.notifications import (
    ChangeNotification,
    DecryptionError,
    NotificationError,
    ValidationKeysUnavailable,
    chat_event,
    check_client_state,
    decrypt_resource_data,
    parse_notifications,
    validation_response,
)

log = logging.getLogger("facilbot.webhooks")

#: An activity is a few kilobytes; a batch of encrypted Graph notifications can be larger.
MAX_ACTIVITY_BYTES = 256 * 1024
MAX_NOTIFICATION_BYTES = 1024 * 1024
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"
INVOKE_ERROR = "application/vnd.microsoft.error"


#: Deliveries from the bot and from Graph: mounted ahead of every other route.
webhook_router = APIRouter(tags=["webhooks"])
#: The API's Teams routes; they keep the "webhooks" tag they always had in the API document.
router = APIRouter(tags=["webhooks"])


async def get_runtime(services: ServicesDep) -> TeamsRuntime:
    return running(services, TeamsPlatform).runtime


RuntimeDep = Annotated[TeamsRuntime, Depends(get_runtime)]


async def _receiver(request: Request) -> tuple[TeamsRuntime, WebhookIngest]:
    """What a delivery needs, straight from the request rather than as dependencies: solving
    them cost more than all the rest of FastAPI's work on a delivery (profiled, issue 14)."""
    services = await get_services(request)
    return running(services, TeamsPlatform).runtime, services.ingest


# -- the bot --------------------------------------------------------------------------------


@webhook_router.post(
    "/webhooks/teams/bot",
    summary="Bot Framework activities from Teams (JWT-authenticated)",
    responses={
        200: {"description": "accepted; invoke activities get their invoke response body"},
        400: {"description": "authenticated, but not an activity facilbot can read (reason)"},
        401: {"description": "missing or invalid Bot Framework token (reason given)"},
        413: {"description": "body larger than 256 KB"},
        503: {"description": "Teams not configured, signing keys unavailable, or not stored"},
    },
)
async def bot_activity(request: Request) -> Any:
    runtime, ingest = await _receiver(request)
    authorization = request.headers.get("authorization")
    if not authorization:
        raise ApiError(401, "missing Authorization header", code="bad_token")
    body = await read_body(request, MAX_ACTIVITY_BYTES)
    activity = _json_object(body, "activity")
    try:
        await runtime.authenticator.authenticate(authorization, activity)
    except BotAuthError as error:
        code = "keys_unavailable" if error.status == 503 else "bad_token"
        raise ApiError(error.status, error.reason, code=code) from None
    try:
        events = normalise(activity)
    except MalformedActivity as malformed:
        if _is_card_invoke(activity):
            return _invoke_error(malformed.reason)
        raise ApiError(400, malformed.reason, code="malformed_activity") from None
    try:
        await runtime.remember(activity)
    except Exception as error:
        # The adapter learnt the chat in memory; only the copy for a restart is missing.
        log.warning("could not store a Teams chat's service URL (%s)", type(error).__name__)
    runtime.adapter.observe(events)
    new = 0
    if events:
        try:
            submitted = await ingest.submit(events)
        except Exception as error:
            log.error("could not store a Teams activity (%s)", type(error).__name__)
            raise ApiError(
                503, "the activity could not be stored; Teams will send it again", code="not_stored"
            ) from None
        new = submitted.new
        runtime.after_accept(events, new)
    if activity.get("type") == "invoke":
        return _invoke_answer(activity, events)
    return JSONResponse({"status": "accepted", "events": len(events), "new": new})


def _is_card_invoke(activity: dict[str, Any]) -> bool:
    return activity.get("type") == "invoke" and activity.get("name") == CARD_ACTION


def _invoke_answer(activity: dict[str, Any], events: list[InboundEvent]) -> JSONResponse:
    if not _is_card_invoke(activity):
        # Invokes facilbot does not handle: an empty success rather than an error card.
        return JSONResponse({"status": 200})
    answered = any(isinstance(event, PollAnswer) for event in events)
    text = "Thanks, your answer is in." if answered else "Noted."
    return JSONResponse({"statusCode": 200, "type": INVOKE_MESSAGE, "value": text})


def _invoke_error(reason: str) -> JSONResponse:
    # The HTTP status stays 200: the card shows the error carried in the body.
    return JSONResponse(
        {
            "statusCode": 400,
            "type": INVOKE_ERROR,
            "value": {"code": "BadRequest", "message": reason},
        }
    )


# -- Graph ----------------------------------------------------------------------------------


@webhook_router.post(
    "/webhooks/teams/graph",
    summary="Microsoft Graph change notifications for meeting chats",
    status_code=202,
    responses={
        200: {"description": "the endpoint validation: the validationToken, as text/plain"},
        202: {"description": "accepted (foreign clientState and forged tokens are dropped)"},
        400: {"description": "not a notification body (reason given)"},
        503: {"description": "Teams not configured, or the notification could not be stored"},
    },
)
async def graph_notifications(request: Request) -> Any:
    runtime, ingest = await _receiver(request)
    echo = _validation(request)
    if echo is not None:
        return echo
    return await _notifications(request, runtime, ingest, lifecycle=False)


@webhook_router.post(
    "/webhooks/teams/graph/lifecycle",
    summary="Microsoft Graph lifecycle notifications for the chat subscriptions",
    status_code=202,
    responses={
        200: {"description": "the endpoint validation: the validationToken, as text/plain"},
        202: {"description": "accepted; acted on after the answer"},
        400: {"description": "not a notification body (reason given)"},
        503: {"description": "Teams not configured"},
    },
)
async def graph_lifecycle(request: Request) -> Any:
    runtime, ingest = await _receiver(request)
    echo = _validation(request)
    if echo is not None:
        return echo
    return await _notifications(request, runtime, ingest, lifecycle=True)


def _validation(request: Request) -> Response | None:
    try:
        token = validation_response(request.query_params)
    except NotificationError as error:
        raise ApiError(400, error.reason, code="bad_validation_token") from None
    if token is None:
        return None
    return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})


async def _notifications(
    request: Request, runtime: TeamsRuntime, ingest: WebhookIngest, *, lifecycle: bool
) -> Response:
    body = await read_body(request, MAX_NOTIFICATION_BYTES)
    try:
        batch = parse_notifications(body)
    except NotificationError as error:
        raise ApiError(400, error.reason, code="malformed_notification") from None
    expected = runtime.client_state

    def ours(client_state: str | None) -> bool:
        return expected is not None and check_client_state(expected, client_state)

    mine = [c for c in batch.changes if ours(c.client_state)]
    lifecycle_events = [e for e in batch.lifecycle_events if ours(e.client_state)]
    dropped = len(batch.changes) + len(batch.lifecycle_events) - len(mine) - len(lifecycle_events)
    if dropped:
        runtime.counters["graph_foreign_client_state"] = (
            runtime.counters.get("graph_foreign_client_state", 0) + dropped
        )
        log.warning("dropped %d Graph notification(s) with a foreign clientState", dropped)
    if any(c.encrypted_content is not None for c in mine):
        try:
            await runtime.validation.check(batch.validation_tokens)
        except ValidationKeysUnavailable:
            raise ApiError(
                503, "cannot fetch the keys to check validationTokens", code="keys_unavailable"
            ) from None
        except NotificationError as error:
            runtime.count("graph_bad_validation_token")
            log.warning("dropped Graph notifications: %s", error.reason)
            mine = [c for c in mine if c.encrypted_content is None]
    events: list[InboundEvent] = []
    ignored: list[ChangeNotification] = []
    for change in mine:
        event = _change_event(runtime, change)
        if event is None:
            ignored.append(change)
        else:
            events.append(event)
    try:
        if events:
            await ingest.submit(events)
        for change in ignored:
            await ingest.record_ignored(
                "teams",
                f"graph-{change.dedup_key}",
                f"graph.{change.change_type}",
                chat_of_resource(change.resource),
            )
    except Exception as error:
        log.error("could not store Graph notifications (%s)", type(error).__name__)
        raise ApiError(
            503, "the notifications could not be stored; Graph will send them again"
        ) from None
    for notice in lifecycle_events:
        runtime.spawn(runtime.on_lifecycle(notice), f"lifecycle-{notice.event}")
    if lifecycle and batch.changes and not batch.lifecycle_events:
        runtime.count("graph_changes_on_lifecycle_url")
    return Response(status_code=202)


def _change_event(runtime: TeamsRuntime, change: ChangeNotification) -> InboundEvent | None:
    """The chat event in a change notification; None for what carries none we can read."""
    if change.change_type != "created" or change.encrypted_content is None:
        return None  # edits, deletions, and notifications without resource data
    chat = chat_of_resource(change.resource)
    if runtime.keys is None or chat is None:
        runtime.count("graph_undecryptable")
        return None
    try:
        resource = decrypt_resource_data(change.encrypted_content, runtime.keys.private_key)
        return chat_event(resource, chat)
    except DecryptionError as error:
        runtime.count("graph_undecryptable")
        log.warning("a Graph notification did not decrypt: %s", error.reason)
        return None
    except NotificationError as error:
        runtime.count("graph_unreadable")
        log.warning("a Graph chat message was not readable: %s", error.reason)
        return None


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, f"the {what} is not JSON", code="malformed_activity") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, f"the {what} is not a JSON object", code="malformed_activity")
    return parsed


# -- attendance -----------------------------------------------------------------------------


class AttendanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    participant_ref: str | None
    name: str
    email: str | None
    role: str | None
    seconds: int
    source: str


class AttendanceReportOut(BaseModel):
    session_id: str
    status: str  # pending | done | failed
    attempts: int
    error: str | None
    people: list[AttendanceOut]


@router.get(
    "/sessions/{session_id}/teams/attendance",
    tags=["sessions"],
    summary="Teams attendance report reconciled with the roster the bot saw",
)
async def teams_attendance(
    db: DB,
    caller: Caller,
    session_id: SessionId,
) -> AttendanceReportOut:
    async with reading(db.engine) as connection:
        record = await store_sessions.get_session(connection, str(session_id))
        if record is None or record.platform != "teams":
            raise not_found(f"no Teams session {session_id}")
        run = await attendance_run(connection, record.id)
        rows = await attendance(connection, record.id)
    if run is None:
        status = "pending"
    elif run.done_at is not None:
        status = "done"
    else:
        status = "pending" if run.attempts < ATTENDANCE_ATTEMPTS else "failed"
    return AttendanceReportOut(
        session_id=record.id,
        status=status,
        attempts=run.attempts if run else 0,
        error=run.error if run else None,
        people=[AttendanceOut.model_validate(row) for row in rows],
    )


# -- meetings -------------------------------------------------------------------------------


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    join_url: str = Field(
        min_length=12, max_length=4000, pattern=r"^https://[^\s]+$", description="Teams join URL"
    )
    organizer_id: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F-]{36}$",
        description="the organizer's Entra object id, when the join URL does not name it",
    )


class MeetingOut(BaseModel):
    meeting_ref: str = Field(description="the meeting chat's thread id: attach sessions to it")
    online_meeting_id: str
    subject: str | None


@router.post(
    "/teams/meetings",
    tags=["sessions"],
    summary="Find a Teams meeting's chat from its join URL (then attach to meeting_ref)",
    responses={
        422: {"description": "no organizer known, or Graph has no such meeting (reason)"},
        502: {"description": "Microsoft Graph did not answer"},
        503: {"description": "Teams not configured"},
    },
)
async def resolve_meeting(
    caller: Producer, _json: JsonContent, body: MeetingIn, runtime: RuntimeDep
) -> MeetingOut:
    try:
        meeting = await runtime.resolve_join_url(body.join_url, body.organizer_id)
    except LookupError as error:
        raise ApiError(422, str(error), code="unknown_meeting") from None
    except GraphError as error:
        raise ApiError(502, f"Microsoft Graph: {error.reason}", code="graph_failed") from None
    return MeetingOut(
        meeting_ref=meeting.thread_id, online_meeting_id=meeting.id, subject=meeting.subject
    )
