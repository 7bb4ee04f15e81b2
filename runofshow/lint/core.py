"""The linter's vocabulary: rules, what a rule reports, findings, and the context rules read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple, Protocol

from runofshow.basics import Severity
from runofshow.durationtext import format_duration
from runofshow.schedule import Path, Schedule, Span, static_schedule
from runofshow.source import SourceMap

if TYPE_CHECKING:
    from runofshow.shapes import AnyRules, AnyShow


class Loaded(Protocol):
    """What the linter needs from a loaded show (the loader's ``LoadedShow`` and
    ``PlainLoadedShow`` fit)."""

    @property
    def show(self) -> AnyShow: ...
    @property
    def source(self) -> SourceMap: ...
    @property
    def file(self) -> str: ...
    @property
    def text(self) -> str: ...


# NamedTuples, not dataclasses, for facilbot lint's start-up: see RuleViolation in runofshow.basics.
class Hit(NamedTuple):
    """What a rule reports: a message and the document path it is about.

    ``key`` points the finding at the key of a mapping entry rather than at its value.
    """

    message: str
    path: Path
    key: bool = False


class LintContext:
    """Everything a rule may read. Rules are pure functions of it.

    A plain class (its schedule is computed once, on first use); not a dataclass, for the
    reason given above.
    """

    def __init__(self, show: AnyShow, source: SourceMap, file: str, text: str) -> None:
        self.show = show
        self.source = source
        self.file = file
        self.text = text

    @cached_property
    def schedule(self) -> Schedule:
        return static_schedule(self.show)

    @property
    def rules(self) -> AnyRules:
        return self.show.rules

    @property
    def end(self) -> int:
        return self.schedule.end

    def span_at(self, moment: int) -> Span:
        """The span running at ``moment`` (the last one for the very end of the show)."""
        for span in self.schedule.spans:
            if span.start <= moment < span.end:
                return span
        return self.schedule.spans[-1]


class Rule(NamedTuple):
    """A lint rule. ``check`` is None for the rules the framework applies itself (FB0xx)."""

    code: str
    name: str
    default: Severity
    practice: str
    check: Callable[[LintContext], Iterable[Hit]] | None


class Finding(NamedTuple):
    code: str
    rule: str
    severity: Severity
    message: str
    file: str
    line: int
    column: int
    path: Path

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity} {self.code} {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": str(self.severity),
            "code": self.code,
            "rule": self.rule,
            "message": self.message,
            "path": list(self.path),
        }


def clock(seconds: int) -> str:
    """Show-clock offset as H:MM (H:MM:SS when not on a whole minute): 750 -> 0:12:30."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if secs else f"{hours}:{minutes:02d}"


def length(seconds: int) -> str:
    """A length people read easily: 900 -> '15 minutes', 60 -> '1 minute', 450 -> '7m30s'."""
    minutes, secs = divmod(seconds, 60)
    if secs:
        return format_duration(seconds)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
