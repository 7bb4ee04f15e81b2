"""Endpoint secrets: ``whsec_`` + base64 of 24 random bytes, signed with, encrypted at rest.

They must be readable for signing, so they are encrypted (Fernet) with ``FACILBOT_SECRETS_KEY``.
Outside production an unset key is made once and kept in ``<data_dir>/secrets.key`` (mode 0600),
so the CLI and the service read the same one; production refuses to run without the setting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from facilbot.settings import Settings, SettingsError

PREFIX = "whsec_"


class SecretUnreadable(Exception):
    """A stored secret does not decrypt with the configured key (the key changed)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` (Standard Webhooks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


class Cipher:
    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SettingsError(
                "FACILBOT_SECRETS_KEY is not a Fernet key (32 url-safe base64 bytes); "
                "make one with: facilbot webhooks keygen"
            ) from None

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a webhook secret does not decrypt with FACILBOT_SECRETS_KEY (was the key "
                "changed?); rotate the endpoint's secret"
            ) from None


def cipher(settings: Settings) -> Cipher:
    """The cipher for endpoint secrets (see the module docstring for where its key comes from)."""
    if settings.secrets_key is not None:
        return Cipher(settings.secrets_key.get_secret_value())
    if settings.env == "production":
        raise SettingsError(
            "FACILBOT_SECRETS_KEY must be set in production (it encrypts webhook secrets); "
            "make one with: facilbot webhooks keygen"
        )
    path = Path(settings.data_dir).expanduser() / "secrets.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting together agree on one key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Cipher(path.read_text(encoding="utf-8").strip())
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_fernet_key() + "\n")
    return Cipher(path.read_text(encoding="utf-8").strip())
