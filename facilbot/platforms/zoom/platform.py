"""Zoom as a platform of the service: its settings, adapter, runtime, routes and tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import APIRouter

from facilbot.platforms.base import Core, Platform
from facilbot.platforms.zoom import store
from facilbot.platforms.zoom.runtime import ZoomRuntime
from facilbot.platforms.zoom.settings import ZoomSettings, load_zoom_settings
from facilbot.settings import Settings
from integrations.zoom.adapter import ZoomAdapter
from integrations.zoom.rest import ZoomClient, ZoomCredentials


class ZoomPlatform(Platform):
    """Zoom: webhooks in, REST out (polls and rooms prepared on attach, reports after)."""

    name = "zoom"
    tables = store.TABLES
    required_settings = (
        "FACILBOT_ZOOM_ACCOUNT_ID",
        "FACILBOT_ZOOM_CLIENT_ID",
        "FACILBOT_ZOOM_CLIENT_SECRET",
        "FACILBOT_ZOOM_WEBHOOK_SECRET_TOKEN",
    )

    def __init__(
        self, settings: ZoomSettings, *, client: ZoomClient | None = None, **runtime: Any
    ) -> None:
        """``client`` replaces the REST client built from the settings (tests point one at a
        fake Zoom); ``runtime`` options go to :class:`ZoomRuntime`."""
        self.settings = settings
        self._client = client
        self._runtime_options = runtime
        self._adapter: ZoomAdapter | None = None
        self._runtime: ZoomRuntime | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ZoomPlatform:
        return cls(load_zoom_settings())

    @classmethod
    def routers(cls) -> Sequence[APIRouter]:
        # Imported here: the route modules name this class for their dependency.
        from facilbot.platforms.zoom import routes

        return (routes.router,)

    @classmethod
    def webhook_routers(cls) -> Sequence[APIRouter]:
        from facilbot.platforms.zoom import webhooks

        return (webhooks.router,)

    def adapter(self, http: httpx.AsyncClient) -> ZoomAdapter:
        if self._adapter is None:
            client = self._client
            if client is None:
                settings = self.settings
                assert settings.account_id and settings.client_id and settings.client_secret
                client = ZoomClient(
                    ZoomCredentials(
                        settings.account_id,
                        settings.client_id,
                        settings.client_secret.get_secret_value(),
                    ),
                    api_base_url=settings.api_base_url,
                    oauth_url=settings.oauth_url,
                    http=http,
                )
            self._adapter = ZoomAdapter(client)
        return self._adapter

    def production_problems(self) -> list[str]:
        return self.settings.production_problems()

    @property
    def runtime(self) -> ZoomRuntime:
        if self._runtime is None:
            raise RuntimeError("the Zoom platform has not been started")
        return self._runtime

    async def start(self, core: Core) -> None:
        assert self._adapter is not None, "adapter() is called before start()"
        self._runtime = ZoomRuntime(core.engine, self._adapter, **self._runtime_options)
        await self._runtime.start()

    async def stop(self) -> None:
        if self._runtime is not None:
            await self._runtime.stop()
