"""The API docs (/docs, /redoc) with no network: served from facilbot's vendored copies of
Swagger UI and Redoc, under the pages' strict Content-Security-Policy, in a real Chromium that
may not reach anything but the app."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from facilbot.api.docs import REDOC_STYLE_HASHES, install_docs
from facilbot.pages.headers import content_security_policy
from tests.pages.conftest import Live
from tests.pages.test_browser import Page

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "facilbot" / "api" / "static"
VENDOR = STATIC / "vendor"
SCREENSHOTS = "/tmp/facilbot-api-docs-{page}-{width}.png"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect


# --- over HTTP ------------------------------------------------------------------------------


def _asset_paths(text: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', text)


async def test_docs_pages_load_only_this_origins_files_under_a_strict_policy(live: Live) -> None:
    async with live.client(role=None) as client:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["cache-control"] == "no-cache"
            # the pages' own policy; Redoc's two self-inserted <style> elements are named by hash
            hashes = REDOC_STYLE_HASHES if path == "/redoc" else ()
            csp = page.headers["content-security-policy"]
            assert csp == content_security_policy(style_hashes=hashes)
            assert "script-src 'self';" in csp and "unsafe" not in csp
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            assert page.headers["x-content-type-options"] == "nosniff"
            # nothing inline, nothing from elsewhere: every script and style is an asset file
            assert "<style" not in page.text and " style=" not in page.text
            scripts = re.findall(r"<script([^>]*)>", page.text)
            assert scripts and all('src="/docs/assets/' in attrs for attrs in scripts), path
            assert "http://" not in page.text and "https://" not in page.text
            for asset in _asset_paths(page.text):
                response = await client.get(asset)
                assert response.status_code == 200, asset
                # the URL names the file's digest, so the file may be cached for good
                name = urlsplit(asset).path.removeprefix("/docs/assets/")
                version = urlsplit(asset).query.removeprefix("v=")
                digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()
                assert version and digest.startswith(version), asset
                assert response.content == (STATIC / name).read_bytes()
                assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
                assert "script-src 'self'" in response.headers["content-security-policy"]
        swagger = (await client.get("/docs")).text
        assert '"url": "/openapi.json"' in swagger.replace("&quot;", '"')
        assert '<redoc spec-url="/openapi.json" ' in (await client.get("/redoc")).text


async def test_docs_assets_have_their_types_and_nothing_else_is_served(live: Live) -> None:
    async with live.client(role=None) as client:
        for name, kind in (
            ("vendor/swagger-ui-bundle.js", "text/javascript"),
            ("vendor/redoc.standalone.js", "text/javascript"),
            ("swagger-init.js", "text/javascript"),
            ("vendor/swagger-ui.css", "text/css"),
            ("vendor/swagger-ui-favicon-32x32.png", "image/png"),
            ("vendor/redoc.LICENSE", "text/plain"),
        ):
            response = await client.get(f"/docs/assets/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"].startswith(kind), name
        for bad in (
            "/docs/assets/../docs.py",
            "/docs/assets/%2e%2e/docs.py",
            "/docs/assets/vendor/../../docs.py",
            "/docs/assets/nope.js",
            "/docs/assets/docs.py",
            "/docs/assets/.hidden.js",
            "/docs/assets/vendor",
        ):
            response = await client.get(bad)
            assert response.status_code == 404, bad
            assert response.json()["error"] == "not_found"


def test_install_docs_refuses_an_app_that_has_fastapis_cdn_docs() -> None:
    with pytest.raises(ValueError, match="docs_url=None"):
        install_docs(FastAPI())


def test_the_vendored_docs_code_is_the_npm_packages_unmodified() -> None:
    note = (VENDOR / "README.md").read_text()
    script = (ROOT / "scripts" / "vendor-api-docs.sh").read_text()
    for package in ("swagger-ui-dist", "redoc"):
        pinned = re.search(rf"^\w+={re.escape(package)}@(\S+)$", script, re.MULTILINE)
        assert pinned is not None, package
        assert f"`{package}` {pinned[1]} " in note
    files = sorted(p.name for p in VENDOR.iterdir() if p.name != "README.md")
    assert files == sorted(re.findall(r"^  - `([^`]+)`:", note, re.MULTILINE))
    for name in files:
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"`{name}`: `" in note and f"sha256 `{digest}`" in note, name
    assert "Apache License" in (VENDOR / "swagger-ui.LICENSE").read_text()
    assert "Permission is hereby granted" in (VENDOR / "redoc.LICENSE").read_text()


# --- in Chromium, offline -------------------------------------------------------------------


class Offline:
    """A browser context that aborts every request not to 127.0.0.1 and remembers it."""

    def __init__(self) -> None:
        self.left: list[str] = []
        self.served: list[str] = []

    async def route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            self.served.append(url)
            await route.continue_()
        else:
            self.left.append(url)
            await route.abort()

    async def page(self, browser: Any, width: int) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": 900})
        await context.route("**/*", self.route)
        return Page(await context.new_page())


@pytest.mark.browser
async def test_swagger_ui_renders_the_operations_offline(live: Live, browser: Any) -> None:
    offline = Offline()
    for width in (1280, 400, 360):
        wrapped = await offline.page(browser, width)
        page = wrapped.page
        await page.goto(f"{live.base_url}/docs")
        health = page.locator("#operations-health-healthz_healthz_get")
        await expect(health.locator(".opblock-summary-path")).to_have_text("/healthz")
        await expect(health.locator(".opblock-summary-description")).to_have_text(
            "Liveness: the process answers"
        )
        await expect(page.locator(".opblock-summary-path").first).to_be_visible()
        await expect(page.locator(".information-container .title")).to_contain_text("facilbot")
        # an operation opens and shows its responses
        await health.locator(".opblock-summary-control").click()
        await expect(health.locator(".responses-wrapper")).to_be_visible()
        await page.screenshot(path=SCREENSHOTS.format(page="swagger", width=width))
        await page.context.close()
        wrapped.check()
    assert offline.left == []
    assert any("/docs/assets/vendor/swagger-ui-bundle.js" in url for url in offline.served)


@pytest.mark.browser
async def test_redoc_renders_the_operations_offline(live: Live, browser: Any) -> None:
    offline = Offline()
    for width in (1280, 360):
        wrapped = await offline.page(browser, width)
        page = wrapped.page
        await page.goto(f"{live.base_url}/redoc")
        operation = page.locator("h2", has_text="Liveness: the process answers")
        await expect(operation).to_be_visible()
        await expect(page.locator("h1", has_text="facilbot")).to_be_visible()
        await expect(
            page.get_by_text("Upload a run-of-show (a new version when the text")
        ).to_have_count(2)
        # Redoc inserts its styles itself: only the <style> elements the policy names by hash
        styles = await page.eval_on_selector_all("style", "els => els.map(e => e.textContent)")
        digests = {
            "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
            for text in styles
        }
        assert digests == set(REDOC_STYLE_HASHES)
        assert "" in styles and any(text.startswith(".ps{") for text in styles)
        await page.screenshot(path=SCREENSHOTS.format(page="redoc", width=width))
        await page.context.close()
        # Redoc's "API docs by Redocly" footer always shows a logo from its CDN; the policy
        # refuses it (the link text stays), so it is the one error allowed here
        logo = [e for e in wrapped.errors if REDOC_LOGO in e]
        assert all("Content Security Policy" in e for e in logo)
        assert [e for e in wrapped.errors if REDOC_LOGO not in e] == []
    assert offline.left == []
    assert any("/docs/assets/vendor/redoc.standalone.js" in url for url in offline.served)


async def test_the_docs_pages_are_not_in_the_openapi_document(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        spec = (await client.get("/openapi.json")).json()
    assert not [path for path in spec["paths"] if path.startswith(("/docs", "/redoc"))]
