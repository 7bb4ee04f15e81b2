"""The API docs, Swagger UI at ``/docs`` and Redoc at ``/redoc``, served with no network.

FastAPI's own docs pages load Swagger UI and Redoc from a CDN (and Redoc's fonts from Google),
so without internet they were blank. Here every byte comes from facilbot: the browser code is
vendored from npm into ``static/vendor`` (``scripts/vendor-api-docs.sh``; versions, licences
and checksums in its README) and served at ``/docs/assets/``.

The pages carry the same security headers as the other pages (:mod:`facilbot.pages.headers`):
the Content-Security-Policy allows this origin only, so the pages have no inline script or
style. Swagger UI is started by ``static/swagger-init.js``, which reads its settings from the
page's ``data-config`` attribute. Redoc inserts two ``<style>`` elements itself (its
styled-components sheet, empty until filled through the CSSOM, and its scrollbar's CSS); the
policy of ``/redoc`` admits exactly those by hash (:data:`REDOC_STYLE_HASHES`), never inline
styles in general. Redoc's search runs in a worker made from a ``blob:`` URL, which the policy
refuses, so it is turned off (``disable-search``). Asset URLs carry a digest of the file
(``?v=``), so the files are cached for a year and a new copy is fetched as soon as it changes.

Create the app with ``docs_url=None, redoc_url=None`` and call :func:`install_docs`.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse

from facilbot.pages import headers
from facilbot.pages.assets import Assets

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
ASSET_NAME = re.compile(
    r"^(?:vendor/)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css|png|txt|md|LICENSE|NOTICE)$"
)
CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "png": "image/png",
    "txt": "text/plain; charset=utf-8",
    "md": "text/plain; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
}
#: Asset URLs change with their content (``?v=``), so a cached copy never goes stale.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: The pages name the current assets: revalidated on every use.
PAGE_CACHE_CONTROL = "no-cache"

#: The ``<style>`` elements the vendored Redoc inserts: styled-components' (empty: its rules
#: go in through ``insertRule``, which the policy does not govern) and perfect-scrollbar's CSS.
#: A new Redoc may need new ones: Chromium's console names the hash of a refused element.
REDOC_STYLE_HASHES = (
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  # "" (styled-components)
    "sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc=",  # perfect-scrollbar
)

_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{head}</head>
<body>
{body}</body>
</html>
"""
_NOSCRIPT = "<noscript>The API docs need JavaScript; the OpenAPI document is at {}.</noscript>\n"


@cache
def _digest(name: str) -> str:
    with open(os.path.join(STATIC_DIR, *name.split("/")), "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:16]


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def asset_url(request: Request, name: str) -> str:
    """The URL of a docs asset, ``?v=`` its digest."""
    return f"{_root(request)}{ASSETS_URL}/{name}?v={_digest(name)}"


def _html(title: str, head: str, body: str, style_hashes: tuple[str, ...] = ()) -> HTMLResponse:
    """A docs page; ``head`` and ``body`` are HTML, every value in them already escaped."""
    page = _PAGE.format(title=_attr(title), head=head, body=body)
    response = HTMLResponse(page, headers={"Cache-Control": PAGE_CACHE_CONTROL})
    headers.apply(response.headers, style_hashes=style_hashes)
    return response


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _asset(request: Request, name: str) -> str:
    return _attr(asset_url(request, name))


def _favicon(request: Request) -> str:
    icon = _asset(request, "vendor/swagger-ui-favicon-32x32.png")
    return f'<link rel="icon" type="image/png" href="{icon}">\n'


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` (Swagger UI), ``/docs/oauth2-redirect``, ``/redoc`` and the assets they
    load to ``app``, which must have been created with ``docs_url=None, redoc_url=None``."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError(
            "create the app with docs_url=None, redoc_url=None: install_docs adds the docs"
        )
    openapi_url = app.openapi_url
    if openapi_url is None:
        return  # no OpenAPI document, nothing to show
    app.mount(
        ASSETS_URL,
        Assets(
            STATIC_DIR,
            names=ASSET_NAME,
            content_types=CONTENT_TYPES,
            cache_control=ASSET_CACHE_CONTROL,
        ),
        name="docs-assets",
    )

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        config: dict[str, Any] = {
            **swagger_ui_default_parameters,
            **(app.swagger_ui_parameters or {}),
            "url": root + openapi_url,
            "oauth2RedirectUrl": root + OAUTH2_REDIRECT_URL,
            # Swagger UI would otherwise send the document to validator.swagger.io
            "validatorUrl": None,
        }
        if app.swagger_ui_init_oauth:
            config["initOAuth"] = app.swagger_ui_init_oauth
        head = (
            f'<link rel="stylesheet" href="{_asset(request, "vendor/swagger-ui.css")}">\n'
            f'<link rel="stylesheet" href="{_asset(request, "docs.css")}">\n{_favicon(request)}'
        )
        data = _attr(json.dumps(jsonable_encoder(config)))
        body = (
            _NOSCRIPT.format(_attr(root + openapi_url))
            + f'<div id="swagger-ui" data-config="{data}"></div>\n'
            + f'<script src="{_asset(request, "vendor/swagger-ui-bundle.js")}"></script>\n'
            + f'<script src="{_asset(request, "swagger-init.js")}"></script>\n'
        )
        return _html(f"{app.title} - Swagger UI", head, body)

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        script = _asset(request, "vendor/swagger-ui-oauth2-redirect.js")
        return _html("Swagger UI: OAuth2 redirect", "", f'<script src="{script}"></script>\n')

    async def redoc(request: Request) -> HTMLResponse:
        openapi = _attr(_root(request) + openapi_url)
        head = f'<link rel="stylesheet" href="{_asset(request, "docs.css")}">\n{_favicon(request)}'
        body = (
            _NOSCRIPT.format(openapi)
            + f'<redoc spec-url="{openapi}" disable-search></redoc>\n'
            + f'<script src="{_asset(request, "vendor/redoc.standalone.js")}"></script>\n'
        )
        return _html(f"{app.title} - ReDoc", head, body, REDOC_STYLE_HASHES)

    app.add_api_route(DOCS_URL, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        OAUTH2_REDIRECT_URL, swagger_ui_redirect, methods=["GET"], include_in_schema=False
    )
    app.add_api_route(REDOC_URL, redoc, methods=["GET"], include_in_schema=False)
