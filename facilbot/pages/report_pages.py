"""The report pages: ``/report/{session_id}`` and ``/cohort/{show name}``.

Static shells like the console: their scripts take the API token from the URL fragment into
``sessionStorage`` and fetch the report with ``Authorization: Bearer``, so the HTML served
here holds nothing about a participant.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from facilbot.api.deps import SessionId
from facilbot.pages import headers
from facilbot.pages.router import _template

router = APIRouter(tags=["pages"])

ShowName = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


#: What each page puts into report_base.html (the head, token form and message they share):
#: its kind, its script and its body's data attribute; its own template holds the header's
#: actions, then, after the ``<!-- content`` marker, the page's content.
_PAGES = {
    "report.html": ("session", "report.js", 'data-session="__SESSION_ID__"'),
    "cohort.html": ("cohort", "cohort.js", 'data-show="__SHOW_NAME__"'),
}
_MARKER = "<!-- content"


def _compose(name: str) -> str:
    kind, script, data = _PAGES[name]
    actions, _, content = _template(name).partition(_MARKER)
    content = content.split("-->", 1)[1].strip("\n")
    return (
        _template("report_base.html")
        .replace("__KIND__", kind)
        .replace("__SCRIPT__", script)
        .replace("__DATA__", data)
        .replace("__ACTIONS__", actions.rstrip("\n"))
        .replace("__CONTENT__", content)
    )


def _shell(name: str, placeholder: str, value: str) -> HTMLResponse:
    # The caller's value goes in last, so nothing in it is taken for a placeholder.
    body = _compose(name).replace(placeholder, html.escape(value, quote=True))
    response = HTMLResponse(body, headers={"Cache-Control": "no-store"})
    headers.apply(response.headers)
    return response


@router.get(
    "/report/{session_id}",
    response_class=HTMLResponse,
    summary="A session's report page (open with #token=<any API token>)",
)
async def report_page(session_id: SessionId) -> HTMLResponse:
    return _shell("report.html", "__SESSION_ID__", str(session_id))


@router.get(
    "/cohort/{name}",
    response_class=HTMLResponse,
    summary="A show's cohort report page (open with #token=<any API token>)",
)
async def cohort_page(name: ShowName) -> HTMLResponse:
    return _shell("cohort.html", "__SHOW_NAME__", name)
