"""Reaching people, with consent.

A person's address is the one they gave on the companion page, else the platform's (Zoom's
participant email when the event carried it; Teams: the user's mail from Graph), kept on
``participants.email``. Nothing is sent without consent. The producer sees everyone who
committed but cannot be reached, and why: nobody is dropped silently.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.journey.tables import people
from facilbot.store._sql import upsert_insert
from facilbot.store.models import Commitment, Participant, table_of

_participants = table_of(Participant)
_commitments = table_of(Commitment)
#: Deliberately plain: one @, a dot in the domain, no spaces or angle brackets (which would
#: let an address smuggle a second recipient or a header into the mail).
EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

Reason = Literal["ok", "no_address", "no_consent", "no_commitment"]


@dataclass(frozen=True, slots=True)
class Reach:
    participant_ref: str
    name: str
    #: the address mail would go to (never logged; shown only to the producer, masked)
    email: str | None
    email_source: Literal["companion", "platform"] | None
    consent: bool
    timezone: str | None
    committed: bool

    @property
    def reason(self) -> Reason:
        if not self.committed:
            return "no_commitment"
        if self.email is None:
            return "no_address"
        if not self.consent:
            return "no_consent"
        return "ok"


def valid_email(address: str) -> bool:
    return len(address) <= 320 and EMAIL.match(address) is not None


def mask(address: str) -> str:
    """``a…@example.org``: enough for the producer to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def address_hash(secret: bytes, address: str) -> str:
    return hmac.new(secret, address.strip().casefold().encode(), hashlib.sha256).hexdigest()


async def set_contact(
    connection: AsyncConnection,
    session_id: str,
    participant_ref: str,
    *,
    email: str | None,
    consent: bool,
    timezone: str | None,
    at: datetime,
) -> None:
    """What the person said on the companion page (``email`` None keeps the platform's)."""
    statement = upsert_insert(connection, people).values(
        session_id=session_id,
        participant_ref=participant_ref,
        email=email,
        consent=consent,
        consent_at=at if consent else None,
        timezone=timezone,
        updated_at=at,
    )
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id", "participant_ref"],
            set_={
                "email": statement.excluded.email,
                "consent": statement.excluded.consent,
                "consent_at": statement.excluded.consent_at,
                "timezone": statement.excluded.timezone,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


async def reach_for(connection: AsyncConnection, session_id: str) -> list[Reach]:
    """Every participant of the session (hosts and producers aside) with how to reach them."""
    rows = await connection.execute(
        select(
            _participants.c.participant_ref,
            _participants.c.name,
            _participants.c.email.label("platform_email"),
            _participants.c.role,
            people.c.email.label("given_email"),
            people.c.consent,
            people.c.timezone,
            _commitments.c.id.label("commitment_id"),
        )
        .select_from(_participants)
        .outerjoin(
            people,
            (people.c.session_id == _participants.c.session_id)
            & (people.c.participant_ref == _participants.c.participant_ref),
        )
        .outerjoin(
            _commitments,
            (_commitments.c.session_id == _participants.c.session_id)
            & (_commitments.c.participant_ref == _participants.c.participant_ref),
        )
        .where(_participants.c.session_id == session_id)
        .order_by(_participants.c.first_seen_at, _participants.c.id)
    )
    found = []
    for row in rows:
        if row.role in ("host", "cohost", "producer"):
            continue
        given = row.given_email
        platform = row.platform_email if row.platform_email else None
        found.append(
            Reach(
                participant_ref=row.participant_ref,
                name=row.name,
                email=given or platform,
                email_source="companion" if given else "platform" if platform else None,
                consent=bool(row.consent),
                timezone=row.timezone,
                committed=row.commitment_id is not None,
            )
        )
    return found


async def contact_of(
    connection: AsyncConnection, session_id: str, participant_ref: str
) -> Reach | None:
    for person in await reach_for(connection, session_id):
        if person.participant_ref == participant_ref:
            return person
    return None
