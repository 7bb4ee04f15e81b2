"""The Teams harness for the contract suite.

The meeting lives behind local fakes (Entra ID, Bot Framework keys, Bot Connector; see
``tests/integrations/teams/fakes.py``). Inbound traffic is produced the Teams way: Bot Framework
activities with a Connector JWT signed by the fake's key, authenticated by the real
``BotAuthenticator`` and normalised by the real ``normalise``. Actions go out through the real
``TeamsAdapter`` and ``BotConnectorClient``; ``reached_platform`` reads the fake connector's log.
"""

from __future__ import annotations

import copy
import itertools
from types import TracebackType
from typing import Any, Self

from integrations.contract import InboundEvent, MeetingAdapter, Platform
from integrations.teams.activities import (
    MEETING_END,
    MEETING_START,
    PARTICIPANT_JOIN,
    PARTICIPANT_LEAVE,
    normalise,
)
from integrations.teams.adapter import (
    BACK_PREFIX,
    BREAK_PREFIX,
    COMMIT_PREFIX,
    COMMITMENTS_CLOSED,
    TeamsAdapter,
)
from integrations.teams.botauth import BotAuthenticator
from integrations.teams.connector import BotConnectorClient
from integrations.teams.entra import BOT_FRAMEWORK_SCOPE, EntraTokenProvider
from tests.support.clock import FakeClock

from ..teams.fakes import (
    APP_ID,
    APP_PASSWORD,
    BF_METADATA,
    SERVICE_URL,
    TENANT,
    FakeMicrosoft,
    Recorded,
)
from .harness import (
    CHAT_TEXT,
    COMMAND_TEXT,
    GUEST_NAME,
    HOST_EMAIL,
    HOST_NAME,
    POLL_ANSWERS,
    POLL_CHOICE,
)

MEETING = "19:meeting_NTM3ZDJjOTUtZGRhOS00MzYxLTk5NDAtMzY4M2IzZWFjZGE1@thread.v2"
BOT = {"id": "28:" + APP_ID, "name": "facilbot"}
HOST = {"id": "29:host-teams-id", "name": HOST_NAME, "aadObjectId": "aad-host-0001"}
GUEST = {"id": "29:guest-teams-id", "name": GUEST_NAME}  # a guest: no Entra object id


class TeamsHarness:
    def __init__(self) -> None:
        self._clock = FakeClock(1_700_000_000.0)
        self._fake = FakeMicrosoft(clock=self._clock)
        self._http = self._fake.client()
        tokens = EntraTokenProvider(
            client_id=APP_ID,
            client_secret=APP_PASSWORD,
            tenant=TENANT,
            scope=BOT_FRAMEWORK_SCOPE,
            http=self._http,
            clock=self._clock,
        )
        connector = BotConnectorClient(
            tokens, http=self._http, clock=self._clock, sleep=self._clock.sleep
        )
        self._adapter = TeamsAdapter(connector, clock=self._clock)
        self._auth = BotAuthenticator(
            APP_ID, http=self._http, metadata_url=BF_METADATA, clock=self._clock
        )
        self._last: dict[str, Any] | None = None
        self._ids = itertools.count(1_700_000_000_001)

    @property
    def platform(self) -> Platform:
        return Platform.teams

    @property
    def adapter(self) -> MeetingAdapter:
        return self._adapter

    @property
    def meeting_ref(self) -> str:
        return MEETING

    @property
    def supports(self) -> frozenset[str]:
        return frozenset({POLL_ANSWERS})

    @property
    def secrets(self) -> tuple[str, ...]:
        return (APP_PASSWORD, *self._fake.issued)

    async def __aenter__(self) -> Self:
        # the bot learns the meeting's service URL from its first authenticated activity
        await self._deliver(self._event(MEETING_START, {"Id": "m", "JoinUrl": "url"}))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def play_standard_scenario(self) -> list[InboundEvent]:
        host_user = {**HOST, "userPrincipalName": HOST_EMAIL, "email": HOST_EMAIL}
        steps = [
            self._event(MEETING_START, {"MeetingType": "Scheduled", "Title": "Session"}),
            self._members(PARTICIPANT_JOIN, host_user, "Organizer"),
            self._members(PARTICIPANT_JOIN, GUEST, "Attendee"),
            self._message(GUEST, CHAT_TEXT),
            self._message(HOST, f"<at>facilbot</at> {COMMAND_TEXT}", mention=True),
            self._poll_answer(GUEST),
            self._members(PARTICIPANT_LEAVE, GUEST, "Attendee", in_meeting=False),
            self._event(MEETING_END, {"MeetingType": "Scheduled", "Title": "Session"}),
        ]
        events: list[InboundEvent] = []
        for activity in steps:
            events.extend(await self._deliver(activity))
        return events

    async def replay_last(self) -> list[InboundEvent]:
        assert self._last is not None, "nothing delivered yet"
        return await self._deliver(copy.deepcopy(self._last))

    async def reached_platform(self) -> list[str]:
        kinds: list[str] = []
        poll_cards: set[str] = set()
        for request in self._fake.connector:
            if not request.accepted:
                continue
            kind = _classify(request, poll_cards)
            if kind:
                kinds.append(kind)
        return kinds

    # -- the Teams way in ----------------------------------------------------------------------

    async def _deliver(self, activity: dict[str, Any]) -> list[InboundEvent]:
        token = self._fake.mint()
        await self._auth.authenticate(f"Bearer {token}", activity)
        self._adapter.observe_activity(activity)
        self._last = activity
        events = normalise(activity)
        self._adapter.observe(events)
        return events

    def _base(self, kind: str, sender: dict[str, Any]) -> dict[str, Any]:
        self._clock.now += 7
        return {
            "type": kind,
            "id": str(next(self._ids)),
            "timestamp": _iso(self._clock.now),
            "channelId": "msteams",
            "serviceUrl": SERVICE_URL,
            "from": dict(sender),
            "conversation": {"isGroup": True, "conversationType": "groupChat", "id": MEETING},
            "recipient": dict(BOT),
            "channelData": {"tenant": {"id": TENANT}, "meeting": {"id": "MCMxOTptZWV0aW5n"}},
        }

    def _event(self, name: str, value: dict[str, Any]) -> dict[str, Any]:
        activity = self._base("event", HOST)
        activity.update(name=name, value=value)
        return activity

    def _members(
        self, name: str, user: dict[str, Any], role: str, *, in_meeting: bool = True
    ) -> dict[str, Any]:
        activity = self._base("event", HOST)
        del activity["id"]  # participant events may come without an id
        member = {"user": dict(user), "meeting": {"inMeeting": in_meeting, "role": role}}
        activity.update(name=name, value={"members": [member]})
        return activity

    def _message(
        self, sender: dict[str, Any], text: str, *, mention: bool = False
    ) -> dict[str, Any]:
        activity = self._base("message", sender)
        activity.update(text=text, textFormat="plain")
        if mention:
            activity["entities"] = [
                {"type": "mention", "mentioned": dict(BOT), "text": "<at>facilbot</at>"}
            ]
        return activity

    def _poll_answer(self, sender: dict[str, Any]) -> dict[str, Any]:
        activity = self._base("message", sender)
        options = [POLL_CHOICE, "No"]
        activity["value"] = {"facilbot_poll": "contract-poll", "options": options, "choice": "0"}
        return activity


def _classify(request: Recorded, poll_cards: set[str]) -> str | None:
    """Which action a connector request carried, from what Teams received."""
    body = request.body or {}
    if request.method == "PUT":
        activity_id = request.path.rsplit("/", 1)[1]
        return "close_poll" if activity_id in poll_cards and _closed(body) else None
    if request.path.endswith("/notification"):
        return None  # part of start_break
    attachments = body.get("attachments") or []
    if attachments:
        content = attachments[0].get("content", {})
        if any(item.get("type") == "Input.ChoiceSet" for item in content.get("body", [])):
            poll_cards.add(request.answer_id or "")
            return "open_poll"
        return None  # live results card
    text = body.get("text", "")
    if text == COMMITMENTS_CLOSED:
        return "close_commitments"
    for prefix, kind in (
        (BREAK_PREFIX, "start_break"),
        (BACK_PREFIX, "end_break"),
        (COMMIT_PREFIX, "open_commitments"),
    ):
        if text.startswith(prefix):
            return kind
    return "say"


def _closed(body: dict[str, Any]) -> bool:
    content = (body.get("attachments") or [{}])[0].get("content", {})
    return any("Poll closed" in str(item.get("text", "")) for item in content.get("body", []))


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def make_harness() -> TeamsHarness:
    return TeamsHarness()
