"""``/bindings`` and webhook-driven attachment: every occurrence of a bound meeting attaches the
latest version of its show on ``meeting.started``."""

from __future__ import annotations

from facilbot.auth import Role
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading

from .conftest import MEETING, Harness, joined, meeting_event

SHOW_V1 = """\
title: Weekly clinic
duration: 20m
segments:
  - id: arrive
    kind: connection
    duration: 10m
    cues:
      - at: 0m
        say: "One word: how is your week?"
  - id: commit
    kind: commitments
    duration: 10m
"""
SHOW_V2 = SHOW_V1.replace("One word", "In one word")


async def sessions_on(h: Harness, meeting: str = MEETING) -> list[store_sessions.SessionRecord]:
    async with reading(h.db.engine) as connection:
        return await store_sessions.sessions_for_meeting(
            connection, "zoom", meeting, include_ended=True
        )


async def test_binding_needs_a_producer_a_known_show_and_an_enabled_platform(h: Harness) -> None:
    body = {"platform": "zoom", "meeting_ref": MEETING, "show_name": "clinic"}
    assert (await h.client.post("/bindings", json=body)).status_code == 401
    viewer = await h.client.post("/bindings", json=body, headers=h.auth(Role.viewer))
    assert viewer.status_code == 403

    unknown = await h.client.post("/bindings", json=body, headers=h.auth())
    assert unknown.status_code == 422
    assert unknown.json() == {
        "error": "unknown_show",
        "detail": "no show named 'clinic': upload it first",
    }

    await h.upload(SHOW_V1, "clinic")
    teams = await h.client.post("/bindings", json={**body, "platform": "teams"}, headers=h.auth())
    assert teams.status_code == 422 and "not enabled" in teams.json()["detail"]
    bad = await h.client.post("/bindings", json={**body, "meeting_ref": " "}, headers=h.auth())
    assert bad.status_code == 422 and "meeting_ref" in bad.json()["detail"]
    extra = await h.client.post("/bindings", json={**body, "show": "x"}, headers=h.auth())
    assert extra.status_code == 422
    text = await h.client.post(
        "/bindings", content=b"platform=zoom", headers={**h.auth(), "content-type": "text/plain"}
    )
    assert text.status_code == 415

    created = await h.client.post("/bindings", json=body, headers=h.auth())
    assert created.status_code == 201
    assert created.json()["show_name"] == "clinic" and created.json()["created_by"]
    again = await h.client.post("/bindings", json=body, headers=h.auth())
    assert again.status_code == 200  # replaced, not duplicated
    listed = await h.client.get("/bindings", headers=h.auth(Role.viewer))
    assert [b["meeting_ref"] for b in listed.json()] == [MEETING]

    gone = await h.client.delete(f"/bindings/zoom/{MEETING}", headers=h.auth())
    assert gone.status_code == 204
    missing = await h.client.delete(f"/bindings/zoom/{MEETING}", headers=h.auth())
    assert missing.status_code == 404


async def test_every_occurrence_of_a_bound_meeting_attaches_the_latest_show(h: Harness) -> None:
    v1 = await h.upload(SHOW_V1, "clinic")
    response = await h.client.post(
        "/bindings",
        json={
            "platform": "zoom",
            "meeting_ref": MEETING,
            "show_name": "clinic",
            "producers": [{"name": "Jill Chill"}],
        },
        headers=h.auth(),
    )
    assert response.status_code == 201 and response.json()["latest_version_id"] == v1
    # events before any meeting.started attach nothing
    await h.deliver(joined(1, "Ada Lovelace", event_ts=h.event_ts()))
    await h.settle()
    assert await sessions_on(h) == []

    # first occurrence
    await h.deliver(meeting_event("started", uuid="week-1==", event_ts=h.event_ts()))
    await h.settle()
    [first] = await sessions_on(h)
    assert first.show_version_id == v1 and first.recurring_ref == MEETING
    assert [dict(p) for p in first.producers] == [{"name": "Jill Chill"}]
    state = (await h.client.get(f"/sessions/{first.id}", headers=h.auth(Role.viewer))).json()
    assert state["status"] == "running"
    # a redelivered start attaches nothing more
    await h.clock.advance(60)
    await h.deliver(meeting_event("started", uuid="week-1==", event_ts=h.event_ts() - 60_000))
    await h.settle()
    assert len(await sessions_on(h)) == 1

    await h.clock.advance(20 * 60)
    await h.deliver(meeting_event("ended", uuid="week-1==", event_ts=h.event_ts()))
    await h.settle()

    # a new version of the show is uploaded during the week; next occurrence uses it
    v2 = await h.upload(SHOW_V2, "clinic")
    await h.clock.advance(7 * 24 * 3600)
    await h.deliver(meeting_event("started", uuid="week-2==", event_ts=h.event_ts()))
    await h.settle()
    sessions = await sessions_on(h)
    assert [s.show_version_id for s in sessions] == [v1, v2]
    assert [s.status for s in sessions] == ["ended", "running"]


async def test_an_unbound_meeting_attaches_nothing(h: Harness) -> None:
    await h.upload(SHOW_V1, "clinic")
    ack = await h.deliver(meeting_event("started", uuid="x==", event_ts=h.event_ts()))
    assert ack["new"] == 1
    await h.settle()
    assert await sessions_on(h) == []
    [stored] = await h.stored_events()
    assert stored.processed_at is not None
