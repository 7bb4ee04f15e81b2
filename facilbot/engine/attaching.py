"""Attaching a show to a meeting, in the caller's transaction: one live session per meeting.

Shared by the engine (the API, bindings) and ``facilbot attach`` (which writes to the database
directly; a running service adopts the new session on its next heartbeat). The session row,
its ``attach`` control and the ``session.attached`` event commit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine.errors import ControlRefused
from facilbot.outbound import outbox
from facilbot.store import controls as store_controls
from facilbot.store import sessions as store_sessions


class MeetingInUse(ControlRefused):
    """The meeting already has a session that has not ended."""

    def __init__(self, session_id: str, platform: str, meeting_ref: str) -> None:
        super().__init__(
            f"meeting {platform}/{meeting_ref} already has session {session_id}, not ended yet; "
            "end it first, or attach with replace: true"
        )
        self.session_id = session_id


async def attach_session(
    connection: AsyncConnection,
    *,
    show_version_id: int,
    platform: str,
    meeting_ref: str,
    at: datetime,
    by: str,
    planned_start: datetime | None = None,
    producers: Sequence[Mapping[str, str]] = (),
    recurring_ref: str | None = None,
    replace: bool = False,
) -> str:
    """Create the session; :class:`MeetingInUse` when the meeting has a live one (unless
    ``replace``, which ends that one first, in the same transaction)."""
    for live in await store_sessions.sessions_for_meeting(connection, platform, meeting_ref):
        if not replace:
            raise MeetingInUse(live.id, platform, meeting_ref)
        await store_controls.append_control(connection, live.id, "end", {}, at, f"{by} (replaced)")
        await store_sessions.set_session_status(connection, live.id, "ended", at)
        await outbox.add(
            connection,
            "session.ended",
            {"session_id": live.id, "at": at, "reason": "replaced"},
            at=at,
            session_id=live.id,
        )
    session_id = await store_sessions.create_session(
        connection,
        show_version_id=show_version_id,
        platform=platform,
        meeting_ref=meeting_ref,
        created_at=at,
        planned_start=planned_start,
        producers=producers,
        recurring_ref=recurring_ref,
    )
    await store_controls.append_control(
        connection, session_id, "attach", {"platform": platform}, at, by
    )
    await outbox.add(
        connection,
        "session.attached",
        {
            "session_id": session_id,
            "show_version_id": show_version_id,
            "platform": platform,
            "meeting_ref": meeting_ref,
            "planned_start": planned_start,
            "by": by,
        },
        at=at,
        session_id=session_id,
    )
    return session_id
