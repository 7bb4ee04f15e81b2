"""The Graph SDK is heavy: nothing but TeamsGraph may import it (checked in a fresh interpreter)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

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
# start-up paths of lint and the service, when they exist in this tree
OPTIONAL = ["facilbot.cli", "facilbot.commands.lint", "facilbot.app", "facilbot.web"]


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


@pytest.mark.parametrize("module", OPTIONAL)
def test_startup_paths_do_not_import_msgraph(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not in this tree yet")
    loaded = loaded_after_import(module)
    assert not any(m.split(".")[0] == "msgraph" for m in loaded), f"{module} imported msgraph"


def test_the_check_can_fail() -> None:
    """The subprocess really sees msgraph when something imports it."""
    pytest.importorskip("msgraph")
    loaded = loaded_after_import("msgraph")
    assert "msgraph" in loaded
