"""How long ``facilbot lint`` takes on the 4-hour example, against ``python -c pass``.

Run as ``python bench/lint_speed.py [--runs N] [FILE]``. Both commands run as fresh
subprocesses, interleaved, in the same run, so the difference is what facilbot itself costs.
Also checks that importing the run-of-show library and the lint command loads no web, database
or platform package. Exits 1 when the target is missed or the import check fails.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHOW = ROOT / "examples" / "circular-design-4h.yaml"
TARGET = 0.3  # seconds of wall time for the whole command (DESIGN §7)
FORBIDDEN = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "httpx",
    "uvicorn",
    "alembic",
    "apscheduler",
    "msgraph",
    "zoomus",
    "integrations",
)


def facilbot_command() -> list[str]:
    """The installed console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("facilbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "facilbot.cli"]


def wall(command: list[str], expect: set[int]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if result.returncode not in expect:
        sys.exit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return elapsed


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def loaded_modules(imports: str) -> set[str]:
    code = f"import sys, {imports}; print(' '.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("show", nargs="?", default=str(DEFAULT_SHOW))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if not Path(args.show).is_file():
        sys.exit(f"no such show: {args.show}")

    lint = [*facilbot_command(), "lint", args.show]
    bare = [sys.executable, "-c", "pass"]
    wall(lint, {0, 1})  # warm the file cache and the bytecode
    wall(bare, {0})
    lint_times: list[float] = []
    bare_times: list[float] = []
    for _ in range(args.runs):
        lint_times.append(wall(lint, {0, 1}))
        bare_times.append(wall(bare, {0}))

    ms = 1000
    lint_median, bare_median = statistics.median(lint_times), statistics.median(bare_times)
    print(f"facilbot lint {Path(args.show).name}, {args.runs} runs each, interleaved")
    print(f"  {'':24} {'median':>9} {'p90':>9}")
    print(f"  {'python -c pass':24} {bare_median * ms:7.1f}ms {p90(bare_times) * ms:7.1f}ms")
    print(f"  {'facilbot lint':24} {lint_median * ms:7.1f}ms {p90(lint_times) * ms:7.1f}ms")
    print(f"  {'difference (facilbot)':24} {(lint_median - bare_median) * ms:7.1f}ms")
    fast = lint_median < TARGET
    print(f"  target: median wall < {TARGET * ms:.0f}ms -> {'ok' if fast else 'MISSED'}")

    clean = True
    for imports in ("runofshow, runofshow.loader, runofshow.lint", "facilbot.commands.lint"):
        heavy = sorted(loaded_modules(imports) & set(FORBIDDEN))
        clean = clean and not heavy
        verdict = f"LOADS {', '.join(heavy)}" if heavy else f"ok, none of {', '.join(FORBIDDEN)}"
        print(f"import {imports}: {verdict}")
    return 0 if fast and clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
