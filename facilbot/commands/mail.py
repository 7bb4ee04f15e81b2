"""``facilbot mail outbox``: what would have been sent, in development (no SMTP configured).

Each message is an ``.eml`` file in ``<data dir>/outbox``; open one in any mail program or
text editor to read exactly what a participant would get.
"""

from __future__ import annotations

import argparse
import sys

from facilbot.mail.send import outbox_folder, read_outbox
from facilbot.mail.settings import MailSettings
from facilbot.settings import SettingsError, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("outbox", help="list the .eml files written instead of sending")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"facilbot mail: {exc}", file=sys.stderr)
        return 2
    folder = outbox_folder(settings.data_dir)
    if MailSettings().smtp_url is not None:
        print("facilbot mail: FACILBOT_SMTP_URL is set: mail goes to the relay, not the outbox")
    entries = read_outbox(folder)
    if not entries:
        print(f"the outbox ({folder}) is empty")
        return 0
    print(f"{len(entries)} message(s) in {folder}:")
    for entry in entries:
        print(f"  {entry.date}  to {entry.to}  “{entry.subject}”")
        print(f"      {entry.path}")
    return 0
