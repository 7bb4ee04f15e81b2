"""A whole show run in a Zoom meeting, end to end, through signed webhooks into the service.

The show is uploaded and attached through the API; Zoom's signed ``meeting.started`` starts it,
people join and chat through signed webhooks, the engine runs it on a virtual clock, and the
real Zoom adapter calls the fake Zoom REST server. Asserted: what reached Zoom (recording paused
and resumed around the break), which channel carried every cue, that actions needing the
in-client bridge became producer cues when no bridge was connected, and that with a bridge
connected through the hub the same actions were carried and acknowledged by the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilbot.auth import Role
from facilbot.store import activity
from facilbot.store import firings as store_firings
from facilbot.store import sessions as store_sessions
from facilbot.store.db import Database, reading

from .conftest import MEETING, Harness, chat, joined, meeting_event, open_harness

SHOW = """\
title: Zoom end-to-end
duration: 40m
producers:
  names: [Jill Chill]
segments:
  - id: arrive
    kind: connection
    duration: 5m
    cues:
      - at: 0m
        say: "In one word, how are you arriving today?"
  - id: rooms
    kind: breakout
    duration: 10m
    breakout: {size: 2, assign: {random: true}, warn_before_close: 2m}
  - id: rest
    kind: break
    duration: 10m
  - id: debrief
    kind: discussion
    duration: 8m
    cues:
      - at: 1m
        say: "What surprised you in your room?"
  - id: commit
    kind: commitments
    duration: 7m
    prompt: "Type one specific action you will take in the next 48 hours."
"""

PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson"]


async def firings(h: Harness, session_id: str) -> list[store_firings.FiringRecord]:
    async with reading(h.db.engine) as connection:
        return await store_firings.firings_for(connection, session_id)


async def run_show(h: Harness) -> str:
    """Upload, attach via the API, start and run the show through signed webhooks."""
    version = await h.upload(SHOW, "zoom-e2e")
    session_id = await h.attach(version, producers=[{"name": "Jill Chill"}])
    h.zoom.add_meeting(int(MEETING), status="started", recording="recording")

    ts = h.event_ts()
    ack = await h.deliver(meeting_event("started", uuid="occ-1==", event_ts=ts))
    assert ack == {"status": "accepted", "event": "meeting.started", "new": 1, "duplicates": 0}
    for n, name in enumerate(PEOPLE, start=1):
        await h.deliver(joined(n, name, event_ts=ts + n))
    await h.settle()

    # the show runs on the clock; people chat during the commitments
    await h.clock.advance(33 * 60 + 30)
    for n, name in enumerate(PEOPLE[:3], start=1):
        await h.deliver(chat(f"{name}: call my manager", name, n, event_ts=h.event_ts() + n))
    await h.settle()
    await h.clock.advance(7 * 60)
    await h.deliver(meeting_event("ended", uuid="occ-1==", event_ts=h.event_ts()))
    await h.settle()
    await h.clock.advance(60)
    return session_id


@contextlib.asynccontextmanager
async def bridge(h: Harness, session_id: str) -> AsyncIterator[list[dict[str, Any]]]:
    """A bridge client over HTTP, as the console running in the host's Zoom client: it reads
    ``/sessions/{id}/bridge`` (SSE), "runs" each request (here: records it) and acknowledges it
    with ``POST /sessions/{id}/bridge/{request}/ack``."""
    received: list[dict[str, Any]] = []
    path = f"/sessions/{session_id}/bridge"

    async def client() -> None:
        async with h.client.stream("GET", path, headers=h.auth()) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line.removeprefix("data: "))
                if event["type"] != "request":
                    continue
                received.append(event)
                ack = await h.client.post(
                    f"{path}/{event['id']}/ack",
                    json={"ok": True, "detail": "done in the Zoom client"},
                    headers=h.auth(),
                )
                assert ack.status_code == 200, ack.text

    task = asyncio.create_task(client())
    for _ in range(500):
        if h.engine.hub.bridge_connected(session_id):
            break
        await asyncio.sleep(0.01)
    assert h.engine.hub.bridge_connected(session_id)
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_whole_show_in_a_zoom_meeting_without_a_bridge(h: Harness) -> None:
    session_id = await run_show(h)
    done = await firings(h, session_id)
    by_action = {f.action: f for f in done}

    # what reached Zoom's REST API: only the recording around the break
    calls = [
        (e.method, e.path, e.body, e.status)
        for e in h.zoom.api_log()
        if e.path.startswith("/v2/live_meetings")
    ]
    assert calls == [
        ("PATCH", f"/v2/live_meetings/{MEETING}/events", {"method": "recording.pause"}, 202),
        ("PATCH", f"/v2/live_meetings/{MEETING}/events", {"method": "recording.resume"}, 202),
    ]
    assert h.zoom.meetings[int(MEETING)].recording == "recording"
    start, end = by_action["break_start"], by_action["break_end"]
    assert (start.channel, start.outcome) == ("server_api", "delivered")
    assert (end.channel, end.outcome) == ("server_api", "delivered")
    assert start.sent_at is not None and end.sent_at is not None
    assert (end.sent_at - start.sent_at).total_seconds() == pytest.approx(600, abs=1)

    # opening and closing rooms need the bridge (Zoom's REST API cannot): with none connected
    # they became producer cues with the text ready for the producer; nobody pressed "done",
    # so each closed as missed when its moment passed
    cues = {}
    for action in ("breakout_open", "breakout_close"):
        firing = by_action[action]
        assert (firing.channel, firing.outcome) == ("producer_cue", "missed"), action
        assert firing.attempts[0] == {"channel": "producer_cue", "ok": True, "detail": ""}
        [cue] = [a for a in firing.attempts if "producer_cue" in a]
        cues[action] = cue
    assert cues["breakout_close"]["producer_cue"] == "Close all breakout rooms now."
    opened = str(cues["breakout_open"]["producer_cue"])
    assert opened.startswith("Open 2 breakout rooms now")
    assert all(name in opened for name in PEOPLE)
    close = by_action["breakout_close"]
    # prompts fall back to the companion page; nothing was dropped or failed
    says = [f for f in done if f.action == "say"]
    assert says and all(f.channel == "companion" for f in says)
    assert all(f.status in ("sent", "acknowledged") for f in done), [
        (f.key, f.status, f.error) for f in done
    ]

    # the show has ended: every cue closed, so the console lists none; a late "done" still
    # records that the producer did it
    state = (await h.client.get(f"/sessions/{session_id}", headers=h.auth(Role.viewer))).json()
    assert state["producer_cues"] == []
    ack = await h.client.post(
        f"/sessions/{session_id}/firings/{close.id}/ack", headers=h.auth(Role.producer)
    )
    assert ack.status_code == 200

    async with reading(h.db.engine) as connection:
        record = await store_sessions.get_session(connection, session_id)
        made = await activity.commitments_for(connection, session_id)
    assert record is not None and record.status == "ended"
    assert sorted(c.name for c in made) == sorted(PEOPLE[:3])


@pytest.fixture
async def served(store: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(store, tmp_path, serve=True) as h:
        yield h


async def test_with_a_bridge_connected_the_bridge_carries_in_client_actions(
    served: Harness,
) -> None:
    h = served
    version = await h.upload(SHOW, "zoom-e2e")
    session_id = await h.attach(version)
    h.zoom.add_meeting(int(MEETING), status="started", recording="recording")
    async with bridge(h, session_id) as received:
        ts = h.event_ts()
        await h.deliver(meeting_event("started", uuid="occ-2==", event_ts=ts))
        for n, name in enumerate(PEOPLE, start=1):
            await h.deliver(joined(n, name, event_ts=ts + n))
        await h.settle()
        await h.clock.advance(16 * 60)
    done = {f.action: f for f in await firings(h, session_id)}

    for action in ("say", "breakout_open", "breakout_warn", "breakout_close"):
        assert (done[action].channel, done[action].outcome) == ("bridge", "acknowledged"), action
    kinds = [r["action"]["kind"] for r in received]
    assert all(r["type"] == "request" for r in received)
    assert kinds == ["say", "open_breakouts", "warn_breakouts", "close_breakouts"]
    rooms = received[1]["action"]["rooms"]
    assert sorted(len(r["participant_ids"]) for r in rooms) == [2, 2]
    # the break still goes through Zoom's REST API, not the bridge
    assert (done["break_start"].channel, done["break_start"].outcome) == (
        "server_api",
        "delivered",
    )
    assert [e.body for e in h.zoom.api_log() if e.path.startswith("/v2/live_meetings")] == [
        {"method": "recording.pause"}
    ]
