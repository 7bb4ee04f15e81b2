"""From a planned item to the platform action that carries it out.

The planner says *what is due* (an item with an action name such as ``poll_open``); this module
turns it into a contract action with everything the channel needs (the poll's options, the rooms
with their people, the break's length). It is pure apart from the participants it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from integrations.contract import (
    Action,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    EndBreak,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Participant,
    ProducerCue,
    Say,
    StartBreak,
    WarnBreakouts,
)
from integrations.rooms import assign_rooms
from runofshow.durations import format_duration
from runofshow.model import Breakout, Commitments, Cue, Segment, Show
from runofshow.plan import PlannedItem

#: Actions that are prompts: when they fall due long after their time (the service was down),
#: they are skipped and reported rather than fired late. Breaks, commitments, rooms and closes
#: still happen (DESIGN §5, the late policy).
PROMPT_ACTIONS = frozenset(
    {"say", "poll_open", "filler", "producer", "breakout_warn", "break_warning"}
)

DEFAULT_COMMITMENT_PROMPT = Commitments.model_fields["prompt"].default


@dataclass(frozen=True, slots=True)
class Built:
    action: Action
    what: str  # one line for the console and the demo


def _cue(show: Show, item: PlannedItem) -> tuple[Segment | None, Cue | None]:
    try:
        segment = show.segment(item.segment_id)
    except KeyError:
        return None, None
    if item.cue_index is None or item.cue_index >= len(segment.cues):
        return segment, None
    return segment, segment.cues[item.cue_index]


def _minutes(seconds: int) -> str:
    return format_duration(max(seconds, 0))


def _breakout_settings(segment: Segment | None, cue: Cue | None) -> Breakout:
    if cue is not None and cue.breakout is not None:
        return cue.breakout
    if segment is not None and segment.breakout is not None:
        return segment.breakout
    return Breakout()


def build_action(
    show: Show,
    item: PlannedItem,
    *,
    participants: Sequence[Participant],
    closes_at: datetime | None,
    seed: int | str,
) -> Built:
    """The action for ``item``. ``closes_at`` is when the item's window ends (rooms, polls,
    breaks, commitments), from the same plan; ``seed`` makes room assignment repeatable."""
    segment, cue = _cue(show, item)
    window = int((closes_at - item.due).total_seconds()) if closes_at else 0
    action = item.action
    if action == "say":
        text = cue.say if cue is not None and cue.say else (item.text or "")
        return Built(Say(text), f"say: {text}")
    if action == "filler":
        text = item.text or "Quick check: type one word in the chat about where you are now."
        return Built(Say(text), f"filler prompt: {text}")
    if action == "poll_open":
        assert cue is not None and cue.poll is not None, item.key
        poll = cue.poll
        return Built(
            OpenPoll(
                poll_key=item.key,
                question=poll.question,
                options=tuple(poll.options),
                multiple=poll.multiple,
                anonymous=poll.anonymous,
                open_for=window or poll.open_for,
            ),
            f"poll: {poll.question}",
        )
    if action == "poll_close":
        poll_key = item.closes or item.key.removesuffix("@close")
        return Built(ClosePoll(poll_key), "close the poll")
    if action == "breakout_open":
        settings = _breakout_settings(segment, cue)
        assign = settings.assign
        rooms = assign_rooms(
            participants,
            size=settings.size if settings.size or settings.rooms else 3,
            rooms=settings.rooms,
            method=assign.method,
            mix_by=assign.mix_by,
            given=assign.rooms,
            seed=seed,
        )
        people = sum(len(room.participant_ids) for room in rooms)
        return Built(
            OpenBreakouts(rooms=tuple(rooms), duration=window),
            f"open {len(rooms)} breakout rooms for {people} people ({_minutes(window)})",
        )
    if action == "breakout_warn":
        settings = _breakout_settings(segment, cue)
        left = settings.warn_before_close or window
        text = f"{_minutes(left)} left in your rooms: agree on what you will bring back."
        return Built(
            WarnBreakouts(seconds_left=left, text=text), f"warn rooms: {_minutes(left)} left"
        )
    if action == "breakout_close":
        return Built(CloseBreakouts(), "close the breakout rooms")
    if action == "break_start":
        text = item.text or f"Break: back in {_minutes(window)}. Stretch, get water, look away."
        return Built(StartBreak(duration=window, text=text), f"break for {_minutes(window)}")
    if action == "break_end":
        return Built(EndBreak("Welcome back! We start again now."), "end of the break")
    if action == "commitments_open":
        prompt = DEFAULT_COMMITMENT_PROMPT
        if cue is not None and cue.commitments is not None:
            prompt = cue.commitments.prompt
        elif segment is not None and segment.prompt:
            prompt = segment.prompt
        return Built(OpenCommitments(prompt=prompt, collect_for=window), f"commitments: {prompt}")
    if action == "commitments_close":
        return Built(CloseCommitments(), "close the commitments")
    if action == "producer":
        text = cue.producer if cue is not None and cue.producer else (item.text or "")
        return Built(ProducerCue(text), f"producer: {text}")
    if action == "break_warning":
        text = item.text or "A break is due soon to keep the 50/10 and 90/20 rules."
        return Built(ProducerCue(text), f"producer: {text}")
    text = item.text or action
    return Built(ProducerCue(f"{action}: {text}"), f"producer: {text}")
