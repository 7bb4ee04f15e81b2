"""Answer back: what the service says to a ``/fb`` command typed in the meeting chat.

A refused or malformed command is never silent. The reply goes into the meeting chat through
the first channel that can post there (the platform's server API, e.g. the Teams bot; the
in-client bridge on Zoom; the simulator), shows as a notice on the console in every case (the
live hub), and is recorded (``command_notices``). ``/fb help`` lists the commands and
``/fb status`` says where the show stands; anyone in the meeting may ask those two.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from facilbot.engine.commands import HELP, CommandRefused, may_steer, parse_control
from facilbot.engine.errors import ControlRefused
from facilbot.engine.live import SessionCarrier
from facilbot.engine.state import SessionState
from facilbot.store import notices
from facilbot.store.sessions import SessionRecord
from integrations.contract import Carrier, Channel, ChatCommand, Say
from integrations.routing import route

if TYPE_CHECKING:
    from facilbot.engine.engine import Engine

log = logging.getLogger("facilbot.engine")

#: Channels that post into the meeting chat itself (the companion page is not the chat).
CHAT_CHANNELS = (Channel.server_api, Channel.bridge)


def command_text(command: ChatCommand) -> str:
    return " ".join(["/fb", command.verb, *command.args])


def status_text(state: SessionState) -> str:
    """Where the show stands, in one chat line."""
    if state.status == "ended":
        return f"{state.show_title}: the show has ended."
    current = state.current_segment
    if current is None:
        return f"{state.show_title}: not started yet."
    title = current.title or current.id
    parts = [f"Now: {title}"]
    if state.paused:
        parts[0] += " (paused)"
    left = state.segment_time_left_seconds
    if left is not None:
        parts.append(f"{_clock(left)} left")
    line = ", ".join(parts) + "."
    following = next((s for s in state.segments if s.state == "upcoming"), None)
    if following is not None:
        line += f" Next: {following.title or following.id}."
    return line


def _clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


async def handle_command(engine: Engine, record: SessionRecord, command: ChatCommand) -> None:
    """Run the command or answer why not (see the module's docstring)."""
    if command.verb == "help":
        await _answer(engine, record, command, "Commands: " + HELP, refused=False)
        return
    if command.verb == "status":
        state = await engine.state(record.id)
        await _answer(engine, record, command, status_text(state), refused=False)
        return
    show = await engine.show_for_version(record.show_version_id)
    names = [*show.producers.names, *(p.get("name", "") for p in record.producers)]
    emails = [*show.producers.emails, *(p.get("email", "") for p in record.producers)]
    if not may_steer(command, names, emails):
        engine.counters["command_refused"] += 1
        reply = (
            f"{command.sender_name}: only the host, a co-host or a named producer can steer "
            "the show. Try /fb status or /fb help."
        )
        await _answer(engine, record, command, reply, refused=True)
        return
    try:
        request = parse_control(command.verb, command.args)
        if request.kind == "replan_show":
            text = await engine.show_replan(record, show)
            await _answer(engine, record, command, text, refused=False)
            return
        await engine.control(
            record.id, request.kind, request.payload, f"chat:{command.sender_name}"
        )
    except (CommandRefused, ControlRefused) as refused:
        engine.counters["command_refused"] += 1
        reply = f"{command_text(command)} was not done: {refused}"
        await _answer(engine, record, command, reply, refused=True)


async def _answer(
    engine: Engine, record: SessionRecord, command: ChatCommand, reply: str, *, refused: bool
) -> None:
    via = await post_in_chat(engine, record, reply)
    at = engine.clock.now()
    async with engine.writing() as connection:
        await notices.add_notice(
            connection,
            record.id,
            at=at,
            sender=command.sender_name,
            command=command_text(command),
            reply=reply,
            refused=refused,
            replied_via=via,
        )
    engine.hub.publish(
        record.id,
        {
            "type": "command_refused" if refused else "command_answered",
            "reason": reply,
            "replied_via": via,
        },
    )


async def post_in_chat(engine: Engine, record: SessionRecord, text: str) -> str | None:
    """Post ``text`` in the meeting chat through the first channel that can; the channel's
    name, or None when none could (the console notice is then the only answer)."""
    adapter = engine.adapters.get(record.platform)
    if adapter is None:
        return None
    carriers: dict[Channel, Carrier] = {
        Channel.server_api: adapter,
        Channel.bridge: SessionCarrier(
            engine.hub, record.id, Channel.bridge, engine.channel_timeout
        ),
    }
    for channel, carrier in engine.channel_overrides.get(record.platform, {}).items():
        carriers[channel] = carrier
    capable = adapter.capabilities().get("say", ())
    order = [
        channel
        for channel in capable
        if channel in CHAT_CHANNELS
        and (
            channel is not Channel.bridge
            or engine.hub.bridge_connected(record.id)
            or Channel.bridge in engine.channel_overrides.get(record.platform, {})
        )
    ]
    if not order:
        return None
    result = await route(
        record.meeting_ref, Say(text), order, carriers, timeout=engine.channel_timeout
    )
    if result.delivery.outcome == "failed" or result.delivery.channel not in CHAT_CHANNELS:
        log.info("session %s: a chat command's answer could not be posted", record.id)
        return None
    return str(result.delivery.channel)
