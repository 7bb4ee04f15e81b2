"""Chat commands the service answered: refused or malformed ``/fb`` commands, ``/fb help`` and
``/fb status``. Each is kept with the reply given, and the channel that posted it in the
meeting chat (none when no channel could), so the console and reports can show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.store.models import Base, BigId, table_of

#: Longest command text and reply kept (a chat line, not a document).
TEXT_MAX = 500


class CommandNotice(Base):
    __tablename__ = "command_notices"
    __table_args__ = (Index(None, "session_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    sender: Mapped[str] = mapped_column(String(300))
    command: Mapped[str] = mapped_column(String(TEXT_MAX))
    reply: Mapped[str] = mapped_column(String(TEXT_MAX))
    refused: Mapped[bool] = mapped_column(Boolean)
    replied_via: Mapped[str | None] = mapped_column(String(20))


_notices = table_of(CommandNotice)


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    at: datetime
    sender: str
    command: str
    reply: str
    refused: bool
    replied_via: str | None


async def add_notice(
    connection: AsyncConnection,
    session_id: str,
    *,
    at: datetime,
    sender: str,
    command: str,
    reply: str,
    refused: bool,
    replied_via: str | None,
) -> None:
    await connection.execute(
        insert(_notices).values(
            session_id=session_id,
            at=at,
            sender=sender[:300],
            command=command[:TEXT_MAX],
            reply=reply[:TEXT_MAX],
            refused=refused,
            replied_via=replied_via,
        )
    )


async def notices_for(
    connection: AsyncConnection, session_id: str, *, limit: int = 100
) -> list[NoticeRecord]:
    """The session's latest notices, newest first."""
    rows = await connection.execute(
        select(
            _notices.c.at,
            _notices.c.sender,
            _notices.c.command,
            _notices.c.reply,
            _notices.c.refused,
            _notices.c.replied_via,
        )
        .where(_notices.c.session_id == session_id)
        .order_by(_notices.c.id.desc())
        .limit(limit)
    )
    return [NoticeRecord(**row._mapping) for row in rows]
