"""The service-side channels and live updates: bridge, companion page, producer cues.

* **Updates**: every change to a session (a firing, a control, a join, a commitment) is
  published here; the producer console and the companion page receive them over SSE.
* **Bridge** (DESIGN §2, channel 2): the producer console loaded as a Zoom App in the host's
  client connects here; actions handed to it are run with the Zoom Apps SDK and acknowledged
  back. When no bridge is connected the channel is unavailable and routing falls back.
* **Companion** (channel 3): the participants' page shows what is live now (prompt, poll,
  rooms, break countdown, commitment form); carrying an action means updating that state.
* **Producer cues** (channel 4) are recorded as firings with a pending outcome: the console
  lists them with a "done" button, so nothing is ever silently dropped.

All of this is per process. A page connected to another instance than the session's owner
still sees the database state (the API reads it), but live pushes and the bridge need the
owner: with several instances, route a session's pages to its owner (see README).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from integrations.contract import Action, Channel, ChannelError, Delivery, Outcome, ProducerCue

#: How many updates a slow subscriber may fall behind before it misses some (it then gets a
#: "resync" event and re-reads the state; never blocks the engine).
QUEUE_LIMIT = 256


def action_to_json(action: Action) -> dict[str, Any]:
    """An action as plain JSON for pages and the bridge."""
    data = asdict(action)
    return data


@dataclass
class _Bridge:
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(64))
    waiting: dict[str, asyncio.Future[tuple[bool, str]]] = field(default_factory=dict)
    connections: int = 0


class LiveHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._bridges: dict[str, _Bridge] = {}
        self._companion: dict[str, dict[str, Any]] = defaultdict(dict)
        self._ids = itertools.count(1)

    # -- updates ---------------------------------------------------------------------------

    def publish(self, session_id: str, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(session_id, ())):
            if queue.full():
                queue.get_nowait()
                queue.put_nowait({"type": "resync"})
            queue.put_nowait(event)

    async def subscribe(self, session_id: str) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers[session_id].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers[session_id].discard(queue)

    def subscriber_count(self, session_id: str) -> int:
        return len(self._subscribers.get(session_id, ()))

    # -- bridge ----------------------------------------------------------------------------

    def bridge_connected(self, session_id: str) -> bool:
        bridge = self._bridges.get(session_id)
        return bridge is not None and bridge.connections > 0

    async def bridge_stream(self, session_id: str) -> AsyncIterator[dict[str, Any]]:
        """What a connected bridge (console in the Zoom client) must run, one request at a time."""
        bridge = self._bridges.setdefault(session_id, _Bridge())
        bridge.connections += 1
        self.publish(session_id, {"type": "bridge", "connected": True})
        try:
            while True:
                yield await bridge.queue.get()
        finally:
            bridge.connections -= 1
            if bridge.connections == 0:
                for future in bridge.waiting.values():
                    if not future.done():
                        future.set_result((False, "bridge disconnected"))
                self.publish(session_id, {"type": "bridge", "connected": False})

    def bridge_ack(self, session_id: str, request_id: str, ok: bool, detail: str = "") -> bool:
        """The bridge ran (or failed to run) a request. False for an unknown request."""
        bridge = self._bridges.get(session_id)
        future = bridge.waiting.get(request_id) if bridge else None
        if future is None or future.done():
            return False
        future.set_result((ok, detail[:200]))
        return True

    async def bridge_carry(
        self,
        session_id: str,
        action: Action,
        timeout: float,  # noqa: ASYNC109 - the bridge's own acknowledgement deadline
    ) -> Delivery:
        bridge = self._bridges.get(session_id)
        if bridge is None or bridge.connections == 0:
            raise ChannelError("no bridge connected")
        request_id = f"b{next(self._ids)}"
        future: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        bridge.waiting[request_id] = future
        try:
            bridge.queue.put_nowait({"id": request_id, "action": action_to_json(action)})
            async with asyncio.timeout(timeout):  # not wait_for: see clock.wait_event
                ok, detail = await future
        except TimeoutError:
            raise ChannelError(f"bridge did not acknowledge within {timeout:g}s") from None
        except asyncio.QueueFull:
            raise ChannelError("bridge is not keeping up") from None
        finally:
            bridge.waiting.pop(request_id, None)
        if not ok:
            raise ChannelError(f"bridge failed: {detail or 'no reason given'}")
        return Delivery(Channel.bridge, Outcome.acknowledged, detail, request_id)

    # -- companion page --------------------------------------------------------------------

    def companion_state(self, session_id: str) -> dict[str, Any]:
        return dict(self._companion.get(session_id, {}))

    def companion_carry(self, session_id: str, action: Action) -> Delivery:
        state = self._companion[session_id]
        data = action_to_json(action)
        kind = data["kind"]
        if kind in ("say", "warn_breakouts"):
            state["prompt"] = data["text"]
        elif kind == "open_poll":
            state["poll"] = data
        elif kind == "close_poll":
            state.pop("poll", None)
        elif kind == "open_breakouts":
            state["rooms"] = data["rooms"]
        elif kind == "close_breakouts":
            state.pop("rooms", None)
        elif kind == "start_break":
            state["break"] = data
        elif kind == "end_break":
            state.pop("break", None)
        elif kind == "open_commitments":
            state["commitments"] = data
        elif kind == "close_commitments":
            state.pop("commitments", None)
        else:
            raise ChannelError(f"the companion page does not show {kind}")
        self.publish(session_id, {"type": "companion", "state": dict(state)})
        return Delivery(Channel.companion, Outcome.delivered, "shown on the companion page")

    def forget(self, session_id: str) -> None:
        self._companion.pop(session_id, None)
        self._bridges.pop(session_id, None)


class SessionCarrier:
    """One service-side channel bound to one session (routing calls ``carry``)."""

    def __init__(self, hub: LiveHub, session_id: str, channel: Channel, timeout: float) -> None:
        self.hub = hub
        self.session_id = session_id
        self.channel = channel
        self.timeout = timeout
        self.last_cue: ProducerCue | None = None

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        if self.channel is Channel.bridge:
            return await self.hub.bridge_carry(self.session_id, action, self.timeout)
        if self.channel is Channel.companion:
            return self.hub.companion_carry(self.session_id, action)
        if self.channel is Channel.producer_cue:
            # The firing row itself is the cue: the console lists firings whose outcome is
            # pending, and "done" acknowledges them. Routing hands us the action already
            # rendered as producer instructions.
            if isinstance(action, ProducerCue):
                self.last_cue = action
            return Delivery(Channel.producer_cue, Outcome.pending, "shown to the producer")
        raise ChannelError(f"no service-side carrier for {self.channel}")
