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


@dataclass(frozen=True, slots=True)
class Replan(_Control):
    """An accepted re-plan: the segments named get these lengths (seconds; 0 drops one).

    It acts on the current run of a segment (never below what has run) and on runs still
    ahead; the log holds the lengths themselves, so a restart derives the same plan.
    """

    durations: tuple[tuple[str, int], ...] = ()
    reason: str = ""
    type: ClassVar[str] = "replan"

    def __post_init__(self) -> None:
        _Control.__post_init__(self)
        raw: object = self.durations
        pairs = list(raw.items()) if isinstance(raw, dict) else raw
        if not isinstance(pairs, (list, tuple)) or not pairs:
            raise ControlError("replan: 'durations' must map segment ids to seconds")
        clean: dict[str, int] = {}
        for pair in pairs:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ControlError("replan: 'durations' must map segment ids to seconds")
            name, seconds = pair
            if not isinstance(name, str) or not name:
                raise ControlError("replan: a segment id must be a non-empty string")
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                raise ControlError(
                    f"replan: the length of {name!r} must be a whole number of seconds >= 0, "
                    f"got {seconds!r}"
                )
            clean[name] = seconds
        object.__setattr__(self, "durations", tuple(sorted(clean.items())))
        if not isinstance(self.reason, str) or len(self.reason) > 500:
            raise ControlError("replan: 'reason' must be a string of at most 500 characters")


@dataclass(frozen=True, slots=True)
class ReplanPolicy(_Control):
    """The producer dismissed the proposal standing now (``auto`` False), or chose to accept
    every proposal for this session (``auto`` True). The planner ignores it; the re-planner
    reads it."""

    auto: bool = False
    type: ClassVar[str] = "replan_policy"

    def __post_init__(self) -> None:
        _Control.__post_init__(self)
        if not isinstance(self.auto, bool):
            raise ControlError(f"replan_policy: 'auto' must be true or false, got {self.auto!r}")


Control = (
    Start
    | Pause
    | Resume
    | Extend
    | Skip
    | Jump
    | FireNow
    | CallBreak
    | End
    | Replan
    | ReplanPolicy
)

_TYPES: dict[str, type[Control]] = {
    cls.type: cls
    for cls in (
        Start,
        Pause,
        Resume,
        Extend,
        Skip,
        Jump,
        FireNow,
        CallBreak,
        End,
        Replan,
        ReplanPolicy,
    )
}
_FIELDS: dict[str, tuple[str, ...]] = {
    "extend": ("seconds",),
    "call_break": ("seconds",),
    "jump": ("segment_id",),
    "fire_now": ("key",),
    "replan": ("durations", "reason"),
    "replan_policy": ("auto",),
}
_OPTIONAL = {"call_break": {"seconds"}, "replan": {"reason"}}


def to_json(control: Control) -> dict[str, Any]:
    """A JSON-ready dict: ``{"type": ..., "at": ISO-8601 UTC, ...fields}``."""
    out: dict[str, Any] = {"type": control.type, "at": control.at.isoformat()}
    for name in _FIELDS.get(control.type, ()):
        value = getattr(control, name)
        out[name] = dict(value) if name == "durations" else value
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
    missing = [n for n in fields if n not in data and n not in _OPTIONAL.get(kind, set())]
    if missing:
        raise ControlError(f"{kind}: missing field(s) {', '.join(map(repr, missing))}")
    kwargs = {name: data[name] for name in fields if name in data}
    return _TYPES[kind](at, **kwargs)
