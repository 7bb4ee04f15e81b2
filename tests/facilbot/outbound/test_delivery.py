"""Outbound webhooks end to end: a sim session steered through the API delivers its events to
real receivers on 127.0.0.1, each verified with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
from typing import Any

from facilbot.auth import Role
from tests.support.receiver import receiving

from .conftest import Hooks


async def run_small_show(hooks: Hooks) -> str:
    version = await hooks.upload()
    session_id = await hooks.attach(version)
    await hooks.control(session_id, "start")
    for _ in range(8):
        await hooks.advance(60)
    await hooks.control(session_id, "end")
    await hooks.advance(1)
    return session_id


async def test_a_steered_session_delivers_verified_events(hooks: Hooks) -> None:
    async with receiving() as receiver:
        endpoint = await hooks.add_endpoint(receiver.url, description="LMS")
        receiver.secrets = [endpoint["secret"]]
        session_id = await run_small_show(hooks)
        await hooks.deliver()
        types = receiver.types()
        for needed in ("session.attached", "session.started", "cue.fired", "session.ended"):
            assert needed in types, types
        assert "control.applied" in types
        assert "poll.closed" not in types or types.index("poll.closed") > types.index("cue.fired")
        assert all(r.verified for r in receiver.received)
        # One id per event; the session's events arrive in the order they happened.
        ids = [r.msg_id for r in receiver.received]
        assert len(set(ids)) == len(ids)
        assert types.index("session.attached") < types.index("session.started")
        assert types[-1] == "session.ended"
        assert all(r.payload["data"]["session_id"] == session_id for r in receiver.received)
        # The show was ended in its second segment: the two that began, once each, in order.
        started = [
            r.payload["data"]["key"] for r in receiver.received if r.type == "segment.started"
        ]
        assert started == ["arrive", "talk"]
        assert types.index("session.started") < types.index("segment.started")
        fired = next(r.payload for r in receiver.received if r.type == "cue.fired")
        assert {"planned_at", "late_ms", "channel", "outcome"} <= set(fired["data"])
        log = await hooks.deliveries(endpoint["id"])
        assert {d["status"] for d in log} == {"delivered"}
        assert {d["last_status_code"] for d in log} == {200}
        assert log[0]["last_excerpt"] == "ok"


async def test_the_filter_sends_only_what_an_endpoint_asked_for(hooks: Hooks) -> None:
    async with receiving() as everything, receiving() as ends:
        all_ = await hooks.add_endpoint(everything.url)
        some = await hooks.add_endpoint(ends.url, event_types=["session.ended"])
        everything.secrets, ends.secrets = [all_["secret"]], [some["secret"]]
        await run_small_show(hooks)
        await hooks.deliver()
        assert ends.types() == ["session.ended"]
        assert len(everything.received) > 5
        assert all(r.verified for r in [*everything.received, *ends.received])


async def test_a_failing_receiver_is_retried_with_the_same_id(hooks: Hooks) -> None:
    async with receiving(status=500, answer=b"database down " * 50) as receiver:
        endpoint = await hooks.add_endpoint(receiver.url, event_types=["session.attached"])
        receiver.secrets = [endpoint["secret"]]
        await hooks.attach(await hooks.upload())
        await hooks.deliver()
        assert len(receiver.received) == 1
        # Not before the first retry's time (5 s, with jitter of at most 10 %).
        await hooks.advance(4)
        await hooks.deliver()
        assert len(receiver.received) == 1
        await hooks.advance(2)
        await hooks.deliver()
        assert len(receiver.received) == 2
        receiver.status = 204
        await hooks.advance(331)
        await hooks.deliver()
        assert len(receiver.received) == 3
        assert len({r.msg_id for r in receiver.received}) == 1
        assert all(r.verified for r in receiver.received)
        [delivery] = await hooks.deliveries(endpoint["id"])
        assert delivery["status"] == "delivered" and delivery["attempts"] == 3
        assert delivery["last_status_code"] == 204


async def test_a_redirect_is_a_failure_and_is_not_followed(hooks: Hooks) -> None:
    async with receiving() as target, receiving(status=307) as redirecting:
        redirecting.headers = {"location": target.url}
        endpoint = await hooks.add_endpoint(redirecting.url)
        await hooks.attach(await hooks.upload())
        await hooks.deliver()
        assert len(redirecting.received) == 1
        assert target.received == []
        [delivery] = await hooks.deliveries(endpoint["id"])
        assert delivery["status"] == "pending"
        assert "redirects are not followed" in delivery["last_error"]


async def test_retry_after_is_honoured_on_429(hooks: Hooks) -> None:
    async with receiving(status=429, headers={"retry-after": "120"}) as receiver:
        endpoint = await hooks.add_endpoint(receiver.url)
        await hooks.attach(await hooks.upload())
        await hooks.deliver()
        await hooks.advance(60)  # past the 5 s of the schedule, before Retry-After
        await hooks.deliver()
        assert len(receiver.received) == 1
        receiver.status = 200
        await hooks.advance(61)
        await hooks.deliver()
        assert len(receiver.received) == 2
        [delivery] = await hooks.deliveries(endpoint["id"])
        assert delivery["status"] == "delivered"


async def test_410_disables_the_endpoint_and_says_so(hooks: Hooks) -> None:
    async with receiving(status=410) as gone, receiving() as watcher:
        dead = await hooks.add_endpoint(gone.url, event_types=["session.attached"])
        other = await hooks.add_endpoint(watcher.url, event_types=["endpoint.disabled"])
        watcher.secrets = [other["secret"]]
        await hooks.attach(await hooks.upload())
        await hooks.deliver()
        await hooks.deliver()  # the endpoint.disabled event, written with the 410's outcome
        state = await hooks.client.get(f"/outbound/endpoints/{dead['id']}", headers=hooks.auth())
        assert state.json()["enabled"] is False
        assert "410" in state.json()["disabled_reason"]
        assert watcher.types() == ["endpoint.disabled"]
        assert watcher.received[0].payload["data"]["endpoint_id"] == dead["id"]
        assert watcher.received[0].verified
        # Nothing more goes to a disabled endpoint.
        await hooks.attach(await hooks.upload(), meeting_ref="sim-2")
        await hooks.advance(3600)
        await hooks.deliver()
        assert len(gone.received) == 1


async def test_an_endpoint_failing_for_days_is_disabled(hooks: Hooks) -> None:
    async with receiving(status=500) as failing, receiving() as watcher:
        bad = await hooks.add_endpoint(failing.url, event_types=["session.attached"])
        await hooks.add_endpoint(watcher.url, event_types=["endpoint.disabled"])
        await hooks.attach(await hooks.upload())
        for _ in range(12):  # the whole schedule, 5 s to 10 h, is about 28 h
            await hooks.deliver()
            await hooks.advance(11 * 3600)
        await hooks.attach(await hooks.upload(), meeting_ref="sim-2")
        for _ in range(12):
            await hooks.deliver()
            await hooks.advance(11 * 3600)
        await hooks.deliver()
        state = await hooks.client.get(f"/outbound/endpoints/{bad['id']}", headers=hooks.auth())
        assert state.json()["enabled"] is False
        assert "failing since" in state.json()["disabled_reason"]
        assert watcher.types() == ["endpoint.disabled"]
        first = await hooks.deliveries(bad["id"])
        assert first[-1]["status"] == "failed" and first[-1]["attempts"] == 8


async def test_a_hanging_receiver_delays_no_other_endpoint_and_no_cue(hooks: Hooks) -> None:
    async with receiving(hang=True) as hanging, receiving(status=500) as failing:
        async with receiving() as healthy:
            await hooks.add_endpoint(hanging.url)
            await hooks.add_endpoint(failing.url)
            good = await hooks.add_endpoint(healthy.url)
            healthy.secrets = [good["secret"]]
            worker = asyncio.create_task(hooks.services.outbound.drain())
            session_id = await run_small_show(hooks)
            # The worker's own loop (not drain) must have delivered to the healthy endpoint
            # while the hanging one holds its requests open.
            for _ in range(200):
                if "session.ended" in healthy.types():
                    break
                await asyncio.sleep(0.02)
            assert "session.ended" in healthy.types()
            assert all(r.verified for r in healthy.received)
            assert len(hanging.received) >= 1
            state = await hooks.client.get(f"/sessions/{session_id}", headers=hooks.auth())
            fired = [f for f in state.json()["firings"] if f["status"] == "sent"]
            assert fired, state.json()
            hanging.released.set()
            await asyncio.wait_for(worker, 30)


async def test_rotation_signs_with_both_secrets_during_the_overlap(hooks: Hooks) -> None:
    async with receiving() as receiver:
        endpoint = await hooks.add_endpoint(receiver.url, event_types=["session.attached"])
        old = endpoint["secret"]
        response = await hooks.client.post(
            f"/outbound/endpoints/{endpoint['id']}/rotate", headers=hooks.auth()
        )
        assert response.status_code == 200
        new = response.json()["secret"]
        assert new != old and new.startswith("whsec_")
        await hooks.attach(await hooks.upload())
        await hooks.deliver()
        signatures = receiver.received[0].headers["webhook-signature"].split(" ")
        assert len(signatures) == 2
        for secret in (old, new):
            receiver.secrets = [secret]
            received = receiver.received[0]
            assert receiver.verify(received.headers, received.body)
        # After the overlap, only the new secret signs.
        await hooks.advance(24 * 3600 + 1)
        await hooks.attach(await hooks.upload(), meeting_ref="sim-2")
        await hooks.deliver()
        assert len(receiver.received[1].headers["webhook-signature"].split(" ")) == 1
        receiver.secrets = [new]
        assert receiver.verify(receiver.received[1].headers, receiver.received[1].body)
        receiver.secrets = [old]
        assert not receiver.verify(receiver.received[1].headers, receiver.received[1].body)


async def test_replay_sends_the_same_ids_again(hooks: Hooks) -> None:
    async with receiving() as receiver:
        endpoint = await hooks.add_endpoint(receiver.url)
        receiver.secrets = [endpoint["secret"]]
        session_id = await run_small_show(hooks)
        await hooks.deliver()
        first = [r.msg_id for r in receiver.received]
        log = await hooks.deliveries(endpoint["id"])
        one = await hooks.client.post(
            f"/outbound/deliveries/{log[-1]['id']}/replay", headers=hooks.auth()
        )
        assert one.status_code == 202, one.text
        await hooks.deliver()
        assert receiver.received[-1].msg_id == first[0]
        whole = await hooks.client.post(
            f"/outbound/endpoints/{endpoint['id']}/replay",
            json={"session_id": session_id},
            headers=hooks.auth(),
        )
        assert whole.json()["queued"] == len(first)
        await hooks.deliver()
        assert [r.msg_id for r in receiver.received[-len(first) :]] == first
        assert all(r.verified for r in receiver.received)


async def test_endpoint_management_needs_the_producer_role_and_hides_secrets(
    hooks: Hooks,
) -> None:
    body: dict[str, Any] = {"url": "https://hooks.example.com/x"}
    for role in (Role.viewer, Role.facilitator):
        refused = await hooks.client.post(
            "/outbound/endpoints", json=body, headers=hooks.auth(role)
        )
        assert refused.status_code == 403
    created = await hooks.add_endpoint(body["url"])
    listed = await hooks.client.get("/outbound/endpoints", headers=hooks.auth())
    assert created["secret"] not in listed.text and "secret" not in listed.json()[0]
    for bad, reason in (
        ({"url": "ftp://x.example"}, "http"),
        ({"url": "http://169.254.169.254/latest"}, "metadata"),
        ({"url": "https://u:p@x.example/"}, "password"),
        ({"url": "https://x.example/", "event_types": ["session.exploded"]}, "unknown event"),
    ):
        response = await hooks.client.post("/outbound/endpoints", json=bad, headers=hooks.auth())
        assert response.status_code == 422, response.text
        assert reason in response.text
    gone = await hooks.client.delete(f"/outbound/endpoints/{created['id']}", headers=hooks.auth())
    assert gone.status_code == 204
    again = await hooks.client.delete(f"/outbound/endpoints/{created['id']}", headers=hooks.auth())
    assert again.status_code == 404
