"""Durations written the way people write them: ``90s``, ``5m``, ``1h30m``, ``2d``, ``01:30:00``.

A duration is held as a whole number of seconds everywhere in facilbot; this module is the one
place that turns text into seconds and back. It imports no pydantic, so the linter can use it
without paying for pydantic's import (``runofshow.durations`` adds the model's annotated types).
"""

from __future__ import annotations

import re
from typing import Any

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# ASCII digits only ([0-9], not \\d, which also matches other scripts' digits).
_UNITS = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([dhms])", re.IGNORECASE)
_UNITS_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?\s*[dhms]\s*)+", re.IGNORECASE)
_CLOCK = re.compile(r"(?:([0-9]+):)?([0-9]{1,2}):([0-9]{2})")
_BARE = re.compile(r"[0-9]+(?:\.[0-9]+)?")

#: The same language as ``parse_duration`` (before the range checks), for the JSON Schema.
DURATION_PATTERN = (
    r"^\s*([0-9]+(\.[0-9]+)?\s*[dhmsDHMS]\s*)+$|^\s*([0-9]+:)?[0-9]{1,2}:[0-9]{2}\s*$"
)
#: Longer than any session, follow-up or check-in needs; keeps numbers sane downstream.
MAX_SECONDS = 366 * 86400
_MAX_TEXT = 40
_EXAMPLES = "write e.g. 90s, 5m, 1h30m or 01:30:00"


class DurationError(ValueError):
    """Text that is not a duration; the message says what would be."""


def parse_duration(text: str) -> int:
    """Return the number of seconds ``text`` stands for.

    Accepts unit forms (``90s``, ``5m``, ``1h30m``, ``1.5h``, ``7d``, any case, spaces between
    parts) and clock forms (``MM:SS`` and ``HH:MM:SS``). Refuses bare numbers (``5`` could mean
    seconds or minutes), fractions of a second, a unit named twice, and more than a year.
    """
    raw = text.strip()
    if not raw:
        raise DurationError(f"empty duration; {_EXAMPLES}")
    if len(raw) > _MAX_TEXT:
        raise DurationError(f"{raw[:_MAX_TEXT]!r}... is too long for a duration; {_EXAMPLES}")
    clock = _CLOCK.fullmatch(raw)
    if clock:
        hours, minutes, seconds = clock.groups()
        if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
            raise DurationError(
                f"{text!r} is not a valid clock duration (minutes and seconds < 60)"
            )
        total = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    elif _UNITS_WHOLE.fullmatch(raw):
        # Exact decimal arithmetic in integers: every amount scaled by 10**places (fractions
        # would import the decimal module, a tenth of facilbot lint's time budget).
        parts = _UNITS.findall(raw)
        places = max(len(amount.partition(".")[2]) for amount, _ in parts)
        scaled = 0
        seen: set[str] = set()
        for amount, unit in parts:
            unit = unit.lower()
            if unit in seen:
                raise DurationError(f"{text!r} names the unit {unit!r} twice")
            seen.add(unit)
            whole, _, fraction = amount.partition(".")
            scaled += int(whole + fraction.ljust(places, "0")) * _UNIT_SECONDS[unit]
        total, rest = divmod(scaled, 10**places)
        if rest:
            raise DurationError(f"{text!r} is not a whole number of seconds")
    elif raw[0] in "-+" and raw[1:].strip() and _looks_like_duration(raw[1:].strip()):
        what = "be negative" if raw[0] == "-" else "have a sign"
        raise DurationError(f"{text!r}: a duration cannot {what}; write e.g. {raw[1:].strip()}")
    elif _BARE.fullmatch(raw):
        raise DurationError(f"{text!r} has no unit; write {raw}m for minutes or {raw}s for seconds")
    else:
        raise DurationError(f"{text!r} is not a duration; {_EXAMPLES}")
    if total > MAX_SECONDS:
        raise DurationError(f"{text!r} is longer than a year")
    return total


def _looks_like_duration(raw: str) -> bool:
    return bool(_CLOCK.fullmatch(raw) or _UNITS_WHOLE.fullmatch(raw))


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


def coerce_seconds(value: Any, *, text_source: bool, positive: bool) -> int:
    """Seconds for a duration field's input; ``text_source``: it came from a file, where a
    number without a unit is ambiguous. Raises :class:`DurationError` with the message."""
    seconds = _coerce(value, text_source)
    if seconds < 0:
        raise DurationError("cannot be negative")
    if seconds > MAX_SECONDS:
        raise DurationError("cannot be longer than a year")
    if positive and seconds == 0:
        raise DurationError("must be longer than zero")
    return seconds


def _coerce(value: Any, text_source: bool) -> int:
    if isinstance(value, bool):
        raise DurationError("a duration cannot be true/false; write e.g. 5m")
    if isinstance(value, int | float) and value < 0:
        raise DurationError("cannot be negative")
    if isinstance(value, int | float):
        # Python callers pass seconds; a number in a *file* is ambiguous.
        if isinstance(value, int) and not text_source:
            return value
        raise DurationError(
            f"{value!r} has no unit; write {value}m for minutes or {value}s for seconds"
        )
    if isinstance(value, str):
        return parse_duration(value)
    raise DurationError(f"expected a duration such as 5m, got {_kind_of(value)}")


def _kind_of(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
