"""The platforms facilbot knows, and the one rule that decides which of them run.

``FACILBOT_PLATFORMS`` lists the platforms to run (default ``sim``). A listed platform whose
own settings are missing or bad stops the start with a message naming each variable; an
unknown name is refused with the known ones. Nothing else switches a platform on: credentials
that happen to be set do not, and development mode does not.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from facilbot.platforms.base import Platform
from facilbot.platforms.sim import SimPlatform
from facilbot.platforms.teams import TeamsPlatform
from facilbot.platforms.zoom import ZoomPlatform
from facilbot.settings import Settings, SettingsError
from facilbot.store.models import Base

#: Every platform, in the order they are started (and stopped in reverse).
PLATFORMS: tuple[type[Platform], ...] = (SimPlatform, ZoomPlatform, TeamsPlatform)


def known() -> dict[str, type[Platform]]:
    return {platform.name: platform for platform in PLATFORMS}


def enabled_platforms(settings: Settings) -> list[Platform]:
    """The platforms ``FACILBOT_PLATFORMS`` lists, each built from its own settings.

    Raises :class:`SettingsError` for an unknown name, for a listed platform whose settings
    are missing or bad, and (in production) for unsafe platform settings — all at once.
    """
    by_name = known()
    unknown = sorted(settings.platforms - by_name.keys())
    if unknown:
        raise SettingsError(
            f"FACILBOT_PLATFORMS names {', '.join(map(repr, unknown))}; "
            f"the known platforms are {', '.join(by_name)}"
        )
    built: list[Platform] = []
    missing: list[str] = []
    unsafe: list[str] = []
    for kind in PLATFORMS:
        if kind.name not in settings.platforms:
            continue
        try:
            platform = kind.from_settings(settings)
        except SettingsError as error:
            missing.append(str(error))
            continue
        if settings.env == "production":
            unsafe.extend(f"  {problem}" for problem in platform.production_problems())
        built.append(platform)
    if unsafe:
        missing.append(
            "refusing to run in production with an unsafe configuration:\n" + "\n".join(unsafe)
        )
    if missing:
        raise SettingsError("\n".join(missing))
    return built


def metadata() -> MetaData:
    """The shared metadata with every table facilbot has: the core's and each platform's
    (for Alembic's autogenerate and the schema check in the tests)."""
    from facilbot.journey import tables as journey_tables  # noqa: F401 - the journey's tables
    from facilbot.outbound import tables as outbound_tables  # noqa: F401 - outbox, endpoints
    from facilbot.reports import tables as report_tables  # noqa: F401 - notes, aggregates
    from facilbot.store import (
        bindings,  # noqa: F401 - meeting_bindings registers on import
        idempotency,  # noqa: F401 - idempotency_keys registers on import
        notices,  # noqa: F401 - command_notices registers on import
    )

    for platform in PLATFORMS:
        assert all(table.metadata is Base.metadata for table in platform.tables)
    return Base.metadata
