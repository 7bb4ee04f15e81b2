"""The composition root: one lifespan builds the typed :class:`~facilbot.services.Services`.

Start order, torn down in reverse by one exit stack:

1. the database (opened and migrated, unless given);
2. one shared HTTP client for platform calls (closed last of the platform parts);
3. the platforms ``FACILBOT_PLATFORMS`` lists (each from its own settings) and their adapters;
4. the engine, with those adapters (it takes its sessions and starts their runners);
5. the webhook ingest worker (it replays what an earlier process stored but did not apply),
   the retention loop (prunes personal data of long-ended sessions) and the follow-up
   mail sender (reminders and check-ins, durable in the database);
6. the outbound webhook worker (it delivers what the outbox holds, interrupted attempts too);
7. each platform's background work, in registry order.

``facilbot serve`` enters :func:`running_services` itself before the server listens, so a
refused start is a one-line message, then hands the result to :func:`create_app`. Tests do the
same with a virtual clock, a test database and platforms built against fake servers.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from facilbot.api import errors
from facilbot.api.body import MAX_BODY_BYTES, BodyLimit
from facilbot.api.docs import install_docs
from facilbot.api.routes import health, outbound, reports, sessions, shows
from facilbot.engine.clock import Clock, RealClock
from facilbot.engine.engine import Engine
from facilbot.journey import followups as journey_followups
from facilbot.journey import linkpages as journey_links
from facilbot.journey import routes as journey_routes
from facilbot.outbound.guard import Resolver
from facilbot.outbound.worker import build_worker
from facilbot.pages import companion, report_pages
from facilbot.pages import router as pages
from facilbot.platforms.base import Core, Platform
from facilbot.platforms.registry import PLATFORMS, enabled_platforms
from facilbot.reports.retention import PruneLoop
from facilbot.services import ServiceApp, Services
from facilbot.settings import Settings
from facilbot.store.db import Database, open_database
from facilbot.webhooks import bindings
from facilbot.webhooks.ingest import WebhookIngest

log = logging.getLogger("facilbot")

DESCRIPTION = """\
The producer API of facilbot: upload and lint run-of-show files, attach the bot to a Zoom or
Teams meeting, steer the live session and read its state.

Every call except `/healthz` and `/readyz` needs `Authorization: Bearer <token>`; tokens are
made with `facilbot token create --role producer|facilitator|viewer`. Errors are JSON:
`{"error": code, "detail": reason}`.
"""


#: The API document's groups (operation tags), in the order the documentation shows them.
TAG_ORDER = (
    "health",
    "shows",
    "sessions",
    "outbound webhooks",
    "pages",
    "bindings",
    "reports",
    "journey",
    "rehearsal",
    "webhooks",
)


def _version() -> str:
    try:
        return importlib.metadata.version("facilbot")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=5.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        follow_redirects=False,
    )


@asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
    platforms: Sequence[Platform] | None = None,
    http: httpx.AsyncClient | None = None,
    outbound_resolver: Resolver | None = None,
    **engine_options: Any,
) -> AsyncIterator[Services]:
    """Open everything in the stated order (module docstring); close it in reverse.

    ``database``, ``platforms`` and ``http`` are built here unless given; what is given
    belongs to the caller, who closes it. ``engine_options`` go to :class:`Engine`;
    ``outbound_resolver`` resolves webhook hosts for the SSRF guard (tests resolve names).
    """
    clock = clock or RealClock()
    if platforms is None:
        platforms = enabled_platforms(settings)  # settings problems: before anything opens
    async with contextlib.AsyncExitStack() as stack:
        db = database
        if db is None:
            db = await open_database(settings)
            stack.push_async_callback(db.close)
        if http is None:
            http = await stack.enter_async_context(_http_client())
        adapters = {platform.name: platform.adapter(http) for platform in platforms}
        engine = Engine(
            db,
            clock,
            instance_id=settings.instance_id,
            adapters=adapters,
            lease_seconds=settings.lease_seconds,
            channel_overrides={p.name: p.carriers() for p in platforms if p.carriers()},
            **engine_options,
        )
        await engine.start()
        stack.push_async_callback(engine.stop)
        ingest = WebhookIngest(engine)
        await ingest.start()
        stack.push_async_callback(ingest.stop)
        pruner = PruneLoop(db, clock, settings.retention_days)
        await pruner.start()
        stack.push_async_callback(pruner.stop)
        secret = companion.pages_secret(settings)
        followups = await stack.enter_async_context(
            journey_followups.running(
                engine, clock, secret=secret, base_url=settings.base_url, data_dir=settings.data_dir
            )
        )
        worker = build_worker(settings, engine, resolver=outbound_resolver)
        await worker.start()
        stack.push_async_callback(worker.stop)
        core = Core(settings, db, engine, ingest, clock, http)
        for platform in platforms:
            await platform.start(core)
            stack.push_async_callback(platform.stop)
        yield Services(
            settings=settings,
            db=db,
            engine=engine,
            clock=clock,
            ingest=ingest,
            platforms={platform.name: platform for platform in platforms},
            known_platforms=frozenset(kind.name for kind in PLATFORMS),
            pages_secret=secret,
            followups=followups,
            outbound=worker,
        )


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ServiceApp:
    """The facilbot web app.

    With ``services`` the app serves them (the caller opened them and closes them);
    otherwise its lifespan opens them with :func:`running_services`.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert isinstance(app, ServiceApp)
        async with contextlib.AsyncExitStack() as stack:
            if services is None:
                app.services = await stack.enter_async_context(
                    running_services(settings, clock=clock)
                )
            else:
                app.services = services
            try:
                yield
            finally:
                app.services = None

    app = ServiceApp(
        title="facilbot",
        # The documentation lists the groups in this order, not in the order routes are
        # matched (webhooks first, see below).
        openapi_tags=[{"name": tag} for tag in TAG_ORDER],
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        debug=False,
        docs_url=None,  # /docs and /redoc: served offline by install_docs below
        redoc_url=None,
    )
    errors.install(app)
    install_docs(app)  # API docs with vendored assets (facilbot/api/docs.py)
    # FastAPI tries routes in order, about 70 of them: webhook deliveries, by far the most
    # frequent requests, are matched first. No other path starts with /webhooks/.
    for platform in PLATFORMS:
        for router in platform.webhook_routers():
            app.include_router(router)
    for router in (
        health.router,
        shows.router,
        sessions.router,
        outbound.router,
        pages.router,
        bindings.router,
    ):
        app.include_router(router)
    app.include_router(reports.router)
    app.include_router(report_pages.router)
    app.include_router(journey_routes.router)
    app.include_router(journey_links.router)
    for platform in PLATFORMS:
        for router in platform.routers():
            app.include_router(router)
    # Added last is outermost: the size limit first, then the catch-all around everything else.
    app.add_middleware(errors.CatchAll)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app
