"""The run-of-show as plain classes, validated without pydantic, for ``facilbot lint``.

Importing pydantic and building the model's classes costs more than the whole 100 ms that
DESIGN §7 gives ``facilbot lint`` (see ``bench/lint_speed.py``), so the linter validates here.
The classes have the model's fields, defaults and methods, and :func:`validate` reports every
problem as the pydantic error it stands for (same ``type``, ``loc``, ``msg`` and ``ctx``), so the
loader turns both into the same ``file:line:col`` messages. The cross-field checks and their
messages come from ``runofshow.basics``, shared with the model. ``runofshow.model`` stays the
source of truth (the service, the JSON Schema); ``tests/runofshow/test_plain.py`` holds this
module to it: same fields, same values, same problems for every example, every broken file
and many damaged ones.

Only what a YAML document can hold is handled: ``None``, ``bool``, ``int``, ``float``, ``str``,
lists, and mappings with text keys.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import StrEnum
from typing import Any, ClassVar, Literal

from runofshow import basics
from runofshow.basics import (
    ID_PATTERN,
    INTERACTIVE_CUE_ACTIONS,
    SHOW_RULE,
    CueAction,
    RuleViolation,
    SegmentKind,
    Severity,
)
from runofshow.durationtext import DurationError, coerce_seconds

# --- the classes ------------------------------------------------------------------------------


class _Record:
    """An immutable record: its fields are its ``__slots__``, each given or defaulted.

    Not a dataclass: building seventeen frozen dataclasses costs about as much as the rest of
    ``facilbot lint`` together (about 5 M instructions each, against ~0.1 M for these).
    """

    __slots__: tuple[str, ...] = ()
    #: Defaults shared by every instance (immutable values).
    _defaults: ClassVar[dict[str, Any]] = {}
    #: Defaults made afresh for each instance (lists, records).
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            if name in values:
                value = values.pop(name)
            elif name in self._factories:
                value = self._factories[name]()
            else:
                value = self._defaults[name]  # KeyError: a required field is missing
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__} has no field {next(iter(values))!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # records hold lists: not hashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"


class BreakRule(_Record):
    __slots__ = ("rest", "work")
    work: int
    rest: int

    def __str__(self) -> str:
        return basics.format_break_rule(self.work, self.rest)


def _default_breaks() -> list[BreakRule]:
    return [BreakRule(work=3000, rest=600), BreakRule(work=5400, rest=1200)]


class Rules(_Record):
    __slots__ = (
        "breaks",
        "commitments_within",
        "connection_within",
        "interaction_gap",
        "late_grace",
        "segments_per_3h",
        "talk_share_max",
    )
    interaction_gap: int
    breaks: list[BreakRule]
    connection_within: int
    commitments_within: int
    talk_share_max: float
    segments_per_3h: int
    late_grace: int
    _defaults: ClassVar[dict[str, Any]] = {
        "interaction_gap": 420,
        "connection_within": 600,
        "commitments_within": 600,
        "talk_share_max": 20.0,
        "segments_per_3h": 6,
        "late_grace": 120,
    }
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {"breaks": _default_breaks}


class Access(_Record):
    __slots__ = ("captions", "recap_for", "recording", "transcript")
    recording: bool | None
    captions: bool | None
    transcript: bool | None
    recap_for: int
    _defaults: ClassVar[dict[str, Any]] = {
        "recording": None,
        "captions": None,
        "transcript": None,
        "recap_for": 604800,
    }


class BaselineQuestion(_Record):
    __slots__ = ("multiple", "options", "question")
    question: str
    options: list[str]
    multiple: bool
    _defaults: ClassVar[dict[str, Any]] = {"multiple": False}


class PreworkLink(_Record):
    __slots__ = ("due_before", "poll", "title", "url")
    title: str
    url: str | None
    poll: BaselineQuestion | None
    due_before: int | None
    _defaults: ClassVar[dict[str, Any]] = {"url": None, "poll": None, "due_before": None}


class ProducerNotes(_Record):
    __slots__ = ("flex", "keep_same", "watch_for")
    watch_for: str | None
    keep_same: str | None
    flex: str | None
    _defaults: ClassVar[dict[str, Any]] = dict.fromkeys(__slots__)


class Poll(_Record):
    __slots__ = ("anonymous", "multiple", "open_for", "options", "question", "show_results")
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool
    open_for: int
    show_results: bool
    _defaults: ClassVar[dict[str, Any]] = {
        "multiple": False,
        "anonymous": False,
        "open_for": 120,
        "show_results": True,
    }


class Assign(_Record):
    __slots__ = ("mix_by", "random", "rooms")
    random: bool | None
    mix_by: str | None
    rooms: list[list[str]] | None
    _defaults: ClassVar[dict[str, Any]] = dict.fromkeys(__slots__)

    @property
    def method(self) -> Literal["random", "mix_by", "rooms"]:
        return basics.assign_method(self)


class Breakout(_Record):
    __slots__ = ("assign", "duration", "rooms", "size", "warn_before_close")
    size: int | None
    rooms: int | None
    assign: Assign
    duration: int | None
    warn_before_close: int
    _defaults: ClassVar[dict[str, Any]] = {
        "size": None,
        "rooms": None,
        "duration": None,
        "warn_before_close": basics.DEFAULT_WARN_BEFORE_CLOSE,
    }
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {"assign": Assign}


class BreakCue(_Record):
    __slots__ = ("duration",)
    duration: int


class Commitments(_Record):
    __slots__ = ("collect_for", "prompt")
    prompt: str
    collect_for: int | None
    _defaults: ClassVar[dict[str, Any]] = {"prompt": basics.COMMITMENT_PROMPT, "collect_for": None}


class Cue(_Record):
    __slots__ = (
        "at",
        "break_",
        "breakout",
        "commitments",
        "id",
        "poll",
        "producer",
        "producer_notes",
        "say",
    )
    id: str | None
    at: int
    say: str | None
    poll: Poll | None
    breakout: Breakout | None
    break_: BreakCue | None
    commitments: Commitments | None
    producer: str | None
    producer_notes: str | ProducerNotes | None
    _defaults: ClassVar[dict[str, Any]] = dict.fromkeys(set(__slots__) - {"at"})

    def payload_for(self, action: CueAction) -> object | None:
        return basics.cue_payload(self, action)

    @property
    def action(self) -> CueAction:
        return basics.cue_action(self)

    @property
    def interactive(self) -> bool:
        """Does this cue ask the participants to do something?"""
        return self.action in INTERACTIVE_CUE_ACTIONS


class Flex(_Record):
    __slots__ = ("max", "min")
    min: int | None
    max: int | None
    _defaults: ClassVar[dict[str, Any]] = dict.fromkeys(__slots__)


class Segment(_Record):
    __slots__ = (
        "breakout",
        "cues",
        "duration",
        "facilitator_notes",
        "flex",
        "id",
        "kind",
        "lead",
        "producer_notes",
        "prompt",
        "title",
    )
    id: str
    kind: SegmentKind
    title: str | None
    duration: int
    lead: str | None
    facilitator_notes: str | None
    producer_notes: str | ProducerNotes | None
    breakout: Breakout | None
    prompt: str | None
    cues: list[Cue]
    flex: Flex | None
    _defaults: ClassVar[dict[str, Any]] = dict.fromkeys(
        set(__slots__) - {"id", "kind", "duration", "cues"}
    )
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {"cues": list}

    def cue_id(self, index: int) -> str:
        return basics.cue_id(self, index)


def _default_check_ins() -> list[int]:
    return [2592000, 5184000, 7776000]


class FollowUp(_Record):
    __slots__ = ("check_ins", "reminder_after")
    reminder_after: int | None
    check_ins: list[int]
    _defaults: ClassVar[dict[str, Any]] = {"reminder_after": 604800}
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {"check_ins": _default_check_ins}


class Producers(_Record):
    __slots__ = ("emails", "names")
    names: list[str]
    emails: list[str]
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {"names": list, "emails": list}


class Show(_Record):
    __slots__ = (
        "access",
        "duration",
        "follow_up",
        "lint",
        "prework",
        "producers",
        "prompt_bank",
        "rules",
        "segments",
        "timezone",
        "title",
    )
    title: str
    duration: int
    timezone: str | None
    rules: Rules
    lint: dict[str, Severity]
    prework: list[PreworkLink]
    access: Access
    producers: Producers
    prompt_bank: list[str]
    segments: list[Segment]
    follow_up: FollowUp | None
    _defaults: ClassVar[dict[str, Any]] = {"timezone": None, "follow_up": None}
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {
        "rules": Rules,
        "lint": dict,
        "prework": list,
        "access": Access,
        "producers": Producers,
        "prompt_bank": list,
    }

    def segment(self, segment_id: str) -> Segment:
        for segment in self.segments:
            if segment.id == segment_id:
                return segment
        raise KeyError(segment_id)


# --- validation -------------------------------------------------------------------------------

Loc = tuple[str | int, ...]
#: A problem as pydantic reports it: ``type``, ``loc``, ``msg`` and, for some, ``ctx``.
ErrorDetails = dict[str, Any]


class _Bad:
    """What a check returns for a value it refused (its errors are already reported)."""


_BAD = _Bad()


def _error(kind: str, loc: Loc, msg: str, ctx: dict[str, Any] | None = None) -> ErrorDetails:
    out: ErrorDetails = {"type": kind, "loc": loc, "msg": msg}
    if ctx is not None:
        out["ctx"] = ctx
    return out


def _value_error(loc: Loc, error: ValueError) -> ErrorDetails:
    return _error("value_error", loc, f"Value error, {error}", {"error": error})


class _Check(ABC):
    """Validates one value at ``loc``; returns it converted, or ``_BAD`` after reporting."""

    @abstractmethod
    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any: ...


class _Str(_Check):
    def __init__(self, *, min_length: int = 0, pattern: str | None = None) -> None:
        self.min_length = min_length
        self.pattern = pattern
        # pydantic's (Rust) regex: '$' is the end of the text, never before a final newline.
        self.regex = re.compile(pattern.removesuffix("$") + r"\Z") if pattern else None

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        if not isinstance(value, str):
            errors.append(_error("string_type", loc, "Input should be a valid string"))
            return _BAD
        if len(value) < self.min_length:
            n = self.min_length
            msg = f"String should have at least {n} character{'s' if n != 1 else ''}"
            errors.append(_error("string_too_short", loc, msg, {"min_length": n}))
            return _BAD
        if self.regex is not None and not self.regex.search(value):
            msg = f"String should match pattern '{self.pattern}'"
            errors.append(_error("string_pattern_mismatch", loc, msg, {"pattern": self.pattern}))
            return _BAD
        return value


def _bounds(
    value: float, loc: Loc, errors: list[ErrorDetails], ge: float | None, le: float | None
) -> bool:
    # pydantic checks the upper bound first: NaN fails it and is reported there.
    if le is not None and not value <= le:
        msg = f"Input should be less than or equal to {le:g}"
        errors.append(_error("less_than_equal", loc, msg, {"le": le}))
        return False
    if ge is not None and not value >= ge:
        msg = f"Input should be greater than or equal to {ge:g}"
        errors.append(_error("greater_than_equal", loc, msg, {"ge": ge}))
        return False
    return True


# pydantic's lax integer from text: digits with single underscores, optionally ".000".
_INT_TEXT = re.compile(r"([+-]?[0-9](?:_?[0-9])*)(?:\.0+)?")


class _Int(_Check):
    def __init__(self, *, ge: int | None = None, le: int | None = None) -> None:
        self.ge, self.le = ge, le

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        number = _to_int(value, loc, errors)
        if number is None or not _bounds(number, loc, errors, self.ge, self.le):
            return _BAD
        return number


def _to_int(value: Any, loc: Loc, errors: list[ErrorDetails]) -> int | None:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            errors.append(_error("finite_number", loc, "Input should be a finite number"))
        elif not value.is_integer():
            msg = "Input should be a valid integer, got a number with a fractional part"
            errors.append(_error("int_from_float", loc, msg))
        elif not -(2**63) < value < 2**63:  # pydantic takes whole floats within 64 bits only
            msg = "Unable to parse input string as an integer, exceeded maximum size"
            errors.append(_error("int_parsing_size", loc, msg))
        else:
            return int(value)
        return None
    if isinstance(value, str):
        match = _INT_TEXT.fullmatch(value.strip())
        if match:
            return int(match[1])
        msg = "Input should be a valid integer, unable to parse string as an integer"
        errors.append(_error("int_parsing", loc, msg))
        return None
    errors.append(_error("int_type", loc, "Input should be a valid integer"))
    return None


class _Float(_Check):
    def __init__(self, *, ge: float, le: float, before: Callable[[object], object]) -> None:
        self.ge, self.le, self.before = ge, le, before

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        try:
            value = self.before(value)
        except ValueError as error:
            errors.append(_value_error(loc, error))
            return _BAD
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                msg = "Input should be a valid number, unable to parse string as a number"
                errors.append(_error("float_parsing", loc, msg))
                return _BAD
        else:
            errors.append(_error("float_type", loc, "Input should be a valid number"))
            return _BAD
        return number if _bounds(number, loc, errors, self.ge, self.le) else _BAD


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class _Bool(_Check):
    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        # Whole numbers that fit in 64 bits are read as numbers (that are not 0 or 1).
        parsable = (
            isinstance(value, str)
            or (isinstance(value, int) and -(2**63) <= value < 2**63)
            or (isinstance(value, float) and value.is_integer() and -(2**63) < value < 2**63)
        )
        if parsable:
            msg = "Input should be a valid boolean, unable to interpret input"
            errors.append(_error("bool_parsing", loc, msg))
        else:
            errors.append(_error("bool_type", loc, "Input should be a valid boolean"))
        return _BAD


class _Enum(_Check):
    def __init__(self, enum: type[StrEnum]) -> None:
        self.enum = enum
        names = [f"'{m.value}'" for m in enum]
        self.expected = f"{', '.join(names[:-1])} or {names[-1]}"

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        if isinstance(value, str) and value in self.enum._value2member_map_:
            return self.enum(value)
        msg = f"Input should be {self.expected}"
        errors.append(_error("enum", loc, msg, {"expected": self.expected}))
        return _BAD


class _Seconds(_Check):
    def __init__(self, *, positive: bool) -> None:
        self.positive = positive

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        try:
            # Only files come here: a number without a unit is refused.
            return coerce_seconds(value, text_source=True, positive=self.positive)
        except DurationError as error:
            errors.append(_value_error(loc, error))
            return _BAD


class _Optional(_Check):
    def __init__(self, inner: _Check) -> None:
        self.inner = inner

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        return None if value is None else self.inner(value, loc, errors)


class _List(_Check):
    def __init__(self, item: _Check, *, min_length: int = 0) -> None:
        self.item, self.min_length = item, min_length

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        if not isinstance(value, list):
            errors.append(_error("list_type", loc, "Input should be a valid list"))
            return _BAD
        out = [self.item(v, (*loc, i), errors) for i, v in enumerate(value)]
        if any(v is _BAD for v in out):
            return _BAD
        if len(out) < self.min_length:
            n = self.min_length
            msg = (
                f"List should have at least {n} item{'s' if n != 1 else ''} after validation, "
                f"not {len(out)}"
            )
            ctx = {"field_type": "List", "min_length": n, "actual_length": len(out)}
            errors.append(_error("too_short", loc, msg, ctx))
            return _BAD
        return out


class _Dict(_Check):
    def __init__(self, value: _Check) -> None:
        self.value = value

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        if not isinstance(value, dict):
            errors.append(_error("dict_type", loc, "Input should be a valid dictionary"))
            return _BAD
        out = {k: self.value(v, (*loc, k), errors) for k, v in value.items()}
        return _BAD if any(v is _BAD for v in out.values()) else out


class _Field:
    """One field of a record: how it is checked, whether it must be given, its key in a file."""

    __slots__ = ("after", "check", "key", "name", "required")

    def __init__(
        self,
        name: str,
        check: _Check,
        *,
        required: bool = False,
        key: str = "",
        after: Callable[[Any], Any] | None = None,
    ) -> None:
        self.name = name  # the attribute
        self.check = check
        self.required = required
        self.key = key or name  # as written in the file: the alias, when there is one
        self.after = after  # a field validator: ValueError refuses


class _Model(_Check):
    def __init__(
        self,
        cls: type[Any],
        *fields: _Field,
        before: Callable[[object], object] | None = None,
        after: Callable[[Any], list[RuleViolation]] | None = None,
    ) -> None:
        self.cls, self.fields, self.before, self.after = cls, fields, before, after
        self.by_key = {f.key: f for f in fields}

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        if self.before is not None:
            try:
                value = self.before(value)
            except ValueError as error:
                errors.append(_value_error(loc, error))
                return _BAD
        if not isinstance(value, dict):
            msg = f"Input should be a valid dictionary or instance of {self.cls.__name__}"
            errors.append(_error("model_type", loc, msg))
            return _BAD
        reported = len(errors)
        values: dict[str, Any] = {}
        used: set[str] = set()
        for f in self.fields:
            # populate_by_name: an aliased field may also be given by its attribute name.
            key = f.key if f.key in value else f.name
            if key not in value:
                if f.required:
                    errors.append(_error("missing", (*loc, f.key), "Field required"))
                continue
            used.add(key)
            checked = f.check(value[key], (*loc, key), errors)
            if checked is not _BAD and f.after is not None:
                try:
                    checked = f.after(checked)
                except ValueError as error:
                    errors.append(_value_error((*loc, key), error))
                    continue
            values[f.name] = checked
        for key in value:
            if key not in used:
                msg = "Extra inputs are not permitted"
                errors.append(_error("extra_forbidden", (*loc, key), msg))
        if len(errors) > reported:
            return _BAD
        made = self.cls(**values)
        try:
            violations = self.after(made) if self.after is not None else []
        except ValueError as error:
            errors.append(_value_error(loc, error))
            return _BAD
        if violations:
            summary = "; ".join(v.message for v in violations)
            ctx = {"summary": summary, "violations": tuple(violations)}
            errors.append(_error(SHOW_RULE, loc, summary, ctx))
            return _BAD
        return made


class _StrOrModel(_Check):
    """``str | Model``: text as it is, or the model; when neither fits, both members' errors,
    their locations tagged with the member (``str``, the model's name) as pydantic does."""

    def __init__(self, model: _Model) -> None:
        self.model = model

    def __call__(self, value: Any, loc: Loc, errors: list[ErrorDetails]) -> Any:
        if isinstance(value, str):
            return value
        member_errors: list[ErrorDetails] = []
        made = self.model(value, (*loc, self.model.cls.__name__), member_errors)
        if made is _BAD:
            errors.append(_error("string_type", (*loc, "str"), "Input should be a valid string"))
            errors.extend(member_errors)
        return made


def _prework_needs(item: PreworkLink) -> list[RuleViolation]:
    if item.url is None and item.poll is None:
        raise ValueError(basics.PREWORK_NEEDS)
    return []


def _field(name: str, check: _Check, **options: Any) -> _Field:
    return _Field(name, check, **options)


def _required(name: str, check: _Check, **options: Any) -> _Field:
    return _Field(name, check, required=True, **options)


_text, _opt_text = _Str(), _Optional(_Str())
_nonempty = _Str(min_length=1)
_duration, _offset = _Seconds(positive=True), _Seconds(positive=False)
_flag, _opt_flag = _Bool(), _Optional(_Bool())
_notes = _Optional(
    _StrOrModel(
        _Model(ProducerNotes, *(_field(n, _opt_text) for n in ("watch_for", "keep_same", "flex")))
    )
)
_identifier = _Str(pattern=ID_PATTERN)

_BREAK_RULE = _Model(
    BreakRule,
    _required("work", _duration),
    _required("rest", _duration),
    before=basics.break_rule_fields,
)
_ASSIGN = _Model(
    Assign,
    _field("random", _opt_flag),
    _field("mix_by", _opt_text),
    _field("rooms", _Optional(_List(_List(_text)))),
    after=basics.assign_violations,
)
_BREAKOUT = _Model(
    Breakout,
    _field("size", _Optional(_Int(ge=2, le=50))),
    _field("rooms", _Optional(_Int(ge=1, le=100))),
    _field("assign", _ASSIGN),
    _field("duration", _Optional(_duration)),
    _field("warn_before_close", _offset),
    after=basics.breakout_violations,
)
_POLL = _Model(
    Poll,
    _required("question", _nonempty),
    _required("options", _List(_text)),
    _field("multiple", _flag),
    _field("anonymous", _flag),
    _field("open_for", _duration),
    _field("show_results", _flag),
)
_CUE = _Model(
    Cue,
    _field("id", _Optional(_identifier)),
    _required("at", _offset),
    _field("say", _Optional(_nonempty)),
    _field("poll", _Optional(_POLL)),
    _field("breakout", _Optional(_BREAKOUT)),
    _field("break_", _Optional(_Model(BreakCue, _required("duration", _duration))), key="break"),
    _field(
        "commitments",
        _Optional(
            _Model(
                Commitments,
                _field("prompt", _nonempty),
                _field("collect_for", _Optional(_duration)),
            )
        ),
    ),
    _field("producer", _Optional(_nonempty)),
    _field("producer_notes", _notes),
    after=basics.cue_violations,
)
_SEGMENT = _Model(
    Segment,
    _required("id", _identifier),
    _required("kind", _Enum(SegmentKind)),
    _field("title", _opt_text),
    _required("duration", _duration),
    _field("lead", _opt_text),
    _field("facilitator_notes", _opt_text),
    _field("producer_notes", _notes),
    _field("breakout", _Optional(_BREAKOUT)),
    _field("prompt", _opt_text),
    _field("cues", _List(_CUE)),
    _field(
        "flex",
        _Optional(
            _Model(Flex, _field("min", _Optional(_duration)), _field("max", _Optional(_duration)))
        ),
    ),
    after=basics.segment_violations,
)
_QUESTION = _Model(
    BaselineQuestion,
    _required("question", _nonempty),
    _required("options", _List(_text, min_length=2), after=basics.distinct_options),
    _field("multiple", _flag),
)
_SHOW = _Model(
    Show,
    _required("title", _nonempty),
    _required("duration", _duration),
    _field("timezone", _opt_text, after=basics.known_zone),
    _field(
        "rules",
        _Model(
            Rules,
            _field("interaction_gap", _duration),
            _field("breaks", _List(_BREAK_RULE)),
            _field("connection_within", _duration),
            _field("commitments_within", _duration),
            _field("talk_share_max", _Float(ge=0, le=100, before=basics.percent)),
            _field("segments_per_3h", _Int(ge=1)),
            _field("late_grace", _duration),
        ),
    ),
    _field("lint", _Dict(_Enum(Severity))),
    _field(
        "prework",
        _List(
            _Model(
                PreworkLink,
                _required("title", _text),
                _field("url", _opt_text),
                _field("poll", _Optional(_QUESTION)),
                _field("due_before", _Optional(_duration)),
                after=_prework_needs,
            )
        ),
    ),
    _field(
        "access",
        _Model(
            Access,
            _field("recording", _opt_flag),
            _field("captions", _opt_flag),
            _field("transcript", _opt_flag),
            _field("recap_for", _duration),
        ),
    ),
    _field(
        "producers",
        _Model(Producers, _field("names", _List(_text)), _field("emails", _List(_text))),
    ),
    _field("prompt_bank", _List(_text)),
    _required("segments", _List(_SEGMENT, min_length=1)),
    _field(
        "follow_up",
        _Optional(
            _Model(
                FollowUp,
                _field("reminder_after", _Optional(_duration)),
                _field("check_ins", _List(_duration)),
            )
        ),
    ),
    after=basics.show_violations,
)


def validate(data: Any) -> Show | list[ErrorDetails]:
    """The show in ``data`` (as read from a file), or every problem pydantic would report."""
    errors: list[ErrorDetails] = []
    show = _SHOW(data, (), errors)
    return errors if isinstance(show, _Bad) else show


def allowed_keys(path: tuple[str | int, ...]) -> list[str]:
    """The keys the mapping at ``path`` may have (none when no mapping of the show is there)."""
    check: _Check | None = _SHOW
    for part in path:
        check = _descend(_unwrap(check), part)
    model = _unwrap(check)
    return [f.key for f in model.fields] if isinstance(model, _Model) else []


def _unwrap(check: _Check | None) -> _Check | None:
    while isinstance(check, _Optional | _StrOrModel):
        check = check.inner if isinstance(check, _Optional) else check.model
    return check


def _descend(check: _Check | None, part: str | int) -> _Check | None:
    if isinstance(part, int):
        return check.item if isinstance(check, _List) else None
    if isinstance(check, _Model) and part in check.by_key:
        return check.by_key[part].check
    return None
