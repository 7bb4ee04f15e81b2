"""The control log: what a producer (or the meeting) did to a running show.

A session's state is its control log. Every entry is a frozen value stamped with an aware time;
the planner (``runofshow.plan.live_plan``) turns (show, log, now) into the timeline. Entries are
persisted as JSON through ``to_json`` / ``control_from_json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar


class ControlError(ValueError):
    """A control that cannot be read; the message says what is wrong."""


def _aware(at: datetime, kind: str) -> datetime:
    if not isinstance(at, datetime):
        raise ControlError(f"{kind}: 'at' must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ControlError(
            f"{kind}: 'at' must carry a time zone (UTC expected), got {at.isoformat()}"
        )
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class _Control:
    at: datetime
    type: ClassVar[str] = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _aware(self.at, self.type))


@dataclass(frozen=True, slots=True)
class Start(_Control):
    """The show clock starts (meeting started, or the producer pressed start)."""

    type: ClassVar[str] = "start"


@dataclass(frozen=True, slots=True)
class Pause(_Control):
    """The show clock stops; nothing fires until ``Resume``."""

    type: ClassVar[str] = "pause"


@dataclass(frozen=True, slots=True)
class Resume(_Control):
    type: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class Extend(_Control):
    """Lengthen the current segment by ``seconds`` (negative shortens, never below elapsed)."""

    seconds: int = 0
    type: ClassVar[str] = "extend"

    def __post_init__(self) -> None:
        _Control.__post_init__(self)
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int) or self.seconds == 0:
            raise ControlError(
                f"extend: 'seconds' must be a non-zero integer, got {self.seconds!r}"
            )


@dataclass(frozen=True, slots=True)
class Skip(_Control):
    """End the current segment now; its unfired items are skipped (open rooms and polls close)."""

    type: ClassVar[str] = "skip"


@dataclass(frozen=True, slots=True)
class Jump(_Control):
    """Go to a segment now, forward or back; segments passed over are skipped."""

    segment_id: str = ""
    type: ClassVar[str] = "jump"

    def __post_init__(self) -> None:
        _Control.__post_init__(self)
        if not isinstance(self.segment_id, str) or not self.segment_id:
            raise ControlError("jump: 'segment_id' must name a segment")


@dataclass(frozen=True, slots=True)
class FireNow(_Control):
    """Fire the item with this key now, ahead of plan (its planned moment is dropped)."""

    key: str = ""
    type: ClassVar[str] = "fire_now"

    def __post_init__(self) -> None:
        _Control.__post_init__(self)
        if not isinstance(self.key, str) or not self.key:
            raise ControlError("fire_now: 'key' must name an item")


@dataclass(frozen=True, slots=True)
class CallBreak(_Control):
    """The producer calls a break of ``seconds`` now; the rest of the show moves later."""

    seconds: int = 600
    type: ClassVar[str] = "call_break"

    def __post_init__(self) -> None:
        _Control.__post_init__(self)
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int) or self.seconds <= 0:
            raise ControlError(
                f"call_break: 'seconds' must be a positive integer, got {self.seconds!r}"
            )


@dataclass(frozen=True, slots=True)
class End(_Control):
    """The show ends now; everything unfired is skipped."""

    type: ClassVar[str] = "end"


Control = Start | Pause | Resume | Extend | Skip | Jump | FireNow | CallBreak | End

_TYPES: dict[str, type[Control]] = {
    cls.type: cls for cls in (Start, Pause, Resume, Extend, Skip, Jump, FireNow, CallBreak, End)
}
_FIELDS: dict[str, tuple[str, ...]] = {
    "extend": ("seconds",),
    "call_break": ("seconds",),
    "jump": ("segment_id",),
    "fire_now": ("key",),
}


def to_json(control: Control) -> dict[str, Any]:
    """A JSON-ready dict: ``{"type": ..., "at": ISO-8601 UTC, ...fields}``."""
    out: dict[str, Any] = {"type": control.type, "at": control.at.isoformat()}
    for name in _FIELDS.get(control.type, ()):
        out[name] = getattr(control, name)
    return out


def control_from_json(data: object) -> Control:
    """The control ``data`` describes; ``ControlError`` with a precise reason otherwise."""
    if not isinstance(data, dict):
        raise ControlError(f"a control is an object, got {type(data).__name__}")
    kind = data.get("type")
    if kind not in _TYPES:
        known = ", ".join(_TYPES)
        raise ControlError(f"unknown control type {kind!r}; expected one of {known}")
    fields = _FIELDS.get(kind, ())
    unknown = sorted(set(data) - {"type", "at", *fields})
    if unknown:
        raise ControlError(f"{kind}: unknown field(s) {', '.join(map(repr, unknown))}")
    raw_at = data.get("at")
    if not isinstance(raw_at, str):
        raise ControlError(f"{kind}: 'at' must be an ISO-8601 time string")
    try:
        at = datetime.fromisoformat(raw_at)
    except ValueError:
        raise ControlError(f"{kind}: 'at' is not an ISO-8601 time: {raw_at!r}") from None
    missing = [name for name in fields if name not in data]
    if missing and kind != "call_break":
        raise ControlError(f"{kind}: missing field(s) {', '.join(map(repr, missing))}")
    kwargs = {name: data[name] for name in fields if name in data}
    return _TYPES[kind](at, **kwargs)
