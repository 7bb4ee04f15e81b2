"""``Idempotency-Key`` on ``POST /sessions``: a retried attach gets the first answer.

Keys are per caller (API token), so two automations cannot collide. A key used again with a
different request is refused rather than answered with a session the caller did not ask for.
Migration: ``0007_outbound``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from facilbot.store._sql import upsert_insert
from facilbot.store.models import Base, table_of


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    caller: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]


_keys = table_of(IdempotencyKey)


class KeyReused(ValueError):
    """The key was first used with a different request."""


def request_digest(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def answered(connection: AsyncConnection, caller: str, key: str, digest: str) -> str | None:
    """The session the first request with this key made; :class:`KeyReused` if the request
    differs; None if the key is new."""
    row = (
        await connection.execute(
            select(_keys.c.request_sha256, _keys.c.session_id).where(
                _keys.c.caller == caller, _keys.c.key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_sha256 != digest:
        raise KeyReused(
            f"Idempotency-Key {key!r} was first used with a different request; "
            "use a new key for a new request"
        )
    return str(row.session_id)


async def remember(
    connection: AsyncConnection, caller: str, key: str, digest: str, session_id: str, at: datetime
) -> None:
    await connection.execute(
        upsert_insert(connection, _keys)
        .values(caller=caller, key=key, request_sha256=digest, session_id=session_id, created_at=at)
        .on_conflict_do_nothing(index_elements=["caller", "key"])
    )
