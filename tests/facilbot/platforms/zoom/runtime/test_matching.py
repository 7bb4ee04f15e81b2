"""The pure parts: what a show asks Zoom to prepare, which occurrence a session was, and how
Zoom's reports map onto the show and the roster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from facilbot.platforms.zoom.runtime import (
    map_answers,
    pick_instance,
    prepare_items,
    reconcile_attendance,
    show_polls,
    zoom_time,
)
from facilbot.store.participants import ParticipantRecord, PresenceRecord
from integrations.contract import OpenBreakouts, OpenPoll
from integrations.zoom.rest import PastParticipant, PollAnswerRecord
from runofshow.loader import load_show_text

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)

SHOW = """\
title: Matching
duration: 40m
segments:
  - id: talk
    kind: talk
    duration: 20m
    cues:
      - at: 1m
        poll: {question: "Ready?", options: ["Yes", "No"]}
      - id: rooms-now
        at: 5m
        breakout:
          assign: {rooms: [[" ada@example.com ", Grace Hopper], [alan@example.com]]}
      - at: 15m
        breakout: {size: 3, assign: {mix_by: department}}
  - id: group
    kind: breakout
    duration: 20m
    breakout: {size: 2}
"""


def show():  # type: ignore[no-untyped-def]
    return load_show_text(SHOW, file="matching.yaml").show


def test_prepare_items_take_polls_and_only_given_rooms() -> None:
    items, emails = prepare_items(show())
    assert [type(i).__name__ for i in items] == ["OpenPoll", "OpenBreakouts"]
    poll, rooms = items
    assert isinstance(poll, OpenPoll) and poll.poll_key == "talk-1"
    assert poll.options == ("Yes", "No")
    assert isinstance(rooms, OpenBreakouts)
    assert [(r.name, r.participant_ids) for r in rooms.rooms] == [
        ("Room 1", (" ada@example.com ", "Grace Hopper")),
        ("Room 2", ("alan@example.com",)),
    ]
    assert rooms.duration == 15 * 60  # the rest of the segment
    assert emails == {
        " ada@example.com ": "ada@example.com",
        "alan@example.com": "alan@example.com",
    }


def test_pick_instance_is_the_occurrence_at_the_sessions_time() -> None:
    end = T0 + timedelta(minutes=40)
    week = timedelta(days=7)
    seen = [
        ("last-week", T0 - week, T0 - week + timedelta(hours=1)),
        ("today", T0 - timedelta(minutes=3), T0 + timedelta(minutes=41)),
        ("tomorrow", T0 + timedelta(days=1), None),
    ]
    assert pick_instance(seen, T0, end) == "today"
    # known only from meeting.ended
    assert pick_instance([("ended-only", None, end)], T0, end) == "ended-only"
    # from past instances (start only): last week's is never taken
    assert pick_instance([("last-week", T0 - week, None)], T0, end) is None
    assert pick_instance([("early", T0 - timedelta(minutes=50), None)], T0, end) == "early"
    assert pick_instance([], T0, end) is None


def test_zoom_times_in_both_shapes() -> None:
    assert zoom_time("2025-03-04T09:03:10Z") == T0 + timedelta(minutes=3, seconds=10)
    assert zoom_time("2025-03-04 09:03:10") == T0 + timedelta(minutes=3, seconds=10)
    assert zoom_time("not a time") is None
    assert zoom_time(None) is None


def person(pid: int, ref: str, name: str, email: str | None) -> ParticipantRecord:
    return ParticipantRecord(pid, "s", ref, name, email, "attendee", {}, T0)


def test_answers_map_by_zoom_poll_id_then_by_question_text() -> None:
    polls = show_polls(show())
    roster = [person(1, "uuid-1", "Ada Lovelace", "ada@example.com")]
    records = [
        PollAnswerRecord("Ada Lovelace", "ADA@example.com", "Ready?", "Yes", "zp-1", None),
        # no polling id facilbot knows, same question text: still the show's poll
        PollAnswerRecord("Grace Hopper", None, "ready? ", "No", "other", "2025-03-04 09:02:00"),
        PollAnswerRecord("Anonymous Attendee", None, "Ready?", "Maybe", "zp-1", None),
    ]
    mapped = map_answers(records, polls, {"talk-1": "zp-1"}, roster)
    assert [(m.poll_key, m.participant_ref, m.choices) for m in mapped] == [
        ("talk-1", "uuid-1", ("Yes",)),
        ("talk-1", "zoom:Grace Hopper", ("No",)),
        ("talk-1", "zoom-anonymous-1", ("Maybe",)),  # not an option: kept as Zoom gave it
    ]
    assert mapped[1].at == T0 + timedelta(minutes=2)


def test_attendance_merges_rejoins_and_matches_by_id_email_or_unique_name() -> None:
    seen = [
        person(1, "uuid-1", "Ada Lovelace", None),
        person(2, "user-2", "Grace Hopper", "grace@example.com"),
        person(3, "uuid-3", "Sam", None),
        person(4, "uuid-4", "Sam", None),  # two people called Sam: never matched by name
    ]
    presence = [
        PresenceRecord(1, T0, T0 + timedelta(minutes=10), None),
        PresenceRecord(1, T0 + timedelta(minutes=12), None, "room-uuid"),
        PresenceRecord(2, T0, T0 + timedelta(minutes=30), None),
    ]
    report = [
        PastParticipant("uuid-1", "Ada L.", None, duration=600),
        PastParticipant("uuid-1", "Ada L.", None, duration=900),
        PastParticipant(
            None,
            "Grace",
            "GRACE@example.com",
            join_time="2025-03-04T09:00:00Z",
            leave_time="2025-03-04T09:29:00Z",
        ),
        PastParticipant(None, "Sam", None, duration=60),
    ]
    rows = reconcile_attendance(report, seen, presence, T0 + timedelta(minutes=40))
    by = {(r.name, r.source): r for r in rows}
    ada = by[("Ada Lovelace", "both")]
    assert (ada.report_seconds, ada.seen_seconds) == (1500, 10 * 60 + 28 * 60)
    grace = by[("Grace Hopper", "both")]
    assert (grace.report_seconds, grace.seen_seconds) == (29 * 60, 30 * 60)
    assert by[("Sam", "report")].report_seconds == 60
    assert sorted(r.participant_ref or "" for r in rows if r.source == "webhooks") == [
        "uuid-3",
        "uuid-4",
    ]
