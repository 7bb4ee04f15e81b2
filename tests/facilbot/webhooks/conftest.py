"""Bindings are tested through Zoom's signed webhooks: the Zoom harness and its fixture."""

from __future__ import annotations

from tests.facilbot.platforms.zoom.conftest import (
    MEETING,
    Harness,
    h,
    joined,
    meeting_event,
)

__all__ = ["MEETING", "Harness", "h", "joined", "meeting_event"]
