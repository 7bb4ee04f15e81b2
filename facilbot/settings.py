"""Service configuration: ``FACILBOT_*`` environment variables and an optional ``.env`` file.

Nothing here runs at import time: call :func:`load_settings` (the service and the CLI do it once
at start) and pass the result down.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Env = Literal["development", "production", "test"]
PlatformName = Literal["zoom", "teams", "sim"]

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


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
    platforms: Annotated[frozenset[PlatformName], NoDecode] = frozenset({"sim"})

    # Zoom: webhook verification and Server-to-Server OAuth.
    zoom_webhook_secret_token: SecretStr | None = None
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_api_base_url: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = "https://zoom.us/oauth/token"

    # Microsoft Teams: the bot's app registration, Graph and Bot Framework endpoints.
    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    teams_tenant_id: str | None = None
    teams_graph_base_url: str = "https://graph.microsoft.com"
    teams_login_base_url: str = "https://login.microsoftonline.com"
    teams_openid_metadata_url: str = (
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    graph_client_state: SecretStr | None = None
    # Teams wiring (facilbot.teams_service; docs/teams-setup.md).
    teams_catalog_app_id: str | None = None  # the app's id in the org catalog (installs)
    teams_organizer_id: str | None = None  # organizer object id when a join URL lacks one
    teams_bot_token_tenant: str | None = None  # default teams_tenant_id; or botframework.com
    teams_encryption_certificate: Path | None = None  # PEM, for Graph rich notifications
    teams_encryption_private_key: Path | None = None  # PEM, unencrypted, readable by facilbot
    teams_encryption_certificate_id: str = Field(default="facilbot-1", max_length=128)
    teams_notify_breaks: bool = False  # targeted in-meeting notification on breaks

    # Signs the webhooks facilbot sends out.
    outbound_webhook_secret: SecretStr | None = None
    # Signs companion-page links (facilbot.pages); unset: a random key per process.
    pages_secret: SecretStr | None = None

    @field_validator("platforms", mode="before")
    @classmethod
    def _split_platforms(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value.strip()) if value.strip() else ""

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
        if urlsplit(self.base_url).scheme != "https":
            problems.append(
                "FACILBOT_BASE_URL must be https:// in production "
                "(platforms call it and tokens travel over it)"
            )
        required: dict[str, tuple[str, ...]] = {
            "zoom": (
                "zoom_webhook_secret_token",
                "zoom_account_id",
                "zoom_client_id",
                "zoom_client_secret",
            ),
            "teams": ("teams_app_id", "teams_app_password", "graph_client_state"),
        }
        for platform in sorted(self.platforms):
            for name in required.get(platform, ()):
                value = getattr(self, name)
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                if not value:
                    problems.append(f"FACILBOT_{name.upper()} is required when {platform} is on")
        if self.graph_client_state is not None and "teams" in self.platforms:
            if len(self.graph_client_state.get_secret_value()) < 16:
                problems.append("FACILBOT_GRAPH_CLIENT_STATE must be at least 16 characters")
        return problems


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration; raise :class:`SettingsError` with a readable message when bad.

    Keyword arguments override the environment (``_env_file=None`` skips ``.env``).
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            env_name = f"FACILBOT_{name.upper()}" if error["loc"] else name
            lines.append(f"  {env_name}: {error['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
    if settings.env == "production":
        problems = settings.production_problems()
        if problems:
            raise SettingsError(
                "refusing to run in production with an unsafe configuration:\n"
                + "\n".join(f"  {problem}" for problem in problems)
            )
    return settings
