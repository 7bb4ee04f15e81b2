"""Who is calling a companion route: the session (companion key) and the person (their
participant key, see :mod:`facilbot.journey.identity`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header

from facilbot.api.deps import ServicesDep, SessionId
from facilbot.api.errors import ApiError
from facilbot.journey import identity
from facilbot.pages import companion


@dataclass(frozen=True, slots=True)
class Person:
    session_id: str
    ref: str


async def companion_session(
    services: ServicesDep,
    session_id: SessionId,
    key: Annotated[str | None, Header(alias=companion.KEY_HEADER, max_length=200)] = None,
) -> str:
    """The session id, once the caller showed this session's companion key."""
    if not key:
        raise ApiError(
            401, f"this page needs the session's companion link ({companion.KEY_HEADER})"
        )
    if not companion.key_matches(services.pages_secret, str(session_id), key):
        raise ApiError(403, "this companion link is not valid for this session")
    return str(session_id)


CompanionSession = Annotated[str, Depends(companion_session)]


async def companion_person(
    services: ServicesDep,
    session_id: CompanionSession,
    key: Annotated[
        str | None, Header(alias=identity.PARTICIPANT_KEY_HEADER, max_length=300)
    ] = None,
) -> Person:
    """The person writing: the participant key decides, never a typed name."""
    if not key:
        raise ApiError(
            401,
            "say who you are first: the page asks for your name and keeps your "
            f"participant key ({identity.PARTICIPANT_KEY_HEADER})",
        )
    ref = identity.ref_of_key(services.pages_secret, session_id, key)
    if ref is None:
        raise ApiError(403, "this participant key is not valid for this session")
    return Person(session_id, ref)


CompanionPerson = Annotated[Person, Depends(companion_person)]
