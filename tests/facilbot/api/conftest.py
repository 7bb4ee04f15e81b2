"""The real app on a real migrated database (SQLite and PostgreSQL), real tokens, a virtual clock
(the shared harness, ``tests/support/api.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from facilbot.settings import Settings
from facilbot.store.db import Database
from tests.support.api import SMALL_SHOW, START, ApiHarness, make_tokens, open_api, service_settings

__all__ = ["SMALL_SHOW", "START", "Api", "make_settings", "make_tokens"]
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


#: The one API harness (``tests/support/api.py``), named as these tests know it.
Api = ApiHarness


def make_settings(database_url: str, data_dir: Path) -> Settings:
    return service_settings(data_dir, database_url=database_url)


@pytest.fixture
async def api(store: Database, tmp_path: Path) -> AsyncIterator[Api]:
    async with open_api(make_settings("sqlite:///unused.db", tmp_path), store) as harness:
        yield harness
