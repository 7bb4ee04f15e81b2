"""The mail settings: ``FACILBOT_SMTP_URL``, ``FACILBOT_MAIL_FROM``, ``FACILBOT_MAIL_RATE``.

Kept apart from :class:`facilbot.settings.Settings` so mail is one self-contained capability;
read the same way (environment, then ``.env``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facilbot.settings import Settings


class MailSettings(BaseSettings):
    # Read exactly as the service's settings are (same prefix, .env, frozen, secrets hidden).
    model_config = SettingsConfigDict(**Settings.model_config)

    #: ``smtp://user:pass@host:587`` (STARTTLS) or ``smtps://…:465`` (TLS from the start);
    #: unset: mail is written to ``<data dir>/outbox`` as ``.eml`` files.
    smtp_url: SecretStr | None = None
    mail_from: str = "facilbot <facilbot@localhost>"
    #: messages per second at most, so a cohort of a thousand does not flood the relay
    mail_rate: float = Field(default=5.0, gt=0, le=1000)

    @field_validator("smtp_url", mode="before")
    @classmethod
    def _scheme(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and raw.strip():
            parts = urlsplit(raw.strip())
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError("must look like smtp://host:587 (STARTTLS) or smtps://host:465")
        elif isinstance(raw, str):
            return None
        return value


def load_mail_settings(**values: Any) -> MailSettings:
    return MailSettings(**values)
