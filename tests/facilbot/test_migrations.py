"""Alembic migrations: applied from empty, reversible, and in step with the models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from facilbot.platforms.registry import metadata
from facilbot.store.db import create_engine
from facilbot.store.migrate import (
    SchemaNotCurrent,
    current_revision,
    downgrade,
    head_revision,
    migrations_dir,
    require_current,
    schema_differences,
    upgrade,
)
from facilbot.store.models import Base

REPO = Path(__file__).resolve().parents[2]


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_from_empty_then_downgrade_to_base_and_back(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        with pytest.raises(SchemaNotCurrent, match="facilbot migrate"):
            await require_current(engine)

        report = await upgrade(engine)
        assert (report.before, report.after) == (None, head_revision())
        assert [step.revision for step in report.applied][-1] == head_revision()
        assert set(Base.metadata.tables) <= await table_names(engine)
        await require_current(engine)

        again = await upgrade(engine)
        assert again.applied == () and again.before == again.after == head_revision()

        down = await downgrade(engine, "base")
        assert down.after is None and down.applied
        assert await table_names(engine) <= {"alembic_version"}

        await upgrade(engine)
        assert await schema_differences(engine, metadata()) == []
    finally:
        await engine.dispose()


async def test_models_match_the_migrations(engine: AsyncEngine) -> None:
    assert await schema_differences(engine, metadata()) == []


async def test_drift_between_models_and_database_is_detected(engine: AsyncEngine) -> None:
    # guards the test above against comparing nothing
    async with engine.begin() as connection:
        await connection.exec_driver_sql("DROP INDEX ix_firings_status")
        await connection.exec_driver_sql("ALTER TABLE chat_messages ADD COLUMN stray INTEGER")
    differences = [str(d) for d in await schema_differences(engine, metadata())]
    assert any("ix_firings_status" in d for d in differences)
    assert any("stray" in d for d in differences)


def test_migrations_ship_inside_the_package() -> None:
    path = migrations_dir()
    assert path == REPO / "facilbot" / "store" / "migrations"
    assert (path / "versions").is_dir()
    assert not (REPO / "alembic.ini").exists()  # configured in code


def _facilbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facilbot.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_facilbot_migrate_reports_what_it_did(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FACILBOT_DATA_DIR": str(tmp_path / "data"),
        "FACILBOT_DATABASE_URL": "",
    }
    status = _facilbot(["migrate", "--status"], env, tmp_path)
    assert status.returncode == 1 and "empty database" in status.stdout

    first = _facilbot(["migrate"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"applied {head_revision()}" in first.stdout
    assert str(tmp_path / "data" / "facilbot.db") in first.stdout

    second = _facilbot(["migrate"], env, tmp_path)
    assert second.returncode == 0 and "already up to date" in second.stdout

    status = _facilbot(["migrate", "--status"], env, tmp_path)
    assert status.returncode == 0 and "up to date" in status.stdout


def test_facilbot_migrate_explains_an_unreachable_database(tmp_path: Path) -> None:
    env = {**os.environ, "FACILBOT_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    result = _facilbot(["migrate"], env, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "facilbot migrate:" in result.stderr
