"""The Zoom REST channel: Server-to-Server OAuth and the handful of endpoints facilbot uses.

Why httpx and not ``zoomus``: zoomus is synchronous (it would block the event loop that fires
every session's cues), unmaintained since 2023, and never renews its Server-to-Server token, so
a long-running service starts failing after an hour. We call six endpoints; a small async
client is simpler than wrapping zoomus in threads.

Behaviour (facts and sources in ``NOTES.md``):

* token: ``POST {oauth_url}?grant_type=account_credentials&account_id=…`` with HTTP Basic
  ``client_id:client_secret``; cached, renewed ``renew_margin`` seconds before ``expires_in``
  runs out, and renewed once when Zoom answers 401 with code 124 (invalid access token);
* 429 and 500/502/503/504 (the token endpoint: any 5xx): wait ``Retry-After`` (seconds or a
  date) when given, else exponential backoff with jitter; a daily limit that outlasts the
  deadline fails at once. Network errors are not retried: the cue falls back instead. Poll
  creation is not retried on 5xx (see :meth:`ZoomClient.create_poll`);
* every call has an overall deadline (a cue's grace bounds it); what cannot finish in time
  raises :class:`ZoomApiError` so the caller falls back to the next channel;
* errors carry the HTTP status and Zoom's ``code``/``message`` only: never a token or a body.

Retries, deadlines and the token cache are :mod:`integrations.resilience`'s. ``clock`` (epoch
seconds) and ``sleep`` are injected so tests run on a virtual clock.
"""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from integrations.resilience import (
    Clock,
    IssuedToken,
    RetryPolicy,
    Sleep,
    TokenCache,
    Transient,
    real_sleep,
    retry_after_seconds,
    wall_clock,
)

DEFAULT_API_BASE_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"
INVALID_TOKEN_CODE = 124
SERVER_ERRORS = (500, 502, 503, 504)  # retried on the API; the token endpoint retries any 5xx


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


def _invalid_token(response: httpx.Response) -> bool:
    return response.status_code == 401 and _zoom_error(response)[0] == INVALID_TOKEN_CODE


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
        clock: Clock = wall_clock,
        sleep: Sleep = real_sleep,
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
        self._deadline = deadline
        self._retry = RetryPolicy(
            clock=clock,
            sleep=sleep,
            jitter=jitter,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )
        self._tokens = TokenCache(self._fetch_token, clock=clock, renew_margin=renew_margin)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> ZoomClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- token ----------------------------------------------------------------------------

    async def _fetch_token(self, until: float) -> IssuedToken:
        c = self._credentials
        basic = base64.b64encode(f"{c.client_id}:{c.client_secret}".encode()).decode("ascii")

        async def attempt() -> httpx.Response:
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
                raise self._transient(response)
            return response

        response = await self._retry.run(attempt, until=until)
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
        return IssuedToken(token, expires_in)

    # -- requests -------------------------------------------------------------------------

    def _transient(self, response: httpx.Response) -> Transient:
        """A 429 or 5xx worth another try, failing with Zoom's status and code if none is
        left."""
        code, message = _zoom_error(response)
        hint = retry_after_seconds(response.headers.get("Retry-After"), self._clock())
        if hint is None and response.headers.get("X-RateLimit-Type", "").lower().startswith(
            "daily"
        ):
            hint = math.inf  # a daily quota does not come back within a cue's grace
        status = response.status_code
        return Transient(
            lambda wait: ZoomApiError(
                status, message, code=code, retry_after=None if math.isinf(wait) else wait
            ),
            retry_after=hint,
        )

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
        tokens = self._tokens.for_call(until)

        async def send(token: str) -> httpx.Response:
            remaining = until - self._clock()
            if remaining <= 0:
                raise ZoomApiError(None, f"deadline passed before {method} {path}")
            try:
                return await self._http.request(
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

        async def attempt() -> httpx.Response:
            response = await tokens.send(send, is_refused=_invalid_token)
            status = response.status_code
            if status == 429 or (retry_server_errors and status in SERVER_ERRORS):
                raise self._transient(response)
            if status >= 400:
                code, message = _zoom_error(response)
                raise ZoomApiError(status, message, code=code)
            return response

        return await self._retry.run(attempt, until=until)

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
