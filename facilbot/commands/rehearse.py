"""``facilbot rehearse SHOW.yaml [--speed N]``: a tech check before going live.

Starts the service with a simulated meeting (platform ``sim``) on a fresh database of its own,
attaches the show to it, and prints two links: the producer console and the participants'
panel, where the team joins as simulated people and types as them (chat, ``/fb`` commands,
poll answers, commitments). ``--speed 10`` runs show time ten times faster. Ctrl-C ends it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from facilbot.settings import SettingsError, load_settings

MEETING = "rehearsal-1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="SHOW.yaml", help="the run-of-show file to rehearse")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="show time per second of real time (default 1)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from runofshow.loader import load_show
    from runofshow.source import ShowError

    if not 0.1 <= args.speed <= 600:
        print("facilbot rehearse: --speed must be between 0.1 and 600", file=sys.stderr)
        return 2
    try:
        loaded = load_show(args.file)
    except ShowError as exc:
        for problem in exc.problems:
            print(
                f"{problem.file}:{problem.line}:{problem.column}: error {problem.message}",
                file=sys.stderr,
            )
        return 2
    with tempfile.TemporaryDirectory(prefix="facilbot-rehearsal-") as scratch:
        try:
            settings = load_settings(
                data_dir=Path(scratch),
                database_url=f"sqlite:///{Path(scratch) / 'rehearsal.db'}",
                platforms="sim",
                base_url=f"http://{args.host}:{args.port}",
            )
        except SettingsError as exc:
            print(f"facilbot rehearse: {exc}", file=sys.stderr)
            return 2
        try:
            return asyncio.run(_rehearse(settings, args, loaded.text, Path(args.file).stem))
        except KeyboardInterrupt:
            return 0


async def _rehearse(settings: object, args: argparse.Namespace, text: str, name: str) -> int:
    from facilbot.auth import create_token
    from facilbot.commands.serve import serve
    from facilbot.engine.clock import ScaledClock
    from facilbot.services import Services
    from facilbot.settings import Settings

    assert isinstance(settings, Settings)

    async def ready(services: Services, base_url: str) -> None:
        engine = services.engine
        record, _ = await engine.upload_show(name, text, "rehearse")
        session_id = await engine.attach(record.id, "sim", MEETING, by="rehearse")
        async with engine.writing() as connection:
            _, token = await create_token(
                connection, name="rehearsal", role="producer", at=engine.clock.now()
            )
        print(f"console:  {base_url}/console/{session_id}#token={token}", flush=True)
        print(f"panel:    {base_url}/sim/panel/{session_id}#token={token}", flush=True)
        print("Start the show on the console; join people on the panel. Ctrl-C ends.", flush=True)

    clock = ScaledClock(args.speed) if args.speed != 1 else None
    return await serve(settings, args.host, args.port, "warning", clock=clock, ready=ready)
