"""The pages' HTTP surface against a served app: headers, static files, the bridge stream and
its acknowledgements through the engine's LiveHub, and the companion page's key and forms."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from facilbot.journey import identity
from facilbot.pages import companion
from facilbot.store import activity
from facilbot.store.db import reading
from integrations.contract import Channel, ChannelError, OpenPoll, Outcome, Say
from tests.pages.conftest import PAGES_SECRET, Live

ZOOM_HEADERS = (
    "strict-transport-security",
    "x-content-type-options",
    "content-security-policy",
    "referrer-policy",
)
STATIC = Path(__file__).resolve().parents[2] / "facilbot" / "pages" / "static"


class Events:
    """Reads ``data:`` events of an open SSE response, one at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, within: float = 5) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            async for line in self.lines:
                if line.startswith("data:"):
                    return dict(json.loads(line[5:]))
            raise AssertionError("the stream ended")

        return await asyncio.wait_for(read(), within)


@asynccontextmanager
async def sse(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[Events]:
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        for name in ZOOM_HEADERS:
            assert name in response.headers
        yield Events(response)


def companion_key(session_id: str) -> str:
    return companion.companion_key(PAGES_SECRET.encode(), session_id)


# --- pages and headers ----------------------------------------------------------------------


async def test_pages_carry_the_headers_a_zoom_app_needs(live: Live) -> None:
    session_id = await live.session(join=False)
    async with live.client(role=None) as client:
        for path in (f"/console/{session_id}", "/console", f"/companion/{session_id}"):
            response = await client.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/html")
            for name in ZOOM_HEADERS:
                assert name in response.headers, (path, name)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "default-src 'none'" in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            # no inline script at all: every <script> has a src on this origin
            scripts = re.findall(r"<script([^>]*)>", response.text)
            assert scripts and all('src="/pages/static/' in attrs for attrs in scripts)
        console = await client.get(f"/console/{session_id}")
        assert f'data-session="{session_id}"' in console.text
        assert "https://*.zoom.us" in console.headers["content-security-policy"]
        page = await client.get(f"/companion/{session_id}")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_static_files_are_served_with_their_types_and_nothing_else(live: Live) -> None:
    async with live.client(role=None) as client:
        script = await client.get("/pages/static/console.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.content == (STATIC / "console.js").read_bytes()
        assert (
            (await client.get("/pages/static/console.css"))
            .headers["content-type"]
            .startswith("text/css")
        )
        sdk = await client.get("/pages/static/vendor/zoom-appssdk.es.js")
        assert sdk.status_code == 200 and b"sendMessageToChat" in sdk.content
        for bad in (
            "/pages/static/../router.py",
            "/pages/static/%2e%2e/router.py",
            "/pages/static/vendor/../../router.py",
            "/pages/static/nope.js",
            "/pages/static/console.py",
            "/pages/static/.hidden.js",
        ):
            response = await client.get(bad)
            assert response.status_code == 404, bad
            assert response.json()["error"] == "not_found"
        malformed = await client.get("/console/not-a-uuid")
        assert malformed.status_code == 422


def test_the_vendored_sdk_is_the_npm_package_unmodified() -> None:
    vendor = STATIC / "vendor"
    note = (vendor / "README.md").read_text()
    digest = hashlib.sha256((vendor / "zoom-appssdk.es.js").read_bytes()).hexdigest()
    assert f"sha256 `{digest}`" in note
    lock = json.loads((Path(__file__).resolve().parents[2] / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/@zoom/appssdk"]["version"]
    assert f"@zoom/appssdk` {version}" in note
    assert "Permission is hereby granted" in (vendor / "zoom-appssdk.LICENSE.md").read_text()


# --- the bridge -----------------------------------------------------------------------------


async def test_bridge_stream_needs_a_producer_token(live: Live) -> None:
    session_id = await live.session(join=False)
    path = f"/sessions/{session_id}/bridge"
    async with live.client(role=None) as client:
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    async with live.client(role="viewer") as client:
        assert (await client.get(path)).status_code == 403
        ack = await client.post(f"{path}/b1/ack", json={"ok": True})
        assert ack.status_code == 403
    async with live.client() as client:
        missing = await client.get("/sessions/00000000-0000-4000-8000-000000000000/bridge")
        assert missing.status_code == 404
    assert not live.engine.hub.bridge_connected(session_id)


async def test_bridge_runs_requests_and_acknowledges_them(live: Live) -> None:
    session_id = await live.session(join=False)
    hub = live.engine.hub
    async with live.client() as client, sse(client, f"/sessions/{session_id}/bridge") as events:
        hello = await events.next()
        assert hello["type"] == "hello"
        assert hello["companion_url"] == (
            f"{live.base_url}/companion/{session_id}#k={companion_key(session_id)}"
        )
        assert hub.bridge_connected(session_id)

        carrying = asyncio.create_task(hub.bridge_carry(session_id, Say("Hello all"), 5))
        request = await events.next()
        assert request["type"] == "request"
        assert request["action"] == {"text": "Hello all", "kind": "say"}
        # what the bridge is asked to show participants also reaches the companion page
        assert hub.companion_state(session_id)["prompt"] == "Hello all"
        ack = await client.post(
            f"/sessions/{session_id}/bridge/{request['id']}/ack",
            json={"ok": True, "detail": "posted in the meeting chat"},
        )
        assert ack.status_code == 200, ack.text
        assert ack.json() == {"request_id": request["id"], "accepted": True}
        for name in ZOOM_HEADERS:
            assert name in ack.headers
        delivery = await carrying
        assert delivery.channel is Channel.bridge
        assert delivery.outcome is Outcome.acknowledged
        assert delivery.detail == "posted in the meeting chat"

        # answered once only
        again = await client.post(
            f"/sessions/{session_id}/bridge/{request['id']}/ack", json={"ok": True}
        )
        assert again.status_code == 404

        failing = asyncio.create_task(
            hub.bridge_carry(session_id, OpenPoll("p1", "Q?", ("a", "b")), 5)
        )
        request = await events.next()
        assert request["action"]["kind"] == "open_poll"
        await client.post(
            f"/sessions/{session_id}/bridge/{request['id']}/ack",
            json={"ok": False, "detail": "Zoom said no (10042)"},
        )
        with pytest.raises(ChannelError, match="Zoom said no"):
            await failing
    # the client went away: the channel is unavailable again
    for _ in range(100):
        if not hub.bridge_connected(session_id):
            break
        await asyncio.sleep(0.02)
    assert not hub.bridge_connected(session_id)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"ok": "yes"}, 422),
        ({"ok": True, "detail": "x" * 201}, 422),
        ({"ok": True, "extra": 1}, 422),
        ({}, 422),
    ],
)
async def test_bad_acknowledgements_are_refused(
    live: Live, body: dict[str, Any], status: int
) -> None:
    session_id = await live.session(join=False)
    async with live.client() as client:
        response = await client.post(f"/sessions/{session_id}/bridge/b1/ack", json=body)
        assert response.status_code == status
        assert response.json()["error"] == "invalid_request"
        text = await client.post(
            f"/sessions/{session_id}/bridge/b1/ack",
            content=b"ok",
            headers={"Content-Type": "text/plain"},
        )
        assert text.status_code == 415
        odd = await client.post(f"/sessions/{session_id}/bridge/../ack", json={"ok": True})
        assert odd.status_code == 404
        unknown = await client.post(f"/sessions/{session_id}/bridge/x1/ack", json={"ok": True})
        assert unknown.status_code == 404


# --- the companion page ---------------------------------------------------------------------


async def test_companion_link_is_for_producers_and_one_session(live: Live) -> None:
    first = await live.session(join=False)
    second = await live.engine.attach(1, "sim", "sim-other", by="test")
    async with live.client(role="viewer") as client:
        assert (await client.get(f"/sessions/{first}/companion-link")).status_code == 403
    async with live.client() as client:
        link = (await client.get(f"/sessions/{first}/companion-link")).json()["url"]
    key = link.split("#k=", 1)[1]
    async with live.client(role=None) as client:
        path = f"/companion/{first}/state"
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers={companion.KEY_HEADER: "nope"})).status_code == 403
        other = await client.get(f"/companion/{second}/state", headers={companion.KEY_HEADER: key})
        assert other.status_code == 403
        ok = await client.get(path, headers={companion.KEY_HEADER: key})
        assert ok.status_code == 200
        view = ok.json()
        assert view["show_title"] == "Pages test" and view["status"] in ("attached", "waiting")
        # participants see no roster and no producer cues
        assert "participants" not in view and "producer_cues" not in view


async def test_companion_stream_follows_the_show(live: Live) -> None:
    session_id = await live.session()
    headers = {companion.KEY_HEADER: companion_key(session_id)}
    async with (
        live.client(role=None) as client,
        sse(client, f"/companion/{session_id}/events", headers) as events,
    ):
        first = await events.next()
        assert first["type"] == "state" and first["state"]["prompt"] is None
        async with live.client() as producer:
            started = await producer.post(
                f"/sessions/{session_id}/controls", json={"kind": "start"}
            )
            assert started.status_code == 200, started.text
        # the say cue at 0m goes to the companion page (no bridge is connected)
        for _ in range(10):
            state = (await events.next())["state"]
            if state["prompt"]:
                break
        assert state["prompt"] == "In one word, how are you arriving?"
        assert state["segment"]["id"] == "welcome"
        await live.clock.advance(120)
        for _ in range(10):
            state = (await events.next())["state"]
            if state["poll"]:
                break
        assert state["poll"]["question"] == "Which tool do you use most?"
        assert state["poll"]["options"] == ["Miro", "Mural", "Paper"]


async def join_page(client: httpx.AsyncClient, session_id: str, name: str) -> dict[str, str]:
    """Say who you are on the page; the headers to write as that person."""
    made = await client.post(f"/companion/{session_id}/me", json={"name": name})
    assert made.status_code == 201, made.text
    return {identity.PARTICIPANT_KEY_HEADER: made.json()["participant_key"]}


async def test_companion_forms(live: Live) -> None:
    session_id = await live.session()
    headers = {companion.KEY_HEADER: companion_key(session_id)}
    commit = f"/companion/{session_id}/commitment"
    async with live.client(role=None, headers=headers) as client:
        anonymous = await client.post(commit, json={"text": "Call Bob"})
        assert anonymous.status_code == 401
        zed = await join_page(client, session_id, "  Zed   Zero ")
        early = await client.post(commit, json={"text": "Call Bob"}, headers=zed)
        assert early.status_code == 409
        assert "not taking commitments" in early.json()["detail"]
        async with live.client() as producer:
            await producer.post(f"/sessions/{session_id}/controls", json={"kind": "start"})
        await live.clock.advance(1)
        not_yet = await client.post(commit, json={"text": "Call Bob"}, headers=zed)
        assert not_yet.status_code == 409
        assert "closing part" in not_yet.json()["detail"]

        for bad in (
            {"text": ""},
            {"text": "x\x00"},
            {"text": "x" * 2001},
            {"text": "x", "name": "Ada Lovelace"},
        ):
            response = await client.post(commit, json=bad, headers=zed)
            assert response.status_code == 422, bad
        wrong = await client.post(
            commit, json={"text": "x"}, headers={**zed, companion.KEY_HEADER: "bad"}
        )
        assert wrong.status_code == 403
        forged = await client.post(
            commit, json={"text": "x"}, headers={identity.PARTICIPANT_KEY_HEADER: "p-ada.forged"}
        )
        assert forged.status_code == 403

        # the poll opens at 2m on the companion page (no bridge): answer it there
        answer = f"/companion/{session_id}/poll"
        closed = await client.post(
            answer, json={"poll_key": "welcome-2", "choices": ["Miro"]}, headers=zed
        )
        assert closed.status_code == 409
        await live.clock.advance(120)
        for body, status in (
            ({"poll_key": "welcome-2", "choices": ["Figma"]}, 422),
            ({"poll_key": "welcome-2", "choices": ["Miro", "Mural"]}, 422),
            ({"poll_key": "other", "choices": ["Miro"]}, 409),
            ({"poll_key": "welcome-2", "choices": ["Mural"]}, 201),
        ):
            response = await client.post(answer, json=body, headers=zed)
            assert response.status_code == status, (body, response.text)

        await live.clock.advance(780)  # 15m: the commitments window
        made = await client.post(commit, json={"text": "I will call Bob\nby Friday."}, headers=zed)
        assert made.status_code == 201, made.text
        assert made.json() == {"recorded": True, "name": "Zed Zero", "asynchronous": False}
        edited = await client.post(commit, json={"text": "Call Bob today."}, headers=zed)
        assert edited.status_code == 201
        mine = (await client.get(f"/companion/{session_id}/me", headers=zed)).json()
        assert mine["name"] == "Zed Zero" and mine["commitment"]["text"] == "Call Bob today."

    async with reading(live.db.engine) as connection:
        commitments = await activity.commitments_for(connection, session_id)
        answers = await activity.poll_answers_for(connection, session_id, "welcome-2")
    zed_ref = zed[identity.PARTICIPANT_KEY_HEADER].rsplit(".", 1)[0]
    assert [(c.participant_ref, c.name, c.text) for c in commitments] == [
        (zed_ref, "Zed Zero", "Call Bob today.")
    ]
    assert [(a.participant_ref, list(a.answer)) for a in answers] == [(zed_ref, ["Mural"])]


async def test_nobody_writes_as_someone_else(live: Live) -> None:
    """The shared link's holders each get their own identity: typing a participant's name
    (in any case) neither selects nor replaces that participant's commitment."""
    session_id = await live.session()
    async with live.db.engine.begin() as connection:
        await activity.record_commitment(
            connection, session_id, "p-bob", name="Bob Marley", text="mine", at=live.clock.now()
        )
    headers = {companion.KEY_HEADER: companion_key(session_id)}
    async with live.client(role=None, headers=headers) as client:
        async with live.client() as producer:
            await producer.post(f"/sessions/{session_id}/controls", json={"kind": "start"})
        await live.clock.advance(15 * 60)
        impostor = await join_page(client, session_id, "bob marley")
        assert impostor[identity.PARTICIPANT_KEY_HEADER].startswith("web-")
        # a key signed for someone else's session or made up is refused
        refused = await client.post(
            f"/companion/{session_id}/me",
            json={"name": "Bob Marley"},
            headers={identity.PARTICIPANT_KEY_HEADER: "p-bob.AAAA"},
        )
        assert refused.status_code == 403
        made = await client.post(
            f"/companion/{session_id}/commitment", json={"text": "hijack"}, headers=impostor
        )
        assert made.status_code == 201
        # Bob's own key (his personal link) edits his commitment
        bob = {
            identity.PARTICIPANT_KEY_HEADER: identity.participant_key(
                PAGES_SECRET.encode(), session_id, "p-bob"
            )
        }
        edit = await client.post(
            f"/companion/{session_id}/commitment", json={"text": "Mine, edited."}, headers=bob
        )
        assert edit.status_code == 201 and edit.json()["name"] == "Bob Marley"
    async with reading(live.db.engine) as connection:
        by_ref = {
            c.participant_ref: c.text
            for c in await activity.commitments_for(connection, session_id)
        }
    assert by_ref["p-bob"] == "Mine, edited."
    assert by_ref[impostor[identity.PARTICIPANT_KEY_HEADER].rsplit(".", 1)[0]] == "hijack"
