"""Producer commands typed into the meeting chat (``/fb extend 5``) and who may give them.

A command becomes the same control the API appends, so the chat and the console steer one
control log. Only the host, co-hosts and the producers named for the session or in the show
may steer; anyone else's command is ignored (and counted), never an error in the meeting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations.contract import ChatCommand, Role

HELP = (
    "/fb start · /fb pause · /fb resume · /fb extend N (minutes) · /fb next · "
    "/fb jump SEGMENT · /fb break N (minutes) · /fb fire CUE · /fb end · "
    "/fb replan [accept N | dismiss | always]"
)


class CommandRefused(ValueError):
    """The command is malformed; the message says how to write it."""


@dataclass(frozen=True, slots=True)
class ControlRequest:
    # start | pause | resume | extend | skip | jump | fire | break | end | replan |
    # replan_policy, or replan_show (not a control: show the standing proposal)
    kind: str
    payload: Mapping[str, Any]


def _minutes(args: tuple[str, ...], verb: str, default: float | None = None) -> int:
    if not args:
        if default is None:
            raise CommandRefused(f"/fb {verb} needs a number of minutes, e.g. /fb {verb} 5")
        return int(default * 60)
    text = args[0].lower().removesuffix("m").removesuffix("min")
    try:
        minutes = float(text)
    except ValueError:
        raise CommandRefused(f"/fb {verb} needs a number of minutes, not {args[0]!r}") from None
    if not -120 <= minutes <= 240 or minutes == 0:
        raise CommandRefused(f"/fb {verb} takes between -120 and 240 minutes (not 0)")
    return round(minutes * 60)


def parse_control(verb: str, args: tuple[str, ...]) -> ControlRequest:
    """Map a chat command to a control, or raise CommandRefused."""
    if verb in ("start", "pause", "resume", "end"):
        return ControlRequest(verb, {})
    if verb in ("next", "skip"):
        return ControlRequest("skip", {})
    if verb == "extend":
        return ControlRequest("extend", {"seconds": _minutes(args, verb)})
    if verb == "break":
        seconds = _minutes(args, verb, default=10)
        if seconds <= 0:
            raise CommandRefused("/fb break needs a positive number of minutes")
        return ControlRequest("break", {"seconds": seconds})
    if verb in ("jump", "goto"):
        if not args:
            raise CommandRefused("/fb jump needs a segment id, e.g. /fb jump debrief")
        return ControlRequest("jump", {"segment_id": args[0]})
    if verb == "fire":
        if not args:
            raise CommandRefused("/fb fire needs a cue id, e.g. /fb fire kickoff-poll")
        return ControlRequest("fire", {"key": args[0]})
    if verb == "replan":
        return _replan(args)
    raise CommandRefused(f"unknown command /fb {verb}; try: {HELP}")


def _replan(args: tuple[str, ...]) -> ControlRequest:
    if not args:
        return ControlRequest("replan_show", {})
    what = args[0].lower()
    if what == "accept":
        number = args[1] if len(args) > 1 else "1"
        if not number.isdigit() or not 1 <= int(number) <= 9:
            raise CommandRefused(
                "/fb replan accept takes an option number, e.g. /fb replan accept 1"
            )
        return ControlRequest("replan", {"option": int(number) - 1})
    if what == "dismiss":
        return ControlRequest("replan_policy", {"auto": False})
    if what == "always":
        return ControlRequest("replan_policy", {"auto": True})
    raise CommandRefused("/fb replan, /fb replan accept N, /fb replan dismiss or /fb replan always")


def may_steer(
    command: ChatCommand,
    producer_names: Iterable[str],
    producer_emails: Iterable[str],
) -> bool:
    """Host, co-host, or a named producer (by email when the platform gives one, else by name)."""
    if command.sender_role in (Role.host, Role.cohost):
        return True
    emails = {e.strip().lower() for e in producer_emails}
    if command.sender_email and command.sender_email.strip().lower() in emails:
        return True
    names = {n.strip().casefold() for n in producer_names}
    return command.sender_name.strip().casefold() in names
