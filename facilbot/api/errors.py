"""Every error the API answers is JSON: ``{"error": code, "detail": human reason, ...}``.

Routes raise :class:`ApiError` (or let a known engine or run-of-show error through); the
handlers here turn everything into that shape. Request validation errors name each field
(``body.platform``, ``path.session_id``) without pydantic's documentation URLs or the input
echoed back. The catch-all answers 500 and logs only the exception's type and where it was
raised, never the request body or headers: the goal is that no input ever reaches it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facilbot.engine.errors import (
    ControlRefused,
    UnknownFiring,
    UnknownPlatform,
    UnknownSession,
    UnknownShowVersion,
)
from runofshow.source import ShowError

log = logging.getLogger("facilbot.api")

#: The ``error`` code for each status an HTTPException may carry.
CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal",
    503: "not_ready",
}


class ApiError(Exception):
    """An error answer: status, stable code, human reason, and optional extra fields."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code or CODES.get(status, _phrase(status))
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def not_found(what: str) -> ApiError:
    return ApiError(404, what)


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, **extra}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _json(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, detail, **extra), status_code=status, headers=headers)


# --- validation -----------------------------------------------------------------------------


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def field_problems(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as ``{"loc", "field", "message", "type"}``: no URL, no input."""
    problems = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if part != "function-after"]
        message = str(error.get("msg", "invalid"))
        # pydantic prefixes messages of custom validators with "Value error, "
        message = message.removeprefix("Value error, ")
        problems.append(
            {
                "loc": loc,
                "field": _location(loc),
                "message": message,
                "type": str(error.get("type", "invalid")),
            }
        )
    return problems


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    malformed = [e for e in errors if e.get("type") == "json_invalid"]
    if malformed:
        error = malformed[0]
        loc = error.get("loc", ())
        offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
        body = exc.body if isinstance(exc.body, str) else ""
        line, column = _line_column(body, offset)
        reason = (error.get("ctx") or {}).get("error", "not valid JSON")
        return _json(
            400,
            "malformed_json",
            f"the body is not valid JSON: {reason} at line {line}, column {column}",
        )
    problems = field_problems(errors)
    detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:10])
    if len(problems) > 10:
        detail += f"; and {len(problems) - 10} more"
    return _json(422, "invalid_request", detail or "the request is not valid", fields=problems)


# --- handlers -------------------------------------------------------------------------------


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _json(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(status)
    if status == 404 and detail == "Not Found":
        detail = f"no such route: {request.method} {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif status == 413:
        detail = "the request body is too large"
    return _json(status, CODES.get(status, _phrase(status)), detail, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_response(exc)


async def _show_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShowError)
    problems = [
        {"file": p.file, "line": p.line, "column": p.column, "message": p.message}
        for p in exc.problems
    ]
    first = exc.problems[0]
    detail = str(first)
    if len(problems) > 1:
        detail += f" (and {len(problems) - 1} more problems)"
    return _json(422, "invalid_show", detail, problems=problems)


async def _engine_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, UnknownSession):
        return _json(404, "not_found", f"no session {exc.args[0] if exc.args else ''}".strip())
    if isinstance(exc, UnknownFiring):
        return _json(404, "not_found", str(exc) or "no such firing")
    if isinstance(exc, UnknownShowVersion):
        return _json(422, "unknown_show_version", str(exc) or "no such show version")
    if isinstance(exc, UnknownPlatform):
        return _json(422, "unknown_platform", str(exc) or "this platform is not enabled")
    if isinstance(exc, ControlRefused):
        return _json(409, "control_refused", str(exc) or "the control was refused")
    return await _unexpected(_request, exc)


def log_unexpected(exc: BaseException, method: str, route: str) -> None:
    """Log an unexpected error by type and innermost frame: its message may quote the request."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.error("unhandled %s at %s answering %s %s", type(exc).__name__, where, method, route)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log_unexpected(exc, request.method, getattr(request.scope.get("route"), "path", "?"))
    return _json(500, "internal", INTERNAL)


INTERNAL = "an internal error occurred; it has been logged"


class CatchAll:
    """ASGI middleware: any exception becomes a JSON 500 and one log line, nothing more.

    Starlette's own last-resort handler re-raises after answering, so the server would log the
    full traceback and message; this one swallows the exception once it is logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except ClientDisconnect:
            # The client hung up while its body was read: nobody is left to answer, and
            # nothing of ours failed (load generators and impatient platforms do it).
            log.debug("client went away during %s", scope.get("method", "?"))
        except Exception as exc:
            route = getattr(scope.get("route"), "path", "?")
            log_unexpected(exc, scope.get("method", "?"), route)
            if not started:
                response = _json(500, "internal", INTERNAL)
                await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ShowError, _show_error)
    for engine_error in (
        UnknownSession,
        UnknownFiring,
        UnknownShowVersion,
        UnknownPlatform,
        ControlRefused,
    ):
        app.add_exception_handler(engine_error, _engine_error)
    # Exceptions nothing else handled end in CatchAll (added by create_app as a middleware).
