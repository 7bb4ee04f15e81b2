"""Typed dependencies for routes: the open database, the engine, the clock, and the caller.

A route states what it needs in its signature::

    async def get_show(db: DB, caller: Caller, show_id: ShowId) -> ...
    async def attach(engine: EngineDep, caller: Producer, body: AttachBody) -> ...

``Caller`` (viewer), ``Facilitator`` and ``Producer`` check the bearer token and the role:
401 with ``WWW-Authenticate: Bearer`` when the token is missing or not valid, 403 when the
role is too low. Routers from other packages (webhooks, pages) use ``DB``/``EngineDep`` and
do their own authentication.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StringConstraints

from facilbot.api.errors import ApiError
from facilbot.auth import Principal, Role, find_token, record_use, use_is_stale
from facilbot.engine.clock import Clock
from facilbot.engine.engine import Engine
from facilbot.services import ServiceApp, Services
from facilbot.settings import Settings
from facilbot.store.db import Database, reading
from facilbot.webhooks.ingest import WebhookIngest


def services_of(request: Request) -> Services | None:
    """The app's running services; None while it starts or stops."""
    app = request.app
    return app.services if isinstance(app, ServiceApp) else None


# The dependencies below are ``async def`` although they do not await: FastAPI runs a plain
# ``def`` dependency in its thread pool, a thread hop per dependency on every request.
async def get_services(request: Request) -> Services:
    services = services_of(request)
    if services is None:
        raise ApiError(503, "the service is starting or stopping; try again shortly")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_db(services: ServicesDep) -> Database:
    return services.db


async def get_engine(services: ServicesDep) -> Engine:
    return services.engine


async def get_clock(services: ServicesDep) -> Clock:
    return services.clock


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_ingest(services: ServicesDep) -> WebhookIngest:
    return services.ingest


DB = Annotated[Database, Depends(get_db)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
IngestDep = Annotated[WebhookIngest, Depends(get_ingest)]

# Declares the scheme in OpenAPI (the "Authorize" button in /docs); errors are ours.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token from `facilbot token create --role producer|facilitator|viewer`.",
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that returns the caller when their token's role includes ``role``."""

    async def caller(
        services: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        if credentials is None:
            raise ApiError(
                401,
                "this call needs an API token: send 'Authorization: Bearer <token>'",
                headers=_CHALLENGE,
            )
        # Read first: most requests only read; the use is written at most once a minute, so
        # authenticating does not take SQLite's write lock on every call.
        now = services.clock.now()
        async with reading(services.db.engine) as connection:
            found = await find_token(connection, credentials.credentials)
        principal = None if found is None else found[0]
        if found is not None and use_is_stale(found[1], now):
            async with services.db.engine.begin() as connection:
                await record_use(connection, found[0].token_id, now)
        if principal is None:
            raise ApiError(401, "the API token is not valid or was revoked", headers=_INVALID)
        if not principal.can(role):
            raise ApiError(
                403,
                f"this call needs the {role.value} role; the token has {principal.role.value}",
            )
        return principal

    caller.__name__ = f"require_{role.value}"
    return caller


Caller = Annotated[Principal, Depends(require(Role.viewer))]
Facilitator = Annotated[Principal, Depends(require(Role.facilitator))]
Producer = Annotated[Principal, Depends(require(Role.producer))]


#: A session id in a path: a UUID, so a malformed one is a 422 before any lookup.
SessionId = Annotated[uuid.UUID, Path(description="the session's id (a UUID)")]


#: A platform's name as requests give it: checked against this build's platforms with
#: :func:`known_platform`; whether it runs here is the engine's answer (422).
PlatformName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z][a-z0-9_]{0,31}$")
]


def known_platform(services: Services, name: str, loc: tuple[str, ...]) -> None:
    """A 422 on the field at ``loc`` when ``name`` is not a platform this build knows."""
    if name not in services.known_platforms:
        known = ", ".join(sorted(services.known_platforms))
        raise RequestValidationError(
            [
                {
                    "loc": loc,
                    "msg": f"Input should be one of: {known}",
                    "type": "literal_error",
                    "input": name,
                }
            ]
        )
