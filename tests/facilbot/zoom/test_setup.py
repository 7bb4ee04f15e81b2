"""The runtime comes with the app when the engine has a Zoom adapter, and only then."""

from __future__ import annotations

from pathlib import Path

import httpx

from facilbot.api.app import create_app
from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine
from facilbot.store.db import Database
from facilbot.zoom_service import ZoomRuntime
from integrations.sim import SimAdapter, SimWorld
from integrations.zoom.adapter import ZoomAdapter
from integrations.zoom.rest import ZoomClient, ZoomCredentials
from tests.facilbot.webhooks.conftest import START, make_settings


async def test_the_app_runs_a_zoom_runtime_with_a_zoom_adapter(
    store: Database, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        client = ZoomClient(ZoomCredentials("a", "b", "c"), http=http)
        engine = Engine(
            store, VirtualClock(START), instance_id="t", adapters={"zoom": ZoomAdapter(client)}
        )
        await engine.start()
        try:
            app = create_app(make_settings("sqlite:///unused.db", tmp_path), engine=engine)
            async with app.router.lifespan_context(app):
                runtime = app.state.zoom_runtime
                assert isinstance(runtime, ZoomRuntime)
                assert runtime.adapter is engine.adapters["zoom"]
            assert app.state.zoom_runtime is None
        finally:
            await engine.stop()


async def test_no_zoom_runtime_without_zoom(store: Database, tmp_path: Path) -> None:
    engine = Engine(
        store, VirtualClock(START), instance_id="t", adapters={"sim": SimAdapter(SimWorld())}
    )
    await engine.start()
    try:
        app = create_app(make_settings("sqlite:///unused.db", tmp_path), engine=engine)
        async with app.router.lifespan_context(app):
            assert app.state.zoom_runtime is None
    finally:
        await engine.stop()
