"""Zoom's settings: ``FACILBOT_ZOOM_*`` (see docs/zoom-setup.md). Read when the service
starts with Zoom listed in ``FACILBOT_PLATFORMS``, never at import."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from facilbot.settings import PlatformSettings, SettingsError, read_settings

#: Server-to-Server OAuth: without these Zoom cannot be called at all.
REQUIRED = ("account_id", "client_id", "client_secret")


class ZoomSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="FACILBOT_ZOOM_")

    #: verifies webhook signatures (the app's "Secret Token")
    webhook_secret_token: SecretStr | None = None
    account_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_base_url: str = "https://api.zoom.us/v2"
    oauth_url: str = "https://zoom.us/oauth/token"

    def production_problems(self) -> list[str]:
        return [
            f"{name} is required when zoom is on"
            for name in self.missing((*REQUIRED, "webhook_secret_token"))
        ]


def load_zoom_settings(**overrides: object) -> ZoomSettings:
    """Read and check them: :class:`SettingsError` names each missing required variable."""
    settings = read_settings(ZoomSettings, **overrides)
    missing = settings.missing(REQUIRED)
    if missing:
        raise SettingsError(
            f"Zoom is enabled (FACILBOT_PLATFORMS) but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set; see docs/zoom-setup.md"
        )
    return settings
