"""``facilbot report``: a session's report (or a show's cohort report) from the database.

Reads the service's database (``FACILBOT_DATABASE_URL`` or ``FACILBOT_DATA_DIR``); writes to
standard output or ``--out``. ``--format csv`` writes a zip of one CSV per table, or one table
with ``--table``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from facilbot.reports.render import CSV_TABLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("session_id", nargs="?", help="the session's id")
    which.add_argument("--last", action="store_true", help="the most recently ended session")
    which.add_argument("--show", metavar="NAME", help="the cohort report of every session of NAME")
    parser.add_argument(
        "--format", choices=("text", "json", "csv", "html"), default="text", help="default text"
    )
    parser.add_argument("--out", metavar="PATH", help="write here instead of standard output")
    parser.add_argument(
        "--table", choices=CSV_TABLES, help="with --format csv: this one table, not a zip"
    )


def run(args: argparse.Namespace) -> int:
    from facilbot.settings import SettingsError, load_settings

    if args.table and args.format != "csv":
        print("facilbot report: --table goes with --format csv", file=sys.stderr)
        return 2
    if args.format == "csv" and not args.table and not args.out and sys.stdout.isatty():
        print("facilbot report: a zip is binary; give --out PATH or --table NAME", file=sys.stderr)
        return 2
    if args.show and args.format not in ("text", "json"):
        print("facilbot report: a cohort report is text or json", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"facilbot report: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(_run(args, settings.database_url))
    if isinstance(result, int):
        return result
    _write(result, args.out)
    return 0


async def _run(args: argparse.Namespace, database_url: str) -> int | str | bytes:
    """The report's bytes or text, or an exit code when there is none."""
    from facilbot.reports import load, render
    from facilbot.reports.cohort import cohort_text
    from facilbot.reports.service import build_cohort_report, build_session_report
    from facilbot.store.db import create_engine, reading
    from facilbot.store.migrate import SchemaNotCurrent, require_current

    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        await require_current(engine)
        async with reading(engine) as connection:
            if args.show:
                report = await build_cohort_report(connection, args.show, now)
                if report is None:
                    print(f"facilbot report: no show named {args.show!r}", file=sys.stderr)
                    return 1
            else:
                session_id = args.session_id
                if args.last:
                    session_id = await load.last_ended(connection)
                    if session_id is None:
                        print("facilbot report: no session has ended yet", file=sys.stderr)
                        return 1
                report = await build_session_report(connection, session_id, now)
                if report is None:
                    print(f"facilbot report: no session {session_id!r}", file=sys.stderr)
                    return 1
    except SchemaNotCurrent as exc:
        print(f"facilbot report: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. the database server is unreachable
        print(f"facilbot report: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()

    data: str | bytes
    if args.show:
        data = (
            json.dumps(report, indent=2, default=str)
            if args.format == "json"
            else cohort_text(report)
        )
    elif args.format == "json":
        data = render.to_json(report, pretty=True)
    elif args.format == "html":
        data = render.to_html(report)
    elif args.format == "csv":
        data = render.to_csv(report, args.table) if args.table else render.to_csv_zip(report)
    else:
        data = render.to_text(report)
    return data


def _write(data: str | bytes, out: str | None) -> None:
    if out:
        path = Path(out)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8", newline="")
        print(f"wrote {path}", file=sys.stderr)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)
