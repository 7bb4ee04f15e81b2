"""``facilbot attach``: attach the latest version of a show to a meeting, without a person.

Writes to the database like ``facilbot token`` (a running service adopts the new session at
its next heartbeat), or, with ``--url``, asks a running service (``POST /sessions`` with the
token in ``FACILBOT_TOKEN``). One session not yet ended per meeting: a second is refused
unless ``--replace``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

from facilbot.engine.attaching import MeetingInUse, attach_session
from facilbot.platforms.registry import PLATFORMS
from facilbot.settings import SettingsError, load_settings
from facilbot.store import shows
from facilbot.store.db import create_engine
from facilbot.store.migrate import SchemaNotCurrent, require_current


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("show", metavar="SHOW_NAME", help="the show's name (its latest version)")
    parser.add_argument(
        "--platform", required=True, choices=[p.name for p in PLATFORMS], help="where it runs"
    )
    parser.add_argument(
        "--meeting", required=True, help="the meeting id (Zoom), chat id (Teams) or any sim name"
    )
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="planned start, ISO 8601 with an offset: 2026-03-04T09:00+01:00",
    )
    parser.add_argument(
        "--producer",
        action="append",
        default=[],
        metavar="NAME",
        help="who may steer from the meeting chat (a name or an email); repeatable",
    )
    parser.add_argument(
        "--replace", action="store_true", help="end the meeting's live session and attach this"
    )
    parser.add_argument(
        "--url", help="ask the service at this URL instead (token in FACILBOT_TOKEN)"
    )


def _planned(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError(f"--at {text!r} needs a UTC offset, e.g. {text}+00:00")
    return when.astimezone(UTC)


def _producers(values: list[str]) -> list[dict[str, str]]:
    return [{"email": v} if "@" in v else {"name": v} for v in (p.strip() for p in values) if v]


def run(args: argparse.Namespace) -> int:
    try:
        planned = _planned(args.at)
    except ValueError as exc:
        print(f"facilbot attach: {exc}", file=sys.stderr)
        return 2
    if args.url:
        return _remote(args, planned)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"facilbot attach: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings.database_url, planned))


async def _run(args: argparse.Namespace, database_url: str, planned: datetime | None) -> int:
    engine = create_engine(database_url)
    try:
        await require_current(engine)
        async with engine.begin() as connection:
            version = await shows.latest_show_version(connection, args.show)
            if version is None:
                print(
                    f"facilbot attach: no show named {args.show!r}; upload it first "
                    "(POST /shows?name=…)",
                    file=sys.stderr,
                )
                return 1
            session_id = await attach_session(
                connection,
                show_version_id=version.id,
                platform=args.platform,
                meeting_ref=args.meeting.strip(),
                at=datetime.now(UTC),
                by="cli",
                planned_start=planned,
                producers=_producers(args.producer),
                replace=args.replace,
            )
    except MeetingInUse as exc:
        print(f"facilbot attach: {exc}", file=sys.stderr)
        return 1
    except (SchemaNotCurrent, ValueError) as exc:
        print(f"facilbot attach: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. the database server is unreachable
        print(f"facilbot attach: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(session_id)
    return 0


def _remote(args: argparse.Namespace, planned: datetime | None) -> int:
    import httpx

    token = os.environ.get("FACILBOT_TOKEN", "")
    if not token:
        print("facilbot attach: --url needs FACILBOT_TOKEN (a producer token)", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {token}"}
    base = args.url.rstrip("/")
    try:
        with httpx.Client(timeout=15) as client:
            found = client.get(f"{base}/shows", params={"name": args.show}, headers=headers)
            if found.status_code != 200:
                print(f"facilbot attach: {_reason(found)}", file=sys.stderr)
                return 1
            versions = found.json()
            if not versions:
                print(f"facilbot attach: no show named {args.show!r}", file=sys.stderr)
                return 1
            body: dict[str, Any] = {
                "show_version_id": max(versions, key=lambda v: v["version"])["id"],
                "platform": args.platform,
                "meeting_ref": args.meeting,
                "producers": _producers(args.producer),
                "replace": args.replace,
            }
            if planned is not None:
                body["planned_start"] = planned.isoformat()
            response = client.post(f"{base}/sessions", json=body, headers=headers)
    except httpx.HTTPError as exc:
        print(f"facilbot attach: {type(exc).__name__} talking to {base}", file=sys.stderr)
        return 1
    if response.status_code != 201:
        print(f"facilbot attach: {_reason(response)}", file=sys.stderr)
        return 1
    print(response.json()["id"])
    return 0


def _reason(response: Any) -> str:
    try:
        return str(response.json().get("detail", response.status_code))
    except ValueError:
        return f"HTTP {response.status_code}"
