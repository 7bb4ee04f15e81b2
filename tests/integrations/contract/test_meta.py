"""The contract suite has teeth: each check fails for an adapter broken in the way it guards.

Every broken harness below is the simulator's harness with one defect; the same check passes
on the intact harness (``test_intact_harness_passes``), so a failure can only come from the
defect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from integrations.contract import (
    Action,
    ActionKind,
    Capabilities,
    Channel,
    ChannelError,
    ChatCommand,
    ChatMessage,
    Delivery,
    InboundEvent,
    Outcome,
    ParticipantJoined,
)
from integrations.sim import SimAdapter

from . import test_contract as suite
from .conftest import discover
from .harness_sim import SimHarness

Check = Callable[[SimHarness], Awaitable[None]]
FAILED = (AssertionError, pytest.fail.Exception)


class ReplayWithNewIds(SimHarness):
    async def replay_last(self) -> list[InboundEvent]:
        return [
            dataclasses.replace(e, event_id=e.event_id + "-again")
            for e in await super().replay_last()
        ]


class ReplayChangesContent(SimHarness):
    async def replay_last(self) -> list[InboundEvent]:
        return [
            dataclasses.replace(e, occurred_at=e.occurred_at.replace(year=2030))
            for e in await super().replay_last()
        ]


class NaiveTimes(SimHarness):
    async def play_standard_scenario(self) -> list[InboundEvent]:
        return [
            dataclasses.replace(e, occurred_at=e.occurred_at.replace(tzinfo=None))
            for e in await super().play_standard_scenario()
        ]


class WrongMeeting(SimHarness):
    async def play_standard_scenario(self) -> list[InboundEvent]:
        return [
            dataclasses.replace(e, meeting_ref="other")
            for e in await super().play_standard_scenario()
        ]


class DuplicateIds(SimHarness):
    async def play_standard_scenario(self) -> list[InboundEvent]:
        return [
            dataclasses.replace(e, event_id="same") for e in await super().play_standard_scenario()
        ]


class CommandAsChat(SimHarness):
    async def play_standard_scenario(self) -> list[InboundEvent]:
        events: list[InboundEvent] = []
        for e in await super().play_standard_scenario():
            if isinstance(e, ChatCommand):
                e = ChatMessage(
                    platform=e.platform,
                    meeting_ref=e.meeting_ref,
                    event_id=e.event_id,
                    occurred_at=e.occurred_at,
                    sender_id=e.sender_id,
                    sender_name=e.sender_name,
                    text="/fb extend 5",
                )
            events.append(e)
        return events


class GuestGetsAnEmail(SimHarness):
    async def play_standard_scenario(self) -> list[InboundEvent]:
        return [
            dataclasses.replace(e, participant=dataclasses.replace(e.participant, email="x"))
            if isinstance(e, ParticipantJoined)
            else e
            for e in await super().play_standard_scenario()
        ]


class Broken(SimAdapter):
    """The simulator's adapter with one defect."""

    def __init__(self, harness: SimHarness, defect: str) -> None:
        super().__init__(harness.world, harness.adapter.profile)
        self.defect = defect

    def capabilities(self) -> Capabilities:
        declared = dict(super().capabilities())
        if self.defect == "missing kind":
            del declared["close_commitments"]
        if self.defect in ("claims breakouts", "claims breakouts silently"):
            declared["open_breakouts"] = (Channel.server_api,)
        if self.defect == "duplicate channel":
            declared["say"] = (Channel.server_api, Channel.server_api)
        return declared

    async def carry(self, meeting_ref: str, action: Action) -> Delivery:
        if self.defect == "claims breakouts" and action.kind == "open_breakouts":
            raise ChannelError("no such API")  # the truth, but capabilities said otherwise
        if self.defect == "claims breakouts silently" and action.kind == "open_breakouts":
            return Delivery(Channel.server_api, Outcome.delivered)  # says yes, does nothing
        if self.defect == "crashes" and action.kind in ("say", "open_breakouts"):
            raise KeyError("rooms")
        if self.defect == "wrong channel":
            delivery = await super().carry(meeting_ref, action)
            return dataclasses.replace(delivery, channel=Channel.bridge)
        delivery = await super().carry(meeting_ref, action)
        if self.defect == "leaks":
            return dataclasses.replace(delivery, detail="sent with token s3cr3t-t0ken")
        return delivery


def broken_adapter(defect: str, profile: str = "full") -> SimHarness:
    harness = SimHarness(profile)  # type: ignore[arg-type]
    harness.adapter = Broken(harness, defect)
    if defect == "leaks":
        harness.secrets = ("s3cr3t-t0ken",)
    return harness


def kind_check(
    check: Callable[[SimHarness, ActionKind], Awaitable[None]], kind: ActionKind
) -> Check:
    return lambda h: check(h, kind)


CASES: list[tuple[str, Callable[[], SimHarness], Check]] = [
    ("replay gives new ids", lambda: ReplayWithNewIds("full"), suite.check_replay_is_stable),
    ("replay changes content", lambda: ReplayChangesContent("full"), suite.check_replay_is_stable),
    ("naive times", lambda: NaiveTimes("full"), suite.check_events_are_contract_types),
    ("wrong meeting", lambda: WrongMeeting("full"), suite.check_events_are_contract_types),
    ("duplicate ids", lambda: DuplicateIds("full"), suite.check_event_ids_unique),
    ("command as chat", lambda: CommandAsChat("full"), suite.check_standard_scenario),
    ("guest email", lambda: GuestGetsAnEmail("full"), suite.check_standard_scenario),
    ("missing kind", lambda: broken_adapter("missing kind"), suite.check_capabilities),
    ("duplicate channel", lambda: broken_adapter("duplicate channel"), suite.check_capabilities),
    (
        "claims breakouts it cannot do",
        lambda: broken_adapter("claims breakouts", "teams"),
        kind_check(suite.check_server_api, "open_breakouts"),
    ),
    (
        "claims breakouts, does nothing",
        lambda: broken_adapter("claims breakouts silently", "teams"),
        kind_check(suite.check_server_api, "open_breakouts"),
    ),
    (
        "claims breakouts, does nothing (routed)",
        lambda: broken_adapter("claims breakouts silently", "teams"),
        kind_check(suite.check_route, "open_breakouts"),
    ),
    (
        "crashes on an undeclared action",
        lambda: broken_adapter("crashes", "teams"),
        kind_check(suite.check_server_api, "open_breakouts"),
    ),
    (
        "crashes on a declared action (routed)",
        lambda: broken_adapter("crashes", "full"),
        kind_check(suite.check_route, "say"),
    ),
    (
        "delivers on the wrong channel",
        lambda: broken_adapter("wrong channel", "full"),
        kind_check(suite.check_server_api, "say"),
    ),
    (
        "leaks a token",
        lambda: broken_adapter("leaks", "full"),
        kind_check(suite.check_route, "say"),
    ),
]


@pytest.mark.parametrize(("name", "make", "check"), CASES, ids=[c[0] for c in CASES])
async def test_check_fails_for_broken_adapter(
    name: str, make: Callable[[], SimHarness], check: Check
) -> None:
    async with make() as harness:
        with pytest.raises(FAILED):
            await check(harness)


@pytest.mark.parametrize(("name", "make", "check"), CASES, ids=[c[0] for c in CASES])
async def test_intact_harness_passes(
    name: str, make: Callable[[], SimHarness], check: Check
) -> None:
    profile = make().adapter.profile
    async with SimHarness(profile) as harness:
        await check(harness)


def test_discovery_runs_every_harness_and_never_drops_a_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fake_harnesses"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "harness_alpha.py").write_text("def make_harness():\n    return 'alpha'\n")
    (package / "harness_beta.py").write_text(
        "VARIANTS = ('one', 'two')\ndef make_harness(variant):\n    return 'beta ' + variant\n"
    )
    (package / "harness_broken.py").write_text("import no_such_module_for_facilbot\n")
    (package / "harness_optional.py").write_text(
        "import pytest\npytest.importorskip('no_such_extra_for_facilbot')\n"
    )
    (package / "harness_empty.py").write_text("X = 1\n")
    (package / "not_a_harness.py").write_text("raise RuntimeError('never imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = dict(discover(package, "fake_harnesses"))
    assert list(found) == ["alpha", "beta-one", "beta-two", "broken", "empty", "optional"]
    assert found["alpha"]() == "alpha"
    assert found["beta-two"]() == "beta two"
    with pytest.raises(pytest.fail.Exception, match=r"harness_broken\.py failed to import"):
        found["broken"]()
    with pytest.raises(pytest.fail.Exception, match=r"no make_harness\(\)"):
        found["empty"]()
    with pytest.raises(pytest.skip.Exception, match="no_such_extra_for_facilbot"):
        found["optional"]()
