"""``facilbot migrate``: bring the database schema up to date (``facilbot serve`` does the same
on start)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from facilbot.settings import SettingsError, load_settings
from facilbot.store import migrate
from facilbot.store.db import DatabaseInUse, acquire_instance_lock, create_engine, describe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to", metavar="REVISION", default="head", help="upgrade to this revision (default head)"
    )
    parser.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION ('base')")
    parser.add_argument("--status", action="store_true", help="show the schema revision and stop")
    parser.add_argument(
        "--new", metavar="MESSAGE", help="(developers) write a migration from the model changes"
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        lock = acquire_instance_lock(settings.database_url)
    except (SettingsError, DatabaseInUse) as exc:
        print(f"facilbot migrate: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, settings.database_url))
    finally:
        if lock is not None:
            lock.release()


async def _run(args: argparse.Namespace, database_url: str) -> int:
    engine = create_engine(database_url)
    print(f"database: {describe(database_url)}")
    try:
        if args.status:
            current, head = await migrate.current_revision(engine), migrate.head_revision()
            state = "up to date" if current == head else f"behind: latest is {head}"
            print(f"schema at {current or 'nothing (empty database)'} ({state})")
            return 0 if current == head else 1
        if args.new:
            from facilbot.platforms.registry import metadata

            await migrate.new_revision(engine, metadata(), args.new)
            return 0
        if args.downgrade:
            report = await migrate.downgrade(engine, args.downgrade)
            verb = "reverted"
        else:
            report = await migrate.upgrade(engine, args.to)
            verb = "applied"
    except Exception as exc:  # an unreachable server, an unknown revision: a message, no trace
        print(f"facilbot migrate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    for step in report.applied:
        print(f"{verb} {step.revision}  {step.description}")
    if not report.applied:
        print(f"already up to date at {report.after or 'base'}")
    else:
        print(f"schema now at {report.after or 'base (empty)'}")
    return 0
