"""The error contract: JSON bodies everywhere, size limits, unknown routes, and a catch-all
that logs the exception type only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from facilbot.api.body import MAX_BODY_BYTES
from facilbot.app import create_app
from facilbot.auth import Role

from .conftest import Api, make_settings, make_tokens

SECRET = "card 4111-1111-1111-1111"


async def test_unknown_route_is_json_404(api: Api) -> None:
    response = await api.client.get("/nowhere", headers=api.auth())
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no such route: GET /nowhere"}


async def test_wrong_method_is_json_405(api: Api) -> None:
    response = await api.client.delete("/shows", headers=api.auth())
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert "DELETE" in response.json()["detail"]


async def test_declared_oversized_body_is_413_before_reading(api: Api) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    for path in ("/shows?name=big", "/sessions", "/shows/lint"):
        response = await api.client.post(
            path, content=big, headers={**api.auth(), "Content-Type": "application/yaml"}
        )
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"
        assert f"{MAX_BODY_BYTES:,}" in response.json()["detail"]


async def test_streamed_oversized_body_is_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 100_000 + 2):
            yield b"#" * 100_000

    for path, kind in (("/shows?name=big", "application/yaml"), ("/sessions", "application/json")):
        response = await api.client.post(
            path, content=chunks(), headers={**api.auth(), "Content-Type": kind}
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "too_large"
    listed = await api.client.get("/shows", headers=api.auth())
    assert listed.json() == []


async def test_a_loader_sized_show_is_refused_by_the_loader(api: Api) -> None:
    text = "title: x\n" + "# padding\n" * 110_000
    response = await api.client.post(
        "/shows",
        params={"name": "big"},
        content=text.encode(),
        headers={**api.auth(Role.facilitator), "Content-Type": "application/yaml"},
    )
    assert response.status_code == 422
    assert "larger than 1 MB" in response.json()["detail"]


async def test_bad_content_length_is_400(api: Api) -> None:
    response = await api.client.post(
        "/sessions",
        content=b"{}",
        headers={**api.auth(), "Content-Type": "application/json", "Content-Length": "abc"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


async def test_validation_errors_have_locations_and_no_urls_or_input(api: Api) -> None:
    response = await api.client.post(
        "/sessions",
        json={"show_version_id": "x", "platform": SECRET, "meeting_ref": ""},
        headers=api.auth(),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    fields = {f["field"] for f in body["fields"]}
    assert fields == {"body.show_version_id", "body.platform", "body.meeting_ref"}
    assert all(set(f) == {"loc", "field", "message", "type"} for f in body["fields"])
    assert "pydantic" not in response.text
    assert SECRET not in response.text


async def test_the_catch_all_answers_500_and_logs_only_the_type(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    boom = APIRouter()

    @boom.post("/boom")
    async def explode() -> None:
        raise RuntimeError(f"failed while handling {SECRET}")

    app = create_app(make_settings(database_url, tmp_path))
    app.include_router(boom)
    async with app.router.lifespan_context(app):
        await make_tokens(app.services.db)
        # raise_app_exceptions (the default): nothing may escape the app either.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with caplog.at_level(logging.ERROR, logger="facilbot.api"):
                response = await client.post("/boom", content=SECRET.encode())
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "detail": "an internal error occurred; it has been logged",
    }
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "RuntimeError" in logged
    assert "POST /boom" in logged
    assert SECRET not in logged
    assert all(record.exc_info is None for record in caplog.records)


async def test_a_client_gone_mid_request_is_not_an_error(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A load generator or a platform that hangs up while its body is read: nobody is left to
    answer, and it is not a fault of ours (no "unhandled" line, no 500)."""
    app = create_app(make_settings(database_url, tmp_path))
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/shows",
        "raw_path": b"/shows",
        "query_string": b"name=gone",
        "root_path": "",
        "headers": [(b"host", b"t"), (b"content-type", b"application/yaml")],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    async with app.router.lifespan_context(app):
        tokens = await make_tokens(app.services.db)
        scope["headers"].append((b"authorization", f"Bearer {tokens[Role.facilitator]}".encode()))
        with caplog.at_level(logging.DEBUG, logger="facilbot"):
            await app(scope, receive, send)
    api_logs = [r for r in caplog.records if r.name == "facilbot.api"]
    assert not [r for r in api_logs if r.levelno >= logging.WARNING], caplog.text
    assert not any(m.get("status") == 500 for m in sent)
