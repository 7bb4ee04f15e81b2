"""The simulated meeting as a platform of the service (development, rehearsal, demos)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

import httpx
from fastapi import APIRouter

from facilbot.engine.clock import stopping
from facilbot.engine.errors import ControlRefused
from facilbot.platforms.base import Core, Platform
from facilbot.platforms.sim import rehearsal
from facilbot.settings import Settings
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from integrations.contract import Carrier, Channel, MeetingAdapter
from integrations.sim import SimAdapter, SimWorld
from runofshow.controls import Start

log = logging.getLogger("facilbot.platforms.sim")

#: How often the planned starts are looked at (real seconds; the comparison is on the clock).
PLANNED_START_POLL = 0.5


class SimPlatform(Platform):
    """Meetings that exist only in this process: no settings, no tables. Under ``facilbot
    serve`` every ``sim`` session gets a simulated meeting and a participants' panel
    (:mod:`.rehearsal`); the demo brings its own scripted meeting."""

    name = "sim"

    def __init__(
        self,
        adapter: SimAdapter | None = None,
        *,
        own_carriers: bool = False,
        rehearse: bool = False,
        start_planned: bool = True,
    ) -> None:
        """``own_carriers``: the simulated people see what the bridge and the companion page
        carry (the demo); otherwise those channels are the service's own. ``rehearse``: make
        a meeting for each session on first use, for the participants' panel.
        ``start_planned``: start sessions attached ahead at their planned start (a simulated
        meeting has no start event); off, they start only when told (tests of late starts)."""
        self._adapter = adapter
        self._own_carriers = own_carriers
        self._starter: asyncio.Task[None] | None = None
        self.rehearsals = rehearsal.Rehearsals(adapter.world if adapter else SimWorld())
        self._rehearse = rehearse
        self._start_planned = start_planned

    @classmethod
    def from_settings(cls, settings: Settings) -> SimPlatform:
        return cls(rehearse=True)

    @classmethod
    def routers(cls) -> Sequence[APIRouter]:
        return (rehearsal.router,)

    def adapter(self, http: httpx.AsyncClient) -> MeetingAdapter:
        if self._adapter is None:
            self._adapter = SimAdapter(self.rehearsals.world)
        if self._rehearse:
            return rehearsal.RehearsalAdapter(self._adapter, self.rehearsals)
        return self._adapter

    def carriers(self) -> Mapping[Channel, Carrier]:
        if not self._own_carriers or self._adapter is None:
            return {}
        return self._adapter.carriers()

    async def start(self, core: Core) -> None:
        self.rehearsals.clock = core.clock
        # A simulated meeting has no start event of its own: a session attached ahead with a
        # planned start starts itself then (Zoom and Teams sessions start on meeting start).
        if self._start_planned:
            self._starter = asyncio.create_task(_start_planned(core), name="facilbot-sim-planned")

    async def stop(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
            # gather, not suppress(CancelledError): a stop that is itself cancelled ends too
            await asyncio.gather(self._starter, return_exceptions=True)
            self._starter = None


async def start_due(core: Core) -> list[str]:
    """Start the sim sessions whose planned start has come and that have not started."""
    now = core.clock.now()
    async with reading(core.db.engine) as connection:
        due = [
            record.id
            for record in await store_sessions.active_sessions(connection)
            if record.platform == SimPlatform.name
            and record.status in ("attached", "waiting")
            and record.planned_start is not None
            and record.planned_start <= now
        ]
    started = []
    for session_id in due:
        if any(isinstance(c, Start) for c in await core.engine.controls(session_id)):
            continue
        with contextlib.suppress(ControlRefused):
            await core.engine.control(session_id, "start", {}, "sim:planned_start")
            started.append(session_id)
    return started


async def _start_planned(core: Core) -> None:
    while True:
        try:
            await start_due(core)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if stopping():
                raise
            log.warning("starting planned sim sessions failed (%s)", type(error).__name__)
        await asyncio.sleep(PLANNED_START_POLL)
