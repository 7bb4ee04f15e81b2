"""Request bodies: a size limit for every request, and content types checked before parsing."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facilbot.api.errors import ApiError, error_body

#: Largest request body accepted. A run-of-show is a few kilobytes and the loader refuses more
#: than 1 MB with its own message; JSON escaping can nearly double a text, hence 2 MB.
MAX_BODY_BYTES = 2_000_000

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


class BodyLimit:
    """ASGI middleware refusing bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            refusal = self._check_declared(declared)
            if refusal is not None:
                await _send_json(send, *refusal)
                return
        received = 0
        limit = self.max_bytes

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the app: FastAPI passes HTTPExceptions from body reading
                    # through, and the error handlers answer 413 as JSON.
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)

    def _check_declared(self, declared: str) -> tuple[int, dict[str, Any]] | None:
        if not declared.strip().isdigit():
            return 400, error_body("bad_request", "the Content-Length header is not a number")
        if int(declared) > self.max_bytes:
            detail = f"the request body is larger than {self.max_bytes:,} bytes"
            return 413, error_body("too_large", detail)
        return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def media_type(request: Request) -> tuple[str, str | None]:
    """The request's media type (lower case, no parameters) and its charset, if given."""
    header = request.headers.get("content-type", "")
    kind, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower(), charset


def unsupported(kind: str, accepted: tuple[str, ...]) -> ApiError:
    got = f"Content-Type {kind!r}" if kind else "no Content-Type"
    return ApiError(415, f"{got}; send one of: {', '.join(accepted)}")


async def require_json(request: Request) -> None:
    """Dependency for JSON-bodied routes: a wrong content type is 415, not a confusing 422."""
    kind, _charset = media_type(request)
    if kind not in JSON_TYPES and not kind.endswith("+json"):
        raise unsupported(kind, JSON_TYPES)


#: Put after the caller in a route's signature, so a missing token is 401 before this is 415.
JsonContent = Annotated[None, Depends(require_json)]


def decode_utf8(raw: bytes, what: str = "the body") -> str:
    """UTF-8 text, or a 422 pointing at the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ApiError(
            422,
            f"{what} is not UTF-8 text: byte 0x{raw[error.start]:02x} at line {line}, "
            f"column {column}",
        ) from None


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body (webhooks verify signatures on the exact bytes), refused with 413 past
    ``limit`` bytes, declared or streamed."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, f"the request body is larger than {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body is larger than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
