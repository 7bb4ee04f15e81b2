"""How long ``facilbot lint`` takes on the 4-hour example, against ``python -c pass``.

Run as ``python bench/lint_speed.py [--runs N] [--instructions] [FILE]``. Both commands run as
fresh subprocesses, interleaved, in the same run, so the difference is what facilbot itself
costs; the median is judged against DESIGN §7's 100 ms. Both run with bytecode written to a
temporary ``PYTHONPYCACHEPREFIX`` (and ``PYTHONDONTWRITEBYTECODE`` dropped), as an installed
package has its ``.pyc`` files: with the variable set, every run compiled every module from
source and the figure measured the compiler. Also checks that importing the run-of-show
library and the lint command loads no web, database or platform package. Exits 1 when the
target is missed or the import check fails.

``--instructions`` also counts the instructions each command executes (valgrind's callgrind,
about a minute): unlike wall time, that count does not move with the load other work puts on
the machine, so it says where the time goes even on a busy machine.

Where the time goes (issue 14, item 4; instructions, independent of load; 2026-11-29).
Before, ``facilbot lint`` validated through the pydantic model:

==========================================  ============  ===========
``python -c ...``                           instructions  over ``pass``
==========================================  ============  ===========
``pass``                                       88 M            —
``import yaml``                               187 M          +99 M
``import pydantic``                           271 M         +183 M
``from pydantic import BaseModel``            391 M         +302 M
  … and one one-field model class             587 M         +499 M
``import runofshow.model``                    685 M         +597 M
``facilbot lint`` (4-hour example)            910 M         +822 M
==========================================  ============  ===========

It now validates with ``runofshow.plain`` (plain classes giving the same problems and values;
``tests/runofshow/test_plain.py`` holds them to the pydantic model) and loads no pydantic.
Each line below imports what the line above did, and more:

==============================================  ============  ===========
``python -c ...``                               instructions  over ``pass``
==============================================  ============  ===========
``pass``                                           88 M            —
``import facilbot.cli`` (argparse)                 99 M          +11 M
  … ``runofshow.basics`` (dataclasses, enum)      165 M          +77 M
  … ``runofshow.plain``                           171 M          +83 M
  … ``yaml``                                      270 M         +182 M
  … ``runofshow.loader``                          310 M         +222 M
  … ``runofshow.lint`` (the rules)                343 M         +255 M
  … ``facilbot.commands.lint``                    346 M         +258 M
``facilbot lint`` (4-hour example)                395 M         +307 M
==============================================  ============  ===========

What is left: PyYAML's import (~100 M: the package imports its emitter, representer and
resolver even to use the C parser), ``dataclasses`` (~40 M: it imports ``inspect``) and the
library's ~20 dataclasses (~4 M each to build, which is why the plain records and the
loader's YAML nodes are not dataclasses), the rules' modules, and ~50 M to run (parse,
validate, the time-zone lookup, the rules). ``python -c pass`` runs 88 M instructions in
~19 ms on an idle machine of this kind; 4.5 times that is ~85 ms, and wall time grows more
slowly than the count, since part of ``pass``'s time is process start-up.

That ``pass`` was inflated: 49 M of its 88 M instructions were setuptools' editable finder,
imported by a ``.pth`` into every start of the development venv. The project is now installed
as a plain path (``[tool.uv] config-settings``); ``pass`` runs 39 M instructions (26 ms),
``facilbot lint`` 378 M (189 ms, 2026-11-29 15:37, idle): the estimate above was optimistic.

Then (2026-11-29 17:40): no dataclasses on the lint path (its records are named tuples,
the mutable ones plain classes: ``dataclasses`` imports ``inspect``, ~50 M, and each class cost
~3.5 M to build, a ``NamedTuple`` ~0.7 M); the CLI's sub-command parser gets the terminal width
without importing ``shutil`` (argparse builds a formatter for every ``add_argument``; ~7 M);
``difflib`` only for a "did you mean" (~4 M). Each line imports what the line above did:

==============================================  ============  ===========
``python -c ...``                               instructions  over ``pass``
==============================================  ============  ===========
``pass``                                           39 M            —
``import facilbot.cli`` (argparse, ``re``)         77 M          +38 M
  … ``runofshow.basics`` (``typing``, ``enum``)   112 M          +73 M
  … ``runofshow.plain``                           119 M          +80 M
  … ``yaml``                                      218 M         +179 M
  … ``runofshow.loader``                          232 M         +193 M
  … ``runofshow.lint`` (the rules)                244 M         +205 M
  … ``facilbot.commands.lint``                    245 M         +206 M
``facilbot lint`` (4-hour example)                288 M         +249 M
==============================================  ============  ===========

Before and after in one sitting (two rounds each, 30 runs, load average 3.7-4.0 on 2 cores):
``python -c pass`` 10.1-13.5 ms and 40 M instructions; ``facilbot lint`` before 66.0 and
88.0 ms median (380 M, 9.6x), after 51.2 and 49.0 ms (288 M, 7.2x): under the 100 ms target.

What is left (~250 M over ``pass``): PyYAML's import, ~100 M, most of it its own regular
expressions compiled at import (``yaml.reader``'s non-printable class alone takes ~3 ms) and
``datetime``/``base64`` for its constructor; the emitter, representer and dumper are only ~6 %
of it. It cannot be trimmed cleanly: the C parser (``yaml._yaml``) itself imports ``yaml`` and
its pure-Python modules, so importing less needs ``sys.modules`` surgery. Then ``re`` (~26 M,
which PyYAML needs anyway), ``typing`` (~15 M: ``NamedTuple``, ``Protocol``), argparse and the
``locale`` its messages' translation lookup imports (~15 M), the time-zone check (``zoneinfo``
imports ``sysconfig``, ~11 M, only for shows that name a zone) and ~25 M to parse (~17 M),
validate and lint.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHOW = ROOT / "examples" / "circular-design-4h.yaml"
TARGET = 0.1  # seconds of wall time for the whole command (DESIGN §7)
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
    "pydantic",  # its import alone is over the budget: lint validates with runofshow.plain
    "pydantic_core",
)


def facilbot_command() -> list[str]:
    """The installed console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("facilbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "facilbot.cli"]


def bytecode_env(cache: str) -> dict[str, str]:
    """Bytecode kept (in ``cache``), as an installed package has it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def wall(command: list[str], expect: set[int], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
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


def instructions(command: list[str], env: dict[str, str]) -> int:
    """Instructions the command executes, counted by valgrind's callgrind."""
    if not shutil.which("valgrind"):
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )
    match = re.search(r"Collected : (\d+)", out.stderr)
    if match is None:
        sys.exit(f"valgrind did not count:\n{out.stderr[-2000:]}")
    return int(match[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("show", nargs="?", default=str(DEFAULT_SHOW))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (valgrind)"
    )
    args = parser.parse_args()
    if not Path(args.show).is_file():
        sys.exit(f"no such show: {args.show}")

    lint = [*facilbot_command(), "lint", args.show]
    bare = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="facilbot-pyc-") as cache:
        env = bytecode_env(cache)
        wall(lint, {0, 1}, env)  # warm the file cache and write the bytecode
        wall(bare, {0}, env)
        lint_times: list[float] = []
        bare_times: list[float] = []
        for _ in range(args.runs):
            lint_times.append(wall(lint, {0, 1}, env))
            bare_times.append(wall(bare, {0}, env))
        counts = (instructions(bare, env), instructions(lint, env)) if args.instructions else None

    ms = 1000
    lint_median, bare_median = statistics.median(lint_times), statistics.median(bare_times)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"facilbot lint {Path(args.show).name}, {args.runs} runs each, interleaved; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(f"  {'':24} {'median':>9} {'p90':>9}")
    print(f"  {'python -c pass':24} {bare_median * ms:7.1f}ms {p90(bare_times) * ms:7.1f}ms")
    print(f"  {'facilbot lint':24} {lint_median * ms:7.1f}ms {p90(lint_times) * ms:7.1f}ms")
    print(f"  {'difference (facilbot)':24} {(lint_median - bare_median) * ms:7.1f}ms")
    print(f"  {'ratio':24} {lint_median / bare_median:8.1f}x")
    fast = lint_median < TARGET
    print(f"  target: median wall < {TARGET * ms:.0f}ms -> {'ok' if fast else 'MISSED'}")
    if counts is not None:
        bare_count, lint_count = counts
        print(
            f"  instructions: python -c pass {bare_count / 1e6:.0f} M, facilbot lint "
            f"{lint_count / 1e6:.0f} M ({lint_count / bare_count:.1f}x; independent of load)"
        )

    clean = True
    for imports in ("runofshow, runofshow.loader, runofshow.lint", "facilbot.commands.lint"):
        heavy = sorted(loaded_modules(imports) & set(FORBIDDEN))
        clean = clean and not heavy
        verdict = f"LOADS {', '.join(heavy)}" if heavy else f"ok, none of {', '.join(FORBIDDEN)}"
        print(f"import {imports}: {verdict}")
    return 0 if fast and clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
