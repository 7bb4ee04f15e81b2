"""Where mail goes: an SMTP relay (aiosmtplib, async, never blocking the loop that fires
cues), or the development outbox, a folder of ``.eml`` files a newcomer can open."""

from __future__ import annotations

import asyncio
import email.policy
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from facilbot.mail.settings import MailSettings

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class MailError(Exception):
    """Sending failed; ``permanent`` says whether trying again can help. The message names
    the SMTP code or the error's type, never an address or a body."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Sender(Protocol):
    description: str

    async def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        # smtp:// means STARTTLS; only a relay on this machine may go without it (a local
        # test server or a sidecar), since nothing then crosses a network.
        self.require_starttls = not self.implicit_tls and self.host not in LOOPBACK
        self.description = f"SMTP {parts.scheme}://{self.host}:{self.port}"

    async def send(self, message: EmailMessage) -> None:
        import aiosmtplib  # only where SMTP is configured

        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.implicit_tls,
                start_tls=True if self.require_starttls else None,
                tls_context=ssl.create_default_context(),
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            raise MailError(
                f"recipient refused ({', '.join(map(str, codes))})",
                permanent=all(code >= 500 for code in codes),
            ) from None
        except aiosmtplib.SMTPResponseException as error:
            raise MailError(f"SMTP {error.code}", permanent=error.code >= 500) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as error:
            raise MailError(type(error).__name__, permanent=False) from None


class OutboxSender:
    """Development: each message becomes ``<outbox>/<UTC time>-<message id>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"the outbox folder {folder}"

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
        token = str(message["Message-ID"] or "").strip("<>").split("@")[0] or "message"
        path = self.folder / f"{stamp}-{token}.eml"
        path.write_bytes(message.as_bytes(policy=email.policy.SMTP))


def outbox_folder(data_dir: Path) -> Path:
    return data_dir / "outbox"


def sender_for(settings: MailSettings, data_dir: Path) -> Sender:
    if settings.smtp_url is not None:
        return SmtpSender(settings.smtp_url.get_secret_value())
    return OutboxSender(outbox_folder(data_dir))


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    path: Path
    to: str
    subject: str
    date: str


def read_outbox(folder: Path) -> list[OutboxEntry]:
    """The outbox's messages, oldest first (for ``facilbot mail outbox``)."""
    if not folder.is_dir():
        return []
    found = []
    parser = BytesParser(policy=email.policy.default)
    for path in sorted(folder.glob("*.eml")):
        with path.open("rb") as handle:
            headers = parser.parse(handle, headersonly=True)
        found.append(
            OutboxEntry(
                path=path,
                to=str(headers["To"] or ""),
                subject=str(headers["Subject"] or ""),
                date=str(headers["Date"] or ""),
            )
        )
    return found
