"""The FastAPI application: REST API, health checks, and the routers other packages add.

``create_app(settings)`` builds the app; its lifespan opens the database (migrating it), builds
and starts the engine, and closes both on shutdown. ``facilbot serve`` opens them itself first
(so a refused start is a clean message, not a traceback) and hands them over with ``services``.

Routers are listed in :data:`ROUTERS` as module names, each module exposing ``router``;
webhooks and pages add a line there (they are public and do their own authentication).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from facilbot.api import errors
from facilbot.api.body import MAX_BODY_BYTES, BodyLimit
from facilbot.api.deps import Services
from facilbot.engine.clock import Clock, RealClock
from facilbot.engine.engine import Engine
from facilbot.integrations_setup import platform_adapters
from facilbot.settings import Settings
from facilbot.store.db import Database, open_database
from integrations.contract import MeetingAdapter

#: Modules whose ``router`` is mounted, in order.
ROUTERS: tuple[str, ...] = (
    "facilbot.api.routes.health",
    "facilbot.api.routes.shows",
    "facilbot.api.routes.sessions",
    "facilbot.pages.router",
    "facilbot.webhooks.routes",
    "facilbot.webhooks.teams",
    "facilbot.zoom_routes",
)

DESCRIPTION = """\
The producer API of facilbot: upload and lint run-of-show files, attach the bot to a Zoom or
Teams meeting, steer the live session and read its state.

Every call except `/healthz` and `/readyz` needs `Authorization: Bearer <token>`; tokens are
made with `facilbot token create --role producer|facilitator|viewer`. Errors are JSON:
`{"error": code, "detail": reason}`.
"""


def _version() -> str:
    try:
        return importlib.metadata.version("facilbot")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
    adapters: Mapping[str, MeetingAdapter] | None = None,
) -> AsyncIterator[Services]:
    """Open the database (unless given), build the platform adapters (unless given), build and
    start the engine; stop and close everything after, in reverse order."""
    clock = clock or RealClock()
    async with contextlib.AsyncExitStack() as stack:
        db = database
        if db is None:
            db = await open_database(settings)
            stack.push_async_callback(db.close)
        if adapters is None:
            adapters = await stack.enter_async_context(platform_adapters(settings))
        engine = Engine(
            db,
            clock,
            instance_id=settings.instance_id,
            adapters=adapters,
            lease_seconds=settings.lease_seconds,
        )
        await engine.start()
        stack.push_async_callback(engine.stop)
        yield Services(settings, db, engine, clock)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    services: Services | None = None,
    adapters: Mapping[str, MeetingAdapter] | None = None,
    routers: Iterable[APIRouter] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The facilbot web app.

    With neither ``engine`` nor ``services`` the lifespan opens everything itself. A given
    ``engine`` (with its database and clock) or ``services`` belongs to the caller, who starts
    and stops it. ``routers`` are mounted after those in :data:`ROUTERS`.
    """
    if engine is not None and services is None:
        services = Services(settings, engine.db, engine, clock or engine.clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            try:
                yield
            finally:
                app.state.services = None
            return
        async with running_services(settings, clock=clock, adapters=adapters) as opened:
            app.state.services = opened
            try:
                yield
            finally:
                app.state.services = None

    app = FastAPI(
        title="facilbot",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        debug=False,
    )
    app.state.services = None
    errors.install(app)
    for module_name in ROUTERS:
        module = importlib.import_module(module_name)
        app.include_router(module.router)
    for router in routers:
        app.include_router(router)
    # Added last is outermost: the size limit first, then the catch-all around everything else.
    app.add_middleware(errors.CatchAll)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app
