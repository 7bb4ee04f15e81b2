"""``POST /webhooks/zoom``: Zoom's signed event notifications.

Order (DESIGN §6): read the raw body (bounded), verify the signature on those exact bytes,
parse, answer ``endpoint.url_validation``, normalise, persist (de-duplicated), answer 200; the
ingest worker applies the events afterwards. Zoom does not retry a 4xx, so a 401 for a forged
request or a 400 for an unreadable one is final; a 503 (not configured, database down) is
retried by Zoom 5, 20 and 60 minutes later. Bodies and signatures are never logged.
"""

from __future__ import annotations

import hashlib
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from facilbot.api.body import read_body
from facilbot.api.deps import get_services
from facilbot.api.errors import ApiError
from facilbot.platforms.base import running
from facilbot.platforms.zoom.platform import ZoomPlatform
from integrations.zoom.webhook import (
    URL_VALIDATION,
    MalformedEvent,
    WebhookRejected,
    normalise,
    parse_event,
    url_validation_response,
    verify_request,
)

log = logging.getLogger("facilbot.webhooks")

#: Zoom's event bodies are a few kilobytes; anything near this is not a Zoom event.
MAX_BODY_BYTES = 256 * 1024

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/zoom",
    summary="Zoom event notifications (signed with the app's secret token)",
    responses={
        200: {"description": "accepted (new, duplicate or ignored), or the URL validation"},
        400: {"description": "signed, but not a Zoom event facilbot can read (reason given)"},
        401: {"description": "missing, forged or stale signature (reason given)"},
        413: {"description": "body larger than 256 KB"},
        503: {"description": "Zoom webhooks not configured, or the event could not be stored"},
    },
)
async def zoom_webhook(request: Request) -> JSONResponse:
    # The services straight from the request, not as dependencies: solving them cost more than
    # all the rest of FastAPI's work on a delivery (profiled, issue 14).
    services = await get_services(request)
    zoom = running(services, ZoomPlatform)
    clock, ingest = services.clock, services.ingest
    token = zoom.settings.webhook_secret_token
    secret = token.get_secret_value().encode() if token is not None else b""
    if not secret:
        raise ApiError(
            503,
            "Zoom webhooks are not configured on this server: set "
            "FACILBOT_ZOOM_WEBHOOK_SECRET_TOKEN to the app's secret token",
            code="not_configured",
        )
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        verify_request(secret, request.headers, body, now=clock.now().timestamp())
    except WebhookRejected as rejected:
        raise ApiError(401, rejected.reason, code="bad_signature") from None
    try:
        envelope = parse_event(body)
        if envelope.event == URL_VALIDATION:
            return JSONResponse(url_validation_response(secret, envelope.plain_token))
        events = normalise(envelope)
    except MalformedEvent as malformed:
        raise ApiError(400, malformed.reason, code="malformed_event") from None
    try:
        if not events:
            # Stored (so a redelivery is recognised) and ignored; no body is kept.
            digest = hashlib.sha256(body).hexdigest()[:32]
            meeting = envelope.payload.get("object")
            ref = meeting.get("id") if isinstance(meeting, dict) else None
            new = await ingest.record_ignored(
                "zoom",
                f"raw-{digest}",
                envelope.event,
                str(ref)[:200] if isinstance(ref, str | int) else None,
            )
            return JSONResponse(
                {"status": "ignored", "event": envelope.event[:100], "duplicate": not new}
            )
        await zoom.runtime.observe(envelope)  # keeps the occurrence UUID of meeting.started/ended
        submitted = await ingest.submit(events)
    except Exception as error:
        log.error("could not store a Zoom %s event (%s)", envelope.event, type(error).__name__)
        raise ApiError(
            503, "the event could not be stored; Zoom will deliver it again", code="not_stored"
        ) from None
    # A JSONResponse directly: no response-model encoding on the hot path.
    return JSONResponse(
        {
            "status": "accepted",
            "event": envelope.event,
            "new": submitted.new,
            "duplicates": submitted.duplicates,
        }
    )
