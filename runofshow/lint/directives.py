"""Per-show configuration and inline suppressions, and the FB0xx findings about them.

A suppression is a YAML comment::

    # facilbot: ignore FB101 -- the CEO speaks uninterrupted here

A whole-line comment applies to the next line that is not blank or a comment; a comment after
a value applies to its own line. A finding is suppressed when it points at that line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import yaml

from runofshow.basics import Severity
from runofshow.lint.core import Rule
from runofshow.source import SourceMap, close_matches

_DIRECTIVE = re.compile(r"#\s*facilbot\s*:(?P<body>.*)$", re.IGNORECASE)
_SPLIT = re.compile(r"[\s,]+")
VERB = "ignore"


# NamedTuples, not dataclasses, for facilbot lint's start-up: see RuleViolation in runofshow.basics.
class Problem(NamedTuple):
    """A problem with the configuration or a directive: code, message, line, column."""

    code: str
    message: str
    line: int
    column: int
    path: tuple[str | int, ...] = ()


class Suppression:
    """One ``# facilbot: ignore`` comment; ``used`` collects the codes it suppressed."""

    __slots__ = ("codes", "column", "line", "target", "used")

    def __init__(self, line: int, column: int, target: int, codes: tuple[str, ...]) -> None:
        self.line = line  # the line of the comment
        self.column = column
        self.target = target  # the line whose findings it suppresses
        self.codes = codes
        self.used: set[str] = set()


def lookup(rules: Iterable[Rule]) -> dict[str, str]:
    """Every accepted way to name a rule (code, any case; name) -> its code."""
    out: dict[str, str] = {}
    for rule in rules:
        out[rule.code.upper()] = rule.code
        out[rule.name.lower()] = rule.code
    return out


def _resolve(name: str, names: Mapping[str, str]) -> str | None:
    return names.get(name.upper()) or names.get(name.lower())


def did_you_mean(name: str, names: Iterable[str]) -> str:
    close = close_matches(name.upper(), [n.upper() for n in names])
    if not close:
        return ""
    by_upper = {n.upper(): n for n in names}
    return f"; did you mean {by_upper[close[0]]}?"


def severities(
    config: Mapping[str, Severity], rules: Iterable[Rule], source: SourceMap
) -> tuple[dict[str, Severity], list[Problem]]:
    """Apply ``show.lint`` over the rules' defaults; unknown names are FB001 problems."""
    rules = list(rules)
    names = lookup(rules)
    chosen = {rule.code: rule.default for rule in rules}
    problems: list[Problem] = []
    for name, severity in config.items():
        code = _resolve(name, names)
        if code is None:
            where = source.position(("lint", name), prefer_key=True)
            problems.append(
                Problem(
                    "FB001",
                    f"unknown rule {name!r} in lint{did_you_mean(name, _display(rules))}",
                    where.line,
                    where.column,
                    ("lint", name),
                )
            )
        else:
            chosen[code] = severity
    return chosen, problems


def _display(rules: Iterable[Rule]) -> list[str]:
    return [n for r in rules for n in (r.code, r.name)]


def scan(
    text: str, rules: Iterable[Rule], framework: frozenset[str]
) -> tuple[list[Suppression], list[Problem]]:
    """Find ``# facilbot:`` directives in the file's comments."""
    if "facilbot" not in text.lower():
        return [], []
    rules = list(rules)
    names = lookup(rules)
    lines = text.splitlines()
    inside = _scalar_spans(text)
    suppressions: list[Suppression] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        match = _comment(line, number, inside)
        if match is None:
            continue
        column = match.start() + 1
        whole_line = not line[: match.start()].strip()
        target = _next_content_line(lines, number) if whole_line else number
        body = match["body"].strip()
        head, sep, reason = body.partition("--")
        words = [w for w in _SPLIT.split(head.strip()) if w]
        if not words or words[0].lower() != VERB:
            verb = words[0] if words else ""
            close = close_matches(verb.lower(), [VERB])
            hint = f" (did you mean {VERB}?)" if close else ""
            what = f"unknown facilbot directive {verb!r}{hint}" if verb else "empty directive"
            problems.append(
                Problem(
                    "FB004",
                    f"{what}: write '# facilbot: ignore CODE -- reason'",
                    number,
                    column,
                )
            )
            continue
        codes: list[str] = []
        for word in words[1:]:
            code = _resolve(word, names)
            if code is None:
                problems.append(
                    Problem(
                        "FB001",
                        f"unknown rule {word!r} in suppression"
                        + did_you_mean(word, _display(rules)),
                        number,
                        column,
                    )
                )
            elif code in framework:
                problems.append(
                    Problem(
                        "FB004",
                        f"{code} cannot be suppressed inline; set it in the show's lint "
                        f"settings (lint: {{{code}: off}})",
                        number,
                        column,
                    )
                )
            else:
                codes.append(code)
        if len(words) == 1:
            problems.append(
                Problem(
                    "FB004",
                    "the suppression names no rule; write '# facilbot: ignore CODE -- reason'",
                    number,
                    column,
                )
            )
            continue
        if not sep or not reason.strip():
            listed = " ".join(words[1:])
            problems.append(
                Problem(
                    "FB002",
                    f"the suppression of {listed} gives no reason, so it is not applied; write "
                    f"'# facilbot: ignore {listed} -- why this is the right exception'",
                    number,
                    column,
                )
            )
            continue
        if codes:
            suppressions.append(Suppression(number, column, target, tuple(codes)))
    return suppressions, problems


def _comment(
    line: str, number: int, inside: list[tuple[int, int, int, int]]
) -> re.Match[str] | None:
    """The ``# facilbot:`` comment on this line, if it is a comment (not text in a string)."""
    start = line.find("#")
    while start != -1:
        match = _DIRECTIVE.match(line, start)
        # A comment's '#' starts the line or follows a space ('C#' is text), outside any scalar.
        if match and (start == 0 or line[start - 1].isspace()):
            point = (number - 1, start)
            if not any((sl, sc) <= point < (el, ec) for sl, sc, el, ec in inside):
                return match
        start = line.find("#", start + 1)
    return None


def _next_content_line(lines: list[str], number: int) -> int:
    for n in range(number, len(lines)):
        stripped = lines[n].strip()
        if stripped and not stripped.startswith("#"):
            return n + 1
    return number


def _scalar_spans(text: str) -> list[tuple[int, int, int, int]]:
    """(line, col, end line, end col) of every scalar, 0-based: text there is not a comment."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spans: list[tuple[int, int, int, int]] = []
    try:
        for token in yaml.scan(text, Loader=loader):
            if isinstance(token, yaml.ScalarToken):
                start, end = token.start_mark, token.end_mark
                spans.append((start.line, start.column, end.line, end.column))
    except yaml.YAMLError:
        pass  # the loader has already accepted the file; a scan failure only loses precision
    return spans
