"""The Zoom REST channel: Server-to-Server OAuth and the handful of endpoints facilbot uses.

Why httpx and not ``zoomus``: zoomus is synchronous (it would block the event loop that fires
every session's cues), unmaintained since 2023, and never renews its Server-to-Server token, so
a long-running service starts failing after an hour. We call six endpoints; a small async
client is simpler than wrapping zoomus in threads.

Behaviour (facts and sources in ``NOTES.md``):

* token: ``POST {oauth_url}?grant_type=account_credentials&account_id=…`` with HTTP Basic
  ``client_id:client_secret``; cached, renewed ``renew_margin`` seconds before ``expires_in``
  runs out, and renewed once when Zoom answers 401 with code 124 (invalid access token);
* 429: wait ``Retry-After`` (seconds or a date) when given, else exponential backoff with
  jitter; a daily limit that outlasts the deadline fails at once;
* every call has an overall deadline (a cue's grace bounds it); what cannot finish in time
  raises :class:`ZoomApiError` so the caller falls back to the next channel;
* errors carry the HTTP status and Zoom's ``code``/``message`` only: never a token or a body.

``clock`` (epoch seconds) and ``sleep`` are injected so tests run on a virtual clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_API_BASE_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"
INVALID_TOKEN_CODE = 124

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class ZoomApiError(Exception):
    """A Zoom call failed. The message never holds a token or a response body."""

    def __init__(
        self,
        status: int | None,
        message: str,
        *,
        code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        where = f"HTTP {status}" if status is not None else "no response"
        text = f"Zoom API {where}" + (f" (code {code})" if code is not None else "")
        super().__init__(f"{text}: {message}")
        self.status = status
        self.code = code
        self.zoom_message = message
        self.retry_after = retry_after


class ZoomAuthError(ZoomApiError):
    """The OAuth token endpoint refused our credentials."""


@dataclass(frozen=True, slots=True)
class ZoomCredentials:
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ZoomMeeting:
    id: int
    uuid: str
    type: int  # 1 instant, 2 scheduled, 3 recurring without fixed time, 8 recurring, 4 PMI
    topic: str
    status: str | None  # "waiting" or "started" per Zoom
    host_id: str | None

    @property
    def instant(self) -> bool:
        return self.type == 1


@dataclass(frozen=True, slots=True)
class PollQuestion:
    name: str
    answers: tuple[str, ...]
    multiple: bool = False


@dataclass(frozen=True, slots=True)
class ZoomPoll:
    id: str
    title: str
    status: str | None


@dataclass(frozen=True, slots=True)
class BreakoutAssignment:
    """A pre-assigned room: Zoom matches participants by email."""

    name: str
    emails: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PollAnswerRecord:
    name: str
    email: str | None
    question: str
    answer: str
    polling_id: str | None
    date_time: str | None


@dataclass(frozen=True, slots=True)
class PastParticipant:
    """One row of a past meeting's participants: one row per join, so a person who rejoined
    appears more than once. ``duration`` is in seconds."""

    id: str | None
    name: str
    email: str | None
    user_id: str | None = None
    join_time: str | None = None
    leave_time: str | None = None
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class PastInstance:
    """An ended occurrence of a meeting (``GET /past_meetings/{meetingId}/instances``)."""

    uuid: str
    start_time: str | None


def meeting_path_id(value: str | int) -> str:
    """A meeting id or UUID ready for a URL path.

    A numeric id goes as is. A UUID is percent-encoded; Zoom requires it *double*-encoded when
    it begins with ``/`` or contains ``//``.
    """
    text = str(value)
    if text.isdigit():
        return text
    once = quote(text, safe="")
    if text.startswith("/") or "//" in text:
        return quote(once, safe="")
    return once


def _parse_retry_after(value: str | None, now: float) -> float | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):  # not seconds: then an HTTP date, below
        return max(0.0, float(value))
    when: datetime | None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _zoom_error(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.reason_phrase or "error"
    if not isinstance(body, dict):
        return None, response.reason_phrase or "error"
    code = body.get("code")
    message = body.get("message") or body.get("reason") or body.get("error")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        str(message)[:300] if message else (response.reason_phrase or "error"),
    )


class ZoomClient:
    """Async Zoom REST client for one account (Server-to-Server OAuth)."""

    def __init__(
        self,
        credentials: ZoomCredentials,
        *,
        api_base_url: str = DEFAULT_API_BASE_URL,
        oauth_url: str = DEFAULT_OAUTH_URL,
        http: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        renew_margin: float = 300.0,
        deadline: float = 10.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        self._credentials = credentials
        self._api = api_base_url.rstrip("/")
        self._oauth_url = oauth_url
        self._http = http if http is not None else httpx.AsyncClient()
        self._owns_http = http is None
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._renew_margin = renew_margin
        self._deadline = deadline
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> ZoomClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- token ----------------------------------------------------------------------------

    async def _access_token(self, until: float) -> str:
        if self._token is not None and self._clock() < self._token_renew_at:
            return self._token
        # one fetch at a time: Zoom caps how many live tokens an app may hold
        async with self._token_lock:
            if self._token is not None and self._clock() < self._token_renew_at:
                return self._token
            await self._fetch_token(until)
            assert self._token is not None
            return self._token

    def _invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def _fetch_token(self, until: float) -> None:
        c = self._credentials
        basic = base64.b64encode(f"{c.client_id}:{c.client_secret}".encode()).decode("ascii")
        attempt = 0
        while True:
            remaining = until - self._clock()
            if remaining <= 0:
                raise ZoomApiError(None, "deadline passed while fetching an access token")
            try:
                response = await self._http.post(
                    self._oauth_url,
                    params={"grant_type": "account_credentials", "account_id": c.account_id},
                    headers={"Authorization": f"Basic {basic}"},
                    timeout=remaining,
                )
            except httpx.HTTPError as error:
                raise ZoomApiError(None, f"token request failed: {type(error).__name__}") from None
            if response.status_code == 429 or response.status_code >= 500:
                attempt += 1
                await self._wait_or_fail(response, attempt, until)
                continue
            if response.status_code != 200:
                code, message = _zoom_error(response)
                raise ZoomAuthError(response.status_code, message, code=code)
            try:
                body = response.json()
                token = body["access_token"]
                expires_in = float(body.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError):
                raise ZoomAuthError(200, "token response lacks access_token") from None
            if not isinstance(token, str) or not token:
                raise ZoomAuthError(200, "token response lacks access_token")
            margin = min(self._renew_margin, expires_in / 2)
            self._token = token
            self._token_renew_at = self._clock() + expires_in - margin
            return

    # -- requests -------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._jitter() * ceiling / 2

    async def _wait_or_fail(self, response: httpx.Response, attempt: int, until: float) -> None:
        """Sleep before a retry, or raise when the wait would pass the deadline."""
        code, message = _zoom_error(response)
        now = self._clock()
        hinted = _parse_retry_after(response.headers.get("Retry-After"), now)
        daily = response.headers.get("X-RateLimit-Type", "").lower().startswith("daily")
        wait = hinted if hinted is not None else self._backoff(attempt)
        if daily and hinted is None:
            wait = float("inf")  # a daily quota does not come back within a cue's grace
        if attempt >= self._max_attempts or now + wait > until:
            raise ZoomApiError(
                response.status_code,
                message,
                code=code,
                retry_after=None if wait == float("inf") else wait,
            )
        await self._sleep(wait)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        deadline: float | None = None,
        retry_server_errors: bool = True,
    ) -> httpx.Response:
        until = self._clock() + (deadline if deadline is not None else self._deadline)
        attempt = 0
        renewed = False
        while True:
            token = await self._access_token(until)
            remaining = until - self._clock()
            if remaining <= 0:
                raise ZoomApiError(None, f"deadline passed before {method} {path}")
            try:
                response = await self._http.request(
                    method,
                    self._api + path,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=remaining,
                )
            except httpx.TimeoutException:
                raise ZoomApiError(None, f"{method} {path} timed out") from None
            except httpx.HTTPError as error:
                failure = f"{method} {path} failed: {type(error).__name__}"
                raise ZoomApiError(None, failure) from None
            status = response.status_code
            if status == 401 and not renewed:
                code, _ = _zoom_error(response)
                if code == INVALID_TOKEN_CODE:
                    renewed = True
                    self._invalidate(token)
                    continue
            if status == 429 or (retry_server_errors and status in (500, 502, 503, 504)):
                attempt += 1
                await self._wait_or_fail(response, attempt, until)
                continue
            if status >= 400:
                code, message = _zoom_error(response)
                raise ZoomApiError(status, message, code=code)
            return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise ZoomApiError(response.status_code, "response is not JSON") from None
        if not isinstance(body, dict):
            raise ZoomApiError(response.status_code, "response is not a JSON object")
        return body

    # -- endpoints ------------------------------------------------------------------------

    async def get_meeting(
        self, meeting_id: str | int, *, deadline: float | None = None
    ) -> ZoomMeeting:
        """``GET /meetings/{meetingId}``."""
        response = await self._request(
            "GET", f"/meetings/{meeting_path_id(meeting_id)}", deadline=deadline
        )
        body = self._json(response)
        try:
            return ZoomMeeting(
                id=int(body["id"]),
                uuid=str(body.get("uuid") or ""),
                type=int(body.get("type") or 0),
                topic=str(body.get("topic") or ""),
                status=body.get("status") if isinstance(body.get("status"), str) else None,
                host_id=body.get("host_id") if isinstance(body.get("host_id"), str) else None,
            )
        except (KeyError, TypeError, ValueError):
            raise ZoomApiError(response.status_code, "meeting response lacks an id") from None

    async def create_poll(
        self,
        meeting_id: str | int,
        title: str,
        questions: Sequence[PollQuestion],
        *,
        anonymous: bool = False,
        deadline: float | None = None,
    ) -> ZoomPoll:
        """``POST /meetings/{meetingId}/polls`` (scheduled meetings only; not retried on 5xx)."""
        body = {
            "title": title[:64],  # Zoom's limit
            "anonymous": anonymous,
            "poll_type": 1,
            "questions": [
                {
                    "name": q.name,
                    "type": "multiple" if q.multiple else "single",
                    "answers": list(q.answers),
                }
                for q in questions
            ],
        }
        response = await self._request(
            "POST",
            f"/meetings/{meeting_path_id(meeting_id)}/polls",
            json=body,
            deadline=deadline,
            retry_server_errors=False,  # a retried POST could create the poll twice
        )
        data = self._json(response)
        poll_id = data.get("id")
        if not isinstance(poll_id, str) or not poll_id:
            raise ZoomApiError(response.status_code, "poll response lacks an id")
        status = data.get("status")
        return ZoomPoll(
            id=poll_id,
            title=str(data.get("title") or title),
            status=status if isinstance(status, str) else None,
        )

    async def set_breakout_rooms(
        self,
        meeting_id: str | int,
        rooms: Sequence[BreakoutAssignment],
        *,
        deadline: float | None = None,
    ) -> None:
        """Pre-assign breakout rooms: ``PATCH /meetings/{meetingId}`` ``settings.breakout_room``."""
        body = {
            "settings": {
                "breakout_room": {
                    "enable": True,
                    "rooms": [{"name": r.name, "participants": list(r.emails)} for r in rooms],
                }
            }
        }
        await self._request(
            "PATCH", f"/meetings/{meeting_path_id(meeting_id)}", json=body, deadline=deadline
        )

    async def _in_meeting(self, meeting_id: str | int, method: str, deadline: float | None) -> None:
        await self._request(
            "PATCH",
            f"/live_meetings/{meeting_path_id(meeting_id)}/events",
            json={"method": method},
            deadline=deadline,
        )

    async def pause_recording(
        self, meeting_id: str | int, *, deadline: float | None = None
    ) -> None:
        """``PATCH /live_meetings/{meetingId}/events`` ``{"method": "recording.pause"}``."""
        await self._in_meeting(meeting_id, "recording.pause", deadline)

    async def resume_recording(
        self, meeting_id: str | int, *, deadline: float | None = None
    ) -> None:
        """``PATCH /live_meetings/{meetingId}/events`` ``{"method": "recording.resume"}``."""
        await self._in_meeting(meeting_id, "recording.resume", deadline)

    async def past_polls(
        self, meeting_uuid: str | int, *, deadline: float | None = None
    ) -> list[PollAnswerRecord]:
        """``GET /past_meetings/{meetingId}/polls``: one record per answered question."""
        response = await self._request(
            "GET", f"/past_meetings/{meeting_path_id(meeting_uuid)}/polls", deadline=deadline
        )
        records: list[PollAnswerRecord] = []
        for person in self._json(response).get("questions") or []:
            if not isinstance(person, dict):
                continue
            email = person.get("email")
            for detail in person.get("question_details") or []:
                if not isinstance(detail, dict):
                    continue
                records.append(
                    PollAnswerRecord(
                        name=str(person.get("name") or ""),
                        email=email if isinstance(email, str) and email else None,
                        question=str(detail.get("question") or ""),
                        answer=str(detail.get("answer") or ""),
                        polling_id=_opt_str(detail.get("polling_id")),
                        date_time=_opt_str(detail.get("date_time")),
                    )
                )
        return records

    async def past_participants(
        self,
        meeting_uuid: str | int,
        *,
        page_size: int = 300,
        deadline: float | None = None,
    ) -> list[PastParticipant]:
        """``GET /past_meetings/{meetingId}/participants``, following ``next_page_token``."""
        path = f"/past_meetings/{meeting_path_id(meeting_uuid)}/participants"
        found: list[PastParticipant] = []
        token = ""
        for _ in range(1000):  # a hard stop against a server that never stops paging
            params: dict[str, str | int] = {"page_size": page_size}
            if token:
                params["next_page_token"] = token
            body = self._json(await self._request("GET", path, params=params, deadline=deadline))
            for row in body.get("participants") or []:
                if isinstance(row, dict):
                    duration = row.get("duration")
                    found.append(
                        PastParticipant(
                            id=_opt_str(row.get("id")),
                            name=str(row.get("name") or ""),
                            email=_opt_str(row.get("user_email")),
                            user_id=_opt_str(row.get("user_id")),
                            join_time=_opt_str(row.get("join_time")),
                            leave_time=_opt_str(row.get("leave_time")),
                            duration=duration
                            if isinstance(duration, int) and not isinstance(duration, bool)
                            else None,
                        )
                    )
            token = body.get("next_page_token") or ""
            if not isinstance(token, str) or not token:
                return found
        raise ZoomApiError(None, "participants paging did not end")

    async def past_instances(
        self, meeting_id: str | int, *, deadline: float | None = None
    ) -> list[PastInstance]:
        """``GET /past_meetings/{meetingId}/instances``: the meeting's ended occurrences."""
        response = await self._request(
            "GET", f"/past_meetings/{meeting_path_id(meeting_id)}/instances", deadline=deadline
        )
        found: list[PastInstance] = []
        for row in self._json(response).get("meetings") or []:
            if isinstance(row, dict):
                uuid = _opt_str(row.get("uuid"))
                if uuid is not None:
                    found.append(PastInstance(uuid, _opt_str(row.get("start_time"))))
        return found


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
