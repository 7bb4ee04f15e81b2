"""A whole show in a Teams meeting, end to end, through signed bot activities and encrypted
Graph notifications into the service.

The show is uploaded and attached through the API to the meeting chat; the Teams runtime wires
the chat (app installed, chat-message subscription); a signed ``meetingStart`` starts it; people
join through ``meetingParticipantJoin``; the engine runs the show on a virtual clock and the real
``TeamsAdapter`` posts through the fake Bot Connector. Asserted: what reached the connector (the
prompt, the poll card, its live results and closed results, break notices, the commitments
prompt), that breakouts became producer cues naming the rooms' people, that a poll answer sent as
an invoke is recorded and answered with an invoke response, that commitments typed in the chat
are recorded once whether the bot, Graph or both delivered them, that the subscription is
removed at the end and attendance is reconciled afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest

from facilbot.store import activity as store_activity
from facilbot.store import firings as store_firings
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from integrations.teams.adapter import BACK_PREFIX, BREAK_PREFIX, COMMIT_PREFIX, COMMITMENTS_CLOSED

from .conftest import CATALOG_APP, JOIN_URL, MEETING, ONLINE_MEETING_ID, Harness, person

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHOW = """\
title: Teams end-to-end
duration: 30m
producers:
  names: [Pat Producer]
segments:
  - id: arrive
    kind: connection
    duration: 5m
    cues:
      - at: 0m
        say: "In one word, how are you arriving today?"
      - at: 1m
        poll:
          question: "Which stakeholder resists most?"
          options: [CFO, Plant manager, Procurement]
  - id: rooms
    kind: breakout
    duration: 8m
    breakout: {size: 2, assign: {random: true}, warn_before_close: 2m}
  - id: rest
    kind: break
    duration: 10m
  - id: commit
    kind: commitments
    duration: 7m
    prompt: "Type one specific action you will take in the next 48 hours."
"""

HOST = person(1, "Pat Producer")
PEOPLE = [
    person(2, "Ana Alves"),
    person(3, "Ben Berg"),
    person(4, "Cleo Chan"),
    person(5, "Dev Das"),
]


def card_text(card: dict[str, Any]) -> str:
    return " ".join(str(item.get("text", "")) for item in card.get("body", []))


async def test_a_whole_show_in_a_teams_meeting(h: Harness) -> None:
    version = await h.upload(SHOW, "teams-e2e")
    session_id = await h.attach(version)

    # Attach: the chat is wired through Graph (app installed, messages subscribed).
    await h.runtime.sync()
    assert h.fake.installed[MEETING] == [CATALOG_APP]
    sub_id = h.subscription_id()
    subscription = h.fake.subscriptions[sub_id]
    assert subscription["resource"] == f"/chats/{MEETING}/messages"
    assert subscription["notificationUrl"] == "https://facilbot.example/webhooks/teams/graph"
    assert subscription["lifecycleNotificationUrl"].endswith("/webhooks/teams/graph/lifecycle")
    assert subscription["includeResourceData"] is True
    # Graph validates the notification URL when it creates the subscription.
    echo = await h.client.post(
        "/webhooks/teams/graph", params={"validationToken": "Validation: 1+1"}
    )
    assert echo.status_code == 200
    assert echo.text == "Validation: 1+1"
    assert echo.headers["content-type"].startswith("text/plain")

    # The meeting starts: the show starts and its first prompt reaches the chat.
    await h.deliver(h.meeting_event("meetingStart", HOST, Id="m1", JoinUrl=JOIN_URL, Title="S3"))
    assert h.texts_sent() == ["In one word, how are you arriving today?"]
    await h.deliver(h.members("meetingParticipantJoin", [HOST], role="Organizer"))
    await h.deliver(h.members("meetingParticipantJoin", PEOPLE[:2]))
    await h.deliver(h.members("meetingParticipantJoin", PEOPLE[2:]))

    # 1 min: the poll card; an answer as an invoke (Action.Execute), one as Action.Submit.
    await h.advance(60)
    [poll] = h.cards_sent()
    assert card_text(poll).startswith("Which stakeholder resists most?")
    data = poll["actions"][0]["data"]
    invoke = h.activity(
        "invoke",
        PEOPLE[0],
        name="adaptiveCard/action",
        value={
            "action": {"type": "Action.Execute", "verb": "vote", "data": {**data, "choice": "1"}}
        },
    )
    answer = await h.deliver(invoke)
    assert answer == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Thanks, your answer is in.",
    }
    assert (await h.post_activity(invoke)).status_code == 200  # redelivered: absorbed
    await h.settle()
    await h.deliver(h.activity("message", PEOPLE[1], value={**data, "choice": "0"}))
    live = [c for c in h.cards_sent() if "Live results" in card_text(c)]
    assert live and "1 answer" in card_text(live[0])
    await h.advance(10)  # the throttled live results catch up on the clock
    updates = [card_text(c) for c in h.cards_sent("PUT")]
    assert any("Live results · 2 answers" in text for text in updates), updates

    # 3 min: the poll closes: the card is replaced by its final results.
    await h.advance(110)
    assert any("Poll closed · 2 answers" in card_text(c) for c in h.cards_sent("PUT"))

    # 5 min: breakout rooms cannot be automated on Teams: producer cues with the assignments.
    await h.advance(120)
    # 13 min: the break, announced in the chat; 23 min: back, and the commitments prompt.
    await h.advance(8 * 60)
    await h.advance(10 * 60)
    texts = h.texts_sent()
    assert any(t.startswith(BREAK_PREFIX) for t in texts), texts
    assert any(t.startswith(BACK_PREFIX) for t in texts), texts
    assert f"{COMMIT_PREFIX}Type one specific action you will take in the next 48 hours." in texts

    # Commitments: Ana's reaches the bot and Graph (stored once); Cleo's only Graph.
    ana = h.message(PEOPLE[0], "Call the CFO on Monday")
    await h.deliver(ana)
    graph_copy = h.chat_message(PEOPLE[0], "Call the CFO on Monday", ana["id"])
    assert (await h.post_graph(h.encrypted_notification(graph_copy))).status_code == 202
    cleo = h.chat_message(PEOPLE[2], "Draft the plant-manager brief", "1741080000999")
    assert (await h.post_graph(h.encrypted_notification(cleo))).status_code == 202
    await h.settle()

    # 30 min: commitments close and the show ends; then the meeting ends.
    await h.advance(7 * 60)
    assert COMMITMENTS_CLOSED in h.texts_sent()
    await h.deliver(h.meeting_event("meetingEnd", HOST, Id="m1", JoinUrl=JOIN_URL))

    async with reading(h.db.engine) as connection:
        record = await store_sessions.get_session(connection, session_id)
        firings = {f.key: f for f in await store_firings.firings_for(connection, session_id)}
        answers = await store_activity.poll_answers_for(connection, session_id)
        commitments = await store_activity.commitments_for(connection, session_id)
        chat = await store_activity.chat_for(connection, session_id)
    assert record is not None and record.status == "ended"

    # What was carried by whom.
    by_action: dict[str, list[Any]] = {}
    for firing in firings.values():
        by_action.setdefault(firing.action, []).append(firing)
    for action in ("say", "poll_open", "poll_close", "break_start", "break_end"):
        assert {f.channel for f in by_action[action]} == {"server_api"}, action
    [rooms] = by_action["breakout_open"]
    # nobody pressed "done": the cue closed as missed when its segment ended
    assert rooms.channel == "producer_cue" and rooms.outcome == "missed"
    cue = next(a for a in rooms.attempts if "producer_cue" in a)
    listed = cue["paste"]
    # Teams' own wording: the producer is told which menus to use.
    assert "in Teams (Rooms > Create rooms" in cue["producer_cue"]
    assert listed.count("Room") == 2
    for name in ("Ana Alves", "Ben Berg", "Cleo Chan", "Dev Das"):
        assert name in listed
    assert "Pat Producer" not in listed  # the organizer stays in the main room
    for action in ("breakout_warn", "breakout_close"):
        assert {f.channel for f in by_action[action]} == {"producer_cue"}, action

    assert {(a.participant_ref, tuple(a.answer)) for a in answers} == {
        (PEOPLE[0]["aadObjectId"], ("Plant manager",)),
        (PEOPLE[1]["aadObjectId"], ("CFO",)),
    }
    assert sorted((c.name, c.text) for c in commitments) == [
        ("Ana Alves", "Call the CFO on Monday"),
        ("Cleo Chan", "Draft the plant-manager brief"),
    ]
    assert [m.text for m in chat].count("Call the CFO on Monday") == 1

    # Nothing the bot sent carries a token or the app password in its body.
    for request in h.fake.connector:
        assert "tok-" not in str(request.body)

    # After the meeting: the subscription goes, then the attendance report is reconciled.
    await h.runtime.sync()
    assert h.fake.subscriptions == {}
    h.fake.attendance[ONLINE_MEETING_ID] = [
        {
            "id": "report-1",
            "totalParticipantCount": 3,
            "attendanceRecords": [
                attendance_record(HOST, 1800, "Organizer", h),
                attendance_record(PEOPLE[0], 1700, "Attendee", h),
                attendance_record(person(9, "Late Larry"), 600, "Attendee", h),
            ],
        }
    ]
    await h.advance(300)
    await h.runtime.sync()
    response = await h.client.get(f"/sessions/{session_id}/teams/attendance", headers=h.auth())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "done"
    sources = {p["name"]: (p["source"], p["seconds"]) for p in report["people"]}
    assert sources["Pat Producer"] == ("both", 1800)
    assert sources["Ana Alves"] == ("both", 1700)
    assert sources["Late Larry"] == ("report", 600)  # joined by phone: the bot never saw him
    assert sources["Ben Berg"] == ("bot", 0)  # seen by the bot, missing from the report


def attendance_record(who: dict[str, Any], seconds: int, role: str, h: Harness) -> dict[str, Any]:
    joined = h.clock.now().replace(minute=1).isoformat().replace("+00:00", "Z")
    return {
        "id": f"rec-{who['id']}",
        "emailAddress": None,
        "totalAttendanceInSeconds": seconds,
        "role": role,
        "identity": {"id": who["aadObjectId"], "displayName": who["name"], "tenantId": None},
        "attendanceIntervals": [
            {"joinDateTime": joined, "leaveDateTime": None, "durationInSeconds": seconds}
        ],
    }
