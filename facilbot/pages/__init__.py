"""The pages: the producer console (also the Zoom App in-client bridge) and the companion page.

Served by the FastAPI app through :mod:`facilbot.pages.router`; the browser code is plain
JavaScript in ``static/`` (no inline script, so a strict Content-Security-Policy holds).
"""
