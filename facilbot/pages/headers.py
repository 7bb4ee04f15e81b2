"""Security headers for every page response (HTML, static files, JSON, streams).

A Zoom App's home URL must carry Strict-Transport-Security, X-Content-Type-Options,
Content-Security-Policy and Referrer-Policy, or the Zoom client refuses to render it (Zoom's
"OWASP Headers" page). The policy allows this origin only: no inline script or style, no CDN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

#: The console may be framed by Zoom's web client; nothing else may frame any page.
CONSOLE_FRAME_ANCESTORS = "'self' https://*.zoom.us"

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'; frame-ancestors {frame_ancestors}"
)


def content_security_policy(
    frame_ancestors: str = "'none'", style_hashes: Sequence[str] = ()
) -> str:
    """The policy; ``style_hashes`` (``sha256-…``) admit those exact inline ``<style>``
    elements, for vendored code that inserts its own (see :mod:`facilbot.api.docs`)."""
    styles = "".join(f" '{digest}'" for digest in style_hashes)
    return _CSP.format(frame_ancestors=frame_ancestors, styles=styles)


def security_headers(
    frame_ancestors: str = "'none'", style_hashes: Sequence[str] = ()
) -> dict[str, str]:
    """The headers every page response carries."""
    headers = {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": content_security_policy(frame_ancestors, style_hashes),
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if frame_ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"
    return headers


class _Headers(Protocol):
    def __setitem__(self, key: str, value: str) -> None: ...


def apply(
    headers: _Headers, frame_ancestors: str = "'none'", style_hashes: Sequence[str] = ()
) -> None:
    for name, value in security_headers(frame_ancestors, style_hashes).items():
        headers[name] = value
