"""A real HTTP receiver on 127.0.0.1 for outbound webhooks, verifying every delivery.

A plain asyncio HTTP/1.1 server (no framework between the socket and the test): each request
is verified with the ``standardwebhooks`` package, the reference verifier, against the secrets
the test gives it. What it answers is up to the test: a status, a ``Retry-After``, a redirect,
or hanging until released.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    @property
    def type(self) -> str:
        return str(self.payload["type"])


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    answer: bytes = b"ok"
    hang: bool = False
    received: list[Received] = field(default_factory=list)
    port: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def types(self) -> list[str]:
        return [r.type for r in self.received]

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        if not self.secrets:
            return False
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except Exception:
                return False
        return True

    async def wait_for(self, count: int, *, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                _method, path, _version = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append(Received(path, headers, body, self.verify(headers, body)))
                self.arrived.set()
                if self.hang:
                    await self.released.wait()
                lines = [f"HTTP/1.1 {self.status} X", f"content-length: {len(self.answer)}"]
                lines += [f"{k}: {v}" for k, v in self.headers.items()]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + self.answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
