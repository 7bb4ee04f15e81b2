"""The platform adapters the service runs with, built from the settings.

* ``sim`` — always in development, and wherever ``FACILBOT_PLATFORMS`` lists it;
* ``zoom`` — when ``FACILBOT_PLATFORMS`` lists it (then the Server-to-Server OAuth credentials
  are required) or when all three credentials are set. Its REST client shares one
  ``httpx.AsyncClient``, which :func:`platform_adapters` closes on shutdown.

Teams is wired by its own package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from facilbot.settings import Settings, SettingsError
from integrations.contract import MeetingAdapter

ZOOM_CREDENTIALS = ("zoom_account_id", "zoom_client_id", "zoom_client_secret")


def _is_set(settings: Settings, name: str) -> bool:
    value = getattr(settings, name)
    if value is not None and hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return bool(value)


def zoom_enabled(settings: Settings) -> bool:
    """Whether a Zoom adapter is built; :class:`SettingsError` when asked for but unusable."""
    missing = [name for name in ZOOM_CREDENTIALS if not _is_set(settings, name)]
    if "zoom" in settings.platforms and missing:
        names = ", ".join(f"FACILBOT_{name.upper()}" for name in missing)
        raise SettingsError(
            f"Zoom is enabled (FACILBOT_PLATFORMS) but {names} "
            f"{'is' if len(missing) == 1 else 'are'} not set; see docs/zoom-setup.md"
        )
    return not missing


def build_adapters(
    settings: Settings, *, http: httpx.AsyncClient | None = None
) -> dict[str, MeetingAdapter]:
    """The adapters for the configured platforms. ``http`` serves the Zoom REST client (the
    caller closes it); without one a Zoom client owns its own."""
    adapters: dict[str, MeetingAdapter] = {}
    if "sim" in settings.platforms or settings.env == "development":
        from integrations.sim import SimAdapter, SimWorld

        adapters["sim"] = SimAdapter(SimWorld())
    if zoom_enabled(settings):
        from integrations.zoom.adapter import ZoomAdapter
        from integrations.zoom.rest import ZoomClient, ZoomCredentials

        assert settings.zoom_account_id and settings.zoom_client_id
        assert settings.zoom_client_secret is not None
        client = ZoomClient(
            ZoomCredentials(
                settings.zoom_account_id,
                settings.zoom_client_id,
                settings.zoom_client_secret.get_secret_value(),
            ),
            api_base_url=settings.zoom_api_base_url,
            oauth_url=settings.zoom_oauth_url,
            http=http,
        )
        adapters["zoom"] = ZoomAdapter(client)
    from facilbot.teams_service import build_teams_adapter, teams_enabled

    if teams_enabled(settings):
        adapters["teams"] = build_teams_adapter(settings, http=http or httpx.AsyncClient())
    return adapters


@asynccontextmanager
async def platform_adapters(settings: Settings) -> AsyncIterator[dict[str, MeetingAdapter]]:
    """Build the adapters for the life of the service; their HTTP connections close after."""
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=5.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        follow_redirects=False,
    ) as http:
        yield build_adapters(settings, http=http)
