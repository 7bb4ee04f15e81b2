"""Two sessions of one show in a Teams meeting, through to the cohort report: Teams cannot open
breakout rooms, so the rooms go to the producer's hands in every session, and the cohort
report says so ("rooms were opened by hand in every Teams session"), with its evidence: which
sessions, how many cues, how many the producer marked done, and who pressed "done".

Driven like ``test_show.py`` (signed bot activities, the real TeamsAdapter, the fake Bot
Connector) on the virtual clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from facilbot.auth import Role

from .conftest import JOIN_URL, Harness, person

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHOW = """\
title: Teams rooms
duration: 11m
segments:
  - id: arrive
    kind: connection
    duration: 2m
    cues:
      - at: 0m
        say: "One word: how are you arriving?"
  - id: rooms
    kind: breakout
    duration: 6m
    breakout: {size: 2, assign: {random: true}, warn_before_close: 2m}
  - id: commit
    kind: commitments
    duration: 3m
    prompt: "Type one action for the next 48 hours."
"""

HOST = person(1, "Pat Producer")
PEOPLE = [person(2, "Ana Alves"), person(3, "Ben Berg"), person(4, "Cleo Chan")]


async def run_session(h: Harness, version: int, meeting_id: str, *, press_done: bool) -> str:
    """One whole session; the producer presses "done" on the rooms' opening cue or not."""
    session_id = await h.attach(version)
    await h.deliver(h.meeting_event("meetingStart", HOST, Id=meeting_id, JoinUrl=JOIN_URL))
    await h.deliver(h.members("meetingParticipantJoin", [HOST], role="Organizer"))
    await h.deliver(h.members("meetingParticipantJoin", PEOPLE))
    await h.advance(2 * 60 + 5)  # the rooms' segment has begun: its cue waits for the producer
    state = (await h.client.get(f"/sessions/{session_id}", headers=h.auth())).json()
    [rooms] = [c for c in state["producer_cues"] if c["key"] == "rooms@open"]
    if press_done:
        done = await h.client.post(
            f"/sessions/{session_id}/firings/{rooms['firing_id']}/ack", headers=h.auth()
        )
        assert done.status_code == 200, done.text
    await h.advance(9 * 60)
    await h.deliver(h.meeting_event("meetingEnd", HOST, Id=meeting_id, JoinUrl=JOIN_URL))
    return session_id


async def test_rooms_opened_by_hand_in_every_teams_session(h: Harness) -> None:
    version = await h.upload(SHOW, "teams-rooms")
    first = await run_session(h, version, "m1", press_done=True)
    second = await run_session(h, version, "m2", press_done=False)

    # The session report names who pressed "done" on the first session's rooms, and when.
    report = (await h.client.get(f"/sessions/{first}/report", headers=h.auth(Role.viewer))).json()
    [opened] = [c for c in report["cues"] if c["action"] == "breakout_open"]
    assert opened["channel"] == "producer_cue" and opened["by_hand"] is True
    assert opened["done_by_hand"] is True
    assert opened["done_by"] == "producer tester"
    assert opened["done_at"] is not None
    assert opened["done_at"] >= opened["fired_at"]

    response = await h.client.get("/shows/teams-rooms/report", headers=h.auth(Role.viewer))
    assert response.status_code == 200, response.text
    cohort = response.json()
    assert [s["id"] for s in cohort["sessions"]] == [first, second]
    assert [s["platform"] for s in cohort["sessions"]] == ["teams", "teams"]
    # open, warn and close of the rooms: three producer cues per session, one marked done
    assert [s["by_hand"] for s in cohort["sessions"]] == [3, 3]
    assert [s["by_hand_done"] for s in cohort["sessions"]] == [1, 0]
    assert [s["by_hand_done_by"] for s in cohort["sessions"]] == [{"producer tester": 1}, {}]

    [rooms] = [s for s in cohort["suggestions"] if "by hand in every" in s["text"]]
    assert rooms["text"].startswith("rooms were opened")
    assert "by hand in every Teams session" in rooms["text"]
    evidence: dict[str, Any] = rooms["evidence"]
    assert evidence["platform"] == "teams"
    assert evidence["sessions"] == 2
    assert evidence["actions"]["breakout_open"] == {
        first: {"cues": 1, "done": 1},
        second: {"cues": 1, "done": 0},
    }
    assert set(evidence["actions"]) == {"breakout_open", "breakout_warn", "breakout_close"}

    # Nothing about the cohort without a token.
    assert (await h.client.get("/shows/teams-rooms/report")).status_code == 401
