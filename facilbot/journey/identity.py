"""One participant, one identity.

A person is their ``participant_ref`` in the session: the platform's participant id for
what arrives from Zoom or Teams (joins, chat, poll answers), and the same ref on the
companion page when the page holds a *participant key* for it. A participant key is
``<ref>.<HMAC(pages secret, session id, ref)>``; whoever holds it writes as that person and
nobody else can, whatever name they type. A browser that opens the shared companion link
gets a fresh key for a new ``web-…`` ref; a person's own key for their platform ref travels
only in links sent to them alone (their follow-up mail).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store import participants as store_participants

PARTICIPANT_KEY_HEADER = "X-Participant-Key"
_CONTEXT = b"facilbot participant key v1\x00"
WEB_REF = re.compile(r"^web-[A-Za-z0-9_-]{16,40}$")


def _signature(secret: bytes, session_id: str, ref: str) -> str:
    message = _CONTEXT + session_id.encode("utf-8") + b"\x00" + ref.encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def participant_key(secret: bytes, session_id: str, ref: str) -> str:
    """The key that lets its holder act as ``ref`` in this session (and only this one)."""
    return f"{ref}.{_signature(secret, session_id, ref)}"


def ref_of_key(secret: bytes, session_id: str, key: str) -> str | None:
    """The participant ref a key was signed for, or None if it was not signed by us for
    this session (tampered, made up, or from another session)."""
    ref, dot, signature = key.rpartition(".")
    if not dot or not ref or len(ref) > 200:
        return None
    expected = _signature(secret, session_id, ref)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return None
    return ref


def new_web_ref() -> str:
    return "web-" + secrets.token_urlsafe(16)


async def register_web_person(
    connection: AsyncConnection, session_id: str, ref: str, name: str, at: datetime
) -> None:
    """A companion-page person is a participant of the session like any other (the console
    lists them), marked as having come through the page."""
    await store_participants.upsert_participant(
        connection,
        session_id,
        ref,
        name=name,
        seen_at=at,
        role="attendee",
        attributes={"via": "companion"},
    )


def clean_name(name: str) -> str:
    return " ".join(name.split())
