"""API tokens as stored: a name, a role and the SHA-256 of the token, never the token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store.models import ApiToken, table_of

_tokens = table_of(ApiToken)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    name: str
    role: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


async def insert_token(
    connection: AsyncConnection, *, name: str, role: str, token_hash: str, created_at: datetime
) -> int:
    result = await connection.execute(
        insert(_tokens)
        .values(name=name, role=role, token_hash=token_hash, created_at=created_at)
        .returning(_tokens.c.id)
    )
    return int(result.scalar_one())


async def token_by_hash(connection: AsyncConnection, token_hash: str) -> TokenRecord | None:
    row = (
        await connection.execute(select(_tokens).where(_tokens.c.token_hash == token_hash))
    ).first()
    return None if row is None else TokenRecord(**row._mapping)


async def list_tokens(connection: AsyncConnection) -> list[TokenRecord]:
    rows = await connection.execute(select(_tokens).order_by(_tokens.c.id))
    return [TokenRecord(**row._mapping) for row in rows]


async def revoke_token(connection: AsyncConnection, token_id: int, at: datetime) -> bool:
    """Revoke a token; False when there is no such token or it was already revoked."""
    result = await connection.execute(
        update(_tokens)
        .where(_tokens.c.id == token_id, _tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount == 1


async def touch_token(
    connection: AsyncConnection, token_id: int, at: datetime, *, not_since: datetime
) -> None:
    """Record use, at most once per interval (``not_since``) to spare a write per request."""
    await connection.execute(
        update(_tokens)
        .where(
            _tokens.c.id == token_id,
            or_(_tokens.c.last_used_at.is_(None), _tokens.c.last_used_at < not_since),
        )
        .values(last_used_at=at)
    )
