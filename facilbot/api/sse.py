"""Server-Sent Events framing, with keep-alive comments while the source is quiet."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

#: An SSE comment this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0


def frame(event: dict[str, Any]) -> bytes:
    """One event as an SSE ``data:`` line (JSON on one line)."""
    return f"data: {json.dumps(event, default=str, separators=(',', ':'))}\n\n".encode()


async def stream(
    source: AsyncIterator[dict[str, Any]],
    *,
    first: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    """Frame ``source`` as SSE; ``first`` (awaited once the source is listening) opens it.

    The pending read is never cancelled by a keep-alive timeout (cancelling it would close
    the source); it is cancelled only when the client goes away, which closes the source.
    """
    pending: asyncio.Future[dict[str, Any]] | None = asyncio.ensure_future(anext(source))
    try:
        # Let the source register (subscribe, connect the bridge) before the first byte, so
        # nothing published after the client sees the opening event is missed.
        await asyncio.sleep(0)
        if first is not None:
            yield frame(await first())
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=keepalive)
            if not done:
                yield b": keep-alive\n\n"
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                pending = None
                return
            pending = None
            yield frame(event)
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
