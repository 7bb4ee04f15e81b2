"""The journey's part of ``facilbot demo``: the follow-ups the session leaves behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from facilbot.engine.engine import Engine
from facilbot.journey import reach, schedule
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading

#: Every simulated person but these says yes on the companion page (so the summary shows
#: both sides: who gets mail, and who the producer is told about).
DECLINE_EVERY = 4


async def follow_ups(
    engine: Engine, session_id: str, emit: Callable[[str], None], data_dir: Path | None
) -> None:
    """Simulated people give an address and consent (as they would on the companion page),
    then the schedule is derived and summarised as ``facilbot followups list`` shows it."""
    now = engine.clock.now()
    async with engine.writing() as connection:
        people = await reach.reach_for(connection, session_id)
        for index, person in enumerate(p for p in people if p.committed):
            if index % DECLINE_EVERY == DECLINE_EVERY - 1:
                continue
            local = ".".join(person.name.lower().split())
            await reach.set_contact(
                connection,
                session_id,
                person.participant_ref,
                email=f"{local}@example.org",
                consent=True,
                timezone=None,
                at=now,
            )
        record = await store_sessions.get_session(connection, session_id)
        assert record is not None
        show = await engine.show_for_version(record.show_version_id)
        await schedule.derive(connection, session_id, show)
    async with reading(engine.db.engine) as connection:
        listed = await schedule.listing(connection, session_id)
        people = await reach.reach_for(connection, session_id)
    emit("")
    emit("follow-ups")
    mailed = sorted({item.name for item in listed})
    zone_name = listed[0].timezone if listed else "UTC"
    emit(
        f"  scheduled {len(listed)} mails for {len(mailed)} people who said yes "
        f"(a reminder, then check-ins), each at a weekday hour in {zone_name}"
    )
    if listed:
        first = listed[0].row.participant_ref
        for item in (i for i in listed if i.row.participant_ref == first):
            emit(
                f"  {item.due_local.strftime('%a %Y-%m-%d %H:%M')}  {item.name}: "
                f"{schedule.label(item.row.key)} ({item.row.status})"
            )
    if len(mailed) > 1:
        emit(f"  … and the same for {len(mailed) - 1} more")
    unreachable = [p for p in people if p.reason in ("no_address", "no_consent")]
    if unreachable:
        emit(
            "  no mail (the producer is told): "
            + ", ".join(f"{p.name} ({p.reason.replace('_', ' ')})" for p in unreachable)
        )
    if data_dir is not None:
        emit(
            f"  list them: FACILBOT_DATABASE_URL=sqlite:///{data_dir / 'demo.db'} "
            f"facilbot followups list --session {session_id}"
        )
