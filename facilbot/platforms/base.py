"""The interface between the service and a meeting platform.

A platform is built from its own settings, hands the engine a
:class:`~integrations.contract.MeetingAdapter` before the engine starts, then runs its own
background work (subscriptions, post-meeting reports) between :meth:`Platform.start` and
:meth:`Platform.stop`. Its HTTP routes are mounted whether or not it runs, so the API document
is the same on every server; a route of a platform that is not running answers 503 with the
reason (:func:`running`).

A platform reaches core state only through :class:`Core`: engine and store functions, never
raw SQL on core tables and never the engine's runners.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import httpx
from fastapi import APIRouter
from sqlalchemy import Table

from facilbot.api.errors import ApiError
from facilbot.engine.clock import Clock
from facilbot.engine.engine import Engine
from facilbot.services import Services
from facilbot.settings import Settings
from facilbot.store.db import Database
from facilbot.webhooks.ingest import WebhookIngest
from integrations.contract import Carrier, Channel, MeetingAdapter


@dataclass(frozen=True, slots=True)
class Core:
    """What a running platform may use of the service."""

    settings: Settings
    db: Database
    engine: Engine
    ingest: WebhookIngest
    clock: Clock
    #: the service's shared HTTP client for platform calls (closed by the service)
    http: httpx.AsyncClient


class Platform(ABC):
    """One meeting platform in the service. Subclasses live in ``facilbot.platforms.<name>``."""

    #: the name in ``FACILBOT_PLATFORMS``, in ``sessions.platform`` and in inbound events
    name: ClassVar[str]
    #: the settings it cannot run without, as the user sets them (for messages)
    required_settings: ClassVar[Sequence[str]] = ()
    #: the platform's own tables (registered on the shared metadata; migrated by Alembic)
    tables: ClassVar[Sequence[Table]] = ()

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> Platform:
        """Build the platform from its own ``FACILBOT_<NAME>_*`` settings (read now, not at
        import). :class:`~facilbot.settings.SettingsError` names every missing or bad one."""

    @classmethod
    def routers(cls) -> Sequence[APIRouter]:
        """Mounted on every server, so the API document is the same everywhere; a route of a
        platform that does not run answers 503 (:func:`running`)."""
        return ()

    @classmethod
    def webhook_routers(cls) -> Sequence[APIRouter]:
        """The routers the platform delivers events to (paths under ``/webhooks/``), mounted
        like :meth:`routers` but ahead of every other route: FastAPI tries routes in order,
        and deliveries come by the hundred per second."""
        return ()

    @abstractmethod
    def adapter(self, http: httpx.AsyncClient) -> MeetingAdapter:
        """The adapter the engine carries actions with; called once, before the engine
        starts. ``http`` is the service's shared client."""

    def carriers(self) -> Mapping[Channel, Carrier]:
        """Carriers that replace the service's own bridge/companion channels (the simulator
        brings its own, so simulated people see what the bridge does)."""
        return {}

    def production_problems(self) -> list[str]:
        """What makes this platform's configuration unsafe in production (empty when fine)."""
        return []

    async def start(self, core: Core) -> None:  # noqa: B027 - a platform may have no work
        """Start background work; called after the engine and the webhook ingest started."""

    async def stop(self) -> None:  # noqa: B027 - a platform may have no work
        """Stop background work; called before the ingest and the engine stop."""


P = TypeVar("P", bound=Platform)


def running(services: Services, kind: type[P]) -> P:
    """The running platform of type ``kind``, or a 503 saying how to switch it on."""
    found = services.platforms.get(kind.name)
    if not isinstance(found, kind):
        raise ApiError(
            503,
            f"{kind.name} is not enabled on this server: list it in FACILBOT_PLATFORMS and "
            f"set {', '.join(kind.required_settings) or 'its settings'} "
            f"(see docs/{kind.name}-setup.md)",
            code="not_configured",
        )
    return found
