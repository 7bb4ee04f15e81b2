"""The burst's loop hygiene: the pacer lets runners on a slice per loop turn, and start-up's
heap is frozen out of the collector's full passes."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime, timedelta

from facilbot.engine import heap
from facilbot.engine.batch import ClaimBatcher, Pacer, Writer
from facilbot.store.firings import FiringClaim


async def test_the_pacer_lets_a_slice_through_per_loop_turn_in_order() -> None:
    pacer = Pacer(per_turn=3)
    turn = 0
    through: list[tuple[int, int]] = []  # (runner, loop turn it went on in)

    async def runner(n: int) -> None:
        await pacer.turn()
        through.append((n, turn))

    async def count_turns() -> None:
        nonlocal turn
        while len(through) < 10:
            await asyncio.sleep(0)
            turn += 1

    counter = asyncio.create_task(count_turns())
    await asyncio.gather(*(runner(n) for n in range(10)))
    await counter
    assert [n for n, _ in through] == list(range(10))  # first come, first through
    per_turn: dict[int, int] = {}
    for _, at in through:
        per_turn[at] = per_turn.get(at, 0) + 1
    assert max(per_turn.values()) == 3 and len(per_turn) == 4  # 3 + 3 + 3 + 1


async def test_an_idle_pacer_costs_no_turn() -> None:
    pacer = Pacer(per_turn=3)
    for _ in range(3):
        await pacer.turn()  # no waiting: returns at once
    await asyncio.sleep(0)  # the next loop turn resets the count
    await pacer.turn()


async def test_a_cancelled_runner_leaves_the_queue() -> None:
    pacer = Pacer(per_turn=1)
    await pacer.turn()
    waiting = asyncio.create_task(pacer.turn())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    for _ in range(3):
        await asyncio.sleep(0)
    await asyncio.wait_for(pacer.turn(), timeout=5)  # the next one is not stuck behind it


def test_freeze_moves_start_ups_heap_out_of_the_collectors_reach() -> None:
    try:
        heap.freeze()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


class _Recorder(Writer[int, int]):
    """The coalescer under test, its transaction replaced by a list of the batches it wrote."""

    def __init__(self, linger: float) -> None:
        async def work(connection: object, requests: list[int]) -> list[int]:
            return requests

        super().__init__("test", _no_transaction, work)  # type: ignore[arg-type]
        self.linger = linger
        self.batches: list[list[int]] = []

    async def write(self, requests: list[int]) -> list[int]:
        self.batches.append(requests)
        return requests


def _no_transaction() -> object:
    raise AssertionError("the recorder writes no transaction")


async def test_a_stream_of_outcomes_is_written_a_window_at_a_time() -> None:
    # Loop time is real here (the coalescer waits on the loop), so what is asserted is counts
    # with wide margins, not times: a request every 2 ms or more for 800 requests (1.6 s or
    # more; 10 ms under load still makes five a window), a 50 ms window. The first second is
    # written as it comes: the rate is not known yet.
    recorder = _Recorder(linger=0.05)
    futures = []
    for n in range(800):
        futures.append(recorder.enqueue(n))
        await asyncio.sleep(0.002)
    assert await asyncio.gather(*futures) == list(range(800))
    written = [n for batch in recorder.batches for n in batch]
    assert written == list(range(800))  # each once, in order
    late = [b for b in recorder.batches if b[0] >= 600]  # past the first second
    assert sum(map(len, late)) / len(late) >= 2  # ~25 a window unloaded


async def test_requests_that_do_not_stream_are_written_at_once() -> None:
    recorder = _Recorder(linger=0.05)
    for n in range(12):  # 10 a second: under two per window
        assert await asyncio.wait_for(recorder.submit(n), timeout=5) == n
        await asyncio.sleep(0.1)
    assert recorder.batches == [[n] for n in range(12)]


class _Claims(ClaimBatcher):
    """Reservations as the engine batches them, the claim transaction replaced by a list."""

    def __init__(self, now: datetime) -> None:
        super().__init__(_no_transaction, "i0", lambda: now, linger=0.05)  # type: ignore[arg-type]
        self.batches: list[list[str]] = []

    async def write(self, requests: list[FiringClaim]) -> list[int | None]:
        self.batches.append([r.key for r in requests])
        return list(range(len(requests)))


async def test_a_stream_of_reservations_waits_only_while_their_moments_are_far() -> None:
    now = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    claims = _Claims(now)

    async def stream(ahead: timedelta, tag: str) -> list[list[str]]:
        claims.batches = []
        futures = []
        for n in range(800):  # as in the outcomes' stream above
            claim = FiringClaim("s", f"{tag}{n}", "say", now + ahead)
            futures.append(claims.enqueue(claim))
            await asyncio.sleep(0.002)
        await asyncio.gather(*futures)
        return [b for b in claims.batches if int(b[0][1:]) >= 600]

    far = await stream(timedelta(seconds=1), "f")  # a reservation a second ahead
    assert sum(map(len, far)) / len(far) >= 2
    near = await stream(timedelta(milliseconds=100), "n")  # two lingers away: at once
    assert all(len(b) == 1 for b in near)
