"""A local fake Zoom: the OAuth token endpoint and the REST subset facilbot uses.

It speaks Zoom's wire shapes (see ``integrations/zoom/NOTES.md``): Basic-auth
``account_credentials`` tokens that expire, 401 ``{"code": 124, "message": "Invalid access
token."}``, 429 with ``X-RateLimit-*`` headers and optionally ``Retry-After``, Zoom's error body
``{"code", "message"}``, UUID double-encoding on past-meeting paths. It is an ASGI app: use it
through ``httpx.ASGITransport`` (both hosts, ``zoom.us`` and ``api.zoom.us``, reach it) or serve
it with uvicorn. Every request is logged (method, path, raw path, query, JSON body, status).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

INVALID_TOKEN = {"code": 124, "message": "Invalid access token."}
PER_SECOND = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
NOT_SCHEDULED = "Polls are only available for scheduled meetings."  # wording assumed
RECORDING_METHODS = {"recording.start", "recording.stop", "recording.pause", "recording.resume"}


@dataclass
class FakeMeeting:
    id: int
    uuid: str
    type: int = 2  # scheduled
    status: str = "waiting"
    host_id: str = "x1yCzABCDEfg23HiJKl4mN"
    topic: str = "Facilitative Consultant — session 3"
    recording: str = "off"  # off | recording | paused
    polls: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class PastMeeting:
    uuid: str
    id: int
    start_time: str = "2026-05-04T09:00:00Z"
    participants: list[dict[str, Any]] = field(default_factory=list)
    poll_answers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Logged:
    method: str
    path: str  # decoded once, as routed
    raw_path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Throttle:
    retry_after: str | None
    daily: bool


class FakeZoom:
    """State and switches of one fake Zoom account."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        account_id: str = "fake-account-id",
        client_id: str = "fake-client-id",
        client_secret: str | None = None,
        token_ttl: int = 3600,
    ) -> None:
        self.clock = clock
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.issued: list[str] = []
        self.meetings: dict[int, FakeMeeting] = {}
        self.past: dict[str, PastMeeting] = {}
        self.log: list[Logged] = []
        self._throttles: deque[_Throttle] = deque()
        self._server_errors = 0
        self._poll_refusals: deque[str] = deque()

    # -- switches -------------------------------------------------------------------------

    def add_meeting(self, meeting_id: int, **fields: Any) -> FakeMeeting:
        meeting = FakeMeeting(id=meeting_id, uuid=fields.pop("uuid", f"uuid-{meeting_id}=="))
        for key, value in fields.items():
            setattr(meeting, key, value)
        self.meetings[meeting_id] = meeting
        return meeting

    def add_past_meeting(self, uuid: str, meeting_id: int) -> PastMeeting:
        past = PastMeeting(uuid=uuid, id=meeting_id)
        self.past[uuid] = past
        return past

    def throttle(
        self, count: int = 1, *, retry_after: str | None = "1", daily: bool = False
    ) -> None:
        """Answer the next ``count`` API calls with 429."""
        self._throttles.extend(_Throttle(retry_after, daily) for _ in range(count))

    def fail_next(self, count: int = 1) -> None:
        """Answer the next ``count`` API calls with 503."""
        self._server_errors += count

    def refuse_next_polls(self, count: int = 1, message: str = NOT_SCHEDULED) -> None:
        """Refuse the next ``count`` poll creations with 400 (the meeting is not a scheduled
        meeting, or polling is off for the host), whatever the meeting's type says."""
        self._poll_refusals.extend(message for _ in range(count))

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (what Zoom does when the app's secret is rotated)."""
        self.tokens.clear()

    def api_log(self) -> list[Logged]:
        return [entry for entry in self.log if entry.path.startswith("/v2/")]

    def token_requests(self) -> list[Logged]:
        return [entry for entry in self.log if entry.path == "/oauth/token"]

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request = Request(scope, receive)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<not json>"
        raw_path = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        response = self._dispatch(request, raw_path, query, body)
        self.log.append(
            Logged(request.method, unquote(raw_path), raw_path, query, body, response.status_code)
        )
        await response(scope, receive, send)

    def _dispatch(
        self, request: Request, raw_path: str, query: dict[str, str], body: Any
    ) -> Response:
        if raw_path == "/oauth/token":
            return self._token(request, query)
        if not raw_path.startswith("/v2/"):
            return _error(404, 404, "Not found.")
        if not self._authorised(request):
            return JSONResponse(INVALID_TOKEN, status_code=401)
        if self._throttles:
            return self._throttled(self._throttles.popleft())
        if self._server_errors:
            self._server_errors -= 1
            return _error(503, 503, "Service temporarily unavailable.")
        parts = raw_path.split("/")[2:]  # after "", "v2"
        method = request.method
        if len(parts) == 2 and parts[0] == "meetings":
            meeting = self._meeting(parts[1])
            if isinstance(meeting, Response):
                return meeting
            if method == "GET":
                return JSONResponse(_meeting_json(meeting))
            if method == "PATCH":
                return self._update_meeting(meeting, body)
        if len(parts) == 3 and parts[0] == "meetings" and parts[2] == "polls" and method == "POST":
            meeting = self._meeting(parts[1])
            if isinstance(meeting, Response):
                return meeting
            return self._create_poll(meeting, body)
        if len(parts) == 3 and parts[0] == "live_meetings" and parts[2] == "events":
            if method == "PATCH":
                meeting = self._meeting(parts[1])
                if isinstance(meeting, Response):
                    return meeting
                return self._in_meeting(meeting, body)
        if len(parts) == 3 and parts[0] == "past_meetings" and parts[2] == "instances":
            if method == "GET" and parts[1].isdigit():
                return self._instances(int(parts[1]))
        if len(parts) == 3 and parts[0] == "past_meetings" and method == "GET":
            past = self._past(parts[1])
            if isinstance(past, Response):
                return past
            if parts[2] == "participants":
                return self._participants(past, query)
            if parts[2] == "polls":
                return JSONResponse(
                    {
                        "id": past.id,
                        "uuid": past.uuid,
                        "start_time": past.start_time,
                        "questions": past.poll_answers,
                    }
                )
        return _error(404, 404, "Not found.")

    # -- OAuth ----------------------------------------------------------------------------

    def _token(self, request: Request, query: dict[str, str]) -> Response:
        if request.method != "POST":
            return _error(405, 405, "Method not allowed.")
        if query.get("grant_type") != "account_credentials":
            return JSONResponse(
                {"reason": "Unsupported grant type", "error": "unsupported_grant_type"},
                status_code=400,
            )
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                status_code=400,
            )
        if query.get("account_id") != self.account_id:
            return JSONResponse(
                {"reason": "Invalid account_id", "error": "invalid_request"}, status_code=400
            )
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self.clock() + self.token_ttl
        self.issued.append(token)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_ttl,
                "scope": "meeting:read:meeting:admin meeting:write:poll:admin "
                "meeting:update:meeting:admin meeting:update:in_meeting_controls:admin "
                "meeting:read:list_poll_results:admin meeting:read:list_past_participants:admin",
                "api_url": "https://api.zoom.us",
            }
        )

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        expiry = self.tokens.get(header.removeprefix("Bearer "))
        return expiry is not None and self.clock() < expiry

    def _throttled(self, throttle: _Throttle) -> Response:
        headers = {
            "X-RateLimit-Category": "Light",
            "X-RateLimit-Type": "Daily-limit" if throttle.daily else "QPS",
            "X-RateLimit-Limit": "6000" if throttle.daily else "30",
            "X-RateLimit-Remaining": "0",
        }
        if throttle.retry_after is not None:
            headers["Retry-After"] = throttle.retry_after
        message = DAILY if throttle.daily else PER_SECOND
        return JSONResponse({"code": 429, "message": message}, status_code=429, headers=headers)

    # -- resources ------------------------------------------------------------------------

    def _meeting(self, segment: str) -> FakeMeeting | Response:
        if not segment.isdigit():
            return _error(400, 300, f"Invalid meeting id: {unquote(segment)}.")
        meeting = self.meetings.get(int(segment))
        if meeting is None:
            return _error(404, 3001, f"Meeting does not exist: {segment}.")
        return meeting

    def _past(self, segment: str) -> PastMeeting | Response:
        uuid = unquote(segment)
        if "%" in uuid:
            uuid = unquote(uuid)  # double-encoded, as Zoom asks for some UUIDs
        elif uuid.startswith("/") or "//" in uuid:
            # Zoom's rule: such a UUID must be double-encoded, else it does not route
            return _error(404, 3001, "Meeting does not exist.")
        past = self.past.get(uuid)
        if past is None:
            return _error(404, 3001, f"Meeting does not exist: {uuid}.")
        return past

    def _update_meeting(self, meeting: FakeMeeting, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, 300, "Request Body should be a valid JSON object.")
        settings = body.get("settings", {})
        breakout = settings.get("breakout_room") if isinstance(settings, dict) else None
        if breakout is not None:
            rooms = breakout.get("rooms", []) if isinstance(breakout, dict) else None
            if not isinstance(rooms, list) or not all(
                isinstance(r, dict) and isinstance(r.get("name"), str) for r in rooms
            ):
                return _validation("settings.breakout_room.rooms")
            meeting.settings["breakout_room"] = breakout
        return Response(status_code=204)

    def _create_poll(self, meeting: FakeMeeting, body: Any) -> Response:
        if meeting.type == 1:
            return _error(400, 300, "Polls are not available for instant meetings.")
        if self._poll_refusals:
            return _error(400, 300, self._poll_refusals.popleft())
        if not isinstance(body, dict):
            return _error(400, 300, "Request Body should be a valid JSON object.")
        title = body.get("title")
        questions = body.get("questions")
        if not isinstance(title, str) or not title or len(title) > 64:
            return _validation("title")
        if not isinstance(questions, list) or not questions:
            return _validation("questions")
        for question in questions:
            if (
                not isinstance(question, dict)
                or not isinstance(question.get("name"), str)
                or question.get("type") not in ("single", "multiple")
                or not isinstance(question.get("answers"), list)
                or len(question["answers"]) < 2
            ):
                return _validation("questions")
        poll = {
            "id": secrets.token_hex(11),
            "title": title,
            "anonymous": bool(body.get("anonymous", False)),
            "poll_type": body.get("poll_type", 1),
            "status": "notstart",
            "questions": questions,
        }
        meeting.polls.append(poll)
        return JSONResponse(poll, status_code=201)

    def _in_meeting(self, meeting: FakeMeeting, body: Any) -> Response:
        method = body.get("method") if isinstance(body, dict) else None
        if method not in RECORDING_METHODS and method != "participant.invite":
            return _validation("method")
        if meeting.status != "started":
            return _error(400, 3000, f"Meeting {meeting.id} is not in progress.")
        transitions = {
            "recording.start": ("off", "recording"),
            "recording.stop": (None, "off"),
            "recording.pause": ("recording", "paused"),
            "recording.resume": ("paused", "recording"),
        }
        if method in transitions:
            before, after = transitions[method]
            if before is not None and meeting.recording != before:
                return _error(400, 3000, f"Cannot {method}: recording is {meeting.recording}.")
            meeting.recording = after
        return Response(status_code=202)

    def _instances(self, meeting_id: int) -> Response:
        # Zoom lists ended occurrences only: the past meetings of this id
        found = [p for p in self.past.values() if p.id == meeting_id]
        if not found and meeting_id not in self.meetings:
            return _error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return JSONResponse(
            {"meetings": [{"uuid": p.uuid, "start_time": p.start_time} for p in found]}
        )

    def _participants(self, past: PastMeeting, query: dict[str, str]) -> Response:
        try:
            size = min(300, max(1, int(query.get("page_size", "30"))))
            start = int(query["next_page_token"][4:]) if "next_page_token" in query else 0
        except ValueError:
            return _error(400, 300, "Invalid page_size or next_page_token.")
        rows = past.participants[start : start + size]
        more = start + size < len(past.participants)
        return JSONResponse(
            {
                "page_count": -(-len(past.participants) // size),
                "page_size": size,
                "total_records": len(past.participants),
                "next_page_token": f"tok-{start + size}" if more else "",
                "participants": rows,
            }
        )


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _validation(fieldname: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": 300,
            "message": "Validation Failed.",
            "errors": [{"field": fieldname, "message": "Invalid field."}],
        },
        status_code=400,
    )


def _meeting_json(meeting: FakeMeeting) -> dict[str, Any]:
    return {
        "uuid": meeting.uuid,
        "id": meeting.id,
        "host_id": meeting.host_id,
        "topic": meeting.topic,
        "type": meeting.type,
        "status": meeting.status,
        "start_time": "2026-05-04T09:00:00Z",
        "duration": 90,
        "timezone": "Europe/Berlin",
        "settings": meeting.settings,
    }
