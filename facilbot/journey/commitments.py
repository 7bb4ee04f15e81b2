"""Commitments: the first substantive message in the commitments window, editable later.

In the chat only the commitments window counts (the engine checks it), and a person's first
substantive message there is their commitment: a later "thanks!" or a check-in answer typed
late does not replace it. The person changes it on the companion page (their participant
key says who they are). Commitments made after the session ended are *asynchronous*: the
same row, told apart by its time against the session's end.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store import firings as store_firings
from facilbot.store._sql import upsert_insert
from facilbot.store.models import Commitment, Participant, table_of

_commitments = table_of(Commitment)
_participants = table_of(Participant)
_WORD = re.compile(r"[^\W\d_]{2,}")
#: Replies that acknowledge rather than commit, whatever their length.
_NOT_A_COMMITMENT = frozenset(
    {
        "ok",
        "okay",
        "thanks",
        "thank you",
        "thank you all",
        "thanks all",
        "same",
        "same here",
        "me too",
        "great session",
        "bye",
        "+1",
    }
)
MAX_TEXT = 2000


def substantive(text: str) -> bool:
    """Whether a chat message can be a commitment: at least three words of letters, not a
    command and not a bare acknowledgement (so "Curious", "ok" and "+1" are not)."""
    stripped = " ".join(text.split())
    if not stripped or stripped.startswith("/"):
        return False
    if stripped.casefold().strip(" .!") in _NOT_A_COMMITMENT:
        return False
    return len(_WORD.findall(stripped)) >= 3


async def capture_from_chat(
    connection: AsyncConnection,
    session_id: str,
    participant_ref: str,
    *,
    name: str,
    text: str,
    at: datetime,
) -> bool:
    """Keep a chat message as the sender's commitment if it is their first substantive one
    (called only while the commitments window is open); True if it became the commitment."""
    if not substantive(text):
        return False
    statement = (
        upsert_insert(connection, _commitments)
        .values(
            session_id=session_id,
            participant_ref=participant_ref,
            name=name,
            text=text.strip()[:MAX_TEXT],
            at=at,
            source="chat",
        )
        .on_conflict_do_nothing(index_elements=["session_id", "participant_ref"])
        .returning(_commitments.c.id)
    )
    return (await connection.execute(statement)).first() is not None


async def write_own(
    connection: AsyncConnection,
    session_id: str,
    participant_ref: str,
    *,
    name: str,
    text: str,
    at: datetime,
) -> None:
    """The person's own commitment from the companion page: a first one, or an edit of
    what they committed in the chat or on the page before (the ref comes from their key).
    An edit keeps the first commitment's time, so a live commitment edited later is still
    a live one."""
    statement = upsert_insert(connection, _commitments).values(
        session_id=session_id,
        participant_ref=participant_ref,
        name=name,
        text=text[:MAX_TEXT],
        at=at,
        source="form",
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id", "participant_ref"],
            set_={"text": statement.excluded.text, "name": statement.excluded.name},
        )
    )


async def commitment_of(
    connection: AsyncConnection, session_id: str, participant_ref: str
) -> tuple[str, datetime] | None:
    row = (
        await connection.execute(
            select(_commitments.c.text, _commitments.c.at).where(
                _commitments.c.session_id == session_id,
                _commitments.c.participant_ref == participant_ref,
            )
        )
    ).first()
    return (str(row.text), row.at) if row is not None else None


async def window_open(connection: AsyncConnection, session_id: str) -> bool:
    """Whether the commitments window is open: a ``commitments_open`` cue fired and its
    ``commitments_close`` has not."""
    opened: set[str] = set()
    closed: set[str] = set()
    for firing in await store_firings.firings_for(connection, session_id):
        if firing.status in ("skipped", "interrupted"):
            continue
        if firing.action == "commitments_open":
            opened.add(firing.key.split("@")[0])
        elif firing.action == "commitments_close":
            closed.add(firing.key.split("@")[0])
    return bool(opened - closed)


async def name_of(connection: AsyncConnection, session_id: str, participant_ref: str) -> str | None:
    row = await connection.execute(
        select(_participants.c.name).where(
            _participants.c.session_id == session_id,
            _participants.c.participant_ref == participant_ref,
        )
    )
    return row.scalar_one_or_none()
