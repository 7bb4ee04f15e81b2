"""The companion page in Chromium: pre-work before the session, a late (asynchronous)
commitment and consent to the follow-ups after it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from facilbot.journey import reach
from facilbot.store import activity
from facilbot.store import sessions as store_sessions
from facilbot.store.db import reading
from integrations.contract import Platform, PollAnswer
from tests.pages.conftest import MEETING, PEOPLE, SHOW, Live
from tests.pages.test_browser import expect, open_page
from tests.pages.test_seat import axe_problems

pytestmark = pytest.mark.browser

PREWORK_SHOW = SHOW.replace(
    "title: Pages test\n",
    "title: Pages test\ntimezone: Europe/Berlin\nprework:\n"
    '  - {title: "Circular models primer (12 min video)", url: "https://example.org/primer", '
    "due_before: 2d}\n"
    '  - {title: "Map your stakeholders", url: "https://example.org/map"}\n',
)
SHOTS = "/tmp/facilbot-journey"


async def eve_ahead(live: Live, browser: Any, show: str) -> tuple[str, Any]:
    """A session planned in three days; Eve opens the shared companion link and says her name."""
    record, _ = await live.engine.upload_show("journey-test", show, "test")
    session_id = await live.engine.attach(
        record.id, "sim", MEETING, by="test", planned_start=live.clock.now() + timedelta(days=3)
    )
    await live.join(*PEOPLE)
    async with live.client() as client:
        link = (await client.get(f"/sessions/{session_id}/companion-link")).json()["url"]
    wrapped = await open_page(browser, link)
    await expect(wrapped.page.locator("#stream-status")).to_have_text("live")
    await wrapped.page.fill("#who-name", "Eve Early")
    await wrapped.page.click("#who-form button")
    return session_id, wrapped


async def test_prework_before_and_a_late_commitment_after(live: Live, browser: Any) -> None:
    session_id, wrapped = await eve_ahead(live, browser, PREWORK_SHOW)
    page = wrapped.page
    await expect(page.locator("#journey-panel .who")).to_contain_text("Eve Early")
    await expect(page.locator("#prework li")).to_have_count(2)
    await page.check("#prework-0")
    await expect(page.locator("#prework-0")).to_be_checked()
    await page.check("#prework-1")
    await expect(page.locator("#prework-1")).to_be_checked()
    await page.screenshot(path=f"{SHOTS}-before-1280.png", full_page=True)
    async with live.client() as client:
        figures = (await client.get(f"/sessions/{session_id}/journey/prework")).json()
    assert figures["summary"] == "1 of 5 did the pre-work" and figures["who"] == ["Eve Early"]
    console = await open_page(
        browser, f"{live.base_url}/console/{session_id}#token={live.tokens['producer']}"
    )
    await expect(console.page.locator("#prework-summary")).to_have_text(
        "1 of 5 did the pre-work: Eve Early"
    )

    async with live.client() as client:
        for kind in ("start", "end"):
            made = await client.post(f"/sessions/{session_id}/controls", json={"kind": kind})
            assert made.status_code == 200, made.text
    await live.clock.advance(3600)  # an hour after the end: the recap
    await expect(page.locator("#commit-panel")).to_be_visible()
    await expect(page.locator("#prework")).to_have_count(0)
    await expect(page.locator("#name-input")).to_have_value("Eve Early")
    await page.fill("#commit-input", "I will watch the recording and map my own stakeholders.")
    await page.click("#commit-form button")
    await expect(page.locator("#my-commitment")).to_contain_text("made after the session")
    await expect(page.locator("#commit-panel")).to_be_hidden()  # edited from here on
    await page.check("#contact-consent")
    await page.fill("#contact-email", "eve@example.org")
    # A refresh (the stream, the recap arriving) while the form is half done keeps what she
    # ticked and typed: it once rebuilt the form and sent "no consent".
    await page.evaluate("window.FBJourney.refresh()")
    await expect(page.locator("#contact-consent")).to_be_checked()
    await expect(page.locator("#contact-email")).to_have_value("eve@example.org")
    await page.click("#contact-form button")
    await expect(page.locator("#message")).to_contain_text("we will e-mail you")
    async with live.db.engine.begin() as connection:  # Ada committed in the meeting's chat
        await activity.record_commitment(
            connection,
            session_id,
            "p-ada",
            name="Ada Lovelace",
            text="Call Bob.",
            at=live.clock.now(),
        )
    await console.page.reload()
    await expect(console.page.locator("#unreachable")).to_contain_text("Ada Lovelace — no address")
    await expect(console.page.locator("#reach-summary")).to_have_text(
        "1 will get the follow-up mails"
    )
    await console.page.locator("#journey").screenshot(path=f"{SHOTS}-console-panel.png")
    for width in (1280, 400, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=f"{SHOTS}-after-{width}.png", full_page=True)

    async with reading(live.db.engine) as connection:
        session = await store_sessions.get_session(connection, session_id)
        made = await activity.commitments_for(connection, session_id)
        people = {p.name: p for p in await reach.reach_for(connection, session_id)}
    assert session is not None and session.ended_at is not None
    assert [(c.name, c.at > session.ended_at) for c in made if c.source == "form"] == [
        ("Eve Early", True)
    ]
    assert people["Eve Early"].reason == "ok" and people["Eve Early"].email == "eve@example.org"
    wrapped.check()
    console.check()


RECAP_SHOW = SHOW.replace(
    "title: Pages test\n",
    "title: Pages test\ntimezone: Europe/Berlin\n"
    "access: {recording: true, transcript: false, recap_for: 7d}\n"
    "prework:\n"
    '  - {title: "Circular models primer", url: "https://example.org/primer"}\n'
    '  - title: "Where you start"\n'
    '    poll: {question: "How often do you map stakeholders?", '
    "options: [Never, Sometimes, Always]}\n",
)


async def test_baseline_ahead_then_the_recap_then_its_close(live: Live, browser: Any) -> None:
    session_id, wrapped = await eve_ahead(live, browser, RECAP_SHOW)
    page = wrapped.page
    await expect(page.locator("#baseline-1 .question")).to_have_text(
        "How often do you map stakeholders?"
    )
    await page.check("#baseline-form-1-1")  # Sometimes
    await page.click("#baseline-form-1 button")
    await expect(page.locator("#baseline-1")).to_contain_text("answered")
    await expect(page.locator("#baseline-form-1 button")).to_have_text("Change my answer")
    assert await axe_problems(page) == []
    await page.screenshot(path=f"{SHOTS}-baseline-1280.png", full_page=True)
    console = await open_page(
        browser, f"{live.base_url}/console/{session_id}#token={live.tokens['producer']}"
    )
    await expect(console.page.locator(".baseline-figure")).to_have_text(
        "How often do you map stakeholders? Never 0 · Sometimes 1 · Always 0 (1 answer)"
    )

    async with live.client() as client:
        started = await client.post(f"/sessions/{session_id}/controls", json={"kind": "start"})
        assert started.status_code == 200, started.text
    await live.clock.advance(150)  # the poll opened at 2m
    answers = [
        PollAnswer(
            platform=Platform.sim,
            meeting_ref=MEETING,
            event_id=f"poll-{ref}",
            occurred_at=live.clock.now(),
            poll_key="welcome-2",
            participant_id=ref,
            choices=(choice,),
        )
        for ref, choice in (("p-ada", "Miro"), ("p-bob", "Paper"), ("p-cy", "Miro"))
    ]
    for event in await live.engine.accept(answers):
        await live.engine.ingest(event)
    async with live.client() as client:
        ended = await client.post(f"/sessions/{session_id}/controls", json={"kind": "end"})
        assert ended.status_code == 200, ended.text
    await live.clock.advance(3600)  # an hour after the end: the recap

    recap = page.locator("#recap-panel")
    await expect(recap).to_be_visible()
    await expect(page.locator("#prework")).to_have_count(0)
    poll = recap.locator(".recap-poll")
    await expect(poll.locator(".question").first).to_have_text("Which tool do you use most?")
    await expect(poll.locator('li[data-option="Miro"] .n')).to_have_text("2 (67%)")
    await expect(poll).to_contain_text("3 answers in the session")
    await expect(recap).to_contain_text("Watch the recording: it will appear here.")
    await expect(recap).to_contain_text("There is no transcript of this session.")
    await page.check("#late-0-1")  # Mural, answered after the session
    await page.click("#late-0 button")
    await expect(poll.locator(".late-answers")).to_have_text(
        "1 answer since: Miro 0, Mural 1, Paper 0"
    )
    await expect(poll.locator('li[data-option="Mural"] .n')).to_have_text("0 (0%)")  # live stays
    await page.fill("#commit-input", "I will map my own stakeholders this week.")
    await page.click("#commit-form button")
    await expect(page.locator("#my-commitment")).to_contain_text("made after the session")

    # The producer shares the recording from the console; Eve's open page shows it at once.
    await console.page.reload()
    links = console.page.locator("#recap-links-form")
    await expect(links).to_contain_text("No transcript: the show says there is none.")
    await expect(console.page.locator("#recap-transcript")).to_have_count(0)
    await console.page.fill("#recap-recording", "video.example.org/r/42")
    await links.locator("button").click()
    await expect(console.page.locator("#recap-links-status")).to_contain_text(
        "Not saved: the recording link must be an http(s) address"
    )
    refused = [e for e in console.errors if "422" in e]  # the response, the console's line
    assert any("/recap-links" in e for e in refused), console.errors
    console.errors = [e for e in console.errors if e not in refused]
    await console.page.fill("#recap-recording", "https://video.example.org/r/42")
    await links.locator("button").click()
    await expect(console.page.locator("#recap-links-status")).to_have_text(
        "Shared: the recap pages show it now."
    )
    await expect(recap.get_by_role("link", name="Watch the recording")).to_have_attribute(
        "href", "https://video.example.org/r/42"
    )
    assert await axe_problems(console.page) == []
    for width in (1280, 400, 360):
        await console.page.set_viewport_size({"width": width, "height": 900})
        await console.page.locator("#journey").screenshot(path=f"{SHOTS}-recap-links-{width}.png")
    async with live.client() as client:
        figures = (await client.get(f"/sessions/{session_id}/journey/recap")).json()
    assert figures["recording"] == "https://video.example.org/r/42"
    assert (figures["recording_expected"], figures["transcript_expected"]) == (True, False)
    assert figures["commitments_asynchronous"] == 1
    assert figures["polls"][0]["asynchronous"] == {"counts": {"Mural": 1}, "answers": 1}
    await page.reload()
    await expect(page.locator("#late-0 button")).to_have_text("Change my answer")
    assert await axe_problems(page) == []
    for width in (1280, 400, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=f"{SHOTS}-recap-{width}.png", full_page=True)

    await live.clock.advance(7 * 86400)  # past the recap's window
    await page.reload()
    await expect(page.locator("#recap-closed")).to_have_text(
        "The recap of this session has closed."
    )
    await expect(page.locator("#commit-panel")).to_be_hidden()
    await expect(page.locator("#idle-panel")).to_be_hidden()
    await expect(page.locator("#my-commitment-text")).to_have_text(
        "I will map my own stakeholders this week."
    )
    await expect(page.locator("#edit-commitment")).to_have_count(0)  # nothing more is taken
    await expect(page.locator("#contact-form")).to_have_count(0)
    await page.screenshot(path=f"{SHOTS}-recap-closed-360.png", full_page=True)
    wrapped.check()
    console.check()
