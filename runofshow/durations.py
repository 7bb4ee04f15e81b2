"""Durations written the way people write them: ``90s``, ``5m``, ``1h30m``, ``2d``, ``01:30:00``.

A duration is held as a whole number of seconds everywhere in facilbot; this module is the one
place that turns text into seconds and back.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_UNITS = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_UNITS_WHOLE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[dhms]\s*)+$", re.IGNORECASE)
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")

DURATION_PATTERN = r"^(\s*\d+(\.\d+)?\s*[dhmsDHMS]\s*)+$|^(\d+:)?\d{1,2}:\d{2}$"


class DurationError(ValueError):
    """Text that is not a duration; the message says what would be."""


def parse_duration(text: str) -> int:
    """Return the number of seconds ``text`` stands for.

    Accepts unit forms (``90s``, ``5m``, ``1h30m``, ``1.5h``, ``7d``) and clock forms
    (``MM:SS`` and ``HH:MM:SS``). Refuses bare numbers: ``5`` could mean seconds or minutes.
    """
    raw = text.strip()
    if not raw:
        raise DurationError("empty duration; write e.g. 90s, 5m, 1h30m or 01:30:00")
    clock = _CLOCK.match(raw)
    if clock:
        hours, minutes, seconds = clock.groups()
        if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
            raise DurationError(f"{text!r} is not a valid clock duration (minutes and seconds < 60)")
        if hours is None:
            return int(minutes) * 60 + int(seconds)
        return int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    if _UNITS_WHOLE.match(raw):
        total = 0.0
        seen: set[str] = set()
        for amount, unit in _UNITS.findall(raw):
            unit = unit.lower()
            if unit in seen:
                raise DurationError(f"{text!r} names the unit {unit!r} twice")
            seen.add(unit)
            total += float(amount) * _UNIT_SECONDS[unit]
        if total != int(total):
            raise DurationError(f"{text!r} is not a whole number of seconds")
        return int(total)
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        raise DurationError(f"{text!r} has no unit; write {raw}m for minutes or {raw}s for seconds")
    raise DurationError(f"{text!r} is not a duration; write e.g. 90s, 5m, 1h30m or 01:30:00")


def format_duration(seconds: int) -> str:
    """The shortest unit form of ``seconds``: 5400 -> ``1h30m``; 0 -> ``0s``."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    parts = []
    for unit in ("d", "h", "m", "s"):
        amount, rest = divmod(rest, _UNIT_SECONDS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + "".join(parts)


def _coerce(value: Any, info: ValidationInfo) -> int:
    if isinstance(value, bool):
        raise DurationError("a duration cannot be true/false; write e.g. 5m")
    if isinstance(value, int | float):
        # Python callers pass seconds; a number in a *file* is ambiguous (the loader says so
        # through the validation context).
        if isinstance(value, int) and not (info.context or {}).get("text_source"):
            return value
        raise DurationError(f"{value!r} has no unit; write {value}m for minutes or {value}s for seconds")
    if isinstance(value, str):
        return parse_duration(value)
    raise DurationError(f"expected a duration such as 5m, got {type(value).__name__}")


def _positive(value: Any, info: ValidationInfo) -> int:
    seconds = _coerce(value, info)
    if seconds <= 0:
        raise DurationError("must be longer than zero")
    return seconds


def _non_negative(value: Any, info: ValidationInfo) -> int:
    seconds = _coerce(value, info)
    if seconds < 0:
        raise DurationError("cannot be negative")
    return seconds


_schema = WithJsonSchema(
    {
        "type": "string",
        "pattern": DURATION_PATTERN,
        "description": "A duration: 90s, 5m, 1h30m, 7d or 01:30:00",
        "examples": ["5m", "90s", "1h30m", "01:30:00"],
    }
)
_serialize = PlainSerializer(format_duration, return_type=str)

#: Validation context the loader passes for text sources (numbers without a unit refused).
TEXT_SOURCE = {"text_source": True}

#: A duration in seconds, zero allowed (an offset such as ``at: 0m``).
Offset = Annotated[int, BeforeValidator(_non_negative), _schema, _serialize]
#: A duration in seconds that must be longer than zero.
Duration = Annotated[int, BeforeValidator(_positive), _schema, _serialize]
