"""Injectable time for the Teams clients: tests pass a virtual clock and sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime

Clock = Callable[[], float]  # seconds since the epoch
Sleep = Callable[[float], Awaitable[None]]

wall_clock: Clock = time.time
real_sleep: Sleep = asyncio.sleep


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
