"""A test rig: the real engine on a virtual clock, over a real database, against the simulator.

Nothing here replaces a part of the engine: the rig only owns the clock and the simulated
meeting, and drives both forward the way ``facilbot demo`` does with a real clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from facilbot.engine.clock import VirtualClock
from facilbot.engine.engine import Engine, to_control
from facilbot.engine.runner import Fired
from facilbot.store import controls as store_controls
from facilbot.store import firings as store_firings
from facilbot.store.db import Database, reading
from facilbot.store.firings import FiringRecord
from integrations.contract import InboundEvent
from integrations.sim import Scenario, SimAdapter, SimulatedMeeting, SimWorld, default_scenario
from integrations.sim.adapter import Profile
from runofshow.model import Show
from runofshow.plan import LivePlan, live_plan

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
T0 = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def example(name: str = "roleplay-90m.yaml") -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


@dataclass
class Rig:
    """One database, one virtual clock, one simulated world; engines come and go on them."""

    db: Database
    clock: VirtualClock
    world: SimWorld
    profile: Profile = "zoom"
    fired: list[Fired] = field(default_factory=list)
    engines: list[Engine] = field(default_factory=list)

    def engine(
        self,
        instance_id: str = "instance-a",
        *,
        lease_seconds: float = 30.0,
        maintenance_interval: float | None = None,
        **options: Any,
    ) -> Engine:
        adapter = SimAdapter(self.world, self.profile, clock=self.clock.now)
        engine = Engine(
            self.db,
            self.clock,
            instance_id=instance_id,
            adapters={"sim": adapter},
            lease_seconds=lease_seconds,
            maintenance_interval=maintenance_interval,
            channel_overrides={"sim": adapter.carriers()},
            on_fired=self.fired.append,
            **options,
        )
        self.engines.append(engine)
        return engine

    async def close(self) -> None:
        for engine in self.engines:
            if engine.running:
                await engine.stop()


def make_rig(db: Database, profile: Profile = "zoom", start: datetime = T0) -> Rig:
    return Rig(db, VirtualClock(start), SimWorld(), profile)


async def attach(
    engine: Engine,
    text: str,
    meeting_ref: str,
    *,
    name: str = "show",
    producers: Sequence[Mapping[str, str]] = (),
) -> str:
    record, _ = await engine.upload_show(name, text, "test")
    return await engine.attach(record.id, "sim", meeting_ref, producers=producers, by="test")


def scenario(length: int, size: int = 12, seed: int = 7, **options: Any) -> Scenario:
    return default_scenario(seed, size, length=length, **options)


async def deliver(engine: Engine, events: Sequence[InboundEvent]) -> None:
    """What the webhook path does: persist once, then apply what was new."""
    for event in await engine.accept(events):
        await engine.ingest(event)
        await engine.processed(event)


async def run_until(
    rig: Rig,
    engine: Engine,
    meetings: Sequence[SimulatedMeeting],
    until: datetime,
) -> None:
    """Move the virtual clock to ``until``, stopping at every engine wake and meeting event."""
    clock = rig.clock
    for _ in range(100_000):
        candidates = [t for t in (clock.next_wake(), *(m.next_due() for m in meetings)) if t]
        step = min([until, *candidates])
        step = max(step, clock.now())
        await clock.advance_to(step)
        for meeting in meetings:
            await deliver(engine, meeting.advance_to(clock.now()))
        await clock.settle()
        if clock.now() >= until:
            pending = [t for t in (m.next_due() for m in meetings) if t and t <= until]
            if not pending and (clock.next_wake() is None or clock.next_wake() > until):  # type: ignore[operator]
                return
    raise AssertionError("the rig did not reach its target time (a busy loop?)")


async def firings(db: Database, session_id: str) -> list[FiringRecord]:
    async with reading(db.engine) as connection:
        return await store_firings.firings_for(connection, session_id)


async def control_rows(db: Database, session_id: str) -> list[store_controls.ControlRecord]:
    async with reading(db.engine) as connection:
        return await store_controls.controls_for(connection, session_id)


async def final_plan(db: Database, show: Show, session_id: str, now: datetime) -> LivePlan:
    """The timeline re-derived from what the database holds (as a restart would)."""
    rows = await control_rows(db, session_id)
    controls = [to_control(r.kind, r.payload, r.at) for r in rows if r.kind != "attach"]
    return live_plan(show, controls, now)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


#: A small show whose timeline is easy to reason about in the control tests (times from T0):
#: open-1 0m, open-2 5m, talk-1 poll 15m (closes 17m), talk-2 25m, break 30–40m,
#: commitments 40–60m.
SMALL_SHOW = """\
title: Controls
duration: 60m
rules: {interaction_gap: 30m, breaks: ["50/10"]}
segments:
  - id: open
    kind: connection
    duration: 10m
    cues:
      - at: 0m
        say: "Hello"
      - at: 5m
        say: "Second"
  - id: talk
    kind: talk
    duration: 20m
    cues:
      - at: 5m
        poll: {question: "Q?", options: [A, B], open_for: 2m}
      - at: 15m
        say: "Talk prompt"
  - id: rest
    kind: break
    duration: 10m
  - id: close
    kind: commitments
    duration: 20m
"""


async def fired_at(db: Database, session_id: str) -> dict[str, timedelta]:
    """Each claimed key and when it was planned, as an offset from T0."""
    return {f.key: f.planned_at - T0 for f in await firings(db, session_id)}


#: Keeps the break rules exactly as written (a 50-minute stretch, a 10-minute break, a
#: 50-minute stretch to the end), so any extension needs a guard break.
TWO_HOUR_SHOW = """\
title: Two hours
duration: 110m
rules: {interaction_gap: 10m, breaks: ["50/10", "90/20"]}
prompt_bank: ["Filler one?", "Filler two?"]
segments:
  - id: hello
    kind: connection
    duration: 10m
    cues:
      - {at: 0m, say: "Hello"}
  - id: input
    kind: talk
    duration: 25m
    cues:
      - {at: 8m, poll: {question: "Q1?", options: [A, B], open_for: 2m}}
      - {at: 20m, say: "Input prompt"}
  - id: rooms
    kind: breakout
    duration: 15m
    breakout: {size: 2, warn_before_close: 2m}
  - id: pause
    kind: break
    duration: 10m
  - id: share
    kind: discussion
    duration: 30m
    cues:
      - {at: 5m, poll: {question: "Q2?", options: [A, B], open_for: 3m}}
      - {at: 20m, producer: "Pick two volunteers"}
  - id: commit
    kind: commitments
    duration: 20m
"""
