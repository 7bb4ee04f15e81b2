"""The protocol every platform plugs into the contract suite (``test_contract.py``).

To run the suite against a platform, drop a module ``harness_<platform>.py`` beside this file
exposing ``make_harness()``; ``conftest.py`` finds it. A module may also expose
``VARIANTS = ("a", "b")``: the suite then runs once per variant with ``make_harness(variant)``.

A harness is an async context manager. On entering it:

* the platform's fake server (or the simulator) is up, and the meeting ``meeting_ref`` exists and
  is **live** on the platform side: the server-API channel accepts actions for it;
* ``adapter`` is the real adapter under test, pointed at that fake server.

Each test gets a fresh harness; nothing is shared between tests.

The standard scenario (``play_standard_scenario``) is produced **the platform's own way** (signed
webhooks through the real verification code for Zoom, Graph notifications and Bot Framework
activities for Teams, the simulated meeting for the simulator), and returns the normalised events
in the order they were produced:

1. the meeting starts;
2. ``HOST_NAME`` (role host, email ``HOST_EMAIL``) joins, then ``GUEST_NAME`` joins **without** an
   email;
3. the guest writes ``CHAT_TEXT`` in the chat (-> one ``ChatMessage``);
4. the host writes ``COMMAND_TEXT`` (-> one ``ChatCommand`` verb ``extend`` args ``("5",)``, and
   no ``ChatMessage`` for it);
5. if ``POLL_ANSWERS`` in ``supports``: the guest answers a poll with ``POLL_CHOICE``;
6. if ``ROOM_MOVES`` in ``supports``: the guest moves to breakout room ``ROOM_NAME``;
7. the guest leaves;
8. the meeting ends.

``replay_last()`` makes the platform redeliver the last inbound message exactly as it did the
first time (a Zoom retry, a Graph re-notification, a re-sent activity) and returns what the
adapter made of it: the same events with the same ``event_id``.

``reached_platform()`` reads the fake server's log (or the simulated meeting) and lists the kind
of each action (``"say"``, ``"open_poll"``, ...) that reached the platform's server side, once
per action carried, in order.

``secrets`` lists every secret the harness gave the adapter or the fake server (webhook secret,
client secret, access tokens issued): none may appear in a ``Delivery`` or a channel error.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from integrations.contract import InboundEvent, MeetingAdapter, Platform

#: optional features a harness may list in ``supports``
POLL_ANSWERS = "poll_answers"  # poll answers arrive as inbound events
ROOM_MOVES = "room_moves"  # moves into breakout rooms arrive as inbound events
OPTIONAL_FEATURES = frozenset({POLL_ANSWERS, ROOM_MOVES})

#: the standard scenario's fixed content
HOST_NAME = "Ana Host"
HOST_EMAIL = "ana.host@example.com"
GUEST_NAME = "Ben Guest"
CHAT_TEXT = "Hello from the back row"
COMMAND_TEXT = "/fb extend 5"
POLL_CHOICE = "Yes"
ROOM_NAME = "Room 1"


class PlatformHarness(Protocol):
    """One platform, its fake server and its adapter, for one test."""

    @property
    def platform(self) -> Platform: ...

    @property
    def adapter(self) -> MeetingAdapter: ...

    @property
    def meeting_ref(self) -> str: ...

    @property
    def supports(self) -> frozenset[str]: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def play_standard_scenario(self) -> list[InboundEvent]: ...

    async def replay_last(self) -> list[InboundEvent]: ...

    async def reached_platform(self) -> list[str]: ...
