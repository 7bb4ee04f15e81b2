"""Errors the engine raises for callers to turn into clear messages (HTTP 4xx, CLI text)."""

from __future__ import annotations

from facilbot.store.sessions import UnknownSession


class EngineError(Exception):
    """Something a caller asked for cannot be done; the message says why."""


class UnknownShowVersion(EngineError, LookupError):
    """No show version has this id."""


class UnknownPlatform(EngineError):
    """The platform is unknown or not configured on this server."""


class ControlRefused(EngineError):
    """The control (or attach request) cannot be applied now; the message says why."""


class UnknownFiring(EngineError, LookupError):
    """No firing with this id belongs to the session."""


__all__ = [
    "ControlRefused",
    "EngineError",
    "UnknownFiring",
    "UnknownPlatform",
    "UnknownSession",
    "UnknownShowVersion",
]
