"""The participants' companion page: its link key, what it shows, and what it accepts.

Who may use it: whoever holds the session's companion link. The link carries a key, an HMAC
of the session id under the server's pages secret, in its fragment (``#k=…``), so it is never
sent in a request line or logged; the page sends it back in the ``X-Companion-Key`` header.
It lets a participant read the live prompt, poll, rooms and break countdown of that one
session; writing (a commitment, a poll answer) also needs the person's own participant key
(:mod:`facilbot.journey.identity`). Nothing else (no roster, no producer cues).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from facilbot.engine.state import SessionState
from facilbot.engine.view import readable
from facilbot.settings import Settings
from runofshow.model import Show

log = logging.getLogger("facilbot.pages")

KEY_HEADER = "X-Companion-Key"
_KEY_CONTEXT = b"facilbot companion link v1\x00"
#: After the session ends the page is its recap for ``access.recap_for`` (this unless the show
#: says otherwise), and still takes commitments (marked asynchronous): the way in for people
#: who missed the session.
FORM_OPEN_AFTER_END = timedelta(days=7)
DEFAULT_PROMPT = "Type one specific action you will take in the next 48 hours."


def pages_secret(settings: Settings) -> bytes:
    """The key that signs companion links: configured, or random for this process (the
    composition root calls this once and keeps the result on the services)."""
    if settings.pages_secret is not None and settings.pages_secret.get_secret_value():
        return settings.pages_secret.get_secret_value().encode("utf-8")
    log.warning(
        "FACILBOT_PAGES_SECRET is not set: companion links are signed with a random key "
        "and stop working when this process restarts"
    )
    return secrets.token_bytes(32)


def companion_key(secret: bytes, session_id: str) -> str:
    digest = hmac.new(secret, _KEY_CONTEXT + session_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def key_matches(secret: bytes, session_id: str, given: str) -> bool:
    expected = companion_key(secret, session_id)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def companion_url(base_url: str, session_id: str, key: str) -> str:
    return f"{base_url}/companion/{session_id}#k={key}"


# --- what the page shows --------------------------------------------------------------------


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the state's SegmentView

    id: str
    title: str | None
    kind: str
    end: datetime | None


class PollOut(BaseModel):
    key: str
    question: str
    options: list[str]
    multiple: bool = False


class ResultOut(BaseModel):
    """A closed poll's results, for the participants (counts only, never who chose what)."""

    key: str
    question: str
    options: list[str]
    counts: dict[str, int]
    answers: int


class RoomOut(BaseModel):
    name: str
    people: list[str]


class BreakOut(BaseModel):
    text: str
    ends_at: datetime | None


class FormOut(BaseModel):
    prompt: str
    accepting: bool


class CompanionView(BaseModel):
    session_id: str
    show_title: str
    status: str
    paused: bool
    now: datetime
    segment: SegmentOut | None = None
    time_left_seconds: float | None = None
    prompt: str | None = None
    poll: PollOut | None = None
    results: ResultOut | None = None
    rooms: list[RoomOut] = []
    on_break: BreakOut | None = None
    commitments: FormOut | None = None


def accepting_commitments(
    show: Show, status: str, ended_at: datetime | None, now: datetime
) -> bool:
    """The form takes commitments while the show runs and during the recap after it ends."""
    if status == "running":
        return True
    if status == "ended" and ended_at is not None:
        return now - ended_at <= timedelta(seconds=show.access.recap_for)
    return False


def build_view(
    state: SessionState, live: dict[str, Any], show: Show, *, ended_at: datetime | None
) -> CompanionView:
    """The page's view from the session state and the companion channel's live state."""
    if state.status == "ended":
        # What was live (the last prompt, poll, results, rooms) is over; the recap shows
        # what was asked, with the results, in its place.
        live = {}
    current = state.current_segment
    segment = (
        SegmentOut(
            id=current.id,
            title=current.title or readable(current.id),  # console views carry one already
            kind=current.kind,
            end=current.end,
        )
        if current is not None
        else None
    )
    poll = None
    if isinstance(live.get("poll"), dict):
        data = live["poll"]
        poll = PollOut(
            key=str(data.get("poll_key", "")),
            question=str(data.get("question", "")),
            options=[str(o) for o in data.get("options", ())],
            multiple=bool(data.get("multiple", False)),
        )
    rooms = []
    for room in live.get("rooms") or ():
        names = [str(n) for n in room.get("names", ())]
        rooms.append(RoomOut(name=str(room.get("name", "")), people=names))
    on_break = None
    if isinstance(live.get("break"), dict) or (current is not None and current.kind == "break"):
        text = str((live.get("break") or {}).get("text") or "Break")
        on_break = BreakOut(text=text, ends_at=current.end if current is not None else None)
    accepting = accepting_commitments(show, state.status, ended_at, state.now)
    prompt_text: str | None = None
    if isinstance(live.get("commitments"), dict):
        prompt_text = str(live["commitments"].get("prompt") or DEFAULT_PROMPT)
    elif current is not None and current.kind == "commitments":
        prompt_text = _segment_prompt(show, current.id)
    elif state.status == "ended" and accepting:
        prompt_text = DEFAULT_PROMPT
    return CompanionView(
        session_id=state.id,
        show_title=state.show_title,
        status=state.status,
        paused=state.paused,
        now=state.now,
        segment=segment,
        time_left_seconds=state.segment_time_left_seconds,
        prompt=str(live["prompt"]) if live.get("prompt") else None,
        poll=poll,
        results=None if poll is not None or state.status == "ended" else last_results(state, show),
        rooms=rooms,
        on_break=on_break,
        commitments=FormOut(prompt=prompt_text, accepting=accepting) if prompt_text else None,
    )


def last_results(state: SessionState, show: Show) -> ResultOut | None:
    """The results of the poll that closed last, unless its show says ``show_results: false``."""
    shown = {
        segment.cue_id(index)
        for segment in show.segments
        for index, cue in enumerate(segment.cues)
        if cue.poll is not None and cue.poll.show_results
    }
    closed = [
        f.key.split("@", 1)[0].split("#", 1)[0]  # "debrief-1#2@close" closes "debrief-1"
        for f in state.firings
        if f.action == "poll_close" and f.status in ("sent", "acknowledged")
    ]
    polls = {p.key: p for p in state.polls}
    for key in reversed(closed):
        if key in polls:
            if key not in shown:
                return None
            poll = polls[key]
            return ResultOut(
                key=poll.key,
                question=poll.question,
                options=poll.options,
                counts=poll.counts,
                answers=poll.answers,
            )
    return None


def _segment_prompt(show: Show, segment_id: str) -> str:
    for segment in show.segments:
        if segment.id == segment_id and segment.prompt:
            return segment.prompt
    return DEFAULT_PROMPT
