"""ZoomAdapter: capabilities, the REST channel for breaks, and pre-meeting preparation."""

from __future__ import annotations

import pytest

from integrations.contract import (
    ACTION_KINDS,
    Channel,
    ChannelError,
    EndBreak,
    OpenBreakouts,
    OpenPoll,
    Outcome,
    Room,
    Say,
    StartBreak,
)
from integrations.zoom.adapter import ZoomAdapter
from integrations.zoom.rest import ZoomClient
from tests.support.clock import FakeClock

from .conftest import MEETING_ID
from .fake_zoom import FakeZoom

POLL = OpenPoll("kickoff/poll-1", "Which stakeholder resists most?", ("CFO", "Plant", "Buying"))
BREAKOUTS = OpenBreakouts(
    (Room("Room 1", ("p1", "p2")), Room("Room 2", ("p3", "p4"))), duration=2400
)
EMAILS = {"p1": "a@example.com", "p2": "b@example.com", "p3": "c@example.com"}


@pytest.fixture
def adapter(client: ZoomClient) -> ZoomAdapter:
    return ZoomAdapter(client, call_deadline=5.0)


def test_capabilities_follow_what_zoom_allows(adapter: ZoomAdapter) -> None:
    caps = adapter.capabilities()
    assert set(caps) == set(ACTION_KINDS)
    server = {kind for kind, channels in caps.items() if Channel.server_api in channels}
    assert server == {"start_break", "end_break"}  # REST can do nothing else live
    assert caps["say"][0] is Channel.bridge and caps["open_breakouts"][0] is Channel.bridge
    assert caps["open_commitments"][0] is Channel.companion


async def test_breaks_pause_and_resume_cloud_recording(adapter: ZoomAdapter, fake: FakeZoom):
    meeting = fake.add_meeting(MEETING_ID, status="started", recording="recording")
    delivery = await adapter.carry(str(MEETING_ID), StartBreak(600, "Break"))
    assert (delivery.channel, delivery.outcome) == (Channel.server_api, Outcome.delivered)
    assert meeting.recording == "paused"
    await adapter.carry(str(MEETING_ID), EndBreak("Back"))
    assert meeting.recording == "recording"


async def test_in_client_actions_are_refused_without_calling_zoom(
    adapter: ZoomAdapter, fake: FakeZoom
):
    with pytest.raises(ChannelError, match="cannot carry say"):
        await adapter.carry(str(MEETING_ID), Say("hello"))
    assert fake.log == []


async def test_zoom_errors_become_channel_errors_with_retry_after(
    adapter: ZoomAdapter, fake: FakeZoom, clock: FakeClock
):
    fake.add_meeting(MEETING_ID, status="started", recording="recording")
    fake.throttle(retry_after="30")
    with pytest.raises(ChannelError) as caught:
        await adapter.carry(str(MEETING_ID), StartBreak(600, "Break"))
    assert caught.value.retry_after == 30.0
    assert "HTTP 429" in caught.value.reason
    assert clock.slept == []  # 30 s does not fit the 5 s grace: fall back now


async def test_recording_not_running_is_a_channel_error(adapter: ZoomAdapter, fake: FakeZoom):
    fake.add_meeting(MEETING_ID, status="started", recording="off")
    with pytest.raises(ChannelError, match="HTTP 400"):
        await adapter.carry(str(MEETING_ID), StartBreak(600, "Break"))


async def test_prepare_a_scheduled_meeting(adapter: ZoomAdapter, fake: FakeZoom):
    meeting = fake.add_meeting(MEETING_ID, type=2, status="waiting")
    report = await adapter.prepare(str(MEETING_ID), [POLL, BREAKOUTS], emails=EMAILS)
    assert list(report.polls) == ["kickoff/poll-1"]
    assert report.polls["kickoff/poll-1"] == meeting.polls[0]["id"]
    assert meeting.polls[0]["questions"][0]["answers"] == ["CFO", "Plant", "Buying"]
    assert report.breakouts_assigned
    assert meeting.settings["breakout_room"]["rooms"] == [
        {"name": "Room 1", "participants": ["a@example.com", "b@example.com"]},
        {"name": "Room 2", "participants": ["c@example.com"]},
    ]
    assert report.problems == (
        "breakouts: 1 participant(s) of 'Room 2' have no email; Zoom pre-assigns by email only",
    )


async def test_prepare_an_instant_meeting_reports_what_zoom_refuses(
    adapter: ZoomAdapter, fake: FakeZoom
):
    meeting = fake.add_meeting(MEETING_ID, type=1, status="started")
    report = await adapter.prepare(str(MEETING_ID), [POLL, BREAKOUTS], emails=EMAILS)
    assert report.polls == {} and not report.breakouts_assigned
    assert any("no polls for instant meetings" in p for p in report.problems)
    assert any("does not apply to an instant meeting" in p for p in report.problems)
    assert meeting.polls == [] and "breakout_room" not in meeting.settings
    assert [e.method for e in fake.api_log()] == ["GET"]


async def test_prepare_a_live_meeting_skips_pre_assignment(adapter: ZoomAdapter, fake: FakeZoom):
    fake.add_meeting(MEETING_ID, type=8, status="started")
    report = await adapter.prepare(str(MEETING_ID), [BREAKOUTS, BREAKOUTS], emails=EMAILS)
    assert not report.breakouts_assigned
    assert report.problems == (
        "breakouts: Zoom pre-assignment does not apply to a meeting already under way",
    )


async def test_prepare_reports_a_missing_meeting(adapter: ZoomAdapter, fake: FakeZoom):
    report = await adapter.prepare("123", [POLL])
    assert report.problems == (
        "cannot read meeting 123: Zoom API HTTP 404 (code 3001): Meeting does not exist: 123.",
    )


async def test_prepare_keeps_going_after_one_poll_fails(adapter: ZoomAdapter, fake: FakeZoom):
    fake.add_meeting(MEETING_ID)
    bad = OpenPoll("p-bad", "One option only?", ("Yes",))
    report = await adapter.prepare(
        str(MEETING_ID), [bad, POLL, BREAKOUTS, BREAKOUTS], emails=EMAILS
    )
    assert list(report.polls) == ["kickoff/poll-1"]
    assert report.problems[0].startswith("poll p-bad: Zoom API HTTP 400 (code 300)")
    assert any("one pre-assignment per meeting" in p for p in report.problems)
