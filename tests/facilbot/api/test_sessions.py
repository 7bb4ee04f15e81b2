"""Sessions over HTTP: attach, controls, live state, acknowledgements, participants,
commitments; every bad request is a 4xx with a reason and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from facilbot.auth import Role
from facilbot.store import activity, participants

from .conftest import Api

UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def state(api: Api, session_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/sessions/{session_id}", headers=api.auth(Role.viewer))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def control(api: Api, session_id: str, body: Any, **headers: str) -> Any:
    return await api.client.post(
        f"/sessions/{session_id}/controls", json=body, headers={**api.auth(), **headers}
    )


async def control_log_version(api: Api, session_id: str) -> int:
    return int((await state(api, session_id))["version"])


async def test_attach_then_read(api: Api) -> None:
    version = await api.upload()
    response = await api.client.post(
        "/sessions",
        json={
            "show_version_id": version,
            "platform": "sim",
            "meeting_ref": "  sim-42  ",
            "planned_start": "2025-03-04T10:00:00+01:00",
            "producers": [{"name": "Ana", "email": "ana@example.org"}],
        },
        headers=api.auth(),
    )
    assert response.status_code == 201, response.text
    session = response.json()
    assert uuid.UUID(session["id"])
    assert session["meeting_ref"] == "sim-42"
    # The owning runner moves it on to "waiting" as soon as it picks the session up.
    assert session["status"] in ("attached", "waiting")
    assert session["planned_start"] == "2025-03-04T09:00:00Z"
    listed = await api.client.get("/sessions", headers=api.auth(Role.viewer))
    assert [s["id"] for s in listed.json()] == [session["id"]]
    live = await state(api, session["id"])
    assert live["show_title"] == "API test show"
    assert live["platform"] == "sim"
    assert [s["id"] for s in live["segments"]] == ["arrive", "talk", "work", "commit"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"show_version_id": 999}, 422, None),
        ({"show_version_id": "1"}, 422, "body.show_version_id"),
        ({"show_version_id": 0}, 422, "body.show_version_id"),
        ({"show_version_id": 2**40}, 422, "body.show_version_id"),
        ({"platform": "webex"}, 422, "body.platform"),
        ({"platform": "zoom"}, 422, None),
        ({"platform": None}, 422, "body.platform"),
        ({"meeting_ref": ""}, 422, "body.meeting_ref"),
        ({"meeting_ref": "   "}, 422, "body.meeting_ref"),
        ({"meeting_ref": "m" * 201}, 422, "body.meeting_ref"),
        ({"meeting_ref": "a\nb"}, 422, "body.meeting_ref"),
        ({"meeting_ref": 12345}, 422, "body.meeting_ref"),
        ({"planned_start": "2025-03-04T10:00:00"}, 422, "body.planned_start"),
        ({"planned_start": "soon"}, 422, "body.planned_start"),
        ({"planned_start": "0001-01-01T00:00:00+00:00"}, 422, None),
        ({"producers": "Ana"}, 422, "body.producers"),
        ({"producers": [{"name": "Ana", "role": "boss"}]}, 422, "body.producers.0.role"),
        ({"producers": [{"name": "x"}] * 51}, 422, "body.producers"),
        ({"surprise": True}, 422, "body.surprise"),
    ],
)
async def test_attach_refusals(
    api: Api, change: dict[str, Any], status: int, field: str | None
) -> None:
    version = await api.upload()
    body = {"show_version_id": version, "platform": "sim", "meeting_ref": "sim-1", **change}
    response = await api.client.post("/sessions", json=body, headers=api.auth())
    assert response.status_code == status, response.text
    error = response.json()
    assert error["detail"]
    if field is not None:
        assert error["fields"][0]["field"] == field
    assert "pydantic.dev" not in response.text
    listed = await api.client.get("/sessions", headers=api.auth())
    assert listed.json() == []


async def test_unknown_show_version_and_platform_say_why(api: Api) -> None:
    version = await api.upload()
    response = await api.client.post(
        "/sessions",
        json={"show_version_id": version + 1, "platform": "sim", "meeting_ref": "m"},
        headers=api.auth(),
    )
    assert response.json() == {
        "error": "unknown_show_version",
        "detail": f"no show version {version + 1}",
    }
    response = await api.client.post(
        "/sessions",
        json={"show_version_id": version, "platform": "zoom", "meeting_ref": "m"},
        headers=api.auth(),
    )
    assert response.json()["error"] == "unknown_platform"
    assert "not configured" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"show_version_id": 1,', {"Content-Type": "application/json"}, 400),
        (b"show_version_id=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        (b'{"show_version_id": 1}', {"Content-Type": "text/plain"}, 415),
        (b'{"show_version_id": 1}', {}, 415),
        (b"", {"Content-Type": "application/json"}, 422),
        (b"null", {"Content-Type": "application/json"}, 422),
        (b"[]", {"Content-Type": "application/json"}, 422),
        (b'"text"', {"Content-Type": "application/json"}, 422),
        (b"\xff\xfe\x00", {"Content-Type": "application/json"}, 400),
        (b'{"a": NaN}', {"Content-Type": "application/json"}, 422),
        (b"[" * 10_000 + b"]" * 10_000, {"Content-Type": "application/json"}, 400),
    ],
)
async def test_attach_malformed_bodies(
    api: Api, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = await api.client.post(
        "/sessions", content=content, headers={**api.auth(), **headers}
    )
    assert response.status_code == status, response.text
    assert set(response.json()) >= {"error", "detail"}


async def test_controls_steer_the_show(api: Api) -> None:
    session = await api.attach(await api.upload())
    refused = await control(api, session, {"kind": "pause"})
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "control_refused",
        "detail": "the show has not started; 'pause' needs a running show",
    }
    started = await control(api, session, {"kind": "start"})
    assert started.status_code == 200
    assert started.json() == {"session_id": session, "seq": 2, "kind": "start"}
    assert (await control(api, session, {"kind": "start"})).status_code == 409

    await api.clock.advance(60)
    live = await state(api, session)
    assert live["status"] == "running"
    assert live["current_segment"]["id"] == "arrive"
    assert [f["key"] for f in live["firings"]] == ["arrive-1"]

    assert (await control(api, session, {"kind": "pause"})).status_code == 200
    assert (await control(api, session, {"kind": "pause"})).status_code == 409
    assert (await state(api, session))["paused"] is True
    assert (await control(api, session, {"kind": "resume"})).status_code == 200
    extended = await control(api, session, {"kind": "extend", "seconds": 120})
    assert extended.status_code == 200
    jumped = await control(api, session, {"kind": "jump", "segment_id": "work"})
    assert jumped.status_code == 200
    await api.clock.advance(1)
    assert (await state(api, session))["current_segment"]["id"] == "work"
    assert (await control(api, session, {"kind": "break", "seconds": 300})).status_code == 200
    assert (await control(api, session, {"kind": "skip"})).status_code == 200
    assert (await control(api, session, {"kind": "end"})).status_code == 200
    await api.clock.advance(1)
    assert (await state(api, session))["status"] == "ended"
    after = await control(api, session, {"kind": "resume"})
    assert after.status_code == 409
    assert after.json()["detail"] == "the session has ended"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"kind": "dance"}, "body"),
        ({"kind": 5}, "body"),
        ({"kind": "extend"}, "body.extend.seconds"),
        ({"kind": "extend", "seconds": "300"}, "body.extend.seconds"),
        ({"kind": "extend", "seconds": 1.5}, "body.extend.seconds"),
        ({"kind": "extend", "seconds": True}, "body.extend.seconds"),
        ({"kind": "extend", "seconds": 0}, "body.extend.seconds"),
        ({"kind": "extend", "seconds": 10**30}, "body.extend.seconds"),
        ({"kind": "break", "seconds": 5}, "body.break.seconds"),
        ({"kind": "jump"}, "body.jump.segment_id"),
        ({"kind": "jump", "segment_id": ""}, "body.jump.segment_id"),
        ({"kind": "fire", "key": ["a"]}, "body.fire.key"),
        ({"kind": "pause", "seconds": 5}, "body.pause.seconds"),
        ([{"kind": "pause"}], "body"),
    ],
)
async def test_bad_controls_are_422_and_change_nothing(api: Api, body: Any, field: str) -> None:
    session = await api.attach(await api.upload())
    assert (await control(api, session, {"kind": "start"})).status_code == 200
    before = await control_log_version(api, session)
    response = await control(api, session, body)
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == field
    assert await control_log_version(api, session) == before


async def test_controls_refused_by_the_show_are_409(api: Api) -> None:
    session = await api.attach(await api.upload())
    await control(api, session, {"kind": "start"})
    response = await control(api, session, {"kind": "jump", "segment_id": "nowhere"})
    assert response.status_code == 409
    assert "arrive, talk, work, commit" in response.json()["detail"]


async def test_acknowledging_a_producer_cue(api: Api) -> None:
    session = await api.attach(await api.upload())
    await control(api, session, {"kind": "start"})
    await api.clock.advance(timedelta(minutes=9).total_seconds())
    cues = (await state(api, session))["producer_cues"]
    lights = next(c for c in cues if c["key"] == "lights")
    path = f"/sessions/{session}/firings/{lights['firing_id']}/ack"
    done = await api.client.post(path, headers=api.auth())
    assert done.status_code == 200
    assert done.json() == {"firing_id": lights["firing_id"], "acknowledged": True}
    again = await api.client.post(path, headers=api.auth())
    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]
    firings = {f["key"]: f for f in (await state(api, session))["firings"]}
    assert firings["lights"]["status"] == "acknowledged"
    # a firing of this session is unknown in another one
    other = await api.attach(await api.upload(name="other"), meeting_ref="sim-2")
    elsewhere = await api.client.post(
        f"/sessions/{other}/firings/{lights['firing_id']}/ack", headers=api.auth()
    )
    assert elsewhere.status_code == 404
    missing = await api.client.post(f"/sessions/{session}/firings/99999/ack", headers=api.auth())
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


async def test_participants_and_commitments(api: Api) -> None:
    session = await api.attach(await api.upload())
    now = api.clock.now()
    async with api.services.db.engine.begin() as connection:
        ana = await participants.upsert_participant(
            connection, session, "p1", name="Ana", seen_at=now, attributes={"department": "Ops"}
        )
        ben = await participants.upsert_participant(
            connection, session, "p2", name="Ben", seen_at=now
        )
        await participants.participant_joined(connection, ana, now)
        await participants.participant_joined(connection, ben, now)
        await participants.participant_joined(connection, ben, now + timedelta(minutes=2), "room-1")
        await activity.record_commitment(
            connection, session, "p1", name="Ana", text="Call the CFO on Monday", at=now
        )
    people = await api.client.get(
        f"/sessions/{session}/participants", headers=api.auth(Role.viewer)
    )
    assert people.status_code == 200
    by_ref = {p["ref"]: p for p in people.json()}
    assert by_ref["p1"]["attributes"] == {"department": "Ops"}
    assert by_ref["p1"]["present"] is True
    assert by_ref["p2"]["room"] == "room-1"
    assert len(by_ref["p2"]["presence"]) == 2
    assert by_ref["p2"]["presence"][0]["left_at"] is not None
    made = await api.client.get(f"/sessions/{session}/commitments", headers=api.auth(Role.viewer))
    assert made.status_code == 200
    assert made.json()["not_committed"] == ["Ben"]
    assert [c["text"] for c in made.json()["commitments"]] == ["Call the CFO on Monday"]


SUFFIXES = ["", "/participants", "/commitments", "/events", "/controls", "/firings/1/ack"]
MALFORMED = ["not-a-uuid", "1", "%00", "0" * 500, "7f1c9a2e-5b7d-4c1e-9a4b-2f0e6d8c1b3"]


async def test_unknown_and_malformed_session_ids(api: Api) -> None:
    # One app for the whole matrix (setting one up per case is what takes time).
    for suffix in SUFFIXES:
        method = "POST" if suffix in ("/controls", "/firings/1/ack") else "GET"
        kwargs: dict[str, Any] = {"json": {"kind": "start"}} if suffix == "/controls" else {}
        for session in [UNKNOWN, *MALFORMED]:
            response = await api.client.request(
                method, f"/sessions/{session}{suffix}", headers=api.auth(), **kwargs
            )
            case = (method, session, suffix, response.text)
            if session == UNKNOWN:
                assert response.status_code == 404, case
                assert response.json()["error"] == "not_found", case
            else:
                assert response.status_code == 422, case
                assert response.json()["fields"][0]["field"] == "path.session_id", case


@pytest.mark.parametrize("firing", ["0", "-3", "abc", "99999999999999999999"])
async def test_malformed_firing_ids(api: Api, firing: str) -> None:
    session = await api.attach(await api.upload())
    response = await api.client.post(
        f"/sessions/{session}/firings/{firing}/ack", headers=api.auth()
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "path.firing_id"


async def test_ended_sessions_are_listed_on_request(api: Api) -> None:
    running = await api.attach(await api.upload())
    finished = await api.attach(await api.upload(), meeting_ref="sim-2")
    assert (await control(api, finished, {"kind": "end"})).status_code == 200
    await api.clock.advance(1)
    active = await api.client.get("/sessions", headers=api.auth(Role.viewer))
    assert [s["id"] for s in active.json()] == [running]
    ended = await api.client.get("/sessions?ended=true", headers=api.auth(Role.viewer))
    assert ended.status_code == 200, ended.text
    assert [(s["id"], s["status"]) for s in ended.json()] == [(finished, "ended")]
    bad = await api.client.get("/sessions?ended=true&limit=0", headers=api.auth(Role.viewer))
    assert bad.status_code == 422
