"""The one fake clock of the wire-level tests, and a view of the engine's virtual clock in the
shape the platform clients take.

The platform clients (``integrations``) take time as epoch seconds (``clock()``) and wait with
an injected ``sleep``; the service runs on ``facilbot.engine.clock.VirtualClock``. Tests of the
clients alone use :class:`FakeClock`; tests of the service hand the clients an
:class:`EpochView` of the engine's clock, so one time moves everything.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the wire-level tests that use FakeClock load nothing of the service
    from facilbot.engine.clock import VirtualClock


class FakeClock:
    """Epoch seconds that move only when told to; ``sleep`` advances it and records the wait."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


class EpochView:
    """The engine's virtual clock as epoch seconds, with a ``sleep`` that waits on it."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def __call__(self) -> float:
        return self._clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        await self._clock.sleep_until(self._clock.now() + timedelta(seconds=seconds))
