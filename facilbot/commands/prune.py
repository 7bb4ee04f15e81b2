"""``facilbot prune``: delete participants' personal data of sessions that ended more than
``FACILBOT_RETENTION_DAYS`` (or ``--days``) ago; their reports keep the aggregate figures.

The service does the same every few hours on its own (``facilbot.reports.retention``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days",
        type=int,
        help="keep this many days after a session ends (default FACILBOT_RETENTION_DAYS)",
    )


def run(args: argparse.Namespace) -> int:
    from facilbot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"facilbot prune: {exc}", file=sys.stderr)
        return 2
    days = settings.retention_days if args.days is None else args.days
    if days < 1:
        print("facilbot prune: --days must be at least 1", file=sys.stderr)
        return 2
    return asyncio.run(_run(settings.database_url, days))


async def _run(database_url: str, days: int) -> int:
    from facilbot.reports.service import prune
    from facilbot.store.db import create_engine
    from facilbot.store.migrate import SchemaNotCurrent, require_current

    engine = create_engine(database_url)
    try:
        await require_current(engine)
        pruned = await prune(engine, datetime.now(UTC), days)
    except SchemaNotCurrent as exc:
        print(f"facilbot prune: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. the database server is unreachable
        print(f"facilbot prune: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"pruned personal data of {len(pruned)} session(s) that ended more than {days} days ago")
    for session_id in pruned:
        print(f"  {session_id}")
    return 0
