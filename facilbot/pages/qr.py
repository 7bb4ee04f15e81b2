"""QR codes of the companion link, drawn by segno (server-side, as SVG: no script, no CDN)."""

from __future__ import annotations

import io

import segno


def svg(text: str) -> str:
    """``text`` as a QR code: an SVG document with a title, dark modules on a light quiet
    zone (phones read it the same on the console's light and dark themes)."""
    code = segno.make(text, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=4,
        border=4,
        dark="#000000",
        light="#ffffff",
        title="QR code of the companion link",
        xmldecl=False,
        svgns=True,
    )
    return out.getvalue().decode("utf-8")
