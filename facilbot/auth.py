"""API tokens: created at random, shown once, stored as a SHA-256 hash, checked in constant time.

Roles, from least to most: ``viewer`` reads, ``facilitator`` also uploads shows and reads
reports, ``producer`` also attaches the bot and steers live sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store import tokens as stored

TOKEN_PREFIX = "fb_"  # noqa: S105 - a public prefix, not a secret
TOKEN_BYTES = 32
# A token's last use is written at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Role(StrEnum):
    viewer = "viewer"
    facilitator = "facilitator"
    producer = "producer"


_RANK = {Role.viewer: 0, Role.facilitator: 1, Role.producer: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, name and role."""

    token_id: int
    name: str
    role: Role

    def can(self, needed: Role) -> bool:
        """Whether this caller's role includes ``needed``."""
        return _RANK[self.role] >= _RANK[needed]


def generate_token() -> str:
    """A new random token (``fb_`` + 43 URL-safe characters, 256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {value!r}; choose one of {choices}") from None


async def create_token(
    connection: AsyncConnection, *, name: str, role: Role | str, at: datetime
) -> tuple[int, str]:
    """Store a new token and return (id, token). The token is not kept: show it once."""
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name (who or what uses it)")
    if len(name) > 200:
        raise ValueError("a token name is at most 200 characters")
    token = generate_token()
    token_id = await stored.insert_token(
        connection,
        name=name,
        role=parse_role(str(role)).value,
        token_hash=hash_token(token),
        created_at=at,
    )
    return token_id, token


async def find_token(
    connection: AsyncConnection, token: str
) -> tuple[Principal, datetime | None] | None:
    """The caller behind a bearer token and when it was last used; None if unknown, malformed
    or revoked. Reads only, so a read transaction will do."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    record = await stored.token_by_hash(connection, digest)
    # The lookup is by hash; compare again in constant time so nothing leaks from the index.
    if record is None or not hmac.compare_digest(record.token_hash, digest):
        return None
    if record.revoked_at is not None:
        return None
    return Principal(record.id, record.name, Role(record.role)), record.last_used_at


def use_is_stale(last_used_at: datetime | None, at: datetime) -> bool:
    """Whether the token's last use is older than the recording resolution."""
    return last_used_at is None or last_used_at < at - LAST_USED_RESOLUTION


async def record_use(connection: AsyncConnection, token_id: int, at: datetime) -> None:
    await stored.touch_token(connection, token_id, at, not_since=at - LAST_USED_RESOLUTION)


async def verify_token(connection: AsyncConnection, token: str, at: datetime) -> Principal | None:
    """:func:`find_token`, recording the use (at most once a minute): needs a write transaction."""
    found = await find_token(connection, token)
    if found is None:
        return None
    principal, last_used_at = found
    if use_is_stale(last_used_at, at):
        await record_use(connection, principal.token_id, at)
    return principal
