"""The Teams meeting adapter: actions into the meeting chat through the Bot Connector.

What Teams allows (DESIGN §2, NOTES.md): the bot posts into the meeting chat (text, Adaptive
Cards, card updates) and, with the RSC permission ``OnlineMeetingNotification.Send.Chat``, shows
targeted in-meeting notifications. Breakout rooms cannot be automated on Teams at all, and the
bot cannot post into a breakout room's chat: those actions are producer cues, with the
assignments ready to follow (``breakout_cue``).

The adapter learns a meeting's Bot Framework coordinates (service URL, conversation id, Teams
meeting id) from authenticated activities (``observe_activity``) or from ``attach``. Poll state
lives in memory: after a restart ``close_poll`` for an older poll raises ``ChannelError`` and the
engine falls back to the next channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.contract import (
    Action,
    Capabilities,
    Channel,
    ChannelError,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    Delivery,
    EndBreak,
    InboundEvent,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Outcome,
    ParticipantJoined,
    Platform,
    PollAnswer,
    ProducerCue,
    Say,
    StartBreak,
    WarnBreakouts,
)

from ._clock import Clock, wall_clock
from .activities import meeting_ref as activity_meeting_ref
from .activities import teams_meeting_id
from .cards import card_activity, poll_card, results_card, text_activity
from .connector import BotConnectorClient, ConnectorError

#: message prefixes: they tell people at a glance what the bot is asking for
BREAK_PREFIX = "☕ "
BACK_PREFIX = "▶️ "
COMMIT_PREFIX = "✍️ "
COMMITMENTS_CLOSED = "✍️ Commitments are closed. Thank you!"

_CHAT = (Channel.server_api, Channel.companion)
CAPABILITIES: Capabilities = {
    "say": _CHAT,
    "open_poll": _CHAT,
    "close_poll": _CHAT,
    "open_breakouts": (),  # Teams has no API for breakout rooms: producer cue
    "warn_breakouts": (),  # the bot cannot post into breakout rooms: the producer announces
    "close_breakouts": (),
    "start_break": _CHAT,
    "end_break": _CHAT,
    "open_commitments": _CHAT,
    "close_commitments": _CHAT,
    "producer_cue": (),
}


@dataclass(slots=True)
class _Meeting:
    service_url: str
    conversation_id: str
    teams_meeting_id: str | None = None
    teams_user_ids: dict[str, str] = field(default_factory=dict)  # person id -> 29:… id
    names: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Poll:
    meeting_ref: str
    card_id: str
    question: str
    options: tuple[str, ...]
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    results_id: str | None = None
    last_update: float | None = None
    dirty: bool = False
    closed: bool = False


class TeamsAdapter:
    platform = Platform.teams

    def __init__(
        self,
        connector: BotConnectorClient,
        *,
        companion_url: Callable[[str], str | None] | None = None,
        notify_breaks: bool = False,
        results_interval: float = 5.0,
        clock: Clock = wall_clock,
    ) -> None:
        self._connector = connector
        self._companion_url = companion_url
        self._notify_breaks = notify_breaks
        self._results_interval = results_interval
        self._clock = clock
        self._meetings: dict[str, _Meeting] = {}
        self._polls: dict[str, _Poll] = {}

    # -- what the adapter knows about meetings --------------------------------------------------

    def attach(
        self, meeting_ref: str, service_url: str, teams_meeting_id: str | None = None
    ) -> None:
        """Remember where the meeting's chat lives (from the store, after a restart)."""
        known = self._meetings.get(meeting_ref)
        if known is None:
            self._meetings[meeting_ref] = _Meeting(service_url, meeting_ref, teams_meeting_id)
        else:
            known.service_url = service_url
            known.teams_meeting_id = teams_meeting_id or known.teams_meeting_id

    def observe_activity(self, activity: Mapping[str, Any]) -> None:
        """Learn from an activity that already passed ``BotAuthenticator``: never call it with
        an unauthenticated one (its serviceUrl decides where the bot token is sent)."""
        service_url = activity.get("serviceUrl")
        if not isinstance(service_url, str) or not service_url:
            return
        ref = activity_meeting_ref(activity)
        self.attach(ref, service_url, teams_meeting_id(activity))
        meeting = self._meetings[ref]
        value = activity.get("value")
        members = value.get("members") if isinstance(value, Mapping) else None
        accounts = [m.get("user") for m in members or () if isinstance(m, Mapping)]
        accounts.append(activity.get("from"))
        for account in accounts:
            if not isinstance(account, Mapping) or not isinstance(account.get("id"), str):
                continue
            person = account.get("aadObjectId") or account["id"]
            meeting.teams_user_ids[str(person)] = account["id"]

    def observe(self, events: Iterable[InboundEvent]) -> None:
        """Keep participants' names for producer cues."""
        for event in events:
            meeting = self._meetings.get(event.meeting_ref)
            if meeting is not None and isinstance(event, ParticipantJoined):
                meeting.names[event.participant.id] = event.participant.name

    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    # -- carrying actions ------------------------------------------------------------------------

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        meeting = self._meetings.get(meeting_ref)
        if meeting is None:
            raise ChannelError("no Bot Framework conversation known for this meeting yet")
        match action:
            case Say(text=text):
                return await self._post(meeting, text_activity(text))
            case OpenPoll():
                return await self._open_poll(meeting_ref, meeting, action)
            case ClosePoll(poll_key=key):
                return await self._close_poll(meeting, key)
            case StartBreak(text=text):
                delivery = await self._post(meeting, text_activity(BREAK_PREFIX + text))
                return await self._notify_break(meeting_ref, meeting, delivery)
            case EndBreak(text=text):
                return await self._post(meeting, text_activity(BACK_PREFIX + text))
            case OpenCommitments(prompt=prompt):
                return await self._post(meeting, text_activity(COMMIT_PREFIX + prompt))
            case CloseCommitments():
                return await self._post(meeting, text_activity(COMMITMENTS_CLOSED))
            case OpenBreakouts() | WarnBreakouts() | CloseBreakouts():
                raise ChannelError("Teams cannot automate breakout rooms; the producer does it")
            case ProducerCue():
                raise ChannelError("a producer cue is not carried by the Teams bot")
        raise ChannelError(f"unknown action {type(action).__name__}")  # pragma: no cover

    def producer_cue(self, meeting_ref: str, action: Action) -> ProducerCue | None:
        """Teams' own wording for what the producer must do by hand (rooms), else None."""
        if isinstance(action, OpenBreakouts):
            return self.breakout_cue(meeting_ref, action)
        return None

    def breakout_cue(self, meeting_ref: str, action: OpenBreakouts) -> ProducerCue:
        """The producer's instructions for rooms Teams will not open for us."""
        names = self._meetings[meeting_ref].names if meeting_ref in self._meetings else {}
        lines = []
        for room in action.rooms:
            shown = (
                room.names
                if len(room.names) == len(room.participant_ids)
                else tuple(names.get(pid, pid) for pid in room.participant_ids)
            )
            people = ", ".join(shown) or "(empty)"
            lines.append(f"{room.name}: {people}")
        minutes = max(1, round(action.duration / 60))
        text = (
            f"Open {len(action.rooms)} breakout rooms in Teams (Rooms > Create rooms, assign "
            f"manually), set a {minutes}-minute timer, assign people as listed, then Open rooms."
        )
        return ProducerCue(text=text, paste="\n".join(lines))

    # -- polls -----------------------------------------------------------------------------------

    async def record_answer(self, answer: PollAnswer) -> None:
        """Count an answer (a new answer replaces the person's previous one) and refresh the
        live results, at most once every ``results_interval`` seconds."""
        poll = self._polls.get(answer.poll_key)
        if poll is None or poll.closed or poll.meeting_ref != answer.meeting_ref:
            return
        known = [c for c in answer.choices if c in poll.options]
        if not known:
            return
        poll.answers[answer.participant_id] = tuple(known)
        poll.dirty = True
        now = self._clock()
        if poll.last_update is None or now - poll.last_update >= self._results_interval:
            await self.flush_results(answer.poll_key)

    async def flush_results(self, poll_key: str) -> None:
        """Post or update the live results card if answers came in since the last update."""
        poll = self._polls.get(poll_key)
        if poll is None or not poll.dirty or poll.closed:
            return
        meeting = self._meetings[poll.meeting_ref]
        activity = card_activity(
            results_card(poll.question, poll.options, _counts(poll), closed=False)
        )
        poll.dirty = False
        poll.last_update = self._clock()
        try:
            if poll.results_id is None:
                poll.results_id = await self._connector.send(
                    meeting.service_url, meeting.conversation_id, activity
                )
            else:
                await self._connector.update(
                    meeting.service_url, meeting.conversation_id, poll.results_id, activity
                )
        except ConnectorError:
            poll.dirty = True  # try again on the next answer or flush
            raise

    async def _open_poll(self, meeting_ref: str, meeting: _Meeting, action: OpenPoll) -> Delivery:
        if len(action.options) < 2:
            raise ChannelError("a poll needs at least two options")
        card = card_activity(poll_card(action), summary=action.question)
        card_id = await self._connector.send(meeting.service_url, meeting.conversation_id, card)
        self._polls[action.poll_key] = _Poll(
            meeting_ref=meeting_ref,
            card_id=card_id,
            question=action.question,
            options=action.options,
        )
        return Delivery(Channel.server_api, Outcome.delivered, "poll card posted", card_id)

    async def _close_poll(self, meeting: _Meeting, poll_key: str) -> Delivery:
        poll = self._polls.get(poll_key)
        if poll is None:
            raise ChannelError("this poll was not opened through the Teams bot")
        final = card_activity(results_card(poll.question, poll.options, _counts(poll), closed=True))
        # replacing the poll card by its results is what stops further answers
        await self._connector.update(
            meeting.service_url, meeting.conversation_id, poll.card_id, final
        )
        poll.closed = True
        if poll.results_id is not None:
            await self._connector.update(
                meeting.service_url, meeting.conversation_id, poll.results_id, final
            )
        return Delivery(Channel.server_api, Outcome.delivered, "poll card closed", poll.card_id)

    # -- plumbing ---------------------------------------------------------------------------------

    async def _post(self, meeting: _Meeting, activity: dict[str, Any]) -> Delivery:
        ident = await self._connector.send(meeting.service_url, meeting.conversation_id, activity)
        return Delivery(Channel.server_api, Outcome.delivered, "posted to meeting chat", ident)

    async def _notify_break(
        self, meeting_ref: str, meeting: _Meeting, delivery: Delivery
    ) -> Delivery:
        """Also pop the companion page's break countdown on everyone's meeting stage, where
        the permission and a companion URL are there; the chat message stands either way."""
        url = self._companion_url(meeting_ref) if self._companion_url else None
        recipients = sorted(set(meeting.teams_user_ids.values()))
        if not (self._notify_breaks and url and meeting.teams_meeting_id and recipients):
            return delivery
        try:
            await self._connector.notify_meeting(
                meeting.service_url,
                meeting.teams_meeting_id,
                recipients=recipients,
                title="Break",
                url=url,
            )
        except ConnectorError as error:
            return Delivery(
                delivery.channel,
                delivery.outcome,
                f"{delivery.detail}; notification failed: {error.reason}",
                delivery.external_id,
            )
        return Delivery(
            delivery.channel,
            delivery.outcome,
            f"{delivery.detail}; in-meeting notification sent",
            delivery.external_id,
        )


def _counts(poll: _Poll) -> dict[str, int]:
    counts = dict.fromkeys(poll.options, 0)
    for choices in poll.answers.values():
        for choice in choices:
            counts[choice] += 1
    return counts
