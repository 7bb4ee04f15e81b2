"""Microsoft Teams as a platform of the service: settings, adapter, runtime, routes, tables."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import APIRouter

from facilbot.platforms.base import Core, Platform
from facilbot.platforms.teams import store
from facilbot.platforms.teams.runtime import (
    EncryptionKeys,
    TeamsRuntime,
    build_teams_adapter,
    load_encryption_keys,
)
from facilbot.platforms.teams.settings import TeamsSettings, load_teams_settings
from facilbot.settings import Settings, SettingsError
from integrations.teams.adapter import TeamsAdapter

log = logging.getLogger("facilbot.teams")


class TeamsPlatform(Platform):
    """Teams: the bot (Bot Framework activities in, Bot Connector out) and Microsoft Graph
    (chat subscriptions, join URLs, attendance)."""

    name = "teams"
    tables = store.TABLES
    required_settings = (
        "FACILBOT_TEAMS_APP_ID",
        "FACILBOT_TEAMS_APP_PASSWORD",
        "FACILBOT_TEAMS_TENANT_ID",
        "FACILBOT_GRAPH_CLIENT_STATE",
    )

    def __init__(
        self,
        settings: TeamsSettings,
        *,
        adapter: TeamsAdapter | None = None,
        http: httpx.AsyncClient | None = None,
        keys: EncryptionKeys | None = None,
        **runtime: Any,
    ) -> None:
        """``adapter`` and ``http`` replace those built from the settings and the service's
        shared client (tests point them at a fake Microsoft); ``runtime`` options go to
        :class:`TeamsRuntime`."""
        self.settings = settings
        self.keys = keys
        self._adapter = adapter
        self._http = http
        self._runtime_options = runtime
        self._runtime: TeamsRuntime | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TeamsPlatform:
        teams = load_teams_settings()
        try:
            keys = load_encryption_keys(teams)
        except SettingsError as error:
            # Not fatal: the bot still hears every message; Graph notifications carry no text.
            log.error("Teams rich notifications are off: %s", error)
            keys = None
        return cls(teams, keys=keys)

    @classmethod
    def routers(cls) -> Sequence[APIRouter]:
        # Imported here: the route module names this class for its dependency.
        from facilbot.platforms.teams import routes

        return (routes.router,)

    @classmethod
    def webhook_routers(cls) -> Sequence[APIRouter]:
        from facilbot.platforms.teams import routes

        return (routes.webhook_router,)

    def adapter(self, http: httpx.AsyncClient) -> TeamsAdapter:
        if self._http is None:
            self._http = http
        if self._adapter is None:
            self._adapter = build_teams_adapter(self.settings, http=self._http)
        return self._adapter

    def production_problems(self) -> list[str]:
        return self.settings.production_problems()

    @property
    def runtime(self) -> TeamsRuntime:
        if self._runtime is None:
            raise RuntimeError("the Teams platform has not been started")
        return self._runtime

    async def start(self, core: Core) -> None:
        assert self._adapter is not None and self._http is not None, "adapter() comes first"
        self._runtime = TeamsRuntime(
            self.settings,
            core.engine,
            self._adapter,
            http=self._http,
            base_url=core.settings.base_url,
            ingest=core.ingest,
            keys=self.keys,
            **self._runtime_options,
        )
        await self._runtime.start()

    async def stop(self) -> None:
        if self._runtime is not None:
            await self._runtime.stop()
