"""The architecture's rules, checked on every test run (DESIGN §3).

The import contracts live in ``.importlinter``: runofshow is pure, integrations know nothing of
the service, the core never imports a platform, no platform imports another, and the runner
does not import its engine.
"""

from __future__ import annotations

import re
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_NAMES = re.compile(r"zoom|teams|graph|botframework", re.IGNORECASE)


def test_the_import_contracts_are_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True) == 0


def test_every_platform_lives_in_its_own_package() -> None:
    """No module outside ``facilbot/platforms/`` is named after a platform (migrations
    included: a platform's tables are migrated from its own ``migrations/`` folder)."""
    outside = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "facilbot").rglob("*.py")
        if PLATFORM_NAMES.search(path.name)
        and (ROOT / "facilbot" / "platforms") not in path.parents
    ]
    assert outside == []
