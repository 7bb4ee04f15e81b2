"""Property-based fuzzing of the producer API from its own OpenAPI document (schemathesis).

Every generated request, valid or not, authenticated as a producer, must get a non-5xx answer
with the JSON error shape. The server is a real uvicorn on 127.0.0.1 with a migrated SQLite
database, running in its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from facilbot.app import create_app
from facilbot.auth import Role
from facilbot.engine.clock import VirtualClock
from facilbot.services import Services

from .conftest import SMALL_SHOW, START, make_settings, make_tokens

#: The live stream never ends by itself; it is tested in test_serve.py.
STREAMS = ("/sessions/{session_id}/events", "/sessions/{session_id}/bridge")
API_PREFIXES = ("/shows", "/sessions")


@dataclass
class Served:
    base: str
    spec: dict[str, Any]
    token: str
    known: dict[str, Any]  # path parameters that exist: a show version and a session


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("fuzz")
    database_url = f"sqlite+aiosqlite:///{tmp / 'fuzz.db'}"
    app = create_app(make_settings(database_url, Path(tmp)), clock=VirtualClock(START))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    try:
        for _ in range(1000):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert server.started
        services = app.services
        assert services is not None
        tokens = asyncio.run_coroutine_threadsafe(make_tokens(services.db), loop).result(30)
        known = asyncio.run_coroutine_threadsafe(seed(services), loop).result(30)
        port = server.servers[0].sockets[0].getsockname()[1]
        spec = app.openapi()
        spec["paths"] = {
            path: operations
            for path, operations in spec["paths"].items()
            if path.startswith(API_PREFIXES) and path not in STREAMS
        }
        yield Served(f"http://127.0.0.1:{port}", spec, tokens[Role.producer], known)
    finally:
        server.should_exit = True
        thread.join(30)
        loop.close()


async def seed(services: Services) -> dict[str, Any]:
    record, _ = await services.engine.upload_show("small", SMALL_SHOW, "seed")
    session = await services.engine.attach(record.id, "sim", "sim-fuzz", by="seed")
    return {"show_id": record.id, "session_id": session}


def operations(spec: dict[str, Any]) -> list[Any]:
    return [result.ok() for result in schemathesis.openapi.from_dict(spec).get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error(served: Served, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Bearer {served.token}"}
    found = operations(served.spec)
    assert len(found) >= 10

    for operation in found:
        names = {p.name for p in operation.path_parameters}
        real = {name: value for name, value in served.known.items() if name in names}
        strategy = operation.as_strategy(mode)
        if real and mode is GenerationMode.POSITIVE:
            # Half the cases on resources that exist, so the engine's paths are reached too.
            strategy = strategy | operation.as_strategy(mode, path_parameters=real)

        @given(case=strategy)
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(base_url=served.base, headers=headers, timeout=30)
            label = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (label, response.text)
            if response.status_code >= 400:
                body = response.json()
                assert set(body) >= {"error", "detail"}, (label, body)
                assert body["detail"], (label, body)

        check()
