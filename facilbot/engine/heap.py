"""The process's long-lived heap, kept out of the garbage collector's full passes.

A full (generation 2) collection walks every tracked object. After start-up that is some
140,000 objects that live as long as the process (modules, classes, functions, SQLAlchemy's
tables, the show models), and a burst's allocations (a thousand runners waking at once) set off
a full pass: measured on the loaded 2-core machine, one pass of 257 ms in the middle of a burst
of 1,000 cues, the event loop's longest stall (DESIGN §7 allows 50 ms). :func:`freeze` moves
what is alive at the end of start-up into the permanent generation, which collections skip;
only what the sessions make afterwards is walked. Objects frozen are still freed by reference
counting; only cycles among them would stay, and start-up's objects live to the end anyway.
"""

from __future__ import annotations

import gc


def freeze() -> None:
    """Collect what start-up left behind, then freeze the rest (call once, when serving
    begins: ``facilbot serve``, the demo, the benchmarks)."""
    gc.collect()
    gc.freeze()
