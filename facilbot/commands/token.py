"""``facilbot token``: create, list and revoke API tokens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from facilbot import auth
from facilbot.settings import SettingsError, load_settings
from facilbot.store import tokens
from facilbot.store.db import create_engine
from facilbot.store.migrate import SchemaNotCurrent, require_current


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument(
        "--role", required=True, choices=[role.value for role in auth.Role], help="what it may do"
    )
    create.add_argument("--name", required=True, help="who or what uses it, e.g. 'Ana'")
    actions.add_parser("list", help="list tokens (never the tokens themselves)")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int, help="the token's id, from `facilbot token list`")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"facilbot token: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings.database_url))


async def _run(args: argparse.Namespace, database_url: str) -> int:
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        await require_current(engine)
        async with engine.begin() as connection:
            if args.action == "create":
                token_id, token = await auth.create_token(
                    connection, name=args.name, role=args.role, at=now
                )
            elif args.action == "list":
                records = await tokens.list_tokens(connection)
            else:
                revoked = await tokens.revoke_token(connection, args.id, now)
    except (SchemaNotCurrent, ValueError) as exc:
        print(f"facilbot token: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. the database server is unreachable
        print(f"facilbot token: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()

    if args.action == "create":
        print(f"created token {token_id} for {args.name!r} with role {args.role}.", file=sys.stderr)
        print("It is shown only this once; keep it somewhere safe:", file=sys.stderr)
        print(token)
        return 0
    if args.action == "list":
        _print_table(records)
        return 0
    if not revoked:
        print(f"facilbot token: no active token with id {args.id}", file=sys.stderr)
        return 1
    print(f"revoked token {args.id}")
    return 0


def _print_table(records: list[tokens.TokenRecord]) -> None:
    if not records:
        print("no tokens yet: facilbot token create --role producer --name NAME")
        return
    rows = [("ID", "NAME", "ROLE", "CREATED", "LAST USED", "STATE")]
    for record in records:
        rows.append(
            (
                str(record.id),
                record.name,
                record.role,
                _when(record.created_at),
                _when(record.last_used_at),
                "revoked" if record.revoked_at else "active",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
