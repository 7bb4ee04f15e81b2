"""Rehearsal in Chromium: a ``sim`` session under the service gets a simulated meeting, and the
participants' panel drives a short show through it: join, a poll answer, ``/fb extend 2``, a
refused command answered in the chat, and a commitment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilbot.engine.clock import VirtualClock
from facilbot.platforms.sim import SimPlatform
from facilbot.settings import load_settings
from facilbot.store import activity
from facilbot.store import controls as store_controls
from facilbot.store.db import open_database, reading
from tests.pages.conftest import PAGES_SECRET, START, Live
from tests.support.api import free_socket, open_api

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect
expect.set_options(timeout=15_000)

SHOW = """\
title: Rehearsal test
duration: 15m
segments:
  - id: welcome
    kind: connection
    duration: 5m
    cues:
      - at: 0m
        say: "In one word, how are you arriving?"
      - at: 1m
        poll:
          question: "Which tool do you use most?"
          options: [Miro, Mural, Paper]
          open_for: 2m
  - id: practice
    kind: activity
    duration: 5m
  - id: commit
    kind: commitments
    duration: 5m
    prompt: "One action you will take in the next 48 hours."
"""


@pytest.fixture
async def rehearsal(tmp_path: Path) -> AsyncIterator[Live]:
    sock = free_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = load_settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'facilbot.db'}",
        base_url=base_url,
        pages_secret=PAGES_SECRET,
        platforms="sim",
        instance_id="rehearsal-test",
    )
    db = await open_database(settings)
    platform = SimPlatform.from_settings(settings)  # as facilbot serve builds it
    assert isinstance(platform, SimPlatform)
    try:
        async with open_api(
            settings, db, clock=VirtualClock(START), platforms=[platform], sock=sock
        ) as api:
            yield Live(base_url, api, platform.rehearsals.world)
    finally:
        await db.close()


async def say_as(page: Any, person: str, text: str) -> None:
    await page.select_option("#as-person", label=person)
    await page.fill("#chat-text", text)
    await page.click("#chat-form button")
    await expect(page.locator("#chat-text")).to_have_value("")


async def test_a_team_rehearses_a_short_show_from_the_panel(rehearsal: Live, browser: Any) -> None:
    live = rehearsal
    record, _ = await live.engine.upload_show("rehearsal-test", SHOW, "test")
    session_id = await live.engine.attach(record.id, "sim", "rehearsal-1", by="test")
    token = live.tokens["producer"]
    context = await browser.new_context(viewport={"width": 400, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{live.base_url}/sim/panel/{session_id}#token={token}")
    await expect(page.locator("#meeting")).to_have_text("sim · rehearsal-1")

    for name, role in (("Hana Host", "host"), ("Ada Lovelace", "attendee")):
        await page.fill("#join-name", name)
        await page.select_option("#join-role", role)
        await page.click("#join-form button")
        await expect(page.locator("#message")).to_have_text(f"{name} joined")
    await expect(page.locator("#as-person option")).to_have_count(2)
    state = await live.engine.state(session_id)
    assert sorted(p.name for p in state.participants if p.present) == [
        "Ada Lovelace",
        "Hana Host",
    ]

    await say_as(page, "Hana Host (host)", "/fb start")
    await live.clock.advance(0)
    chat = page.locator("#chat")
    await expect(chat).to_contain_text("facilbot: In one word, how are you arriving?")

    await live.clock.advance(60)  # the poll opens in the simulated meeting
    poll = page.locator('.poll-form[data-poll="welcome-2"]')
    await expect(poll).to_contain_text("Which tool do you use most?")
    await page.select_option("#as-person", label="Ada Lovelace")
    await poll.locator("input[value=Mural]").check()
    await poll.locator("button").click()
    await expect(page.locator("#message")).to_have_text("answered")

    await say_as(page, "Hana Host (host)", "/fb extend 2")
    await say_as(page, "Ada Lovelace", "/fb end")  # not hers to give: answered in the chat
    await expect(chat).to_contain_text("only the host, a co-host or a named producer")

    await say_as(page, "Hana Host (host)", "/fb jump commit")
    await live.clock.advance(0)
    await expect(page.locator("#commitments-open")).to_be_visible()
    await say_as(page, "Ada Lovelace", "I will try a check-in at my next team meeting.")

    async with reading(live.db.engine) as connection:
        answers = await activity.poll_answers_for(connection, session_id, "welcome-2")
        made = await activity.commitments_for(connection, session_id)
        log = await store_controls.controls_for(connection, session_id)
    assert [list(a.answer) for a in answers] == [["Mural"]]
    assert [(c.name, c.text) for c in made] == [
        ("Ada Lovelace", "I will try a check-in at my next team meeting.")
    ]
    assert [(c.kind, dict(c.payload)) for c in log if c.kind != "attach"] == [
        ("start", {}),
        ("extend", {"seconds": 120}),
        ("jump", {"segment_id": "commit"}),
    ]
    assert errors == []
    await page.screenshot(path="/tmp/i12shots/panel-400.png", full_page=True)
