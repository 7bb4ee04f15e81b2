"""When a follow-up may go out: a sensible local hour, never at night, never at a weekend.

The person's time zone when the companion page told us it, else the show's, else UTC. A due
instant outside 09:00–17:00 local on a weekday moves to the next 09:00 local on a weekday.
The wall-clock hour is built in the zone (``datetime(..., tzinfo=zone)``), so the move is
right on either side of a daylight-saving change.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

FIRST_HOUR = time(9, 0)
LAST_HOUR = time(17, 0)
SATURDAY = 5


def zone(name: str | None) -> ZoneInfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def known_zone(name: str) -> bool:
    return name in available_timezones()


def sensible(due: datetime, zone_name: str | None) -> datetime:
    """``due`` (UTC) or the next weekday 09:00 in the zone after it, as UTC."""
    tz = zone(zone_name)
    local = due.astimezone(tz)
    day = local.date()
    if local.weekday() < SATURDAY and FIRST_HOUR <= local.time() < LAST_HOUR:
        return due
    if local.weekday() < SATURDAY and local.time() < FIRST_HOUR:
        pass  # later the same day
    else:
        day += timedelta(days=1)
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return datetime.combine(day, FIRST_HOUR, tzinfo=tz).astimezone(UTC)
