"""What participants did: chat messages, poll answers and closing commitments.

Poll answers and commitments keep one row per participant; when events arrive late or out of
order (Zoom retries), the one with the latest ``at`` wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.store._sql import upsert_insert
from facilbot.store.models import COMMITMENT_SOURCES, ChatMessage, Commitment, PollAnswer, table_of

_chat = table_of(ChatMessage)
_answers = table_of(PollAnswer)
_commitments = table_of(Commitment)


@dataclass(frozen=True, slots=True)
class ChatRecord:
    participant_ref: str | None
    sender_name: str
    text: str
    at: datetime
    platform_message_id: str | None


@dataclass(frozen=True, slots=True)
class PollAnswerRecord:
    poll_key: str
    participant_ref: str
    answer: Sequence[str]
    at: datetime


@dataclass(frozen=True, slots=True)
class CommitmentRecord:
    participant_ref: str
    name: str
    text: str
    at: datetime
    source: str


async def add_chat_message(
    connection: AsyncConnection,
    session_id: str,
    *,
    sender_name: str,
    text: str,
    at: datetime,
    participant_ref: str | None = None,
    platform_message_id: str | None = None,
) -> bool:
    """Keep a chat message; False when this platform message id was already stored."""
    statement = (
        upsert_insert(connection, _chat)
        .values(
            session_id=session_id,
            participant_ref=participant_ref,
            sender_name=sender_name,
            text=text,
            at=at,
            platform_message_id=platform_message_id,
        )
        .on_conflict_do_nothing(index_elements=["session_id", "platform_message_id"])
        .returning(_chat.c.id)
    )
    return (await connection.execute(statement)).first() is not None


async def chat_for(connection: AsyncConnection, session_id: str) -> list[ChatRecord]:
    rows = await connection.execute(
        select(
            _chat.c.participant_ref,
            _chat.c.sender_name,
            _chat.c.text,
            _chat.c.at,
            _chat.c.platform_message_id,
        )
        .where(_chat.c.session_id == session_id)
        .order_by(_chat.c.at, _chat.c.id)
    )
    return [ChatRecord(**row._mapping) for row in rows]


async def record_poll_answer(
    connection: AsyncConnection,
    session_id: str,
    poll_key: str,
    participant_ref: str,
    answer: Sequence[str],
    at: datetime,
) -> bool:
    """Keep a participant's answer to a poll; False when a later answer is already stored."""
    statement = upsert_insert(connection, _answers).values(
        session_id=session_id,
        poll_key=poll_key,
        participant_ref=participant_ref,
        answer=list(answer),
        at=at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["session_id", "poll_key", "participant_ref"],
        set_={"answer": statement.excluded.answer, "at": statement.excluded.at},
        where=_answers.c.at <= statement.excluded.at,
    ).returning(_answers.c.id)
    return (await connection.execute(statement)).first() is not None


async def poll_answers_for(
    connection: AsyncConnection, session_id: str, poll_key: str | None = None
) -> list[PollAnswerRecord]:
    statement = (
        select(_answers.c.poll_key, _answers.c.participant_ref, _answers.c.answer, _answers.c.at)
        .where(_answers.c.session_id == session_id)
        .order_by(_answers.c.poll_key, _answers.c.at, _answers.c.id)
    )
    if poll_key is not None:
        statement = statement.where(_answers.c.poll_key == poll_key)
    return [PollAnswerRecord(**row._mapping) for row in await connection.execute(statement)]


async def record_commitment(
    connection: AsyncConnection,
    session_id: str,
    participant_ref: str,
    *,
    name: str,
    text: str,
    at: datetime,
    source: str = "chat",
) -> bool:
    """Keep a participant's commitment (latest wins); False when a later one is already stored."""
    if source not in COMMITMENT_SOURCES:
        raise ValueError(f"unknown commitment source {source!r}")
    statement = upsert_insert(connection, _commitments).values(
        session_id=session_id,
        participant_ref=participant_ref,
        name=name,
        text=text,
        at=at,
        source=source,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["session_id", "participant_ref"],
        set_={
            "name": statement.excluded.name,
            "text": statement.excluded.text,
            "at": statement.excluded.at,
            "source": statement.excluded.source,
        },
        where=_commitments.c.at <= statement.excluded.at,
    ).returning(_commitments.c.id)
    return (await connection.execute(statement)).first() is not None


async def commitments_for(connection: AsyncConnection, session_id: str) -> list[CommitmentRecord]:
    rows = await connection.execute(
        select(
            _commitments.c.participant_ref,
            _commitments.c.name,
            _commitments.c.text,
            _commitments.c.at,
            _commitments.c.source,
        )
        .where(_commitments.c.session_id == session_id)
        .order_by(_commitments.c.at, _commitments.c.id)
    )
    return [CommitmentRecord(**row._mapping) for row in rows]
