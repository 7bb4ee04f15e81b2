"""The Zoom adapter: capabilities true to what Zoom allows, and its server-API channel.

Zoom's public REST API cannot post into a live meeting's chat, launch or end a poll, or
create, open or close breakout rooms (DESIGN §2): those run in the host's client through the
bridge (the producer console as a Zoom App) or are shown on the companion page. Live, REST can
only pause and resume cloud recording, which is what a break uses. Before the meeting,
:meth:`ZoomAdapter.prepare` pre-creates polls (so the host can launch them from the client) and
pre-assigns breakout rooms; Zoom refuses both for instant meetings, and pre-assignment does not
apply to a meeting already under way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from integrations.contract import (
    Action,
    Capabilities,
    Channel,
    ChannelError,
    Delivery,
    EndBreak,
    OpenBreakouts,
    OpenPoll,
    Outcome,
    Platform,
    StartBreak,
)
from integrations.zoom.rest import (
    BreakoutAssignment,
    PollQuestion,
    ZoomApiError,
    ZoomClient,
)

BRIDGE_THEN_COMPANION = (Channel.bridge, Channel.companion)

#: DESIGN §2, per action: the channels Zoom offers, in the order tried (producer cue implicit).
ZOOM_CAPABILITIES: Capabilities = {
    "say": BRIDGE_THEN_COMPANION,  # Zoom Apps SDK sendMessageToChat; companion shows the prompt
    "open_poll": BRIDGE_THEN_COMPANION,  # only the host launches a Zoom poll; companion poll
    "close_poll": BRIDGE_THEN_COMPANION,
    # Only the host's client can open rooms (createBreakoutRooms/assign…/openBreakoutRooms);
    # the companion page showing the assignment does not open them, so without the bridge
    # the producer is cued (the engine also shows the rooms on the companion page).
    "open_breakouts": (Channel.bridge,),
    "warn_breakouts": BRIDGE_THEN_COMPANION,
    "close_breakouts": (Channel.bridge,),  # closeBreakoutRooms; nothing else can close them
    "start_break": (Channel.server_api, Channel.companion),  # recording.pause + countdown
    "end_break": (Channel.server_api, Channel.companion),  # recording.resume
    "open_commitments": (Channel.companion, Channel.bridge),  # the form; bridge says the prompt
    "close_commitments": (Channel.companion,),
    "producer_cue": (),
}


@dataclass(frozen=True, slots=True)
class PrepareReport:
    """What :meth:`ZoomAdapter.prepare` did on Zoom, and what it could not do and why."""

    polls: Mapping[str, str] = field(default_factory=dict)  # poll_key -> Zoom poll id
    breakouts_assigned: bool = False
    problems: tuple[str, ...] = ()
    #: the meeting could not be read (network, 429, 5xx, 404): nothing was created on Zoom,
    #: so trying again later is safe
    unreachable: bool = False


class ZoomAdapter:
    """``MeetingAdapter`` for Zoom; its server-API channel is the REST client."""

    platform = Platform.zoom

    def __init__(self, client: ZoomClient, *, call_deadline: float = 5.0) -> None:
        self._client = client
        self._deadline = call_deadline

    @property
    def client(self) -> ZoomClient:
        """The REST client (the service reads past meetings with it, sharing its token)."""
        return self._client

    def capabilities(self) -> Capabilities:
        return ZOOM_CAPABILITIES

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        """Carry ``action`` through Zoom REST, or raise :class:`ChannelError`."""
        try:
            if isinstance(action, StartBreak):
                await self._client.pause_recording(meeting_ref, deadline=self._deadline)
                return Delivery(Channel.server_api, Outcome.delivered, "cloud recording paused")
            if isinstance(action, EndBreak):
                await self._client.resume_recording(meeting_ref, deadline=self._deadline)
                return Delivery(Channel.server_api, Outcome.delivered, "cloud recording resumed")
        except ZoomApiError as error:
            raise ChannelError(str(error), retry_after=error.retry_after) from None
        raise ChannelError(
            f"Zoom's REST API cannot carry {action.kind} in a live meeting "
            "(in-client only: bridge, companion page or producer)"
        )

    async def prepare(
        self,
        meeting_ref: str,
        show_items: Sequence[OpenPoll | OpenBreakouts],
        *,
        emails: Mapping[str, str] | None = None,
    ) -> PrepareReport:
        """Pre-create polls and pre-assign breakout rooms on a scheduled meeting.

        ``emails`` maps participant ids used in ``Room.participant_ids`` to email addresses:
        Zoom pre-assigns by email only. Nothing here raises for Zoom refusals; they are
        reported in ``problems`` so attaching still succeeds.
        """
        problems: list[str] = []
        polls: dict[str, str] = {}
        try:
            meeting = await self._client.get_meeting(meeting_ref, deadline=self._deadline)
        except ZoomApiError as error:
            return PrepareReport(
                problems=(f"cannot read meeting {meeting_ref}: {error}",), unreachable=True
            )
        live = meeting.status == "started"
        breakouts = [item for item in show_items if isinstance(item, OpenBreakouts)]
        for item in show_items:
            if not isinstance(item, OpenPoll):
                continue
            if meeting.instant:
                problems.append(
                    f"poll {item.poll_key}: Zoom has no polls for instant meetings; "
                    "the companion page will carry it"
                )
                continue
            question = PollQuestion(item.question, item.options, multiple=item.multiple)
            try:
                poll = await self._client.create_poll(
                    meeting_ref,
                    item.question,
                    [question],
                    anonymous=item.anonymous,
                    deadline=self._deadline,
                )
            except ZoomApiError as error:
                problems.append(f"poll {item.poll_key}: {error}")
                continue
            polls[item.poll_key] = poll.id
        assigned = False
        if breakouts:
            assigned = await self._preassign(
                meeting_ref, breakouts, live, meeting.instant, emails or {}, problems
            )
        return PrepareReport(polls=polls, breakouts_assigned=assigned, problems=tuple(problems))

    async def _preassign(
        self,
        meeting_ref: str,
        breakouts: list[OpenBreakouts],
        live: bool,
        instant: bool,
        emails: Mapping[str, str],
        problems: list[str],
    ) -> bool:
        if instant or live:
            why = "an instant meeting" if instant else "a meeting already under way"
            problems.append(f"breakouts: Zoom pre-assignment does not apply to {why}")
            return False
        if len(breakouts) > 1:
            problems.append(
                "breakouts: Zoom keeps one pre-assignment per meeting; only the first "
                "breakout segment is pre-assigned, later ones go through the bridge"
            )
        rooms: list[BreakoutAssignment] = []
        for room in breakouts[0].rooms:
            known = tuple(emails[pid] for pid in room.participant_ids if pid in emails)
            missing = len(room.participant_ids) - len(known)
            if missing:
                problems.append(
                    f"breakouts: {missing} participant(s) of {room.name!r} have no email; "
                    "Zoom pre-assigns by email only"
                )
            rooms.append(BreakoutAssignment(room.name, known))
        try:
            await self._client.set_breakout_rooms(meeting_ref, rooms, deadline=self._deadline)
        except ZoomApiError as error:
            problems.append(f"breakouts: {error}")
            return False
        return True
