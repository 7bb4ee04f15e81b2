"""The pages in a real headless Chromium (Debian's), against the served app.

Every test fails on any page error or console error, which includes Content-Security-Policy
violations: the pages must work under their own strict policy.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from facilbot.store import activity
from facilbot.store import firings as store_firings
from facilbot.store.db import reading
from tests.pages.conftest import Live

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect
expect.set_options(timeout=15_000)  # a loaded CI machine is slow, and a timeout still fails

SCREENSHOT = "/tmp/facilbot-console.png"

# What the Zoom client knows of the people: Dee's participantUUID is not the id our webhooks
# gave us, so the bridge must find her by her screen name.
ZOOM_PARTICIPANTS = [
    {"screenName": "Hana Host", "participantUUID": "host-1", "role": "host"},
    {"screenName": "Ada Lovelace", "participantUUID": "p-ada", "role": "attendee"},
    {"screenName": "Bob Marley", "participantUUID": "p-bob", "role": "attendee"},
    {"screenName": "Cy Young", "participantUUID": "p-cy", "role": "attendee"},
    {"screenName": "Dee Dee Ramone", "participantUUID": "zoom-uuid-dee", "role": "attendee"},
]

# A stand-in for the Zoom client's SDK object, with the shapes of @zoom/appssdk's sdk.d.ts,
# recording every call in order.
ZOOM_STUB = """
(() => {
  const calls = [];
  window.__zoomCalls = calls;
  const record = (name, args) =>
    calls.push({ name: name, args: args === undefined ? null : JSON.parse(JSON.stringify(args)) });
  const ok = { message: "success" };
  window.zoomSdk = {
    config: async (o) => { record("config", o);
      return { runningContext: "inMeeting", unsupportedApis: [], clientVersion: "6.2.0" }; },
    sendMessageToChat: async (o) => { record("sendMessageToChat", o);
      return { result: [{ channelId: "meeting", messageId: "m" + calls.length }] }; },
    showNotification: async (o) => { record("showNotification", o); return ok; },
    createBreakoutRooms: async (o) => { record("createBreakoutRooms", o);
      return { rooms: o.names.map((name, i) => ({ breakoutRoomId: "room-uuid-" + (i + 1),
               name: name, participants: [] })), state: "closed", unassigned: [] }; },
    assignParticipantToBreakoutRoom: async (o) => { record("assignParticipantToBreakoutRoom", o);
      return ok; },
    openBreakoutRooms: async () => { record("openBreakoutRooms"); return ok; },
    closeBreakoutRooms: async () => { record("closeBreakoutRooms"); return ok; },
    getMeetingParticipants: async () => { record("getMeetingParticipants");
      return { participants: PARTICIPANTS }; },
    getMeetingContext: async () => ({ meetingID: "sim-pages-1", meetingTopic: "Pages test" }),
  };
})();
"""


class Page:
    """A page that collects errors; ``check()`` fails the test if there were any."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )

        page.on(
            "response",
            lambda response: (
                self.errors.append(f"HTTP {response.status} for {response.url}")
                if response.status >= 400
                else None
            ),
        )

    def check(self) -> None:
        assert self.errors == []


async def open_page(browser: Any, url: str, init_script: str | None = None) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    if init_script:
        await context.add_init_script(init_script)
    page = Page(await context.new_page())
    await page.page.goto(url)
    return page


async def firing(live: Live, session_id: str, key: str) -> store_firings.FiringRecord:
    async with reading(live.db.engine) as connection:
        found = [f for f in await store_firings.firings_for(connection, session_id) if f.key == key]
    assert len(found) == 1, key
    return found[0]


async def test_console_renders_updates_live_and_steers(live: Live, browser: Any) -> None:
    session_id = await live.session()
    token = live.tokens["producer"]
    wrapped = await open_page(browser, f"{live.base_url}/console/{session_id}#token={token}")
    page = wrapped.page
    await expect(page.locator("#show-title")).to_have_text("Pages test")
    assert "token" not in page.url  # taken from the fragment, then removed from the address bar
    await expect(page.locator("#stream-status")).to_have_text("live")
    await expect(page.locator("#people li")).to_have_count(5)
    await expect(page.locator("#timeline li")).to_have_count(3)
    await expect(page.locator("#bridge-status")).to_have_text("bridge: not connected")
    link = page.locator("#companion-link")
    await expect(link).to_have_value(re.compile(rf"^{live.base_url}/companion/{session_id}#k=\S+$"))

    await page.click("button[data-control=start]")
    await expect(page.locator("#status")).to_have_text("running")
    await expect(page.locator("#current-segment")).to_have_text("Welcome")
    await expect(page.locator('#timeline li[data-segment="welcome"]')).to_have_class(
        "segment state-current"
    )
    await expect(page.locator("#next-what")).to_contain_text("Which tool do you use most?")
    # the opening prompt fired at once; without a bridge the companion page carried it
    await expect(page.locator('#firings li[data-key="welcome-1"]')).to_contain_text("companion")
    await expect(page.locator("#not-committed li")).to_have_count(4)
    # fire the poll early from the "coming up" list
    await page.locator('#upcoming li[data-key="welcome-2"] button').click()
    await expect(page.locator('#firings li[data-key="welcome-2"]')).to_contain_text("companion")
    await expect(page.locator('#polls [data-poll="welcome-2"]')).to_contain_text("(0)")
    assert await page.locator('#upcoming li[data-key="rooms@open"] button').count() == 0

    # the clock alone (no click) opens the rooms; with no bridge that is a producer cue,
    # pushed to the page over the live stream
    await live.clock.advance(300)
    cue = page.locator("#cues .cue")
    await expect(cue).to_have_count(1)
    await expect(cue.locator(".cue-text")).to_contain_text("Open 2 breakout rooms now")
    await expect(cue.locator(".cue-paste")).to_contain_text("Ada Lovelace")
    await expect(page.locator("#current-segment")).to_have_text("Pairs")
    await page.screenshot(path=SCREENSHOT, full_page=True)

    await cue.locator("button.done").click()
    await expect(page.locator("#cues .cue")).to_have_count(0)
    opened = await firing(live, session_id, "rooms@open")
    assert (opened.channel, opened.status) == ("producer_cue", "acknowledged")

    await page.click("button[data-control=pause]")
    await expect(page.locator("#status")).to_have_text("paused")
    await expect(page.locator("button[data-control=resume]")).to_be_enabled()
    await page.click("button[data-control=extend]")
    await expect(page.locator("#message")).to_have_text("extend done")
    await page.click("button[data-control=resume]")
    await expect(page.locator("#status")).to_have_text("running")

    await page.click("button[data-control=break]")
    await expect(page.locator("#current-kind")).to_have_text("break (inserted)")
    await page.click("button[data-control=skip]")
    await expect(page.locator("#message")).to_have_text("skip done")
    await expect(page.locator("#current-kind")).not_to_have_text("break (inserted)")

    await page.select_option("#jump-select", "commit")
    await page.click("#jump-button")
    await expect(page.locator("#current-segment")).to_have_text("Commitments")

    # ending takes a second click
    await page.click("button[data-control=end]")
    await expect(page.locator("button[data-control=end]")).to_have_text("Click again to end")
    await page.click("button[data-control=end]")
    await expect(page.locator("#status")).to_have_text("ended")
    await expect(page.locator("button[data-control=pause]")).to_be_disabled()
    wrapped.check()


async def test_console_asks_for_a_token_and_refuses_a_bad_one(live: Live, browser: Any) -> None:
    session_id = await live.session(join=False)
    wrapped = await open_page(browser, f"{live.base_url}/console/{session_id}")
    page = wrapped.page
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#token-input", "fb_not-a-real-token")
    await page.click("#login-form button")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#message")).to_contain_text("not valid")
    await page.fill("#token-input", live.tokens["producer"])
    await page.click("#login-form button")
    await expect(page.locator("#show-title")).to_have_text("Pages test")
    # the 401 of the bad token is the only console error the page may show
    assert all("401" in error for error in wrapped.errors), wrapped.errors


async def test_bridge_runs_a_breakout_segment_in_the_zoom_client(live: Live, browser: Any) -> None:
    session_id = await live.session()
    token = live.tokens["producer"]
    stub = ZOOM_STUB.replace("PARTICIPANTS", json.dumps(ZOOM_PARTICIPANTS))
    wrapped = await open_page(
        browser, f"{live.base_url}/console/{session_id}#token={token}", init_script=stub
    )
    page = wrapped.page
    await expect(page.locator("#bridge-status")).to_have_text("bridge: connected")
    assert live.engine.hub.bridge_connected(session_id)

    async with live.client() as client:
        started = await client.post(f"/sessions/{session_id}/controls", json={"kind": "start"})
        assert started.status_code == 200
    await live.clock.advance(0)
    await expect(page.locator("#bridge-log")).to_contain_text("say: posted in the meeting chat")
    said = await firing(live, session_id, "welcome-1")
    assert (said.channel, said.outcome, said.status) == ("bridge", "acknowledged", "sent")

    await live.clock.advance(300)  # the poll (2m), its close (4m), then the rooms (5m)
    await expect(page.locator("#bridge-log")).to_contain_text("open_breakouts: opened 2 rooms")
    calls: list[dict[str, Any]] = await page.evaluate("window.__zoomCalls")
    names = [call["name"] for call in calls]
    assert names[0] == "config"
    assert set(calls[0]["args"]["capabilities"]) >= {
        "sendMessageToChat",
        "createBreakoutRooms",
        "assignParticipantToBreakoutRoom",
        "openBreakoutRooms",
        "closeBreakoutRooms",
    }
    chat = [c["args"]["message"] for c in calls if c["name"] == "sendMessageToChat"]
    assert chat[0] == "In one word, how are you arriving?"
    poll = next(m for m in chat if m.startswith("Poll: Which tool do you use most?"))
    assert "1. Miro" in poll and f"/companion/{session_id}#k=" in poll

    created = [c for c in calls if c["name"] == "createBreakoutRooms"]
    assert len(created) == 1
    request = created[0]["args"]
    assert request["numberOfRooms"] == 2 and request["assign"] == "manually"
    room_ids = {name: f"room-uuid-{i + 1}" for i, name in enumerate(request["names"])}
    # the rooms the engine asked for (mirrored on the companion page) are the rooms assigned
    planned = live.engine.hub.companion_state(session_id)["rooms"]
    assert [room["name"] for room in planned] == request["names"]
    zoom_uuid = {"p-dee": "zoom-uuid-dee"}
    expected = sorted(
        (room_ids[room["name"]], zoom_uuid.get(pid, pid))
        for room in planned
        for pid in room["participant_ids"]
    )
    assigned = sorted(
        (c["args"]["uuid"], c["args"]["participantUUID"])
        for c in calls
        if c["name"] == "assignParticipantToBreakoutRoom"
    )
    assert assigned == expected
    assert {uuid for _, uuid in assigned} == {"p-ada", "p-bob", "p-cy", "zoom-uuid-dee"}
    first_assign = names.index("assignParticipantToBreakoutRoom")
    assert names.index("createBreakoutRooms") < first_assign < names.index("openBreakoutRooms")
    assert names.count("openBreakoutRooms") == 1

    opened = await firing(live, session_id, "rooms@open")
    assert (opened.channel, opened.outcome, opened.status) == ("bridge", "acknowledged", "sent")

    await live.clock.advance(600)  # warning at 14m, close at 15m
    await expect(page.locator("#bridge-log")).to_contain_text("close_breakouts: breakout rooms")
    calls = await page.evaluate("window.__zoomCalls")
    assert [c["name"] for c in calls].count("closeBreakoutRooms") == 1
    closed = await firing(live, session_id, "rooms@close")
    assert (closed.channel, closed.outcome) == ("bridge", "acknowledged")
    await expect(page.locator('#firings li[data-key="rooms@close"]')).to_contain_text("bridge")
    wrapped.check()


async def test_companion_shows_the_prompt_and_takes_a_commitment(live: Live, browser: Any) -> None:
    session_id = await live.session()
    async with live.client() as client:
        link = (await client.get(f"/sessions/{session_id}/companion-link")).json()["url"]
        await client.post(f"/sessions/{session_id}/controls", json={"kind": "start"})
    await live.clock.advance(0)
    wrapped = await open_page(browser, link)
    page = wrapped.page
    assert "#k=" not in page.url
    await expect(page.locator("#stream-status")).to_have_text("live")
    await expect(page.locator("#prompt")).to_have_text("In one word, how are you arriving?")
    await expect(page.locator("#commit-panel")).to_be_hidden()

    await live.clock.advance(120)  # the poll opens on the page
    await expect(page.locator("#poll-question")).to_have_text("Which tool do you use most?")
    await page.check("#poll-options input[value=Mural]")
    await page.fill("#poll-name", "Cy Young")
    await page.click("#poll-form button")
    await expect(page.locator("#message")).to_contain_text("your answer is in")

    await live.clock.advance(780)  # 15m: the commitments segment
    await expect(page.locator("#commit-prompt")).to_have_text(
        "One action you will take in the next 48 hours."
    )
    await expect(page.locator("#name-input")).to_have_value("Cy Young")  # remembered
    await page.fill("#commit-input", "I will send the map to my team on Monday.")
    await page.click("#commit-form button")
    await expect(page.locator("#message")).to_contain_text("Thank you, Cy Young")
    # "Your commitment: … [edit]"
    await expect(page.locator("#my-commitment-text")).to_have_text(
        "I will send the map to my team on Monday."
    )
    await page.click("#edit-commitment")
    await page.fill("#edit-commitment-input", "I will send the map to Ana on Monday.")
    await page.click("#edit-commitment-form button[type=submit]")
    await expect(page.locator("#my-commitment-text")).to_have_text(
        "I will send the map to Ana on Monday."
    )
    async with reading(live.db.engine) as connection:
        made = await activity.commitments_for(connection, session_id)
        answers = await activity.poll_answers_for(connection, session_id, "welcome-2")
    # The page's person is their own participant (a web- ref), not whoever has that name.
    assert [(c.name, c.text, c.source) for c in made] == [
        ("Cy Young", "I will send the map to Ana on Monday.", "form")
    ]
    assert made[0].participant_ref.startswith("web-")
    assert [(a.participant_ref, list(a.answer)) for a in answers] == [
        (made[0].participant_ref, ["Mural"])
    ]
    wrapped.check()


async def test_companion_without_its_key_says_so(live: Live, browser: Any) -> None:
    session_id = await live.session(join=False)
    wrapped = await open_page(browser, f"{live.base_url}/companion/{session_id}#k=forged")
    await expect(wrapped.page.locator("#message")).to_contain_text("not valid for this session")
    assert all("403" in error for error in wrapped.errors), wrapped.errors


async def test_console_without_a_session_lists_the_sessions(live: Live, browser: Any) -> None:
    session_id = await live.session(join=False)
    token = live.tokens["viewer"]
    wrapped = await open_page(browser, f"{live.base_url}/console#token={token}")
    page = wrapped.page
    link = page.locator(f'#session-list a[href="/console/{session_id}"]')
    await expect(link).to_have_text("Pages test")
    await link.click()
    await expect(page.locator("#show-title")).to_have_text("Pages test")
    # a viewer sees the console, but the server refuses its controls
    await page.click("button[data-control=start]")
    await expect(page.locator("#message")).to_contain_text("start refused")
    await expect(page.locator("#status")).not_to_have_text("running")
    assert all("403" in error for error in wrapped.errors), wrapped.errors


async def test_the_vendored_sdk_loads_under_the_page_policy(live: Live, browser: Any) -> None:
    session_id = await live.session(join=False)
    wrapped = await open_page(browser, f"{live.base_url}/console/{session_id}")
    kinds = await wrapped.page.evaluate(
        """import("/pages/static/vendor/zoom-appssdk.es.js").then((m) => [
             typeof m.default.config, typeof m.default.sendMessageToChat,
             typeof m.default.createBreakoutRooms, typeof m.default.assignParticipantToBreakoutRoom,
             typeof m.default.openBreakoutRooms, typeof m.default.closeBreakoutRooms])"""
    )
    assert kinds == ["function"] * 6
    wrapped.check()


async def test_console_replan_panel_proposes_and_accepts(live: Live, browser: Any) -> None:
    session_id = await live.session()
    token = live.tokens["producer"]
    wrapped = await open_page(browser, f"{live.base_url}/console/{session_id}#token={token}")
    page = wrapped.page
    panel = page.locator("#replan-panel")
    await page.click("button[data-control=start]")
    await expect(page.locator("#status")).to_have_text("running")
    await expect(panel).to_be_hidden()
    await page.click("button[data-control=extend]")
    # 5 minutes late: the rooms may give 3 of them, dropping them lands; or end late.
    await expect(panel).to_be_visible()
    await expect(panel.locator(".replan-late")).to_contain_text("Running 5 min late")
    options = panel.locator(".replan-options li")
    await expect(options).to_have_count(3)
    await expect(options.nth(0)).to_contain_text("drop rooms (10m): ends on time")
    await expect(options.nth(1)).to_contain_text("shrink rooms 10m → 7m: ends 2m late")
    await expect(options.nth(2).locator("button")).to_have_count(0)  # "end late" is no change
    for width in (1280, 400, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await panel.screenshot(path=f"/tmp/facilbot-replan-{width}.png")
    await page.set_viewport_size({"width": 1280, "height": 1000})
    await options.nth(1).locator("button").click()
    # Still 2 minutes late: what is left to choose is dropping the rooms, or ending late.
    await expect(panel.locator(".replan-late")).to_contain_text("Running 2 min late")
    await expect(options).to_have_count(2)
    await expect(options.nth(1)).to_contain_text("end 2m late")
    await panel.locator("button", has_text="Dismiss").click()
    await expect(panel.locator("h2")).to_have_text("Timing")
    await expect(panel).to_contain_text("2m late: extended welcome by 5m; 1 re-plan(s) accepted")
    rooms = [s for s in (await live.engine.state(session_id)).segments if s.id == "rooms"]
    assert rooms[0].start is not None and rooms[0].end is not None
    assert (rooms[0].end - rooms[0].start).total_seconds() == 420
    wrapped.check()
