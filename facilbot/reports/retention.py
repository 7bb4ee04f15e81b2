"""Retention: participants' personal data is pruned ``FACILBOT_RETENTION_DAYS`` after a
session ends; the report keeps its figures (:func:`facilbot.reports.service.prune`).

:class:`PruneLoop` is the periodic job: a small loop on the service's clock, started by the
composition root. It is not on APScheduler because it needs no calendar (a fixed interval,
and a missed run is simply done at the next one); a housekeeping scheduler can call
:func:`facilbot.reports.service.prune` instead and not start this loop.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from facilbot.engine.clock import Clock, stopping
from facilbot.reports.service import prune
from facilbot.store.db import Database

log = logging.getLogger("facilbot.reports")

#: How often the loop prunes, and how long after start it first does.
EVERY = timedelta(hours=6)
FIRST_AFTER = timedelta(minutes=5)


class PruneLoop:
    def __init__(self, db: Database, clock: Clock, retention_days: int) -> None:
        self.db = db
        self.clock = clock
        self.retention_days = retention_days
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="facilbot-prune")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # gather, not suppress(CancelledError): a stop that is itself cancelled ends too
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        wake = self.clock.now() + FIRST_AFTER
        while True:
            await self.clock.sleep_until(wake)
            try:
                pruned = await prune(self.db.engine, self.clock.now(), self.retention_days)
                if pruned:
                    log.info("pruned personal data of %d ended session(s)", len(pruned))
            except Exception:  # a failed run must not end the loop; the next one retries
                if stopping():
                    raise
                log.exception("pruning failed; retrying in %s", EVERY)
            self.runs += 1
            # On the fixed cadence, not "EVERY after this run ended": a run that outlasted its
            # slot (a slow database, the machine asleep) is followed by one at once, not a
            # whole interval later.
            wake = max(wake + EVERY, self.clock.now())
