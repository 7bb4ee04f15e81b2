"""On attach, the show's polls are pre-created on the Zoom meeting and given rooms pre-assigned;
what Zoom refuses is a problem the producer sees, never an error."""

from __future__ import annotations

from facilbot.auth import Role
from facilbot.platforms.zoom import store as zoom_store
from facilbot.platforms.zoom.runtime import INTERRUPTED
from tests.integrations.zoom.fake_zoom import NOT_SCHEDULED

from .conftest import MEETING, Harness

SHOW = """\
title: Prepared in Zoom
duration: 60m
segments:
  - id: kickoff
    kind: talk
    duration: 20m
    cues:
      - at: 2m
        say: "In one word: how are you arriving?"
      - at: 6m
        poll:
          question: "Which stakeholder resists most?"
          options: [CFO, Plant manager, Procurement]
      - id: priorities
        at: 12m
        poll:
          question: "Which two topics matter most today?"
          options: [Budget, Timeline, Staffing]
          multiple: true
          anonymous: true
  - id: rooms
    kind: breakout
    duration: 20m
    breakout:
      assign:
        rooms:
          - [ada@example.com, grace@example.com]
          - [alan@example.com, Katherine Johnson]
  - id: pairs
    kind: breakout
    duration: 10m
    breakout: {size: 2, assign: {random: true}}
  - id: close
    kind: commitments
    duration: 10m
"""


async def test_prepare_creates_the_polls_and_preassigns_the_given_rooms(h: Harness) -> None:
    meeting = h.zoom.add_meeting(int(MEETING), type=2, status="waiting")
    session_id = await h.attach(await h.upload(SHOW, "prepared"))
    before = await h.report(session_id)
    assert before["prepare"]["status"] == "pending"

    await h.sync()

    # the polls, as Zoom received them: one question each, the show's options, single/multiple
    assert [(p["title"], p["anonymous"], p["questions"]) for p in meeting.polls] == [
        (
            "Which stakeholder resists most?",
            False,
            [
                {
                    "name": "Which stakeholder resists most?",
                    "type": "single",
                    "answers": ["CFO", "Plant manager", "Procurement"],
                }
            ],
        ),
        (
            "Which two topics matter most today?",
            True,
            [
                {
                    "name": "Which two topics matter most today?",
                    "type": "multiple",
                    "answers": ["Budget", "Timeline", "Staffing"],
                }
            ],
        ),
    ]
    # the given rooms, by email (Zoom pre-assigns by email only)
    assert meeting.settings["breakout_room"] == {
        "enable": True,
        "rooms": [
            {"name": "Room 1", "participants": ["ada@example.com", "grace@example.com"]},
            {"name": "Room 2", "participants": ["alan@example.com"]},
        ],
    }

    report = await h.report(session_id)
    prepare = report["prepare"]
    assert prepare["status"] == "done"
    # keyed by the cue ids the engine fires: the default <segment>-<n>, or the cue's own id
    assert prepare["polls"] == {
        "kickoff-2": meeting.polls[0]["id"],
        "priorities": meeting.polls[1]["id"],
    }
    assert prepare["breakouts_assigned"] is True
    assert prepare["problems"] == [
        "breakouts: 1 participant(s) of 'Room 2' have no email; Zoom pre-assigns by email only"
    ]
    [published] = h.zoom_events(session_id, "zoom_prepare")
    assert published["status"] == "done"
    assert published["problems"] == prepare["problems"]
    assert published["polls"] == prepare["polls"]

    # once only: a later sync (or a restart) does not create the polls again
    await h.sync()
    assert len(meeting.polls) == 2
    posts = [e for e in h.zoom.api_log() if e.method == "POST"]
    assert len(posts) == 2


async def test_an_instant_meeting_is_a_problem_for_the_producer_not_an_error(
    h: Harness,
) -> None:
    h.zoom.add_meeting(int(MEETING), type=1, status="started")
    session_id = await h.attach(await h.upload(SHOW, "instant"))
    await h.sync()

    report = await h.report(session_id)
    assert report["prepare"]["status"] == "done"
    assert report["prepare"]["polls"] == {}
    assert report["prepare"]["breakouts_assigned"] is False
    assert report["prepare"]["problems"] == [
        "poll kickoff-2: Zoom has no polls for instant meetings; the companion page will carry it",
        "poll priorities: Zoom has no polls for instant meetings; the companion page will carry it",
        "breakouts: Zoom pre-assignment does not apply to an instant meeting",
    ]
    # nothing was sent that Zoom would refuse; the session is attached and runs as usual
    assert [e.method for e in h.zoom.api_log()] == ["GET"]
    state = await h.client.get(f"/sessions/{session_id}", headers=h.auth())
    assert state.status_code == 200
    [published] = h.zoom_events(session_id, "zoom_prepare")
    assert published["problems"] == report["prepare"]["problems"]


async def test_a_poll_zoom_refuses_is_reported_and_the_rest_still_prepared(h: Harness) -> None:
    # Zoom reads the meeting as scheduled but refuses the first poll (say, polling is off)
    meeting = h.zoom.add_meeting(int(MEETING), type=2, status="waiting")
    h.zoom.refuse_next_polls(1)
    session_id = await h.attach(await h.upload(SHOW, "refused"))
    await h.sync()

    report = await h.report(session_id)
    assert report["prepare"]["polls"] == {"priorities": meeting.polls[0]["id"]}
    assert report["prepare"]["problems"][0] == (
        f"poll kickoff-2: Zoom API HTTP 400 (code 300): {NOT_SCHEDULED}"
    )
    assert report["prepare"]["breakouts_assigned"] is True


async def test_zoom_down_at_attach_is_retried_a_bounded_number_of_times(h: Harness) -> None:
    meeting = h.zoom.add_meeting(int(MEETING), type=2, status="waiting")
    h.zoom.fail_next(5)  # every one of the client's own attempts of the first GET /meetings
    session_id = await h.attach(await h.upload(SHOW, "down"))
    await h.sync()

    report = await h.report(session_id)
    assert report["prepare"]["status"] == "retrying"
    assert report["prepare"]["problems"][0].startswith(f"cannot read meeting {MEETING}: ")
    assert "HTTP 503" in report["prepare"]["problems"][0]
    assert meeting.polls == []

    # tried again a minute later on the engine's clock: Zoom is back
    await h.advance(59)
    assert meeting.polls == []
    await h.advance(1)
    report = await h.report(session_id)
    assert report["prepare"]["status"] == "done"
    assert report["prepare"]["attempts"] == 2
    assert set(report["prepare"]["polls"]) == {"kickoff-2", "priorities"}
    assert len(meeting.polls) == 2


async def test_zoom_down_for_good_stops_after_the_last_attempt(h: Harness) -> None:
    h.zoom.add_meeting(int(MEETING), type=2, status="waiting")
    h.zoom.fail_next(10_000)
    session_id = await h.attach(await h.upload(SHOW, "gone"))
    await h.sync()
    await h.advance(60)  # second attempt
    await h.advance(120)  # third and last
    calls = len(h.zoom.api_log())
    await h.advance(3600)
    await h.sync()
    assert len(h.zoom.api_log()) == calls  # no more tries
    report = await h.report(session_id)
    assert report["prepare"]["status"] == "done"
    assert report["prepare"]["attempts"] == 3
    assert "HTTP 503" in report["prepare"]["problems"][0]
    statuses = [e["status"] for e in h.zoom_events(session_id, "zoom_prepare")]
    assert statuses == ["retrying", "retrying", "done"]


async def test_the_report_needs_a_token_and_a_zoom_session(h: Harness) -> None:
    h.zoom.add_meeting(int(MEETING))
    session_id = await h.attach(await h.upload(SHOW, "auth"))
    path = f"/sessions/{session_id}/zoom/report"
    assert (await h.client.get(path)).status_code == 401
    await h.report(session_id, Role.viewer)  # the viewer role may read it
    missing = await h.client.get(
        "/sessions/00000000-0000-4000-8000-000000000000/zoom/report", headers=h.auth()
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    bad = await h.client.get("/sessions/not-a-uuid/zoom/report", headers=h.auth())
    assert bad.status_code == 422


async def test_a_prepare_cut_short_by_a_stop_is_reported_not_repeated(h: Harness) -> None:
    meeting = h.zoom.add_meeting(int(MEETING), type=2, status="waiting")
    session_id = await h.attach(await h.upload(SHOW, "cut-short"))
    # what a process stopped mid-prepare leaves behind: the step claimed, never finished
    async with h.db.engine.begin() as connection:
        assert await zoom_store.claim_prepare(connection, session_id, h.clock.now(), max_attempts=3)
    await h.sync()
    assert (await h.report(session_id))["prepare"]["status"] == "preparing"
    await h.advance(601)
    await h.sync()
    report = await h.report(session_id)
    assert report["prepare"]["status"] == "interrupted"
    assert report["prepare"]["problems"] == [INTERRUPTED]
    assert meeting.polls == []  # polls are never created a second time behind Zoom's back
    assert h.zoom_events(session_id, "zoom_prepare")[-1]["status"] == "interrupted"
