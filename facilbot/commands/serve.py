"""``facilbot serve``: run the HTTP service (REST API, webhooks, pages) and the engine.

The database is opened and migrated, and the engine started, before the server listens, so a
configuration or database problem is a one-line message and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from facilbot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    import uvicorn

    from facilbot.engine.clock import Clock
    from facilbot.services import Services

#: Called once the server listens, with the services and the server's base URL.
Ready = Callable[["Services", str], Awaitable[None]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default FACILBOT_HOST, 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="port to listen on (default FACILBOT_PORT, 8000; 0 picks one)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="server log level (default info)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"facilbot serve: {exc}", file=sys.stderr)
        return 2
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        print("facilbot serve: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(settings, host, port, args.log_level))
    except KeyboardInterrupt:
        return 0


async def serve(
    settings: Settings,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    clock: Clock | None = None,
    ready: Ready | None = None,
) -> int:
    """Open everything, serve until interrupted, close everything; the exit status.
    ``clock`` replaces real time (``facilbot rehearse --speed``); ``ready`` runs once the
    server listens."""
    import uvicorn

    from facilbot.app import create_app, running_services
    from facilbot.engine import heap
    from facilbot.store.db import DatabaseInUse, describe

    async with contextlib.AsyncExitStack() as stack:
        try:
            services = await stack.enter_async_context(running_services(settings, clock=clock))
        except (DatabaseInUse, SettingsError) as exc:
            print(f"facilbot serve: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # unreachable server, failed migration: a message, no trace
            print(
                f"facilbot serve: cannot open the database {describe(settings.database_url)}: "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            return 2
        app = create_app(settings, services=services)
        heap.freeze()  # start-up's objects out of the collector's full passes (engine/heap.py)
        # uvicorn handles Ctrl-C and SIGTERM: serve() returns, then the stack stops the engine
        # and closes the database.
        config = uvicorn.Config(
            app, host=host, port=port, log_level=log_level, server_header=False, lifespan="on"
        )
        server = uvicorn.Server(config)
        announce = asyncio.create_task(_announce(server, settings, host, port, services, ready))
        try:
            await server.serve()
        finally:
            announce.cancel()
        return 0 if server.started else 1


async def _announce(
    server: uvicorn.Server,
    settings: Settings,
    host: str,
    port: int,
    services: Services,
    ready: Ready | None,
) -> None:
    """Say where we listen (the real port when 0 was asked) and which database, redacted."""
    from facilbot.store.db import describe

    # uvicorn offers no "listening" event; poll its flag (it binds after the lifespan starts).
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    sockets = [s for srv in server.servers for s in srv.sockets]
    if sockets:
        port = sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"facilbot serving on http://{shown}:{port} (API docs at /docs)", flush=True)
    print(f"database: {describe(settings.database_url)}", flush=True)
    if ready is not None:
        await ready(services, f"http://{shown}:{port}")
