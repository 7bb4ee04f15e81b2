"""``facilbot webhooks``: outbound webhook endpoints (add, list, disable, enable, rotate,
delete), their delivery log, and replay. Works on the database, like ``facilbot token``; a
running service delivers what is queued within a second."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from facilbot.outbound import store
from facilbot.outbound.events import EVENT_TYPES
from facilbot.outbound.guard import Refused, address_problem, check_url_shape
from facilbot.outbound.secrets import cipher, new_fernet_key
from facilbot.settings import Settings, SettingsError, load_settings
from facilbot.store.db import create_engine
from facilbot.store.migrate import SchemaNotCurrent, require_current


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an endpoint and print its whsec_ secret (once)")
    add.add_argument("url", help="where to POST events (https:// in production)")
    add.add_argument(
        "--events", default="", help="comma-separated event types (default: every type)"
    )
    add.add_argument("--description", default="", help="what receives them, e.g. 'LMS sync'")
    actions.add_parser("list", help="list endpoints (never their secrets)")
    for name, text in (
        ("disable", "stop delivering to an endpoint"),
        ("enable", "deliver to an endpoint again"),
        ("rotate", "new secret, printed once; the old one also signs for 24 h"),
        ("delete", "delete an endpoint and its delivery log"),
        ("deliveries", "an endpoint's delivery log, newest first"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("endpoint", help="the endpoint's id (ep_…), from `list`")
    replay = actions.add_parser(
        "replay", help="send one delivery again, or every event of a session (same ids)"
    )
    replay.add_argument("delivery", nargs="?", type=int, help="a delivery id, from `deliveries`")
    replay.add_argument("--endpoint", help="with --session: the endpoint to send to")
    replay.add_argument("--session", help="with --endpoint: the session whose events to send")
    actions.add_parser("types", help="the event types")
    actions.add_parser("keygen", help="print a new key for FACILBOT_SECRETS_KEY")


def run(args: argparse.Namespace) -> int:
    if args.action == "types":
        for kind in EVENT_TYPES.values():
            print(f"{kind.name:24} {kind.description}")
        return 0
    if args.action == "keygen":
        print(new_fernet_key())
        return 0
    if args.action == "replay" and (args.delivery is None) == (
        args.endpoint is None or args.session is None
    ):
        print(
            "facilbot webhooks replay: give a DELIVERY id, or --endpoint and --session",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings()
        if args.action in ("add", "rotate"):
            cipher(settings)  # a bad or missing key is a message before anything is written
    except SettingsError as exc:
        print(f"facilbot webhooks: {exc}", file=sys.stderr)
        return 2
    if args.action == "add":
        problem = _url_problem(args.url, settings)
        if problem:
            print(f"facilbot webhooks add: {problem}", file=sys.stderr)
            return 2
    return asyncio.run(_run(args, settings))


def _url_problem(url: str, settings: Settings) -> str | None:
    try:
        check_url_shape(url, production=settings.env == "production")
    except Refused as refused:
        return str(refused)
    host = urlsplit(url).hostname or ""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return None
    problem = address_problem(literal, allow_private=settings.webhooks_allow_private)
    if problem is None:
        return None
    hint = (
        " (FACILBOT_WEBHOOKS_ALLOW_PRIVATE=1 allows it in development)"
        if "loopback" in problem or "private" in problem
        else ""
    )
    return f"{host} is {problem}{hint}"


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    now = datetime.now(UTC)
    try:
        await require_current(engine)
        async with engine.begin() as connection:
            action = args.action
            if action == "add":
                events = [e.strip() for e in args.events.split(",") if e.strip()]
                record, secret = await store.create_endpoint(
                    connection,
                    cipher(settings),
                    url=args.url,
                    event_types=events,
                    description=args.description,
                    at=now,
                )
                print(f"added endpoint {record.id} for {record.url}", file=sys.stderr)
                print("Its signing secret is shown only this once:", file=sys.stderr)
                print(secret)
                return 0
            if action == "list":
                _print_endpoints(await store.list_endpoints(connection))
                return 0
            if action == "replay":
                if args.delivery is not None:
                    new_id = await store.replay_delivery(connection, args.delivery, now)
                    if new_id is None:
                        return _fail(f"no delivery {args.delivery}")
                    print(f"queued delivery {new_id} (replay of {args.delivery})")
                    return 0
                if await store.get_endpoint(connection, args.endpoint) is None:
                    return _fail(f"no endpoint {args.endpoint}")
                count = await store.replay_session(connection, args.endpoint, args.session, now)
                print(f"queued {count} event(s) of session {args.session} to {args.endpoint}")
                return 0
            endpoint = args.endpoint
            if action in ("disable", "enable"):
                if not await store.set_enabled(
                    connection, endpoint, action == "enable", "disabled with the CLI"
                ):
                    return _fail(f"no endpoint {endpoint}")
                print(f"{action}d {endpoint}")
            elif action == "rotate":
                secret_or_none = await store.rotate_secret(
                    connection, cipher(settings), endpoint, now
                )
                if secret_or_none is None:
                    return _fail(f"no endpoint {endpoint}")
                until = (now + store.ROTATION_OVERLAP).strftime("%Y-%m-%d %H:%M UTC")
                print(
                    f"new secret for {endpoint}; the old one also signs until {until}:",
                    file=sys.stderr,
                )
                print(secret_or_none)
            elif action == "delete":
                if not await store.delete_endpoint(connection, endpoint):
                    return _fail(f"no endpoint {endpoint}")
                print(f"deleted {endpoint}")
            elif action == "deliveries":
                if await store.get_endpoint(connection, endpoint) is None:
                    return _fail(f"no endpoint {endpoint}")
                _print_deliveries(await store.deliveries_for(connection, endpoint))
            return 0
    except (SchemaNotCurrent, ValueError) as exc:
        print(f"facilbot webhooks: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. the database server is unreachable
        print(f"facilbot webhooks: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()


def _fail(message: str) -> int:
    print(f"facilbot webhooks: {message}", file=sys.stderr)
    return 1


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _print_endpoints(records: list[store.EndpointRecord]) -> None:
    if not records:
        print("no endpoints yet: facilbot webhooks add URL")
        return
    rows = [("ID", "URL", "EVENTS", "STATE", "DESCRIPTION")]
    for r in records:
        state = "enabled" if r.enabled else f"disabled ({r.disabled_reason or '-'})"
        rows.append((r.id, r.url, ",".join(r.event_types) or "all", state, r.description))
    _table(rows)


def _print_deliveries(records: list[store.DeliveryRecord]) -> None:
    if not records:
        print("no deliveries yet")
        return
    rows = [("ID", "WEBHOOK-ID", "TYPE", "STATUS", "TRIES", "LAST", "MS", "ANSWER")]
    for r in records:
        last = str(r.last_status_code or r.last_outcome or "-")
        rows.append(
            (
                str(r.id),
                r.msg_id,
                r.type,
                r.status,
                str(r.attempts),
                last,
                str(r.last_duration_ms if r.last_duration_ms is not None else "-"),
                (r.last_excerpt or r.last_error or "")[:60],
            )
        )
    _table(rows)
