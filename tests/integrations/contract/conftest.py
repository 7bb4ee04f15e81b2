"""Finds every ``harness_*.py`` beside this file and runs the contract suite once per harness.

A harness module that fails to import is not dropped silently: its tests fail with the import
error. One that calls ``pytest.importorskip`` (an optional extra not installed) is skipped.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from .harness import PlatformHarness

HERE = Path(__file__).parent
Factory = Callable[[], PlatformHarness]


def _failing(reason: str) -> Factory:
    def factory() -> PlatformHarness:
        pytest.fail(reason, pytrace=False)

    return factory


def _skipping(reason: str) -> Factory:
    def factory() -> PlatformHarness:
        pytest.skip(reason)

    return factory


def discover(directory: Path = HERE, package: str = __package__) -> list[tuple[str, Factory]]:
    """(id, factory) for every harness module and variant, sorted by module name."""
    found: list[tuple[str, Factory]] = []
    for path in sorted(directory.glob("harness_*.py")):
        name = path.stem.removeprefix("harness_")
        try:
            module: Any = importlib.import_module(f"{package}.{path.stem}")
        except pytest.skip.Exception as skipped:
            found.append((name, _skipping(f"{path.name}: {skipped}")))
            continue
        except Exception as error:  # a broken harness must show up, not vanish
            found.append((name, _failing(f"{path.name} failed to import: {error!r}")))
            continue
        if not callable(getattr(module, "make_harness", None)):
            found.append((name, _failing(f"{path.name} has no make_harness()")))
            continue
        variants: tuple[str, ...] | None = getattr(module, "VARIANTS", None)
        if variants:
            for variant in variants:
                found.append((f"{name}-{variant}", _bind(module.make_harness, variant)))
        else:
            found.append((name, module.make_harness))
    return found


def _bind(make: Callable[[str], PlatformHarness], variant: str) -> Factory:
    return lambda: make(variant)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness_factory" in metafunc.fixturenames:
        harnesses = discover()
        metafunc.parametrize(
            "harness_factory",
            [factory for _, factory in harnesses],
            ids=[name for name, _ in harnesses],
        )


@pytest.fixture
async def harness(harness_factory: Factory) -> AsyncIterator[PlatformHarness]:
    async with harness_factory() as entered:
        yield entered
