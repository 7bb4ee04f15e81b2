"""Injectable time for the Teams clients: tests pass a virtual clock and sleep."""

from __future__ import annotations

from integrations.resilience import Clock, Sleep, real_sleep, wall_clock

__all__ = ["Clock", "Sleep", "real_sleep", "wall_clock"]
