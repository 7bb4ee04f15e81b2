"""Which channel carries an action, and the fallback to the producer (DESIGN §2).

Routing tries the channels a platform declares for an action, in order, each under its own
timeout, and always ends with a producer cue: nothing is ever silently dropped. Every attempt is
returned so the engine can record that an action "fell back".
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from integrations.contract import (
    Action,
    ActionKind,
    Capabilities,
    Carrier,
    Channel,
    ChannelError,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    Delivery,
    EndBreak,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Outcome,
    ProducerCue,
    Room,
    Say,
    StartBreak,
    WarnBreakouts,
)

log = logging.getLogger(__name__)


def channels_for(
    capabilities: Capabilities, action_kind: ActionKind, available: Iterable[Channel]
) -> tuple[Channel, ...]:
    """The declared channels for ``action_kind`` that are available now, then the producer cue."""
    usable = set(available)
    order: list[Channel] = []
    for channel in capabilities.get(action_kind, ()):
        if channel in usable and channel is not Channel.producer_cue and channel not in order:
            order.append(channel)
    order.append(Channel.producer_cue)
    return tuple(order)


@dataclass(frozen=True, slots=True)
class Attempt:
    channel: Channel
    ok: bool
    reason: str = ""  # why it failed; never a payload or a secret
    retry_after: float | None = None  # the platform asked us to wait this long (HTTP 429)


@dataclass(frozen=True, slots=True)
class RouteResult:
    delivery: Delivery
    attempts: tuple[Attempt, ...]

    @property
    def fell_back(self) -> bool:
        """True when some channel before the one that carried the action failed."""
        return any(not attempt.ok for attempt in self.attempts)


Render = Callable[[Action], ProducerCue]


async def route(
    meeting_ref: str,
    action: Action,
    order: Iterable[Channel],
    carriers: Mapping[Channel, Carrier],
    *,
    timeout: float,  # noqa: ASYNC109 - per channel, not for the whole call
    render: Render | None = None,
) -> RouteResult:
    """Try each channel of ``order`` in turn; the first that carries ``action`` wins.

    A ``ChannelError``, a timeout, a missing carrier, a ``failed`` delivery or any unexpected
    exception (recorded by type name, logged) falls back to the next channel. The producer-cue
    carrier receives ``action`` rendered as a ``ProducerCue`` (``render``, by default
    ``to_producer_cue``). When every channel fails the result's delivery is ``failed``.
    """
    attempts: list[Attempt] = []
    last = Channel.producer_cue
    for channel in order:
        last = channel
        carrier = carriers.get(channel)
        if carrier is None:
            attempts.append(Attempt(channel, ok=False, reason="no carrier connected"))
            continue
        payload = action
        if channel is Channel.producer_cue:
            payload = (render or to_producer_cue)(action)
        retry_after: float | None = None
        try:
            async with asyncio.timeout(timeout):
                delivery = await carrier.carry(meeting_ref, payload)
        except ChannelError as error:
            reason, retry_after = error.reason, error.retry_after
        except TimeoutError:
            reason = f"timed out after {timeout:g}s"
        except Exception as error:  # a bug in a carrier must not lose the action
            reason = f"unexpected {type(error).__name__}"
            _log_unexpected(channel, action, error)
        else:
            if delivery.outcome is not Outcome.failed:
                attempts.append(Attempt(channel, ok=True))
                return RouteResult(delivery, tuple(attempts))
            reason = delivery.detail or "failed"
        attempts.append(Attempt(channel, ok=False, reason=reason, retry_after=retry_after))
    summary = "; ".join(f"{a.channel}: {a.reason}" for a in attempts) or "no channel to try"
    return RouteResult(Delivery(last, Outcome.failed, detail=summary), tuple(attempts))


def _log_unexpected(channel: Channel, action: Action, error: Exception) -> None:
    # The exception's message may hold a payload or a token: log its type and where it came from.
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.error(
        "carrier on %s raised %s at %s while carrying %s",
        channel,
        type(error).__name__,
        where,
        action.kind,
    )


# ---------------------------------------------------------------------------------------------
# Producer cues


def to_producer_cue(action: Action) -> ProducerCue:
    """``action`` as instructions for the producer, with text ready to paste where useful."""
    match action:
        case ProducerCue():
            return action
        case Say(text=text):
            return ProducerCue("Post this in the meeting chat now.", paste=text)
        case OpenPoll():
            how = ["multiple answers" if action.multiple else "one answer"]
            if action.anonymous:
                how.append("anonymous")
            how.append(f"open for {_minutes(action.open_for)}")
            options = ", ".join(f"'{option}'" for option in action.options)
            lines = [action.question, *(f"{i}. {o}" for i, o in enumerate(action.options, 1))]
            return ProducerCue(
                f"Launch poll '{action.question}' (options {options}; {', '.join(how)}).",
                paste="\n".join(lines),
            )
        case ClosePoll(poll_key=key):
            return ProducerCue(f"End the poll ({key}) and share the results.")
        case OpenBreakouts(rooms=rooms, duration=duration) if not rooms:
            # Nobody was here to assign when the rooms were due: a list would be empty.
            return ProducerCue(
                f"Open breakout rooms now for {_minutes(duration)}: nobody was in the meeting "
                "to assign, so let the platform assign people automatically."
            )
        case OpenBreakouts(rooms=rooms, duration=duration):
            listing = "; ".join(_room_line(room) for room in rooms)
            count = len(rooms)
            plural = "room" if count == 1 else "rooms"
            return ProducerCue(
                f"Open {count} breakout {plural} now for {_minutes(duration)}: {listing}",
                paste="\n".join(_room_line(room) for room in rooms),
            )
        case WarnBreakouts(seconds_left=left, text=text):
            return ProducerCue(
                f"Broadcast to all breakout rooms ({_minutes(left)} left).", paste=text
            )
        case CloseBreakouts():
            return ProducerCue("Close all breakout rooms now.")
        case StartBreak(duration=duration, text=text):
            return ProducerCue(
                f"Start a {_minutes(duration)} break now: pause the recording and post this.",
                paste=text,
            )
        case EndBreak(text=text):
            return ProducerCue("End the break: resume the recording and post this.", paste=text)
        case OpenCommitments(prompt=prompt, collect_for=collect_for):
            return ProducerCue(
                f"Ask everyone for their commitment (collecting for {_minutes(collect_for)}).",
                paste=prompt,
            )
        case CloseCommitments():
            return ProducerCue("Stop collecting commitments; thank everyone.")


def _room_line(room: Room) -> str:
    people = room.names if len(room.names) == len(room.participant_ids) else room.participant_ids
    return f"{room.name}: {', '.join(people) if people else '(empty)'}"


def _minutes(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} min"
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60} s"


class CueLog:
    """A producer-cue carrier that keeps the cues in memory (tests, the demo, a console feed)."""

    def __init__(self) -> None:
        self.cues: list[tuple[str, ProducerCue]] = []

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        cue = action if isinstance(action, ProducerCue) else to_producer_cue(action)
        self.cues.append((meeting_ref, cue))
        return Delivery(
            Channel.producer_cue,
            Outcome.pending,
            detail="shown to the producer",
            external_id=f"cue-{len(self.cues)}",
        )
