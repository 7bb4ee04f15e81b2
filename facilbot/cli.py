"""The ``facilbot`` command line.

Each sub-command lives in its own module under ``facilbot.commands`` and is imported only when
it runs, so ``facilbot lint`` pays for the run-of-show library and nothing else (no web,
database or platform package).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# name -> (module under facilbot.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run a whole example show against the simulated meeting"),
    "lint": ("lint", "check a run-of-show file against the practices"),
    "plan": ("plan", "print when every segment and cue happens"),
    "schema": ("schema", "print the run-of-show JSON Schema"),
    "migrate": ("migrate", "bring the database schema up to date"),
    "token": ("token", "create, list and revoke API tokens"),
    "prune": ("prune", "delete personal data of sessions past FACILBOT_RETENTION_DAYS"),
    "report": ("report", "a session's report, or a show's cohort report (--show)"),
    "attach": ("attach", "attach a show to a meeting (no person needed)"),
    "webhooks": ("webhooks", "outbound webhook endpoints, their delivery log, replay"),
    "serve": ("serve", "run the HTTP service (REST API, webhooks, pages) and the engine"),
    "followups": ("followups", "list the follow-up mails: who, what, when, and their state"),
    "mail": ("mail", "read the development outbox (mail written as .eml files)"),
    "rehearse": ("rehearse", "rehearse a show: a simulated meeting, the console and a panel"),
}


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, given the terminal's width instead of asking shutil for it.

    argparse makes a formatter for every ``add_argument`` (to check the metavar), not only for
    help, and the stock one imports shutil (with bz2 and lzma) to ask: ~7 M instructions of
    facilbot lint's ~300 M (bench/lint_speed.py). The width is found as shutil finds it:
    ``$COLUMNS``, else the terminal on stdout, else 80; argparse keeps 2 columns free.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)


def _columns() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return (os.get_terminal_size(stdout.fileno()).columns if stdout else 0) or 80
    except (AttributeError, ValueError, OSError):
        return 80


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facilbot",
        description="Runs a live training session's run-of-show in Zoom and Microsoft Teams.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        # Built only here: its fourteen sub-parsers cost every command ~10 M instructions
        # (argparse looks up translations on disk for each), which facilbot lint cannot spare.
        parser = build_parser()
        if args and not args[0].startswith("-"):
            parser.print_usage(sys.stderr)
            print(f"facilbot: unknown command {args[0]!r}; see facilbot --help", file=sys.stderr)
            return 2
        parser.parse_args(args)  # handles --help; otherwise prints usage
        parser.print_help()
        return 0 if not args else 2
    module_name, help_text = COMMANDS[args[0]]
    module = importlib.import_module(f"facilbot.commands.{module_name}")
    sub = argparse.ArgumentParser(
        prog=f"facilbot {args[0]}", description=help_text, formatter_class=_Formatter
    )
    module.add_arguments(sub)
    namespace = sub.parse_args(args[1:])
    try:
        return int(module.run(namespace))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
