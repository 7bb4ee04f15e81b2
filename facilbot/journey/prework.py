"""Pre-work: the show's ``prework:`` items, marked done per person before the session."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.journey.tables import prework_marks
from facilbot.store._sql import upsert_insert


async def mark(
    connection: AsyncConnection,
    session_id: str,
    participant_ref: str,
    item: int,
    done: bool,
    at: datetime,
) -> None:
    if done:
        await connection.execute(
            upsert_insert(connection, prework_marks)
            .values(session_id=session_id, participant_ref=participant_ref, item=item, at=at)
            .on_conflict_do_nothing(index_elements=["session_id", "participant_ref", "item"])
        )
    else:
        await connection.execute(
            delete(prework_marks).where(
                prework_marks.c.session_id == session_id,
                prework_marks.c.participant_ref == participant_ref,
                prework_marks.c.item == item,
            )
        )


async def done_by(connection: AsyncConnection, session_id: str) -> dict[str, set[int]]:
    """Per person, the items they marked done."""
    found: dict[str, set[int]] = defaultdict(set)
    rows = await connection.execute(
        select(prework_marks.c.participant_ref, prework_marks.c.item).where(
            prework_marks.c.session_id == session_id
        )
    )
    for row in rows:
        found[row.participant_ref].add(int(row.item))
    return dict(found)


def did_it(marks: set[int], items: int) -> bool:
    """A person did the pre-work when they marked every item done."""
    return items > 0 and len({m for m in marks if 0 <= m < items}) == items
