"""Live re-planning over HTTP: the proposal in the state, accept (a control in the log, so a
restart derives the same plan), dismiss, always accept; bad bodies are 4xx and change nothing."""

from __future__ import annotations

from typing import Any

from facilbot.auth import Role

from .conftest import EXAMPLES, Api

ROLEPLAY = (EXAMPLES / "roleplay-90m.yaml").read_text()


async def state(api: Api, session_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/sessions/{session_id}", headers=api.auth(Role.viewer))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def started(api: Api) -> str:
    session_id = await api.attach(await api.upload(ROLEPLAY, "roleplay"))
    await api.control(session_id, "start")
    await api.advance(25 * 60)
    await api.control(session_id, "extend", seconds=300)
    return session_id


async def test_a_late_session_gets_a_proposal_and_accepting_it_lands_on_time(api: Api) -> None:
    session_id = await started(api)
    live = await state(api, session_id)
    assert live["timing"]["late_by_seconds"] == 300
    assert live["timing"]["summary"] == "5m late: extended roleplay by 5m"
    replan = live["replan"]
    assert replan["late_by_seconds"] == 300 and replan["auto"] is False
    assert replan["options"][0]["label"] == "shrink debrief 25m → 20m: ends on time"
    assert replan["options"][0]["changes"] == {"debrief": 1200}
    # No guard break: the end of the session counts as the break.
    assert not [s for s in live["segments"] if s["inserted"]]

    version = live["version"]
    bad = await api.client.post(
        f"/sessions/{session_id}/controls",
        json={"kind": "replan", "option": 7},
        headers=api.auth(),
    )
    assert bad.status_code in (409, 422), bad.text
    assert "option" in bad.text
    assert (await state(api, session_id))["version"] == version  # nothing changed

    await api.control(session_id, "replan", option=0)
    after = await state(api, session_id)
    assert after["replan"] is None
    assert after["timing"]["summary"] == "on time"
    assert after["timing"]["end"] == replan["planned_end"]
    debrief = next(s for s in after["segments"] if s["id"] == "debrief")
    assert debrief["end"] is not None
    # A restart derives the same plan from the stored log.
    await api.engine.restart_session(session_id)
    await api.settle()
    again = await state(api, session_id)
    assert again["segments"] == after["segments"]
    # Nothing left to accept.
    none = await api.client.post(
        f"/sessions/{session_id}/controls", json={"kind": "replan"}, headers=api.auth()
    )
    assert none.status_code == 409 and "no re-plan to accept" in none.text


async def test_dismiss_and_always_accept(api: Api) -> None:
    session_id = await started(api)
    await api.control(session_id, "replan_policy", auto=False)
    assert (await state(api, session_id))["replan"] is None  # dismissed
    await api.control(session_id, "replan_policy", auto=True)
    live = await state(api, session_id)
    # "Always accept" took the standing proposal at once, and takes the next one too.
    assert live["replan"] is None and live["timing"]["summary"] == "on time"
    await api.control(session_id, "extend", seconds=120)
    live = await state(api, session_id)
    assert live["replan"] is None and live["timing"]["summary"] == "on time"


async def test_bad_replan_bodies_are_refused(api: Api) -> None:
    session_id = await started(api)
    for body in (
        {"kind": "replan", "option": -1},
        {"kind": "replan", "option": "0"},
        {"kind": "replan_policy", "auto": "yes"},
        {"kind": "replan", "durations": {"debrief": 1}},
    ):
        response = await api.client.post(
            f"/sessions/{session_id}/controls", json=body, headers=api.auth()
        )
        assert response.status_code == 422, (body, response.text)
    viewer = await api.client.post(
        f"/sessions/{session_id}/controls", json={"kind": "replan"}, headers=api.auth(Role.viewer)
    )
    assert viewer.status_code == 403
