"""Reports are tested through the one API harness (``tests/support/api.py``) on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from facilbot.platforms.sim import SimPlatform
from facilbot.store.db import Database
from tests.support.api import ApiHarness, open_api, service_settings


@pytest.fixture
async def api(store: Database, tmp_path: Path) -> AsyncIterator[ApiHarness]:
    # The sessions start when the test says (a late start), not at their planned start.
    sim = SimPlatform(rehearse=True, start_planned=False)
    async with open_api(service_settings(tmp_path), store, platforms=[sim]) as harness:
        yield harness
