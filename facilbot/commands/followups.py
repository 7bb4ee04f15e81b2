"""``facilbot followups list``: the follow-up schedule — who, what, when, and its state."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from facilbot.journey import schedule
from facilbot.settings import SettingsError, load_settings
from facilbot.store.db import create_engine
from facilbot.store.migrate import SchemaNotCurrent, require_current


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the scheduled and sent follow-ups")
    listing.add_argument("--session", help="only this session's (its id)")
    listing.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"facilbot followups: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings.database_url))


async def _run(args: argparse.Namespace, database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        await require_current(engine)
        async with engine.connect() as connection:
            found = await schedule.listing(connection, args.session)
    except SchemaNotCurrent as exc:
        print(f"facilbot followups: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. the database server is unreachable
        print(f"facilbot followups: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    if args.format == "json":
        print(json.dumps([item.as_json() for item in found], indent=2))
        return 0
    print(render(found))
    return 0


def render(found: list[schedule.Listed]) -> str:
    if not found:
        return "no follow-ups scheduled"
    lines = [f"{'when (local)':<22} {'who':<22} {'what':<14} {'state':<11} show"]
    for item in found:
        when = item.due_local.strftime("%a %Y-%m-%d %H:%M")
        state = item.row.status + (f" ({item.row.answer})" if item.row.answer else "")
        lines.append(
            f"{when:<22} {item.name[:22]:<22} {schedule.label(item.row.key):<14} {state:<11} "
            f"{item.show_title} [{item.timezone}]"
        )
    return "\n".join(lines)
