"""The wheel ships whole: built from the tree, installed into an empty virtual environment,
it migrates and serves from an empty directory (its migrations, pages and schema inside).

The new environment gets the project's dependencies from this test run's environment (a path
entry, so nothing is downloaded), but facilbot itself only from the wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy of what the build reads, so its build/ and egg-info stay out of the checkout.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("runofshow", "integrations", "facilbot"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    # The build backend itself (PEP 517), from the locked setuptools: no download, no pip.
    build = f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})"
    subprocess.run(
        [sys.executable, "-c", build], cwd=source, check=True, capture_output=True, timeout=300
    )
    [built] = out.glob("facilbot-*.whl")
    return built


def test_the_wheel_holds_the_migrations_pages_and_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    versions = sorted(ROOT.glob("facilbot/store/migrations/versions/*.py"))
    versions += sorted(ROOT.glob("facilbot/platforms/*/migrations/*.py"))
    assert versions, "no migration scripts in the tree"
    for path in [
        *versions,
        ROOT / "facilbot/store/migrations/env.py",
        ROOT / "facilbot/store/migrations/script.py.mako",
        *ROOT.glob("facilbot/pages/static/*.*"),
        *ROOT.glob("facilbot/pages/static/vendor/*"),
        *ROOT.glob("facilbot/pages/templates/*"),
        ROOT / "runofshow/schema/show.schema.json",
    ]:
        assert str(path.relative_to(ROOT)) in names, f"{path.relative_to(ROOT)} is not shipped"
    assert not any(name.startswith(("tests/", "bench/", "migrations/")) for name in names)


def test_package_data_names_no_missing_file() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, patterns in data["package-data"].items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"{package}/{pattern} matches nothing"


def test_an_installed_wheel_migrates_and_serves_from_an_empty_directory(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    # The standard library's venv brings its own pip, which installs the wheel offline.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Dependencies from this run's environment, appended after the new venv's own
    # site-packages: facilbot itself resolves to the installed wheel.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FACILBOT_")} | {
        "FACILBOT_DATA_DIR": str(empty / "data"),
        "FACILBOT_ENV": "development",
    }
    where = subprocess.run(
        [str(python), "-c", "import facilbot; print(facilbot.__file__)"],
        cwd=empty,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert str(venv) in where and str(ROOT) not in where
    facilbot = str(venv / "bin" / "facilbot")
    migrated = subprocess.run(
        [facilbot, "migrate"], cwd=empty, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "applied" in migrated.stdout
    server = subprocess.Popen(
        [facilbot, "serve", "--port", "0"],
        cwd=empty,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while "serving on" not in line and time.monotonic() < deadline:
            line = server.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert found, f"no address announced: {line!r}"
        base = f"http://127.0.0.1:{found[1]}"
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as answer:
            assert json.loads(answer.read())["status"] == "ready"
        with urllib.request.urlopen(f"{base}/pages/static/console.js", timeout=10) as answer:
            assert answer.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
