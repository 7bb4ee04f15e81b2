"""The Graph SDK is heavy: nothing but TeamsGraph may import it (checked in a fresh interpreter)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = [
    "integrations.teams.adapter",
    "integrations.teams.activities",
    "integrations.teams.botauth",
    "integrations.teams.connector",
    "integrations.teams.notifications",
    "integrations.teams.graph",  # the module itself imports the SDK only when used
    "integrations.contract",
    "runofshow",
]
HEAVY = {"msgraph", "msgraph_core", "kiota_abstractions", "kiota_http", "azure"}
# start-up paths of lint and the service (the app factory, serve, and the Teams wiring itself)
STARTUP = [
    "facilbot.cli",
    "facilbot.commands.lint",
    "facilbot.commands.serve",
    "facilbot.app",
    "facilbot.platforms.registry",
    "facilbot.platforms.teams",
    "facilbot.platforms.teams.routes",
    "facilbot.platforms.teams.runtime",
]


def loaded_after_import(module: str) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise ModuleNotFoundError(result.stderr.strip().splitlines()[-1])
    return set(result.stdout.split())


@pytest.mark.parametrize("module", MODULES)
def test_module_does_not_import_msgraph(module: str) -> None:
    loaded = loaded_after_import(module)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], f"{module} imported {heavy[:5]}"


@pytest.mark.parametrize("module", STARTUP)
def test_startup_paths_do_not_import_msgraph(module: str) -> None:
    assert importlib.util.find_spec(module) is not None, f"{module} is gone: update STARTUP"
    loaded = loaded_after_import(module)
    assert not any(m.split(".")[0] == "msgraph" for m in loaded), f"{module} imported msgraph"


def test_building_the_service_with_teams_enabled_does_not_import_msgraph(tmp_path: Path) -> None:
    """The app with every router and the Teams adapter built: Graph comes only on first use."""
    code = (
        "import sys\n"
        "import httpx\n"
        "from facilbot.app import create_app\n"
        "from facilbot.platforms.registry import enabled_platforms\n"
        "from facilbot.settings import load_settings\n"
        "s = load_settings(_env_file=None, env='test', data_dir=sys.argv[1], platforms='teams')\n"
        "[teams] = enabled_platforms(s)\n"
        "assert teams.adapter(httpx.AsyncClient()).platform == 'teams'\n"
        "create_app(s)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'msgraph'))\n"
    )
    env = {
        **os.environ,
        "FACILBOT_TEAMS_APP_ID": "a",
        "FACILBOT_TEAMS_APP_PASSWORD": "p",
        "FACILBOT_TEAMS_TENANT_ID": "t",
    }
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_the_check_can_fail() -> None:
    """The subprocess really sees msgraph when something imports it."""
    pytest.importorskip("msgraph")
    loaded = loaded_after_import("msgraph")
    assert "msgraph" in loaded
