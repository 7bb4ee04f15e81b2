"""Bot Framework activities from a Teams meeting -> the platform contract's events.

* ``event`` activities named ``application/vnd.microsoft.meetingStart`` / ``meetingEnd`` /
  ``meetingParticipantJoin`` / ``meetingParticipantLeave``;
* ``message`` activities: chat text (``/fb`` commands after the bot's ``<at>…</at>`` mention is
  removed) and Adaptive Card ``Action.Submit`` poll answers (``value`` holds the card's inputs
  merged with the action's ``data``);
* ``invoke`` activities named ``adaptiveCard/action`` (``Action.Execute``): poll answers too.

``meeting_ref`` is the conversation id: the meeting chat's thread id, the same id Graph calls
``chatInfo.threadId``. ``event_id`` is the activity id (a Teams message's activity id is the
chat message id, so the bot and a Graph subscription de-duplicate each other); activities
without an id (participant events may have none) get a digest of their content, which is the
same on redelivery.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from integrations.contract import (
    ChatCommand,
    ChatMessage,
    InboundEvent,
    MeetingEnded,
    MeetingStarted,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    Platform,
    PollAnswer,
    Role,
    parse_command,
)

MEETING_START = "application/vnd.microsoft.meetingStart"
MEETING_END = "application/vnd.microsoft.meetingEnd"
PARTICIPANT_JOIN = "application/vnd.microsoft.meetingParticipantJoin"
PARTICIPANT_LEAVE = "application/vnd.microsoft.meetingParticipantLeave"
CARD_ACTION = "adaptiveCard/action"

#: the marker our poll card puts in its submit data (see cards.py)
POLL_MARKER = "facilbot_poll"

_ROLES = {"organizer": Role.host, "coorganizer": Role.cohost, "co-organizer": Role.cohost}
_AT = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


class MalformedActivity(ValueError):
    """The activity does not have the shape Teams sends; ``reason`` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise(activity: Mapping[str, Any]) -> list[InboundEvent]:
    """The contract events in ``activity``; [] for activities facilbot does not use."""
    if not isinstance(activity, Mapping):
        raise MalformedActivity("activity is not a JSON object")
    kind = _str(activity, "type")
    if kind == "event":
        name = activity.get("name")
        if name in (MEETING_START, MEETING_END, PARTICIPANT_JOIN, PARTICIPANT_LEAVE):
            return _meeting_event(activity, name)
        return []
    if kind == "message":
        return _message(activity)
    if kind == "invoke" and activity.get("name") == CARD_ACTION:
        value = _obj(activity, "value")
        action = value.get("action")
        if not isinstance(action, Mapping):
            raise MalformedActivity("value.action is missing")
        data = action.get("data")
        if isinstance(data, Mapping) and POLL_MARKER in data:
            return [_poll_answer(activity, data)]
        return []
    return []  # conversationUpdate, typing, reactions, installs: not events of the contract


def person_id(account: Mapping[str, Any]) -> str:
    """One stable id per person across activities: the Entra object id when Teams gives one
    (it is also what Graph's attendance reports use), otherwise the Teams user id (guests)."""
    aad = account.get("aadObjectId")
    if isinstance(aad, str) and aad:
        return aad
    ident = account.get("id")
    if isinstance(ident, str) and ident:
        return ident
    raise MalformedActivity("account has no id")


def meeting_ref(activity: Mapping[str, Any]) -> str:
    return _str(_obj(activity, "conversation"), "id", "conversation.id")


def teams_meeting_id(activity: Mapping[str, Any]) -> str | None:
    """``channelData.meeting.id``: what the meeting APIs (targeted notifications) want."""
    channel_data = activity.get("channelData")
    if isinstance(channel_data, Mapping):
        meeting = channel_data.get("meeting")
        if isinstance(meeting, Mapping) and isinstance(meeting.get("id"), str):
            return str(meeting["id"])
    return None


# ---------------------------------------------------------------------------------------------


def _meeting_event(activity: Mapping[str, Any], name: str) -> list[InboundEvent]:
    ref = meeting_ref(activity)
    value = _obj(activity, "value")
    stamp = _timestamp(activity)
    base = _event_id(activity)
    if name == MEETING_START:
        when = _when(value, "StartTime", stamp)
        return [
            MeetingStarted(
                platform=Platform.teams, meeting_ref=ref, event_id=base, occurred_at=when
            )
        ]
    if name == MEETING_END:
        when = _when(value, "EndTime", stamp)
        return [
            MeetingEnded(platform=Platform.teams, meeting_ref=ref, event_id=base, occurred_at=when)
        ]
    members = value.get("members")
    if not isinstance(members, list) or not members:
        raise MalformedActivity("value.members is not a non-empty list")
    events: list[InboundEvent] = []
    for index, member in enumerate(members):
        if not isinstance(member, Mapping) or not isinstance(member.get("user"), Mapping):
            raise MalformedActivity(f"value.members[{index}].user is missing")
        user = member["user"]
        pid = person_id(user)
        event_id = base if len(members) == 1 else f"{base}:{pid}"
        if name == PARTICIPANT_JOIN:
            info = member.get("meeting")
            role_name = info.get("role") if isinstance(info, Mapping) else None
            role = _ROLES.get(str(role_name).lower(), Role.attendee)
            name_value = user.get("name")
            participant = Participant(
                id=pid,
                name=name_value if isinstance(name_value, str) else "",
                email=_email(user),
                role=role,
            )
            events.append(
                ParticipantJoined(
                    platform=Platform.teams,
                    meeting_ref=ref,
                    event_id=event_id,
                    occurred_at=stamp,
                    participant=participant,
                )
            )
        else:
            events.append(
                ParticipantLeft(
                    platform=Platform.teams,
                    meeting_ref=ref,
                    event_id=event_id,
                    occurred_at=stamp,
                    participant_id=pid,
                )
            )
    return events


def _message(activity: Mapping[str, Any]) -> list[InboundEvent]:
    ref = meeting_ref(activity)
    sender = _obj(activity, "from")
    recipient = activity.get("recipient")
    if isinstance(recipient, Mapping) and sender.get("id") == recipient.get("id"):
        return []  # our own message echoed back
    value = activity.get("value")
    if isinstance(value, Mapping) and POLL_MARKER in value:
        return [_poll_answer(activity, value)]
    raw = activity.get("text")
    if raw is None:
        return []  # attachments only
    if not isinstance(raw, str):
        raise MalformedActivity("text is not a string")
    text = clean_text(raw, activity)
    if not text:
        return []
    stamp = _timestamp(activity)
    event_id = _event_id(activity)
    name = sender.get("name")
    common: dict[str, Any] = {
        "platform": Platform.teams,
        "meeting_ref": ref,
        "event_id": event_id,
        "occurred_at": stamp,
        "sender_id": person_id(sender),
        "sender_name": name if isinstance(name, str) else "",
        "sender_email": _email(sender),
    }
    command = parse_command(text)
    if command is not None:
        verb, args = command
        return [ChatCommand(verb=verb, args=args, **common)]
    return [ChatMessage(text=text, **common)]


def clean_text(raw: str, activity: Mapping[str, Any] | None = None) -> str:
    """The message as a person typed it: the bot's mention and any markup removed."""
    text = raw
    if activity is not None:
        recipient = activity.get("recipient")
        bot_id = recipient.get("id") if isinstance(recipient, Mapping) else None
        for entity in activity.get("entities") or ():
            if (
                isinstance(entity, Mapping)
                and entity.get("type") == "mention"
                and isinstance(entity.get("mentioned"), Mapping)
                and entity["mentioned"].get("id") == bot_id
                and isinstance(entity.get("text"), str)
            ):
                text = text.replace(entity["text"], " ")
    text = _AT.sub(" ", text) if text.lstrip().lower().startswith("<at") else text
    text = _TAG.sub(" ", text)
    text = (
        text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#39;", "'")
        .replace("&amp;", "&")
    )
    return " ".join(text.split())


def _poll_answer(activity: Mapping[str, Any], data: Mapping[str, Any]) -> PollAnswer:
    ref = meeting_ref(activity)
    sender = _obj(activity, "from")
    poll_key = data.get(POLL_MARKER)
    if not isinstance(poll_key, str) or not poll_key:
        raise MalformedActivity(f"{POLL_MARKER} is not a poll key")
    options = data.get("options")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise MalformedActivity("poll answer has no options list")
    raw = data.get("choice")
    if raw is None or raw == "":
        raise MalformedActivity("poll answer has no choice")
    if not isinstance(raw, str):
        raise MalformedActivity("poll choice is not a string")
    choices: list[str] = []
    for part in raw.split(","):  # a multi-select ChoiceSet answers "0,2"
        part = part.strip()
        if not part.isdigit() or int(part) >= len(options):
            raise MalformedActivity(f"poll choice {part!r} is not one of the options")
        option = options[int(part)]
        if option not in choices:
            choices.append(option)
    return PollAnswer(
        platform=Platform.teams,
        meeting_ref=ref,
        event_id=_event_id(activity),
        occurred_at=_timestamp(activity),
        poll_key=poll_key,
        participant_id=person_id(sender),
        choices=tuple(choices),
    )


def _event_id(activity: Mapping[str, Any]) -> str:
    ident = activity.get("id")
    if isinstance(ident, str) and ident:
        return ident
    canonical = json.dumps(activity, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _timestamp(activity: Mapping[str, Any]) -> datetime:
    return _parse_time(activity.get("timestamp"), "timestamp")


def _when(value: Mapping[str, Any], key: str, default: datetime) -> datetime:
    if value.get(key) is None:
        return default
    return _parse_time(value.get(key), f"value.{key}")


def _parse_time(raw: object, where: str) -> datetime:
    if not isinstance(raw, str):
        raise MalformedActivity(f"{where} is missing")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise MalformedActivity(f"{where} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise MalformedActivity(f"{where} has no time zone")
    return parsed.astimezone(UTC)


def _email(account: Mapping[str, Any]) -> str | None:
    for key in ("email", "userPrincipalName"):
        value = account.get(key)
        if isinstance(value, str) and "@" in value:
            return value
    return None


def _obj(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if not isinstance(value, Mapping):
        raise MalformedActivity(f"{key} is missing or not an object")
    return value


def _str(parent: Mapping[str, Any], key: str, where: str | None = None) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedActivity(f"{where or key} is missing or not a string")
    return value
