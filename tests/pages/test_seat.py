"""The producer's seat in Chromium: the notes of the segment, chat commands answered back,
cues that expire, the session list, the companion page's titles, countdown, poll results and
QR code, and axe-core on both pages (no serious or critical violation).

Screenshots of both pages at 1280, 400 and 360 px go to ``FACILBOT_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from facilbot.store import firings as store_firings
from facilbot.store import notices as store_notices
from facilbot.store.db import reading
from integrations.contract import ChatCommand, Platform, Role
from tests.pages.conftest import MEETING, PEOPLE, Live

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect
expect.set_options(timeout=15_000)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SHOTS = os.environ.get("FACILBOT_SCREENSHOTS")

SHOW = """\
title: Seat test
duration: 20m
segments:
  - id: arrive
    kind: connection
    duration: 5m
    facilitator_notes: "Greet people by name as they arrive."
    producer_notes:
      watch_for: "Anyone silent after two minutes: invite them by name in the chat."
      keep_same: "The one-word check-in, so cohorts can be compared."
      flex: "Cut the poll if the check-in runs long."
    cues:
      - at: 0m
        say: "In one word, how are you arriving?"
      - at: 1m
        poll:
          question: "Which tool do you use most?"
          options: [Miro, Mural, Paper]
          open_for: 2m
      - at: 3m30s
        poll:
          question: "Secret ballot?"
          options: ["Yes", "No"]
          open_for: 1m
          show_results: false
  - id: work-time
    kind: activity
    duration: 10m
    producer_notes: "Keep the chat moving."
  - id: commit
    kind: commitments
    title: Commitments
    duration: 5m
"""


async def attach(live: Live) -> str:
    record, _ = await live.engine.upload_show("seat-test", SHOW, "test")
    session_id = await live.engine.attach(record.id, "sim", MEETING, by="test")
    await live.join(*PEOPLE)
    return session_id


async def open_page(browser: Any, url: str, width: int = 1280, **options: Any) -> Any:
    context = await browser.new_context(viewport={"width": width, "height": 900}, **options)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    await page.goto(url)
    return page


async def axe_problems(page: Any) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now."""
    # Run through the DevTools protocol: the page's own policy forbids inline scripts.
    await page.evaluate(AXE.read_text("utf-8"))
    result = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['nodes']}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


async def shoot(page: Any, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


async def command(live: Live, n: int, sender: str, role: Role, verb: str, *args: str) -> None:
    event = ChatCommand(
        platform=Platform.sim,
        meeting_ref=MEETING,
        event_id=f"cmd-{n}",
        occurred_at=live.clock.now(),
        sender_id=f"id-{sender}",
        sender_name=sender,
        verb=verb,
        args=args,
        sender_role=role,
    )
    for fresh in await live.engine.accept([event]):
        await live.engine.ingest(fresh)


async def test_the_console_shows_the_why_answers_back_and_expires_cues(
    live: Live, browser: Any
) -> None:
    session_id = await attach(live)
    token = live.tokens["producer"]
    page = await open_page(browser, f"{live.base_url}/console/{session_id}#token={token}")
    await expect(page.locator("#show-title")).to_have_text("Seat test")
    # the QR code of the companion link, drawn by the server
    qr = page.locator("#companion-qr img")
    await expect(qr).to_have_attribute("alt", "QR code of the companion link")
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")

    await page.keyboard.press("Shift+S")  # start, from the keyboard
    await expect(page.locator("#status")).to_have_text("running")
    await expect(page.locator("#note-watch dd")).to_have_text(
        "Anyone silent after two minutes: invite them by name in the chat."
    )
    await expect(page.locator("#note-keep dd")).to_contain_text("one-word check-in")
    await expect(page.locator("#note-flex dd")).to_contain_text("Cut the poll")
    await expect(page.locator("#note-facilitator dd")).to_contain_text("Greet people")

    # Zoom without the bridge: the prompt went to the companion page only, so the producer
    # gets it to paste too.
    cue = page.locator("#cues .cue")
    await expect(cue).to_have_count(1)
    await expect(cue.locator(".cue-text")).to_contain_text("Only the companion page showed this")
    await expect(cue.locator(".cue-paste")).to_have_value("In one word, how are you arriving?")

    # refused commands come back: malformed, and from someone who may not steer
    await command(live, 1, "Hana Host", Role.host, "extend", "five")
    await command(live, 2, "Bob Marley", Role.attendee, "end")
    notices = page.locator("#notices li")
    await expect(notices).to_have_count(2)
    await expect(notices.nth(1)).to_contain_text("/fb extend five was not done")
    await expect(notices.nth(0)).to_contain_text("only the host, a co-host or a named producer")
    await expect(page.locator("#status")).to_have_text("running")  # /fb end did nothing
    async with reading(live.db.engine) as connection:
        kept = await store_notices.notices_for(connection, session_id)
    assert [(n.sender, n.command, n.refused) for n in kept] == [
        ("Bob Marley", "/fb end", True),
        ("Hana Host", "/fb extend five", True),
    ]
    assert page.errors == []
    assert await axe_problems(page) == []
    await shoot(page, "console-1280")
    for width in (400, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await shoot(page, f"console-{width}")
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
    await page.set_viewport_size({"width": 1280, "height": 900})

    # the segment ends: its cues' moment has passed, so they are recorded as missed
    await live.clock.advance(300)
    await expect(page.locator("#current-segment")).to_have_text("Work time")
    await expect(page.locator("#note-watch dd")).to_have_text("Keep the chat moving.")
    await expect(page.locator("#note-keep")).to_be_hidden()
    await expect(page.locator("#cues .cue")).to_have_count(0)
    async with reading(live.db.engine) as connection:
        firings = {f.key: f for f in await store_firings.firings_for(connection, session_id)}
    assert (firings["arrive-1"].status, firings["arrive-1"].outcome) == ("sent", "missed")
    assert firings["arrive-2"].outcome == "missed"

    # skip, then undo it from the keyboard: a jump back
    await page.keyboard.press("n")
    await expect(page.locator("#current-segment")).to_have_text("Commitments")
    await expect(page.locator("#undo-button")).to_be_enabled()
    await page.keyboard.press("u")
    await expect(page.locator("#current-segment")).to_have_text("Work time")

    # an edited extend length is the one sent
    await page.fill("#extend-minutes", "3")
    await page.click("button[data-control=extend]")
    await expect(page.locator("#message")).to_have_text("extend done")
    assert page.errors == []


async def test_every_open_cue_closes_at_the_end(live: Live, browser: Any) -> None:
    session_id = await attach(live)
    async with live.client() as client:
        await client.post(f"/sessions/{session_id}/controls", json={"kind": "start"})
        await live.clock.advance(0)
        assert len((await client.get(f"/sessions/{session_id}")).json()["producer_cues"]) == 1
        await client.post(f"/sessions/{session_id}/controls", json={"kind": "end"})
        await live.clock.advance(1)
        state = (await client.get(f"/sessions/{session_id}")).json()
    assert state["status"] == "ended" and state["producer_cues"] == []
    async with reading(live.db.engine) as connection:
        firings = await store_firings.firings_for(connection, session_id)
    assert [f.outcome for f in firings if f.key == "arrive-1"] == ["missed"]


async def test_the_session_list_names_shows_and_keeps_ended_ones_apart(
    live: Live, browser: Any
) -> None:
    ended = await attach(live)
    async with live.client() as client:
        await client.post(f"/sessions/{ended}/controls", json={"kind": "end"})
    await live.clock.advance(1)
    record, _ = await live.engine.upload_show("seat-test", SHOW, "test")
    waiting = await live.engine.attach(record.id, "sim", MEETING, by="test")
    page = await open_page(browser, f"{live.base_url}/console#token={live.tokens['viewer']}")
    row = page.locator(f'#session-list li[data-session="{waiting}"]')
    await expect(row.locator("a")).to_have_text("Seat test")
    await expect(row).to_contain_text(f"sim · {MEETING}")
    await expect(row.locator(".badge")).to_have_text("waiting")
    gone = page.locator(f'#ended-list li[data-session="{ended}"]')
    await expect(gone.locator(".badge")).to_have_text("ended")
    await expect(page.locator(f'#session-list li[data-session="{ended}"]')).to_have_count(0)
    assert await axe_problems(page) == []
    assert page.errors == []


async def test_the_companion_shows_titles_a_countdown_and_results(live: Live, browser: Any) -> None:
    session_id = await attach(live)
    async with live.client() as client:
        link = (await client.get(f"/sessions/{session_id}/companion-link")).json()["url"]
        await client.post(f"/sessions/{session_id}/controls", json={"kind": "start"})
    await live.clock.advance(60)  # the first poll opens
    page = await open_page(browser, link, width=360)
    await expect(page.locator("#segment")).to_have_text("Arrive")  # not the raw id
    await expect(page.locator("#countdown-label")).to_have_text("This part ends in")
    await expect(page.locator("#time-left")).to_have_text("4:00")
    await page.check("#poll-options input[value=Mural]")
    await page.fill("#poll-name", "Cy Young")
    await page.click("#poll-form button")
    await expect(page.locator("#message")).to_contain_text("your answer is in")
    assert await axe_problems(page) == []

    await live.clock.advance(120)  # it closes: the results reach the page
    results = page.locator("#results-panel")
    await expect(results).to_be_visible()
    await expect(page.locator("#results-question")).to_have_text("Which tool do you use most?")
    await expect(page.locator('#results li[data-option="Mural"] .n')).to_have_text("1 (100%)")
    await expect(page.locator("#results-total")).to_have_text("1 answer")
    assert await axe_problems(page) == []
    await shoot(page, "companion-360")
    for width in (400, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await shoot(page, f"companion-{width}")
    await page.set_viewport_size({"width": 360, "height": 900})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    await live.clock.advance(30)  # 3m30s: the secret ballot opens
    await expect(page.locator("#poll-question")).to_have_text("Secret ballot?")
    await expect(results).to_be_hidden()
    await live.clock.advance(60)  # and closes: show_results: false keeps its results away
    await expect(page.locator("#poll-panel")).to_be_hidden()
    await expect(results).to_be_hidden()

    await live.clock.advance(30)  # 5m: the next part
    await expect(page.locator("#segment")).to_have_text("Work time")
    assert page.errors == []


async def test_the_dark_theme_passes_axe_too(live: Live, browser: Any) -> None:
    session_id = await attach(live)
    token = live.tokens["producer"]
    page = await open_page(
        browser,
        f"{live.base_url}/console/{session_id}#token={token}",
        color_scheme="dark",
        reduced_motion="reduce",
    )
    await expect(page.locator("#show-title")).to_have_text("Seat test")
    background = await page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background != "rgb(245, 246, 248)", background  # not the light theme's
    assert await axe_problems(page) == []
    await shoot(page, "console-dark-1280")
    async with live.client() as client:
        link = (await client.get(f"/sessions/{session_id}/companion-link")).json()["url"]
    companion = await open_page(browser, link, width=360, color_scheme="dark")
    await expect(companion.locator("#stream-status")).to_have_text("live")
    assert await axe_problems(companion) == []
    await shoot(companion, "companion-dark-360")
