"""Errors the engine raises for callers to turn into clear messages (HTTP 4xx, CLI text)."""

from __future__ import annotations

from facilbot.store.sessions import UnknownSession


class EngineError(Exception):
    """Something a caller asked for cannot be done; the message says why."""


class UnknownShowVersion(EngineError, LookupError):
    pass


class UnknownPlatform(EngineError):
    pass


class ControlRefused(EngineError):
    pass


class UnknownFiring(EngineError, LookupError):
    pass


__all__ = [
    "ControlRefused",
    "EngineError",
    "UnknownFiring",
    "UnknownPlatform",
    "UnknownSession",
    "UnknownShowVersion",
]
