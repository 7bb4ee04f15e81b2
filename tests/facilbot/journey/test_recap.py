"""The recap after the session and the pre-work baseline question, through the API: late
answers kept apart from live ones, late commitments, the producer's links, the window closing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from facilbot.auth import Role
from facilbot.pages import companion
from integrations.contract import Platform, PollAnswer
from tests.facilbot.journey.conftest import ANA, BO, FRIDAY, MEETING, joined, page_headers, said
from tests.support.api import SMALL_SHOW, ApiHarness

RECAP_SHOW = (
    SMALL_SHOW
    + "timezone: Europe/Berlin\n"
    + "access: {recording: true, transcript: false, recap_for: 3d}\n"
    + "prework:\n"
    + '  - {title: "Primer", url: "https://example.org/primer"}\n'
    + '  - title: "Where do you start?"\n'
    + '    poll: {question: "How often do you map stakeholders?", '
    + "options: [Never, Sometimes, Always]}\n"
)
POLL = "talk-1"


def shared(api: ApiHarness, session_id: str) -> dict[str, str]:
    """The shared companion link's header only (no participant key yet)."""
    return {companion.KEY_HEADER: companion.companion_key(api.services.pages_secret, session_id)}


async def newcomer(api: ApiHarness, session_id: str, name: str) -> dict[str, str]:
    """Someone opening the shared link and saying their name: their headers from then on."""
    made = await api.client.post(
        f"/companion/{session_id}/me", json={"name": name}, headers=shared(api, session_id)
    )
    assert made.status_code == 201, made.text
    return {**shared(api, session_id), "X-Participant-Key": made.json()["participant_key"]}


async def run_show(api: ApiHarness, before: Any = None) -> str:
    """Ana and Bo join; Ana answers the poll live and commits; the show ends at 16:26 UTC."""
    version = await api.upload(RECAP_SHOW, name="recap")
    session_id = await api.attach(version, MEETING)
    if before is not None:
        await before(session_id)
    for event in await api.engine.accept([joined(ANA), joined(BO)]):
        await api.engine.ingest(event)
    await api.control(session_id, "start")
    await api.advance(7 * 60)  # the poll opened at 6m
    live_answer = PollAnswer(
        platform=Platform.sim,
        meeting_ref=MEETING,
        event_id="poll-ana",
        occurred_at=FRIDAY,
        poll_key=POLL,
        participant_id=ANA.id,
        choices=("Speed",),
    )
    for event in await api.engine.accept([live_answer]):
        await api.engine.ingest(event)
    await api.advance(18 * 60 + 30)  # into the commitments window (25–30m)
    for event in await api.engine.accept([said(ANA, "I will map my stakeholders on Monday.", 1)]):
        await api.engine.ingest(event)
    await api.advance(30)
    await api.control(session_id, "end")
    await api.advance(3600)  # the recap is read an hour later
    return session_id


async def test_the_recap_keeps_late_answers_and_commitments_apart(api: ApiHarness) -> None:
    session_id = await run_show(api)
    dee = await newcomer(api, session_id, "Dee Dunn")  # missed the session
    ana = page_headers(api, session_id, ANA.id)

    view = await api.client.get(f"/companion/{session_id}/recap", headers=dee)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["state"] == "open"
    assert body["recording"] == {"expected": True, "url": None}
    assert body["transcript"] == {"expected": False, "url": None}
    [poll] = body["polls"]
    assert poll["key"] == POLL and poll["question"] == "Which matters most?"
    assert poll["live"] == {"counts": {"Speed": 1}, "answers": 1}
    assert poll["asynchronous"] == {"counts": {}, "answers": 0}
    assert poll["answerable"] and poll["mine"] is None

    late = await api.client.post(
        f"/companion/{session_id}/recap/poll",
        json={"poll_key": POLL, "choices": ["Quality"]},
        headers=dee,
    )
    assert late.status_code == 200, late.text
    [poll] = late.json()["polls"]
    assert poll["live"] == {"counts": {"Speed": 1}, "answers": 1}  # live stays live
    assert poll["asynchronous"] == {"counts": {"Quality": 1}, "answers": 1}
    assert poll["mine"] == ["Quality"] and not poll["mine_live"] and poll["answerable"]

    # Ana answered live: her answer stands, and she is told why.
    again = await api.client.post(
        f"/companion/{session_id}/recap/poll",
        json={"poll_key": POLL, "choices": ["Quality"]},
        headers=ana,
    )
    assert again.status_code == 409 and "live" in again.json()["detail"]
    [poll] = (await api.client.get(f"/companion/{session_id}/recap", headers=ana)).json()["polls"]
    assert poll["mine"] == ["Speed"] and poll["mine_live"] and not poll["answerable"]

    # Bad answers are precise 4xx and change nothing.
    for payload, status in [
        ({"poll_key": "nope", "choices": ["Speed"]}, 422),
        ({"poll_key": POLL, "choices": ["Maybe"]}, 422),
        ({"poll_key": POLL, "choices": ["Speed", "Quality"]}, 422),
        ({"poll_key": POLL, "choices": []}, 422),
        ({"poll_key": POLL, "choices": ["Speed"], "extra": 1}, 422),
    ]:
        refused = await api.client.post(
            f"/companion/{session_id}/recap/poll", json=payload, headers=dee
        )
        assert refused.status_code == status, (payload, refused.text)
    no_person = await api.client.post(
        f"/companion/{session_id}/recap/poll",
        json={"poll_key": POLL, "choices": ["Speed"]},
        headers=shared(api, session_id),
    )
    assert no_person.status_code == 401

    # Dee, who missed the session, commits: asynchronous. Ana edits hers: still live.
    made = await api.client.post(
        f"/companion/{session_id}/commitment",
        json={"text": "I will watch the recording and map my team."},
        headers=dee,
    )
    assert made.status_code == 201 and made.json()["asynchronous"] is True
    edited = await api.client.post(
        f"/companion/{session_id}/commitment",
        json={"text": "I will map my stakeholders on Tuesday."},
        headers=ana,
    )
    assert edited.status_code == 201 and edited.json()["asynchronous"] is False

    figures = await api.client.get(f"/sessions/{session_id}/journey/recap", headers=api.auth())
    assert figures.status_code == 200, figures.text
    got = figures.json()
    assert got["commitments_live"] == 1 and got["commitments_asynchronous"] == 1
    [poll] = got["polls"]
    assert poll["live"] == {"counts": {"Speed": 1}, "answers": 1}
    assert poll["asynchronous"] == {"counts": {"Quality": 1}, "answers": 1}
    # The live figures the console reads are untouched by the late answer.
    state = await api.client.get(f"/sessions/{session_id}", headers=api.auth())
    [live_poll] = [p for p in state.json()["polls"] if p["key"] == POLL]
    assert live_poll["counts"] == {"Speed": 1} and live_poll["answers"] == 1


async def test_the_producer_adds_the_recording_the_show_promised(api: ApiHarness) -> None:
    session_id = await run_show(api)
    url = f"/sessions/{session_id}/recap-links"
    added = await api.client.put(
        url, json={"recording": "https://video.example.org/r/42"}, headers=api.auth()
    )
    assert added.status_code == 200, added.text
    assert added.json() == {"recording": "https://video.example.org/r/42", "transcript": None}
    for payload, status in [
        ({"transcript": "https://example.org/t"}, 409),  # access.transcript: false
        ({"recording": "javascript:alert(1)"}, 422),
        ({"recording": "https://exa mple.org/x"}, 422),
        ({"recording": "ftp://example.org/x"}, 422),
        ({"recording": "x" * 2001}, 422),
        ({"recordings": "https://example.org"}, 422),
    ]:
        refused = await api.client.put(url, json=payload, headers=api.auth())
        assert refused.status_code == status, (payload, refused.text)
    assert (await api.client.put(url, json={})).status_code == 401
    viewer = await api.client.put(url, json={}, headers=api.auth(Role.viewer))
    assert viewer.status_code == 403
    missing = await api.client.put(
        "/sessions/00000000-0000-4000-8000-000000000000/recap-links",
        json={},
        headers=api.auth(),
    )
    assert missing.status_code == 404

    view = await api.client.get(f"/companion/{session_id}/recap", headers=shared(api, session_id))
    assert view.json()["recording"] == {"expected": True, "url": "https://video.example.org/r/42"}


async def test_after_its_window_the_recap_has_closed(api: ApiHarness) -> None:
    session_id = await run_show(api)
    dee = await newcomer(api, session_id, "Dee Dunn")
    await api.advance(timedelta(days=3).total_seconds())  # 3 days and an hour after the end
    view = await api.client.get(f"/companion/{session_id}/recap", headers=dee)
    assert view.json()["state"] == "closed" and view.json()["polls"] == []
    late = await api.client.post(
        f"/companion/{session_id}/recap/poll",
        json={"poll_key": POLL, "choices": ["Quality"]},
        headers=dee,
    )
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    made = await api.client.post(
        f"/companion/{session_id}/commitment", json={"text": "I will try it."}, headers=dee
    )
    assert made.status_code == 409


async def test_the_baseline_question_is_answered_ahead(api: ApiHarness) -> None:
    answered: dict[str, dict[str, str]] = {}

    async def before(session_id: str) -> None:
        cy = await newcomer(api, session_id, "Cy Chen")
        answered["cy"] = cy
        me = (await api.client.get(f"/companion/{session_id}/me", headers=cy)).json()
        primer, baseline = me["prework"]
        assert primer["poll"] is None
        assert baseline["poll"] == {
            "question": "How often do you map stakeholders?",
            "options": ["Never", "Sometimes", "Always"],
            "multiple": False,
            "answer": None,
        }
        for payload, status in [
            ({"item": 0, "choices": ["Never"]}, 422),  # no question there
            ({"item": 5, "choices": ["Never"]}, 422),
            ({"item": 1, "choices": ["Often"]}, 422),
            ({"item": 1, "choices": ["Never", "Always"]}, 422),
        ]:
            refused = await api.client.post(
                f"/companion/{session_id}/prework/answer", json=payload, headers=cy
            )
            assert refused.status_code == status, (payload, refused.text)
        done = await api.client.post(
            f"/companion/{session_id}/prework/answer",
            json={"item": 1, "choices": ["Sometimes"]},
            headers=cy,
        )
        assert done.status_code == 200, done.text
        item = done.json()["prework"][1]
        assert item["done"] and item["poll"]["answer"] == ["Sometimes"]
        figures = await api.client.get(
            f"/sessions/{session_id}/journey/prework", headers=api.auth()
        )
        assert figures.json()["baseline"] == [
            {
                "item": 1,
                "question": "How often do you map stakeholders?",
                "options": ["Never", "Sometimes", "Always"],
                "counts": {"Sometimes": 1},
                "answers": 1,
            }
        ]

    session_id = await run_show(api, before)
    after = await api.client.post(
        f"/companion/{session_id}/prework/answer",
        json={"item": 1, "choices": ["Always"]},
        headers=answered["cy"],
    )
    assert after.status_code == 409
