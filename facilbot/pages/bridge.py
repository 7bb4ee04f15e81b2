"""The in-client bridge's server side: the request stream and what it mirrors.

The producer console, loaded as a Zoom App in the host's client, reads the requests of
:meth:`LiveHub.bridge_stream` and runs each with the Zoom Apps SDK, then acknowledges it.
What the bridge is asked to put in front of participants (a prompt, a poll, the rooms, a
break) is also shown on the companion page, so a poll posted as chat text can be answered
there and people without the chat see it too.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

from facilbot.engine.live import LiveHub
from integrations.contract import (
    Action,
    ChannelError,
    CloseBreakouts,
    CloseCommitments,
    ClosePoll,
    EndBreak,
    OpenBreakouts,
    OpenCommitments,
    OpenPoll,
    Room,
    Say,
    StartBreak,
    WarnBreakouts,
)

REQUEST_ID = re.compile(r"^b[0-9]{1,12}$")


def action_from_json(data: dict[str, Any]) -> Action | None:
    """The contract action for a bridge request's JSON, or None when the page has no use for it."""
    kind = data.get("kind")
    if kind == "say":
        return Say(str(data["text"]))
    if kind == "open_poll":
        return OpenPoll(
            str(data["poll_key"]),
            str(data["question"]),
            tuple(str(o) for o in data["options"]),
            multiple=bool(data.get("multiple", False)),
            anonymous=bool(data.get("anonymous", False)),
            open_for=int(data.get("open_for", 120)),
        )
    if kind == "close_poll":
        return ClosePoll(str(data["poll_key"]))
    if kind == "open_breakouts":
        rooms = tuple(
            Room(
                str(room["name"]),
                tuple(str(p) for p in room.get("participant_ids", ())),
                tuple(str(n) for n in room.get("names", ())),
            )
            for room in data["rooms"]
        )
        return OpenBreakouts(rooms, int(data["duration"]))
    if kind == "warn_breakouts":
        return WarnBreakouts(int(data["seconds_left"]), str(data["text"]))
    if kind == "close_breakouts":
        return CloseBreakouts()
    if kind == "start_break":
        return StartBreak(int(data["duration"]), str(data["text"]))
    if kind == "end_break":
        return EndBreak(str(data["text"]))
    if kind == "open_commitments":
        return OpenCommitments(str(data["prompt"]), int(data["collect_for"]))
    if kind == "close_commitments":
        return CloseCommitments()
    return None


def mirror_on_companion(hub: LiveHub, session_id: str, request: dict[str, Any]) -> None:
    """Show on the companion page what the bridge is about to put before participants."""
    action = action_from_json(request.get("action") or {})
    if action is None:
        return
    try:
        hub.companion_carry(session_id, action)
    except ChannelError:
        pass  # the page does not show this kind of action


async def requests(hub: LiveHub, session_id: str) -> AsyncIterator[dict[str, Any]]:
    """The bridge's requests as SSE events, each mirrored on the companion page."""
    source = cast(AsyncGenerator[dict[str, Any], None], hub.bridge_stream(session_id))
    async with contextlib.aclosing(source) as stream:
        async for request in stream:
            mirror_on_companion(hub, session_id, request)
            yield {"type": "request", "id": request["id"], "action": request["action"]}
