"""``facilbot serve`` as users run it, and the live event stream over a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from facilbot.app import create_app
from facilbot.auth import Role
from facilbot.engine.clock import VirtualClock
from facilbot.services import Services

from .conftest import SMALL_SHOW, START, make_settings, make_tokens

FACILBOT = [sys.executable, "-m", "facilbot.cli"]


def serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACILBOT_")}
    env.update(FACILBOT_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def start_server(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*FACILBOT, "serve", "--port", "0", "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_address(process: subprocess.Popen[str]) -> tuple[str, list[str]]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip())
        if line.startswith("database:"):
            break
    serving = next((entry for entry in lines if entry.startswith("facilbot serving on ")), None)
    assert serving is not None, (lines, process.stderr.read() if process.stderr else "")
    return serving.split()[3], lines


def test_serve_listens_answers_and_stops_cleanly(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "data")
    process = start_server(tmp_path, env)
    try:
        address, lines = wait_for_address(process)
        assert address.startswith("http://127.0.0.1:")
        database = tmp_path / "data" / "facilbot.db"
        assert lines[-1] == f"database: SQLite {database.resolve()}"
        assert httpx.get(f"{address}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{address}/readyz")
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{address}/shows").status_code == 401

        # A second instance on the same SQLite database refuses to start, with the reason.
        second = subprocess.run(
            [*FACILBOT, "serve", "--port", "0"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert "another facilbot process" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_serve_reports_an_unreachable_database_without_its_password(tmp_path: Path) -> None:
    env = serve_env(
        tmp_path, FACILBOT_DATABASE_URL="postgresql://facilbot:hunter2@127.0.0.1:9/facilbot"
    )
    result = subprocess.run(
        [*FACILBOT, "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot open the database postgresql+asyncpg://facilbot:***@127.0.0.1:9" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_serve_refuses_bad_settings(tmp_path: Path) -> None:
    env = serve_env(tmp_path, FACILBOT_PORT="99999")
    result = subprocess.run(
        [*FACILBOT, "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "FACILBOT_PORT" in result.stderr


# --- the event stream, over real HTTP ---------------------------------------------------------


class Live:
    def __init__(self, base: str, services: Services, clock: VirtualClock, tokens: dict[Role, str]):
        self.base = base
        self.services = services
        self.clock = clock
        self.tokens = tokens

    def auth(self, role: Role = Role.producer) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    clock = VirtualClock(START)
    app = create_app(make_settings(database_url, tmp_path), clock=clock)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # The test owns the signals; uvicorn must not install its handlers here.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    services = app.services
    assert services is not None
    tokens = await make_tokens(services.db)
    try:
        yield Live(f"http://127.0.0.1:{port}", services, clock, tokens)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def next_event(lines: AsyncIterator[str]) -> dict[str, object] | str:
    """The next data event (parsed) or comment (as text), skipping blank lines and the
    runner's ``segment`` announcements: a runner announces the segment on now when it first
    plans, which may come before or after the stream subscribes (a loaded machine had it
    arrive where a test awaited its keep-alive)."""
    async for line in lines:
        if line.startswith("data: "):
            event = dict(json.loads(line[len("data: ") :]))
            if event.get("type") == "segment":
                continue
            return event
        if line.startswith(":"):
            return line
    raise AssertionError("the stream ended")


async def test_events_stream_controls_and_firings(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
        upload = await client.post(
            "/shows",
            params={"name": "small"},
            content=SMALL_SHOW.encode(),
            headers={**live.auth(), "Content-Type": "application/yaml"},
        )
        version = upload.json()["version"]["id"]
        attached = await client.post(
            "/sessions",
            json={"show_version_id": version, "platform": "sim", "meeting_ref": "sim-9"},
            headers=live.auth(),
        )
        session = attached.json()["id"]
        hub = live.services.engine.hub

        async with client.stream(
            "GET", f"/sessions/{session}/events", headers=live.auth(Role.viewer)
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await next_event(lines) == {"type": "hello", "session_id": session}
            assert hub.subscriber_count(session) == 1

            started = await client.post(
                f"/sessions/{session}/controls", json={"kind": "start"}, headers=live.auth()
            )
            assert started.status_code == 200
            event = await next_event(lines)
            assert event == {"type": "control", "kind": "start", "seq": 2, "by": "producer tester"}

            await live.clock.advance(60)
            seen = [await next_event(lines) for _ in range(2)]
            fired = [e for e in seen if isinstance(e, dict) and e["type"] == "fired"]
            assert fired and fired[0]["key"] == "arrive-1"

        # The client went away: the subscription is dropped.
        for _ in range(500):
            if hub.subscriber_count(session) == 0:
                break
            await asyncio.sleep(0.01)
        assert hub.subscriber_count(session) == 0


async def test_events_send_keepalive_comments(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
        upload = await client.post(
            "/shows",
            json={"name": "small", "yaml": SMALL_SHOW},
            headers=live.auth(),
        )
        attached = await client.post(
            "/sessions",
            json={
                "show_version_id": upload.json()["version"]["id"],
                "platform": "sim",
                "meeting_ref": "sim-10",
            },
            headers=live.auth(),
        )
        session = attached.json()["id"]
        async with client.stream(
            "GET",
            f"/sessions/{session}/events",
            params={"keepalive": 1},
            headers=live.auth(Role.viewer),
        ) as stream:
            lines = stream.aiter_lines()
            assert (await next_event(lines))["type"] == "hello"  # type: ignore[index]
            assert await next_event(lines) == ": keep-alive"
