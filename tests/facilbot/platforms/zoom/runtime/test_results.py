"""After the meeting: Zoom's poll report and participant report are fetched after a delay on the
engine's clock, retried on 429/5xx, stored and reconciled with what the webhooks showed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from facilbot.store import activity
from facilbot.store import sessions as store_sessions
from facilbot.store.db import Database, reading
from tests.facilbot.platforms.zoom.conftest import body_of, joined, meeting_event
from tests.integrations.zoom.fake_zoom import FakeZoom

from .conftest import MEETING, Harness, open_harness

SHOW = """\
title: Results from Zoom
duration: 30m
segments:
  - id: kickoff
    kind: talk
    duration: 20m
    cues:
      - at: 2m
        poll:
          question: "Which stakeholder resists most?"
          options: [CFO, Plant manager, Procurement]
      - id: priorities
        at: 5m
        poll:
          question: "Which two topics matter most today?"
          options: [Budget, Timeline, Staffing]
          multiple: true
  - id: close
    kind: commitments
    duration: 10m
"""

#: an occurrence UUID with "//": Zoom wants it double-encoded in the path
OCCURRENCE = "aDYlohsH//tCd4ii1uC2+hA=="
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing"]


def left(n: int, *, event_ts: int) -> bytes:
    """Zoom's participant_left: the joined example turned into a leave of person ``n``."""
    event = json.loads(joined(n, PEOPLE[n - 1], meeting=MEETING, event_ts=event_ts))
    event["event"] = "meeting.participant_left"
    event["payload"]["object"]["participant"]["leave_time"] = "2025-03-04T09:20:00Z"
    return body_of(event)


async def session_record(h: Harness, session_id: str) -> store_sessions.SessionRecord:
    async with reading(h.db.engine) as connection:
        record = await store_sessions.get_session(connection, session_id)
    assert record is not None
    return record


async def run_meeting(h: Harness) -> tuple[str, dict[str, str]]:
    """Attach (polls prepared), start, three people join, Alan leaves, the meeting ends."""
    h.zoom.add_meeting(int(MEETING), type=2, status="waiting")
    session_id = await h.attach(await h.upload(SHOW, "results"))
    await h.sync()
    polls = (await h.report(session_id))["prepare"]["polls"]
    assert set(polls) == {"kickoff-1", "priorities"}

    await h.receive(
        meeting_event("started", uuid=OCCURRENCE, event_ts=h.event_ts(), meeting=MEETING)
    )
    for n, name in enumerate(PEOPLE, start=1):
        await h.receive(joined(n, name, meeting=MEETING, event_ts=h.event_ts() + n))
    await h.advance(20 * 60)
    await h.receive(left(3, event_ts=h.event_ts()))
    await h.advance(10 * 60)
    await h.receive(meeting_event("ended", uuid=OCCURRENCE, event_ts=h.event_ts(), meeting=MEETING))
    record = await session_record(h, session_id)
    assert record.status == "ended"
    return session_id, polls


def zoom_reports(fake: FakeZoom, polls: dict[str, str]) -> None:
    """What Zoom reports for the occurrence: per join rows, and the poll answers."""
    past = fake.add_past_meeting(OCCURRENCE, int(MEETING))
    past.participants = [
        # Ada joined twice (one row per join), Grace once, a phone caller Zoom alone saw
        {"id": "uuid-001", "name": "Ada Lovelace", "user_id": "16778241",
         "user_email": "ada@example.com", "join_time": "2025-03-04T09:00:01Z",
         "leave_time": "2025-03-04T09:10:00Z", "duration": 599, "status": "in_meeting"},
        {"id": "uuid-001", "name": "Ada Lovelace", "user_id": "16778241",
         "user_email": "ada@example.com", "join_time": "2025-03-04T09:11:00Z",
         "leave_time": "2025-03-04T09:30:00Z", "duration": 1140, "status": "in_meeting"},
        {"id": "uuid-002", "name": "Grace Hopper", "user_email": "grace@example.com",
         "join_time": "2025-03-04T09:00:02Z", "leave_time": "2025-03-04T09:30:00Z",
         "duration": 1798, "status": "in_meeting"},
        {"id": "", "name": "Dial-in Dave", "user_email": "",
         "join_time": "2025-03-04T09:05:00Z", "leave_time": "2025-03-04T09:20:00Z",
         "status": "in_meeting"},
    ]  # fmt: skip
    past.poll_answers = [
        {"name": "Ada Lovelace", "email": "ada@example.com", "question_details": [
            {"question": "Which stakeholder resists most?", "answer": "CFO",
             "polling_id": polls["kickoff-1"], "date_time": "2025-03-04T09:03:10Z"}]},
        {"name": "Grace Hopper", "email": "grace@example.com", "question_details": [
            {"question": "Which stakeholder resists most?", "answer": "Procurement",
             "polling_id": polls["kickoff-1"], "date_time": "2025-03-04T09:03:30Z"},
            {"question": "Which two topics matter most today?", "answer": "Budget;Staffing",
             "polling_id": polls["priorities"], "date_time": "2025-03-04T09:06:00Z"}]},
        {"name": "Anonymous Attendee", "email": "", "question_details": [
            {"question": "Which two topics matter most today?", "answer": "Timeline",
             "polling_id": polls["priorities"], "date_time": "2025-03-04T09:06:10Z"}]},
        # a poll the host made in the client: kept in the report, not in the show's answers
        {"name": "Eve Example", "email": "eve@example.org", "question_details": [
            {"question": "Lunch at noon?", "answer": "Yes", "polling_id": "host-made-poll",
             "date_time": "2025-03-04T09:25:00Z"}]},
    ]  # fmt: skip


async def test_results_fetched_after_the_delay_retried_stored_and_reconciled(
    h: Harness,
) -> None:
    session_id, polls = await run_meeting(h)
    record = await session_record(h, session_id)
    assert record.ended_at is not None
    zoom_reports(h.zoom, polls)
    # Grace also answered the first poll on the companion page, after her Zoom answer
    async with h.db.engine.begin() as connection:
        await activity.record_poll_answer(
            connection,
            session_id,
            "kickoff-1",
            "uuid-002",
            ["Plant manager"],
            record.ended_at - timedelta(minutes=20),
        )

    await h.sync()  # the periodic sync notices the end
    waiting = await h.report(session_id)
    assert waiting["results"]["status"] == "pending"
    due = record.ended_at + timedelta(seconds=300)
    assert waiting["results"]["next_try_at"] == due.isoformat().replace("+00:00", "Z")

    h.zoom.fail_next(5)  # the first attempt: every one of the client's own tries gets 503
    await h.clock.advance_to(due - timedelta(seconds=1))
    await h.settle()
    assert h.past_calls() == []  # Zoom's reports take a while: nothing asked before the delay
    await h.advance(1)
    first = await h.report(session_id)
    assert first["results"]["status"] == "pending"
    assert first["results"]["attempts"] == 1
    assert first["results"]["error"] == (
        "Zoom API HTTP 503 (code 503): Service temporarily unavailable."
    )
    assert h.zoom_events(session_id, "zoom_report")[-1]["status"] == "retrying"

    # the second attempt, 5 minutes later: Zoom throttles twice (Retry-After honoured), then
    # answers
    h.zoom.throttle(2, retry_after="7")
    waits_before = len(h.client_waits)
    await h.advance(299)
    assert first == await h.report(session_id)
    await h.advance(1)
    assert h.client_waits[waits_before:] == [7.0, 7.0]

    report = await h.report(session_id)
    assert report["results"]["status"] == "done"
    assert report["results"]["attempts"] == 2
    assert report["results"]["error"] is None
    assert report["meeting_uuid"] == OCCURRENCE
    # the occurrence's UUID went double-encoded into the past-meeting paths
    encoded = quote(quote(OCCURRENCE, safe=""), safe="")
    raw = {e.raw_path for e in h.zoom.api_log() if e.path.startswith("/v2/past_meetings")}
    assert raw == {
        f"/v2/past_meetings/{encoded}/participants",
        f"/v2/past_meetings/{encoded}/polls",
    }

    # poll answers: by the Zoom poll facilbot created; people by email; the source kept apart
    answers = [
        (a["poll_key"], a["participant_ref"], a["answer"], a["stored"])
        for a in report["poll_answers"]
    ]
    assert answers == [
        ("kickoff-1", "uuid-001", ["CFO"], True),
        ("kickoff-1", "uuid-002", ["Procurement"], False),  # her later answer is kept
        ("priorities", "uuid-002", ["Budget", "Staffing"], True),
        ("priorities", "zoom-anonymous-1", ["Timeline"], True),
        (None, "zoom:eve@example.org", ["Yes"], False),
    ]
    async with reading(h.db.engine) as connection:
        stored = await activity.poll_answers_for(connection, session_id)
    assert sorted((a.poll_key, a.participant_ref, list(a.answer)) for a in stored) == [
        ("kickoff-1", "uuid-001", ["CFO"]),
        ("kickoff-1", "uuid-002", ["Plant manager"]),
        ("priorities", "uuid-002", ["Budget", "Staffing"]),
        ("priorities", "zoom-anonymous-1", ["Timeline"]),
    ]

    # the roster: both (with both sides' seconds), Zoom's report only, webhooks only
    people = {p["name"]: p for p in report["attendance"]}
    assert set(people) == {"Ada Lovelace", "Grace Hopper", "Alan Turing", "Dial-in Dave"}
    ada = people["Ada Lovelace"]
    assert (ada["source"], ada["participant_ref"], ada["report_seconds"]) == (
        "both",
        "uuid-001",
        599 + 1140,
    )
    assert ada["seen_seconds"] == 30 * 60
    assert people["Grace Hopper"]["source"] == "both"
    assert people["Grace Hopper"]["report_seconds"] == 1798
    alan = people["Alan Turing"]
    assert (alan["source"], alan["report_seconds"], alan["seen_seconds"]) == (
        "webhooks",
        None,
        20 * 60,
    )
    dave = people["Dial-in Dave"]
    assert (dave["source"], dave["seen_seconds"], dave["report_seconds"]) == ("report", None, 900)

    done = h.zoom_events(session_id, "zoom_report")[-1]
    assert done == {
        "type": "zoom_report",
        "status": "done",
        "answers": 5,
        "answers_stored": 3,
        "attendance": {"both": 2, "webhooks": 1, "report": 1},
    }
    # done once: later syncs and time change nothing
    calls = len(h.zoom.api_log())
    await h.sync()
    await h.advance(3600)
    assert len(h.zoom.api_log()) == calls


async def test_zoom_down_after_the_meeting_gives_up_after_bounded_attempts(h: Harness) -> None:
    session_id, _polls = await run_meeting(h)
    h.zoom.fail_next(100_000)
    await h.sync()
    for wait in (300, 300, 600, 1200, 2400):  # the first after the delay, then backoff
        await h.advance(wait)
    report = await h.report(session_id)
    assert report["results"]["status"] == "failed"
    assert report["results"]["attempts"] == 5
    assert report["results"]["next_try_at"] is None
    assert "HTTP 503" in report["results"]["error"]
    statuses = [e["status"] for e in h.zoom_events(session_id, "zoom_report")]
    assert statuses == ["retrying"] * 4 + ["failed"]
    calls = len(h.zoom.api_log())
    await h.advance(24 * 3600)
    await h.sync()
    assert len(h.zoom.api_log()) == calls
    # the service is fine: it answers, the session's own data is there
    health = await h.client.get("/healthz")
    assert health.status_code == 200
    people = await h.client.get(f"/sessions/{session_id}/participants", headers=h.auth())
    assert people.status_code == 200


async def test_without_webhooks_the_occurrence_comes_from_zoom_past_instances(
    h: Harness,
) -> None:
    """Started and ended by the producer (no meeting.started/ended seen): the UUID is looked up
    in the meeting's past instances, the occurrence at the session's time, not last week's."""
    h.zoom.add_meeting(int(MEETING), type=8, status="waiting")  # recurring
    session_id = await h.attach(await h.upload(SHOW, "recurring"))
    await h.sync()
    await h.control(session_id, "start")
    await h.advance(30 * 60)
    record = await session_record(h, session_id)
    assert record.status == "ended"
    last_week = h.zoom.add_past_meeting("last-week==", int(MEETING))
    last_week.start_time = "2025-02-25T09:00:00Z"
    last_week.participants = [{"id": "x", "name": "Someone Else", "duration": 60}]
    today = h.zoom.add_past_meeting("today==", int(MEETING))
    today.start_time = "2025-03-04T08:58:00Z"
    today.participants = [
        {"id": "p1", "name": "Ada Lovelace", "user_email": "ada@example.com", "duration": 1700}
    ]

    await h.sync()
    await h.advance(300)
    report = await h.report(session_id)
    assert report["results"]["status"] == "done", report["results"]
    assert report["meeting_uuid"] == "today=="
    assert [p["name"] for p in report["attendance"]] == ["Ada Lovelace"]
    assert report["attendance"][0]["source"] == "report"
    paths = [e.path for e in h.zoom.api_log() if e.path.startswith("/v2/past_meetings")]
    assert paths[0] == f"/v2/past_meetings/{MEETING}/instances"
    assert "/v2/past_meetings/today==/participants" in paths
    assert not any("last-week" in path for path in paths)


def gate_past_meetings(released: asyncio.Event, entered: asyncio.Event) -> Callable[..., Any]:
    """Wrap the fake so past-meeting calls hang until ``released`` (Zoom slow to answer)."""

    def wrap(fake: FakeZoom) -> Callable[..., Awaitable[None]]:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/v2/past_meetings"):
                entered.set()
                await released.wait()
            await fake(scope, receive, send)

        return app

    return wrap


async def test_a_slow_zoom_does_not_hold_up_the_service(store: Database, tmp_path: Path) -> None:
    released, entered = asyncio.Event(), asyncio.Event()
    async with open_harness(
        store, tmp_path, app_for_zoom=gate_past_meetings(released, entered)
    ) as h:
        session_id, polls = await run_meeting(h)
        zoom_reports(h.zoom, polls)
        await h.clock.advance(300)  # past the delay before anything is scheduled
        await h.runtime.sync()  # starts the fetch in the background; Zoom does not answer
        await asyncio.wait_for(entered.wait(), 10)
        # meanwhile the service answers requests and runs sessions
        report = await h.report(session_id)
        assert report["results"]["status"] == "pending"
        assert report["results"]["attempts"] == 1
        state = await h.client.get(f"/sessions/{session_id}", headers=h.auth())
        assert state.status_code == 200
        released.set()
        await h.settle()
        report = await h.report(session_id)
        assert report["results"]["status"] == "done"
        assert len(report["poll_answers"]) == 5


async def test_no_report_from_zoom_keeps_the_webhooks_roster_on_the_last_attempt(
    h: Harness,
) -> None:
    """Zoom answers 404 for an occurrence it has no reports for (e.g. only one person came):
    retried as "not ready yet", and on the last attempt the roster the webhooks saw is kept."""
    session_id, _polls = await run_meeting(h)
    await h.sync()
    for wait in (300, 300, 600, 1200):
        await h.advance(wait)
    pending = await h.report(session_id)
    assert pending["results"]["status"] == "pending"
    assert "HTTP 404 (code 3001)" in pending["results"]["error"]
    await h.advance(2400)
    report = await h.report(session_id)
    assert report["results"]["status"] == "done"
    assert report["results"]["attempts"] == 5
    assert report["results"]["error"].startswith("no participant report from Zoom (")
    assert "no poll report from Zoom" in report["results"]["error"]
    assert sorted((p["name"], p["source"]) for p in report["attendance"]) == [
        ("Ada Lovelace", "webhooks"),
        ("Alan Turing", "webhooks"),
        ("Grace Hopper", "webhooks"),
    ]
    assert report["poll_answers"] == []
