"""The Zoom runtime's tests: the service with Zoom, its periodic sync off (tests call it), the
client's waits recorded, and a scheduled meeting of the fake Zoom (``MEETING``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from facilbot.store.db import Database
from tests.facilbot.platforms.zoom import conftest as zoom
from tests.facilbot.platforms.zoom.conftest import Harness

MEETING = "85746065432"

__all__ = ["MEETING", "Harness", "minutes", "open_harness"]


@contextlib.asynccontextmanager
async def open_harness(store: Database, tmp_path: Path, **options: Any) -> AsyncIterator[Harness]:
    options = {"meeting": MEETING, "sync_interval": None, **options}
    async with zoom.open_harness(store, tmp_path, **options) as harness:
        yield harness


@pytest.fixture
async def h(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(store, tmp_path) as harness:
        yield harness


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
