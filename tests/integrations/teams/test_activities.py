"""normalise() on recorded Teams activities and on the ways they can be malformed."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.contract import (
    ChatCommand,
    ChatMessage,
    MeetingEnded,
    MeetingStarted,
    OpenPoll,
    ParticipantJoined,
    ParticipantLeft,
    Platform,
    PollAnswer,
    Role,
)
from integrations.teams.activities import MalformedActivity, normalise, teams_meeting_id
from integrations.teams.cards import poll_card

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def test_meeting_start_from_docs() -> None:
    [event] = normalise(load("meeting_start.json"))
    assert isinstance(event, MeetingStarted)
    assert event.platform is Platform.teams
    assert event.meeting_ref == "thread id"
    assert event.event_id == "123"
    # the actual start time from value.StartTime, 7 fractional digits, in UTC
    assert event.occurred_at == datetime(2021, 4, 29, 16, 17, 17, 438896, tzinfo=UTC)


def test_meeting_end_from_docs() -> None:
    [event] = normalise(load("meeting_end.json"))
    assert isinstance(event, MeetingEnded)
    assert event.occurred_at == datetime(2021, 4, 29, 16, 17, 17, 438896, tzinfo=UTC)


def test_participant_join_and_leave() -> None:
    join = load("participant_join.json")
    [joined] = normalise(join)
    assert isinstance(joined, ParticipantJoined)
    assert joined.participant.id == "e236c4bf-88b1-4f3a-b1d7-8891dfc332b5"
    assert joined.participant.name == "Bob Young"
    assert joined.participant.role is Role.host  # Organizer
    assert joined.meeting_ref.startswith("19:meeting_")
    assert teams_meeting_id(join) is not None
    [left] = normalise(load("participant_leave.json"))
    assert isinstance(left, ParticipantLeft)
    assert left.participant_id == joined.participant.id
    # no activity id on participant events: a digest of the content, stable on redelivery
    assert joined.event_id.startswith("sha256:")
    assert normalise(copy.deepcopy(join))[0].event_id == joined.event_id
    assert left.event_id != joined.event_id


def test_several_members_get_distinct_ids() -> None:
    activity = load("participant_join.json")
    second = copy.deepcopy(activity["value"]["members"][0])
    second["user"].update(id="29:guest", aadObjectId=None, name="Guest")
    second["meeting"]["role"] = "Attendee"
    activity["value"]["members"].append(second)
    events = normalise(activity)
    assert [e.participant.id for e in events if isinstance(e, ParticipantJoined)] == [
        "e236c4bf-88b1-4f3a-b1d7-8891dfc332b5",
        "29:guest",
    ]
    assert len({e.event_id for e in events}) == 2


def test_command_after_bot_mention() -> None:
    [event] = normalise(load("message_mention.json"))
    assert isinstance(event, ChatCommand)
    assert (event.verb, event.args) == ("extend", ("5",))
    assert event.event_id == "1485983408511"
    assert event.sender_name == "Megan Bowen"
    assert event.sender_id == "7faf1c73-2a1b-4d09-9d2f-4e1a3a9a3f5e"


def test_plain_chat_message_keeps_text() -> None:
    activity = load("message_mention.json")
    activity["text"] = "Hello &amp; welcome <b>all</b>"
    activity["entities"] = []
    [event] = normalise(activity)
    assert isinstance(event, ChatMessage)
    assert event.text == "Hello & welcome all"


def test_poll_submission_from_our_card() -> None:
    card = poll_card(OpenPoll("poll-1", "Ready?", ("Yes", "No, later", "Maybe"), multiple=True))
    data = card["actions"][0]["data"]
    activity = load("message_mention.json")
    del activity["text"]
    activity["value"] = {**data, "choice": "0,2"}
    [answer] = normalise(activity)
    assert isinstance(answer, PollAnswer)
    assert answer.poll_key == "poll-1"
    assert answer.choices == ("Yes", "Maybe")
    assert answer.participant_id == "7faf1c73-2a1b-4d09-9d2f-4e1a3a9a3f5e"


def test_action_execute_invoke_is_a_poll_answer_too() -> None:
    activity = load("message_mention.json")
    activity.update(type="invoke", name="adaptiveCard/action")
    activity["value"] = {
        "action": {
            "type": "Action.Execute",
            "verb": "answer",
            "data": {"facilbot_poll": "p", "options": ["A", "B"], "choice": "1"},
        },
        "trigger": "manual",
    }
    [answer] = normalise(activity)
    assert isinstance(answer, PollAnswer) and answer.choices == ("B",)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda a: a.pop("type"), "type"),
        (lambda a: a.pop("conversation"), "conversation"),
        (lambda a: a["conversation"].pop("id"), "conversation.id"),
        (lambda a: a.update(timestamp="yesterday"), "timestamp"),
        (lambda a: a.update(timestamp="2021-04-29T16:10:41"), "time zone"),
        (lambda a: a.update(text=5), "text"),
        (lambda a: a["from"].clear(), "account has no id"),
        (
            lambda a: a.update(value={"facilbot_poll": "p", "options": ["A"], "choice": "3"}),
            "choice",
        ),
        (lambda a: a.update(value={"facilbot_poll": "p", "options": ["A"]}), "no choice"),
        (
            lambda a: a.update(value={"facilbot_poll": "", "options": ["A"], "choice": "0"}),
            "poll key",
        ),
    ],
)
def test_malformed_messages(mutate: Any, reason: str) -> None:
    activity = load("message_mention.json")
    mutate(activity)
    with pytest.raises(MalformedActivity) as caught:
        normalise(activity)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda a: a.pop("value"), "value"),
        (lambda a: a["value"].update(members=[]), "members"),
        (lambda a: a["value"].update(members=[{"meeting": {}}]), "members[0].user"),
    ],
)
def test_malformed_participant_events(mutate: Any, reason: str) -> None:
    activity = load("participant_join.json")
    mutate(activity)
    with pytest.raises(MalformedActivity) as caught:
        normalise(activity)
    assert reason in caught.value.reason


def test_not_an_object() -> None:
    with pytest.raises(MalformedActivity, match="JSON object"):
        normalise([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kind", ["conversationUpdate", "typing", "messageReaction", "installationUpdate"]
)
def test_other_activities_are_ignored(kind: str) -> None:
    activity = load("message_mention.json")
    activity["type"] = kind
    assert normalise(activity) == []


def test_other_events_ignored_and_own_echo_ignored() -> None:
    event = load("meeting_start.json")
    event["name"] = "application/vnd.microsoft.readReceipt"
    assert normalise(event) == []
    echo = load("message_mention.json")
    echo["from"] = dict(echo["recipient"])
    assert normalise(echo) == []
