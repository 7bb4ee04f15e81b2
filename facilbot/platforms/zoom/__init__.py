"""Zoom in the service: settings, tables, runtime, routes and webhooks."""

from facilbot.platforms.zoom.platform import ZoomPlatform

__all__ = ["ZoomPlatform"]
