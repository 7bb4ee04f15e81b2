"""The report and cohort pages in a real headless Chromium, on the reported show of
``tests/facilbot/reports`` served by uvicorn; and the console's link and debrief-notes form.

Screenshots at 1280, 400 and 360 px go to /tmp/facilbot-report-*.png for a person to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilbot.auth import Role
from facilbot.platforms.sim import SimPlatform
from facilbot.reports import tables
from facilbot.store.db import Database, open_database, reading
from tests.facilbot.reports.test_session_report import first_session, second_session
from tests.pages.test_browser import Page
from tests.pages.test_seat import axe_problems
from tests.support.api import ApiHarness, free_socket, open_api, service_settings

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[ApiHarness, str]]:
    sock = free_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = service_settings(
        tmp_path, database_url=f"sqlite:///{tmp_path / 'facilbot.db'}", base_url=base_url
    )
    db: Database = await open_database(settings)
    try:
        sim = SimPlatform(rehearse=True, start_planned=False)  # sessions start when told
        async with open_api(settings, db, sock=sock, platforms=[sim]) as api:
            yield api, base_url
    finally:
        await db.close()


async def open_at(browser: Any, url: str, width: int = 1280) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = Page(await context.new_page())
    await page.page.goto(url)
    return page


async def test_report_page(served: tuple[ApiHarness, str], browser: Any) -> None:
    api, base = served
    session_id = await first_session(api)
    viewer = api.tokens[Role.viewer]

    # Without a token the page asks for one and shows nothing about anyone.
    bare = await open_at(browser, f"{base}/report/{session_id}")
    await expect(bare.page.locator("#login")).to_be_visible()
    assert "Ana" not in await bare.page.content()
    bare.check()

    wrapped = await open_at(browser, f"{base}/report/{session_id}#token={viewer}")
    page = wrapped.page
    await expect(page.locator("#report h1")).to_have_text("Report test show")
    assert "token" not in page.url  # moved out of the address bar into sessionStorage
    await expect(page.locator("svg.timeline")).to_be_visible()
    # 5 segments: the end of the session counted as the 25/5 break (no guard break inserted)
    assert await page.locator("svg.timeline rect.seg.actual").count() == 5
    assert await page.locator("svg.timeline .cue").count() == 7  # 6 fired, 1 skipped
    await expect(page.locator("#partial")).to_have_count(0)
    await expect(page.locator("#report")).to_contain_text(
        "Longest stretch without an interaction: 7m"
    )
    await expect(page.locator("#report")).to_contain_text("Present without a commitment: Ben, Cleo")
    await expect(page.locator("#cohort-link")).to_have_attribute("href", "/cohort/reportshow")
    # the journey around the live hour (see test_session_report_figures for the figures)
    await expect(page.locator("#journey")).to_contain_text("Committed: 2 of 4 (50 %)")
    journey_table = page.locator("#journey-section table")
    await expect(journey_table.locator("tbody tr")).to_have_count(4)
    # no pre-work and no follow-ups in this show: no columns of dashes for them
    await expect(journey_table.locator("th")).to_have_text(["name", "live", "commitment"])
    await expect(page.locator("#report")).to_contain_text("(Tue 4 Mar 2025, UTC)")
    assert await axe_problems(page) == []
    for width in (1280, 400, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=f"/tmp/facilbot-report-{width}.png", full_page=True)
        await page.screenshot(path=f"/tmp/facilbot-report-{width}-top.png")
        await page.locator("#journey-section").screenshot(
            path=f"/tmp/facilbot-report-{width}-journey.png"
        )
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways at {width}px"
    # A viewer reads but cannot write notes; the page says so.
    await page.select_option("#note-segment", "talk")
    await page.fill("#note-text", "x")
    await page.click("#note-form button")
    await expect(page.locator("#message")).to_contain_text("producer or facilitator")
    wrapped.errors = [e for e in wrapped.errors if "403" not in e]  # the refused note
    wrapped.check()

    producer = await open_at(
        browser, f"{base}/report/{session_id}#token={api.tokens[Role.producer]}"
    )
    await expect(producer.page.locator("svg.timeline")).to_be_visible()
    await producer.page.select_option("#note-segment", "work")
    await producer.page.fill("#note-text", "Skipped work: the example took too long")
    await producer.page.click("#note-form button")
    await expect(producer.page.locator("#report-notes")).to_contain_text(
        "[work] producer producer tester: Skipped work: the example took too long"
    )
    producer.check()


async def test_cohort_page_and_console_link(served: tuple[ApiHarness, str], browser: Any) -> None:
    api, base = served
    first = await first_session(api)
    second = await second_session(api)
    token = api.tokens[Role.viewer]
    wrapped = await open_at(browser, f"{base}/cohort/reportshow#token={token}")
    page = wrapped.page
    await expect(page.locator("#cohort h1")).to_have_text("Cohort report: reportshow")
    await expect(page.locator("#suggestions")).to_contain_text("talk overran in 1 of 2 sessions")
    # Evidence reads as a line, not as JSON: short session ids, seconds as minutes.
    evidence = page.locator("#suggestions .evidence").first
    await expect(evidence).to_contain_text(f"overran in: {first[:8]} · median overrun: 2m")
    assert "{" not in await page.locator("#suggestions").inner_text()
    # values carry their units: both sessions' commitment rates, in percent
    await expect(page.locator("#suggestions")).to_contain_text(
        f"commitment: {first[:8]} 50 %, {second[:8]} 50 %"
    )
    await expect(page.locator("#cohort")).to_contain_text("v1 → v2: commit: 5m → 6m")
    # both sessions' people: first 4 (2 committed), second Eve and Finn (Eve committed)
    await expect(page.locator("#journey")).to_contain_text("Committed: 3 of 6 (50 %)")
    assert await axe_problems(page) == []
    for width in (1280, 400, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=f"/tmp/facilbot-cohort-{width}.png", full_page=True)
        await page.screenshot(path=f"/tmp/facilbot-cohort-{width}-top.png")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the cohort page scrolls sideways at {width}px"
    wrapped.check()

    console = await open_at(browser, f"{base}/console/{first}#token={api.tokens[Role.producer]}")
    link = console.page.locator("#report-link")
    await expect(link).to_have_attribute("href", f"/report/{first}")
    await console.page.select_option("#debrief-segment", "talk")
    await console.page.fill("#debrief-text", "Poll options were unclear")
    await console.page.click("#debrief-form button")
    await expect(console.page.locator("#debrief")).to_contain_text("Note saved for talk")
    async with reading(api.db.engine) as connection:
        notes = await tables.notes_for(connection, [first])
    assert [(n.segment_id, n.text, n.role) for n in notes] == [
        ("talk", "Poll options were unclear", "producer")
    ]
    await console.page.screenshot(path="/tmp/facilbot-console-debrief.png", full_page=True)
    console.check()
