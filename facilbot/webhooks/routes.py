"""The one router the app mounts for webhooks and bindings; it also runs the ingest worker.

Other platforms' webhook routes (Teams) are included here too, so they share the one ingest
queue and worker (``facilbot.webhooks.ingest.get_ingest``).
"""

from __future__ import annotations

from fastapi import APIRouter

from facilbot.webhooks import bindings, zoom
from facilbot.webhooks.ingest import ingest_lifespan

router = APIRouter(lifespan=ingest_lifespan)
router.include_router(zoom.router)
router.include_router(bindings.router)
