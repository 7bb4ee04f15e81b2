"""Microsoft Teams' settings: ``FACILBOT_TEAMS_*`` and ``FACILBOT_GRAPH_CLIENT_STATE`` (see
docs/teams-setup.md). Read when the service starts with Teams listed in
``FACILBOT_PLATFORMS``, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from facilbot.settings import PlatformSettings, SettingsError, read_settings

#: The bot's app registration: without these the bot can neither authenticate nor post.
REQUIRED = ("app_id", "app_password", "tenant_id")


class TeamsSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="FACILBOT_TEAMS_")

    # The bot's app registration, Graph and Bot Framework endpoints.
    app_id: str | None = None
    app_password: SecretStr | None = None
    tenant_id: str | None = None
    graph_base_url: str = "https://graph.microsoft.com"
    login_base_url: str = "https://login.microsoftonline.com"
    openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    #: proves a Graph change notification comes from our subscription
    graph_client_state: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("FACILBOT_GRAPH_CLIENT_STATE", "graph_client_state"),
    )
    catalog_app_id: str | None = None  # the app's id in the org catalog (installs)
    organizer_id: str | None = None  # organizer object id when a join URL lacks one
    bot_token_tenant: str | None = None  # default tenant_id; or botframework.com
    encryption_certificate: Path | None = None  # PEM, for Graph rich notifications
    encryption_private_key: Path | None = None  # PEM, unencrypted, readable by facilbot
    encryption_certificate_id: str = Field(default="facilbot-1", max_length=128)
    notify_breaks: bool = False  # targeted in-meeting notification on breaks

    def production_problems(self) -> list[str]:
        problems = [
            f"{name} is required when teams is on"
            for name in self.missing(("app_id", "app_password", "graph_client_state"))
        ]
        state = self.graph_client_state
        if state is not None and 0 < len(state.get_secret_value()) < 16:
            problems.append("FACILBOT_GRAPH_CLIENT_STATE must be at least 16 characters")
        return problems


def load_teams_settings(**overrides: object) -> TeamsSettings:
    """Read and check them: :class:`SettingsError` names each missing required variable."""
    settings = read_settings(TeamsSettings, **overrides)
    missing = settings.missing(REQUIRED)
    if missing:
        raise SettingsError(
            f"Teams is enabled (FACILBOT_PLATFORMS) but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set; see docs/teams-setup.md"
        )
    return settings
