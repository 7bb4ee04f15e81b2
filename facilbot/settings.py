"""Service configuration: ``FACILBOT_*`` environment variables and an optional ``.env`` file.

Nothing here runs at import time: call :func:`load_settings` (the service and the CLI do it once
at start) and pass the result down.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Env = Literal["development", "production", "test"]

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


S = TypeVar("S", bound=BaseSettings)


class SettingsError(Exception):
    """The configuration cannot be used; the message says what to change."""


def default_data_dir() -> Path:
    """Per-user data directory: ``$XDG_DATA_HOME/facilbot`` or ``~/.local/share/facilbot``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "facilbot"


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def async_database_url(url: str) -> str:
    """Rewrite a database URL to use the async driver facilbot runs on.

    ``postgresql://`` becomes ``postgresql+asyncpg://`` and ``sqlite://`` becomes
    ``sqlite+aiosqlite://``; any other scheme or driver is refused.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("must look like postgresql://user@host/db or sqlite:///path/to/file.db")
    driver = _ASYNC_DRIVERS.get(scheme.lower())
    if driver is None:
        raise ValueError(
            f"unsupported scheme {scheme!r}: "
            "use postgresql://… (asyncpg) or sqlite:///… (aiosqlite)"
        )
    return f"{driver}://{rest}"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


class Settings(BaseSettings):
    """Everything facilbot can be told. Secrets are ``SecretStr`` and never printed."""

    model_config = SettingsConfigDict(
        env_prefix="FACILBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    env: Env = "development"
    debug: bool = False
    data_dir: Path = Field(default_factory=default_data_dir)
    # Empty means "a SQLite file in data_dir"; see the validator below.
    database_url: str = ""
    instance_id: str = Field(default_factory=default_instance_id, min_length=1, max_length=200)
    lease_seconds: int = Field(default=10, ge=1, le=3600)
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Which platforms run: the one rule (facilbot.platforms.registry checks the names and
    # each listed platform's own settings at start-up).
    platforms: Annotated[frozenset[str], NoDecode] = frozenset({"sim"})

    # Days after a session ends that participants' personal data (names, emails, chat, poll
    # answers, commitments, presence) is kept; then it is pruned and reports keep aggregates.
    retention_days: int = Field(default=180, ge=1, le=36500)

    # Retired before it was ever read: each outbound endpoint has its own whsec_ secret (the
    # Standard Webhooks way, rotatable per receiver). A field only so that a deployment still
    # setting it is told, rather than believing its webhooks are signed with it.
    outbound_webhook_secret: SecretStr | None = None
    # Encrypts outbound webhook endpoints' secrets at rest (a Fernet key); unset outside
    # production: a key file in data_dir (facilbot.outbound.secrets).
    secrets_key: SecretStr | None = None
    # Lets outbound webhooks reach loopback and private addresses (development, tests).
    webhooks_allow_private: bool = False
    # Signs companion-page links (facilbot.pages); unset: a random key per process.
    pages_secret: SecretStr | None = None

    @field_validator("platforms", mode="before")
    @classmethod
    def _split_platforms(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value.strip()) if value.strip() else ""

    @field_validator("outbound_webhook_secret")
    @classmethod
    def _retired_secret(cls, value: SecretStr | None) -> None:
        if value is not None and value.get_secret_value():
            raise ValueError(
                "is not used: every webhook endpoint has its own whsec_ secret, printed once "
                "by `facilbot webhooks add` (and `facilbot webhooks rotate`); unset it"
            )
        return None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "facilbot.db").expanduser().resolve()
            # frozen model: set through object.__setattr__ once, during validation
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "database_url" else value

    def production_problems(self) -> list[str]:
        """What makes this configuration unsafe to run in production (empty when fine)."""
        problems: list[str] = []
        if self.debug:
            problems.append("FACILBOT_DEBUG must be off in production")
        pages_secret = self.pages_secret.get_secret_value() if self.pages_secret else ""
        if len(pages_secret) < 32:
            problems.append(
                "FACILBOT_PAGES_SECRET must be set to at least 32 random characters in "
                "production (companion links are signed with it and must survive restarts)"
            )
        if self.webhooks_allow_private:
            problems.append("FACILBOT_WEBHOOKS_ALLOW_PRIVATE must be off in production (SSRF)")
        if urlsplit(self.base_url).scheme != "https":
            problems.append(
                "FACILBOT_BASE_URL must be https:// in production "
                "(platforms call it and tokens travel over it)"
            )
        return problems


class PlatformSettings(BaseSettings):
    """Base of a platform's own settings (``facilbot.platforms.<name>.settings``): read from
    ``FACILBOT_<NAME>_*`` and ``.env`` when the platform is listed, never at import."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        populate_by_name=True,
    )

    @classmethod
    def env_name(cls, field: str) -> str:
        """The variable a user sets for ``field``."""
        alias = cls.model_fields[field].validation_alias
        choices = getattr(alias, "choices", [alias])
        named = [c for c in choices if isinstance(c, str) and c.startswith("FACILBOT_")]
        return named[0] if named else f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    def missing(self, names: tuple[str, ...]) -> list[str]:
        """The variables among the fields ``names`` that are unset or empty."""
        missing = []
        for name in names:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if not value:
                missing.append(self.env_name(name))
        return missing


def read_settings(kind: type[S], **overrides: Any) -> S:
    """Read one settings class from the environment and ``.env``; :class:`SettingsError` with
    one line per bad variable, named as the user sets it (``FACILBOT_…``), values never shown.

    Keyword arguments override the environment (``_env_file=None`` skips ``.env``).
    """
    try:
        return kind(**overrides)
    except ValidationError as exc:
        prefix = str(kind.model_config.get("env_prefix", ""))
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            env_name = f"{prefix}{name}".upper() if error["loc"] else name
            if name.upper().startswith("FACILBOT_"):  # an alias is already the variable's name
                env_name = name.upper()
            lines.append(f"  {env_name}: {error['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None


def load_settings(**overrides: Any) -> Settings:
    """Read the service's configuration; raise :class:`SettingsError` with a readable message
    when bad. The platforms read their own (``facilbot.platforms.<name>.settings``)."""
    settings = read_settings(Settings, **overrides)
    if settings.env == "production":
        problems = settings.production_problems()
        if problems:
            raise SettingsError(
                "refusing to run in production with an unsafe configuration:\n"
                + "\n".join(f"  {problem}" for problem in problems)
            )
    return settings
