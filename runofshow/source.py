"""Where things are in a run-of-show file, and problems that point there.

The loader records the position of every YAML node under its document path (the same path
pydantic reports in its errors, e.g. ``("segments", 2, "cues", 0, "at")``), so every error and
every lint finding can say ``file:line:col``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from runofshow.schedule import Path


# NamedTuples, not dataclasses, for facilbot lint's start-up: see RuleViolation in runofshow.basics.
class Position(NamedTuple):
    line: int  # 1-based
    column: int  # 1-based


class SourceMap(NamedTuple):
    """Document path -> position of the node (the value) and of its key, when it has one."""

    values: Mapping[Path, Position]
    keys: Mapping[Path, Position]

    def position(self, path: Path, *, prefer_key: bool = False) -> Position:
        """The position of ``path``, or of its nearest ancestor that has one (1:1 at worst)."""
        probe = tuple(path)
        while True:
            if prefer_key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            if not probe:
                return Position(1, 1)
            probe = probe[:-1]


class Problem(NamedTuple):
    """Something wrong with a file that stops it from being used (not a lint finding)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


def close_matches(word: str, candidates: Iterable[str]) -> list[str]:
    """The candidate most like ``word``, if any is like enough, for a "did you mean"."""
    # Imported here: only a file with a mistake needs difflib, and importing it would cost
    # every facilbot lint ~4 M instructions (bench/lint_speed.py).
    import difflib

    return difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)


class ShowError(Exception):
    """A run-of-show file that cannot be used. ``problems`` is never empty."""

    def __init__(self, problems: list[Problem]) -> None:
        assert problems
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class ShowUnreadable(ShowError):
    """The file could not be read at all (missing, too large, not text, not YAML)."""
