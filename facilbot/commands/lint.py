"""``facilbot lint FILE...``: check run-of-show files against the practices.

Exit status: 0 when every file is clean or has only advice and warnings, 1 when any finding is
at error level, 2 when a file cannot be read or is not a valid run-of-show (which wins over 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from runofshow.basics import Severity
from runofshow.lint import Finding, lint
from runofshow.loader import load_plain_show
from runofshow.source import Problem, ShowError, ShowUnreadable

EXIT_CLEAN, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2

_COLOURS = {
    Severity.error: "\033[1;31m",
    Severity.warning: "\033[1;33m",
    Severity.advice: "\033[36m",
}
_BOLD, _RESET = "\033[1m", "\033[0m"
_COUNTED = (Severity.error, Severity.warning, Severity.advice)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="run-of-show YAML file(s)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--color",
        "--colour",
        dest="color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text output (auto: only on a terminal, and not when NO_COLOR is set)",
    )


class FileResult:
    """What checking one file gave. A plain class: importing dataclasses would cost this
    command ~50 M instructions, a sixth of DESIGN §7's budget (bench/lint_speed.py)."""

    __slots__ = ("file", "findings", "problems", "status")

    def __init__(
        self,
        file: str,
        findings: list[Finding] | None = None,
        problems: list[Problem] | None = None,
        status: str = "checked",  # checked | invalid | unreadable
    ) -> None:
        self.file = file
        self.findings = findings if findings is not None else []
        self.problems = problems if problems is not None else []
        self.status = status

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


def check(path: str) -> FileResult:
    try:
        # The plain classes give the same problems and findings without importing pydantic,
        # which alone would cost more than DESIGN §7's 100 ms for the whole command.
        loaded = load_plain_show(path)
    except ShowUnreadable as exc:
        return FileResult(path, problems=list(exc.problems), status="unreadable")
    except ShowError as exc:
        return FileResult(path, problems=list(exc.problems), status="invalid")
    return FileResult(loaded.file, findings=lint(loaded))


def exit_code(results: list[FileResult]) -> int:
    if any(r.status != "checked" for r in results):
        return EXIT_UNREADABLE
    if any(r.count(Severity.error) for r in results):
        return EXIT_ERRORS
    return EXIT_CLEAN


def use_colour(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def run(args: argparse.Namespace) -> int:
    results = [check(path) for path in args.files]
    out = sys.stdout
    if args.format == "json":
        import json  # only here: the text output should not pay for it

        json.dump(to_json(results), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        write_text(results, out, use_colour(args.color, out))
    return exit_code(results)


def to_json(results: list[FileResult]) -> dict[str, object]:
    return {
        "findings": [f.to_json() for r in results for f in r.findings],
        "files": [
            {
                "file": r.file,
                "status": r.status,
                "errors": r.count(Severity.error),
                "warnings": r.count(Severity.warning),
                "advice": r.count(Severity.advice),
                "problems": [
                    {"file": p.file, "line": p.line, "column": p.column, "message": p.message}
                    for p in r.problems
                ],
            }
            for r in results
        ],
        "exit_code": exit_code(results),
    }


def write_text(results: list[FileResult], out: TextIO, colour: bool) -> None:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    for r in results:
        for p in r.problems:
            where = paint(f"{p.file}:{p.line}:{p.column}:", _BOLD)
            out.write(f"{where} {paint('error', _COLOURS[Severity.error])} {p.message}\n")
        for f in r.findings:
            where = paint(f"{f.file}:{f.line}:{f.column}:", _BOLD)
            label = paint(f"{f.severity} {f.code}", _COLOURS[f.severity])
            out.write(f"{where} {label} {f.message}\n")
    out.write(summary(results) + "\n")


def summary(results: list[FileResult]) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}" if n == 1 or word == "advice" else f"{n} {word}s"

    files = plural(len(results), "file")
    failed = sum(1 for r in results if r.status != "checked")
    counts = {s: sum(r.count(s) for r in results) for s in _COUNTED}
    parts = [plural(counts[s], str(s)) for s in _COUNTED if counts[s]]
    if failed:
        parts.insert(0, f"{failed} not readable or not valid")
    return f"{files} checked: " + (", ".join(parts) if parts else "clean")
