"""Microsoft Teams in the service: settings, tables, runtime, routes and webhooks."""

from facilbot.platforms.teams.platform import TeamsPlatform

__all__ = ["TeamsPlatform"]
