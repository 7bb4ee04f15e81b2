"""The pages behind the links in the follow-up mails: ``GET /f/{token}`` shows a
confirmation page and changes nothing (mail scanners follow GETs); ``POST /f/{token}``
answers the check-in or unsubscribes (RFC 8058 one-click: a POST with
``List-Unsubscribe=One-Click``)."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.api.deps import ServicesDep
from facilbot.journey import commitments, links, reach, schedule
from facilbot.journey.message import ANSWERS
from facilbot.journey.tables import CHECK_IN_ANSWERS, followups, unsubscribes
from facilbot.pages import headers
from facilbot.store import sessions as store_sessions
from facilbot.store import shows as store_shows
from facilbot.store._sql import upsert_insert
from facilbot.store.db import reading
from facilbot.store.models import Session, ShowVersion, table_of

router = APIRouter(tags=["journey"])
Token = Annotated[str, Path(max_length=400, description="the signed link's token")]
MAX_NOTE = 1000
MAX_FORM_BYTES = 8192
_sessions = table_of(Session)
_versions = table_of(ShowVersion)


def _page(title: str, *body: str, status: int = 200) -> HTMLResponse:
    e = html.escape
    text = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>{e(title)}</title><link rel="stylesheet" href="/pages/static/console.css"></head>
<body class="companion"><header class="bar"><div class="title"><h1>{e(title)}</h1></div></header>
<main class="stack"><section class="panel">{"".join(body)}</section></main></body></html>
"""
    response = HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-store"})
    headers.apply(response.headers)
    return response


def _bad(error: links.BadLink) -> HTMLResponse:
    status = 410 if "expired" in str(error) else 400
    return _page("This link does not work", f"<p>{html.escape(str(error))}.</p>", status=status)


async def _context(
    connection: AsyncConnection, followup_id: int
) -> tuple[schedule.Row, str, str, str] | None:
    """(row, show title, show name, commitment text) of a follow-up, if it still exists."""
    row = await schedule.row(connection, followup_id)
    if row is None:
        return None
    record = await store_sessions.get_session(connection, row.session_id)
    if record is None:
        return None
    version = await store_shows.get_show_version(connection, record.show_version_id)
    made = await commitments.commitment_of(connection, row.session_id, row.participant_ref)
    if version is None:
        return None
    return row, version.title, version.name, made[0] if made else ""


def _gone() -> HTMLResponse:
    return _page("Nothing to do", "<p>This message is no longer on record.</p>", status=404)


@router.get("/f/{token}", response_class=HTMLResponse, summary="A mail link: confirm first")
async def confirm(
    services: ServicesDep,
    token: Token,
    answer: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    try:
        link = links.read(services.pages_secret, token, services.clock.now())
    except links.BadLink as error:
        return _bad(error)
    async with reading(services.db.engine) as connection:
        found = await _context(connection, link.followup_id)
    if found is None:
        return _gone()
    row, title, _name, commitment = found
    e = html.escape
    action = f"/f/{e(token)}"
    if link.action == "unsubscribe":
        return _page(
            "Stop these mails?",
            f"<p>No more reminders or check-ins about “{e(title)}” will be sent to you.</p>",
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit" class="primary">Unsubscribe</button></form>',
        )
    if row.answer is not None:
        given = dict(ANSWERS).get(row.answer, row.answer)
        return _page("Already answered", f"<p>You answered “{e(given)}”. Thank you.</p>")
    options = "".join(
        f'<label class="option"><input type="radio" name="answer" value="{key}"'
        f"{' checked' if key == answer else ''} required> {e(label)}</label>"
        for key, label in ANSWERS
    )
    return _page(
        "Did it happen?",
        f'<p>At “{e(title)}” you committed to:</p><p class="prompt">{e(commitment)}</p>',
        f'<form method="post" action="{action}">{options}'
        '<label for="note">What helped, or what got in the way? (optional)</label>'
        f'<textarea id="note" name="note" rows="3" maxlength="{MAX_NOTE}"></textarea>'
        '<button type="submit" class="primary">Send my answer</button></form>',
    )


@router.post("/f/{token}", response_class=HTMLResponse, summary="A mail link: do it")
async def act(request: Request, services: ServicesDep, token: Token) -> HTMLResponse:
    try:
        link = links.read(services.pages_secret, token, services.clock.now())
    except links.BadLink as error:
        return _bad(error)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _page("Too long", "<p>That answer is too long.</p>", status=413)
    form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    now = services.clock.now()
    async with services.engine.writing() as connection:
        found = await _context(connection, link.followup_id)
        if found is None:
            return _gone()
        row, title, name, _commitment = found
        if link.action == "unsubscribe":
            await _unsubscribe(connection, services.pages_secret, row, name, now)
            return _page(
                "Unsubscribed",
                f"<p>You will get no more mail about “{html.escape(title)}”.</p>",
            )
        answer = (form.get("answer") or [""])[0]
        if answer not in CHECK_IN_ANSWERS:
            return _page("Pick an answer", "<p>Choose done, partly or not yet.</p>", status=422)
        note = " ".join((form.get("note") or [""])[0].split())[:MAX_NOTE] or None
        # The first answer stands: a replayed or repeated POST changes nothing.
        result = await connection.execute(
            update(followups)
            .where(followups.c.id == row.id, followups.c.answer.is_(None))
            .values(answer=answer, answer_note=note, answered_at=now)
        )
    if result.rowcount == 0:
        return _page("Already answered", "<p>Your first answer stands. Thank you.</p>")
    return _page("Thank you", "<p>Your answer is recorded.</p>")


async def _unsubscribe(
    connection: AsyncConnection, secret: bytes, row: schedule.Row, show_name: str, now: datetime
) -> None:
    """No more mail to this address about any session of this show."""
    person = await reach.contact_of(connection, row.session_id, row.participant_ref)
    if person is None or person.email is None:
        return
    digest = reach.address_hash(secret, person.email)
    await connection.execute(
        upsert_insert(connection, unsubscribes)
        .values(show_name=show_name, address_hash=digest, at=now)
        .on_conflict_do_nothing(index_elements=["show_name", "address_hash"])
    )
    sessions = await connection.execute(
        select(_sessions.c.id)
        .join(_versions, _versions.c.id == _sessions.c.show_version_id)
        .where(_versions.c.name == show_name)
    )
    for session_id in sessions.scalars().all():
        for other in await reach.reach_for(connection, session_id):
            if other.email and reach.address_hash(secret, other.email) == digest:
                await schedule.cancel_for_person(
                    connection, session_id, other.participant_ref, "unsubscribed"
                )
