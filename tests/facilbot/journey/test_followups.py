"""Follow-ups end to end: the schedule at sensible local hours, real mail through an
in-process SMTP server, one-click links that are signed and POST-only, exactly once."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from facilbot.journey import schedule
from facilbot.journey.followups import FollowUps
from facilbot.store.db import reading
from tests.facilbot.journey.conftest import (
    COMMITMENT,
    Inbox,
    Participant,
    ended_session,
    parts,
)
from tests.support.api import ApiHarness

REMINDER = datetime(2025, 3, 17, 8, 0, tzinfo=UTC)  # Monday 09:00 CET
CHECK_INS = [
    datetime(2025, 4, 7, 7, 0, tzinfo=UTC),  # Monday 09:00 CEST: summer time began 30 March
    datetime(2025, 5, 7, 7, 0, tzinfo=UTC),
    datetime(2025, 6, 6, 7, 0, tzinfo=UTC),
]


def followups_of(api: ApiHarness) -> FollowUps:
    assert api.services.followups is not None
    return api.services.followups


async def listed(api: ApiHarness, session_id: str) -> list[schedule.Listed]:
    async with reading(api.db.engine) as connection:
        return await schedule.listing(connection, session_id)


def link_path(text: str, label: str) -> str:
    found = re.search(rf"{label}: (\S+)", text)
    assert found, text
    parts_ = urlsplit(found[1])
    return parts_.path + (f"?{parts_.query}" if parts_.query else "")


async def test_the_schedule_the_mails_and_their_links(
    api: ApiHarness, smtp: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the service's level; facilbot's own at DEBUG
    caplog.set_level(logging.DEBUG, logger="facilbot")
    session_id = await ended_session(api)
    await followups_of(api).run_once()

    # Only Ana consented; Bo (no address) and Cy (no consent) are listed for the producer.
    reach = await api.client.get(f"/sessions/{session_id}/journey/reach", headers=api.auth())
    assert reach.status_code == 200
    assert reach.json()["reachable"] == 1
    assert [(p["name"], p["reason"]) for p in reach.json()["unreachable"]] == [
        ("Bo Berg", "no_address"),
        ("Cy Chen", "no_consent"),
    ]
    assert reach.json()["unreachable"][1]["email"] == "c…@example.org"  # masked

    rows = await listed(api, session_id)
    assert [(r.name, schedule.label(r.row.key), r.row.due_at, r.row.status) for r in rows] == [
        ("Ana Alves", "reminder", REMINDER, "scheduled"),
        ("Ana Alves", "check-in 30d", CHECK_INS[0], "scheduled"),
        ("Ana Alves", "check-in 60d", CHECK_INS[1], "scheduled"),
        ("Ana Alves", "check-in 90d", CHECK_INS[2], "scheduled"),
    ]
    assert rows[0].due_local.hour == 9 and rows[1].due_local.hour == 9
    assert rows[0].as_json()["due_local"] == "2025-03-17T09:00:00+01:00"

    # Nothing is sent before its time.
    await api.clock.advance_to(REMINDER - timedelta(minutes=1))
    await followups_of(api).run_once()
    assert smtp.received == []

    await api.clock.advance_to(REMINDER)
    await followups_of(api).run_once()
    await followups_of(api).run_once()  # exactly once: a second pass sends nothing more
    assert len(smtp.received) == 1
    reminder = smtp.received[0]
    assert smtp.envelopes == [["ana@example.org"]]
    assert reminder["To"] == "Ana Alves <ana@example.org>"
    assert reminder["From"] == "Facilitation team <team@example.net>"
    assert "Your commitment" in reminder["Subject"] and "API test show" in reminder["Subject"]
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(https?://\S+/f/\S+)>", reminder["List-Unsubscribe"])
    assert unsubscribe, reminder["List-Unsubscribe"]
    text, html = parts(reminder)
    assert COMMITMENT in text and COMMITMENT in html
    assert "Friday 7 March 2025" in text  # the session, in the show's time zone
    assert "You get this because you asked for it" in text
    assert "<blockquote" in html and "No more of these mails" in html

    # The 30-day check-in: one click per answer, signed, confirmed on a page.
    await api.clock.advance_to(CHECK_INS[0])
    await followups_of(api).run_once()
    assert len(smtp.received) == 2
    text, html = parts(smtp.received[1])
    assert "Did it happen?" in text and 'href="http' in html
    done = link_path(text, "Done")
    scanned = await api.client.get(done)  # a mail scanner's GET changes nothing
    assert scanned.status_code == 200 and 'method="post"' in scanned.text
    assert 'value="done" checked' in scanned.text and COMMITMENT in scanned.text
    assert (await listed(api, session_id))[1].row.answer is None
    token = done.split("/f/", 1)[1].split("?", 1)[0]
    tampered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (tampered, token + "x", token.split(".")[0], "nonsense"):
        refused = await api.client.post(f"/f/{bad}", content=b"answer=done")
        assert refused.status_code == 400, bad
    answered = await api.client.post(
        f"/f/{token}",
        content=b"answer=done&note=Booked+it+the+next+day",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answered.status_code == 200 and "recorded" in answered.text
    replayed = await api.client.post(f"/f/{token}", content=b"answer=not_yet")
    assert replayed.status_code == 200 and "first answer stands" in replayed.text
    rows = await listed(api, session_id)
    assert (rows[1].row.status, rows[1].row.answer) == ("sent", "done")
    assert "Already answered" in (await api.client.get(done)).text

    # One-click unsubscribe (RFC 8058): a GET only asks; the POST stops all further mail.
    unsubscribe_path = urlsplit(unsubscribe[1]).path
    asked = await api.client.get(unsubscribe_path)
    assert asked.status_code == 200 and "Unsubscribe" in asked.text
    assert [r.row.status for r in await listed(api, session_id)][2:] == ["scheduled"] * 2
    gone = await api.client.post(
        unsubscribe_path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert gone.status_code == 200 and "no more mail" in gone.text
    assert [r.row.status for r in await listed(api, session_id)][2:] == ["cancelled"] * 2
    await api.clock.advance_to(CHECK_INS[2] + timedelta(days=1))
    await followups_of(api).run_once()
    assert len(smtp.received) == 2

    # Links expire: 60 days after the check-in was due, answering is over.
    await api.clock.advance_to(CHECK_INS[0] + timedelta(days=61))
    assert (await api.client.get(done)).status_code == 410

    # Privacy: no address and no commitment text in any log line (but the test's own SMTP
    # server's, which plays the relay).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    assert any(r.name == "facilbot.journey" for r in caplog.records)  # it did log
    assert "ana@example.org" not in logged and "cy@example.org" not in logged
    assert COMMITMENT not in logged and "Booked it" not in logged


async def test_temporary_failures_are_retried_and_permanent_ones_recorded(
    api: ApiHarness, smtp: Inbox
) -> None:
    session_id = await ended_session(api)
    smtp.replies = ["451 4.3.0 try again later"]
    await api.clock.advance_to(REMINDER)
    report = await followups_of(api).run_once()
    assert (report.sent, report.retried) == (0, 1)
    rows = await listed(api, session_id)
    assert (rows[0].row.status, rows[0].row.attempts, rows[0].row.error) == (
        "scheduled",
        1,
        "SMTP 451",
    )
    assert rows[0].row.due_at == REMINDER + timedelta(minutes=5)  # backoff
    await api.clock.advance_to(REMINDER + timedelta(minutes=5))
    report = await followups_of(api).run_once()
    assert report.sent == 1 and len(smtp.received) == 1

    smtp.replies = ["550 5.1.1 no such mailbox"]
    await api.clock.advance_to(CHECK_INS[0])
    report = await followups_of(api).run_once()
    assert report.failed == 1
    rows = await listed(api, session_id)
    assert (rows[1].row.status, rows[1].row.error) == ("failed", "SMTP 550")
    assert len(smtp.received) == 1


async def test_two_instances_never_send_twice(api: ApiHarness, smtp: Inbox) -> None:
    cohort = tuple(
        Participant(f"p-{i}", f"Person {i}", email=f"p{i}@example.org") for i in range(12)
    )
    session_id = await ended_session(api, cohort, consent=tuple(p.id for p in cohort))
    first = followups_of(api)
    second = FollowUps(
        api.engine,
        api.clock,
        secret=api.services.pages_secret,
        base_url=api.settings.base_url,
        sender=first.sender,
        mail_from=first.mail_from,
        rate=1000,
        instance_id="another-instance",
    )
    await api.clock.advance_to(REMINDER)
    reports = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(r.sent for r in reports) == 12
    assert sorted(e[0] for e in smtp.envelopes) == sorted(p.email for p in cohort if p.email)
    rows = [r for r in await listed(api, session_id) if r.row.kind == "reminder"]
    assert {r.row.status for r in rows} == {"sent"} and len(rows) == 12
