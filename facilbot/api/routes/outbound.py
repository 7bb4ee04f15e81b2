"""Outbound webhook endpoints: add, list, enable/disable, rotate, delete, the delivery log, replay.

The producer role manages them. facilbot has no admin role, and producers already hold the
highest one: they attach sessions and read participants' names and commitments, which is what
these endpoints receive. A facilitator (who writes shows) or a viewer cannot send that data
anywhere.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from facilbot.api.body import JsonContent
from facilbot.api.deps import DB, Producer, ServicesDep
from facilbot.api.errors import ApiError, not_found
from facilbot.outbound import store
from facilbot.outbound.events import EVENT_TYPES
from facilbot.outbound.guard import Refused, address_problem, check_url_shape
from facilbot.outbound.secrets import cipher
from facilbot.services import Services
from facilbot.store.db import reading

router = APIRouter(prefix="/outbound", tags=["outbound webhooks"])

EndpointId = Annotated[
    str, Path(pattern=r"^ep_[0-9a-f]{16}$", description="the endpoint's id (ep_…)")
]
DeliveryId = Annotated[int, Path(ge=1, le=2**62, description="the delivery's id")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointIn(Strict):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    event_types: list[str] = Field(
        default_factory=list, max_length=50, description="empty: every event type"
    )
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_until: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, record: store.EndpointRecord) -> EndpointOut:
        return cls(
            id=record.id,
            url=record.url,
            description=record.description,
            event_types=list(record.event_types),
            enabled=record.enabled,
            disabled_reason=record.disabled_reason,
            failing_since=record.failing_since,
            previous_secret_until=record.previous_until,
            created_at=record.created_at,
        )


class EndpointCreated(EndpointOut):
    secret: str = Field(description="the whsec_ signing secret; shown only in this answer")


class SecretOut(BaseModel):
    endpoint_id: str
    secret: str = Field(description="the new whsec_ secret; shown only in this answer")
    previous_valid_until: datetime = Field(
        description="until then deliveries carry signatures with both secrets"
    )


class DeliveryOut(BaseModel):
    id: int
    msg_id: str = Field(description="the webhook-id header")
    type: str
    session_id: str | None
    replay: int = Field(description="0 for the original delivery, n for the nth replay")
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    last_status_code: int | None
    last_outcome: str | None
    last_duration_ms: int | None
    last_excerpt: str | None
    last_error: str | None


class ReplaySession(Strict):
    session_id: uuid.UUID


class Replayed(BaseModel):
    queued: int
    delivery_id: int | None = None


class EventTypeOut(BaseModel):
    type: str
    description: str
    example: dict[str, Any]


def check_url(url: str, services: Services) -> None:
    """A 422 with the reason when the URL may never be called (shape, literal addresses)."""
    try:
        check_url_shape(url, production=services.settings.env == "production")
        host = urlsplit(url).hostname or ""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: resolved and checked on every delivery
        problem = address_problem(literal, allow_private=services.settings.webhooks_allow_private)
        if problem:
            raise Refused(f"{host} is {problem}")
    except Refused as refused:
        raise ApiError(422, f"url: {refused}") from None


async def _endpoint(db: DB, endpoint_id: str) -> store.EndpointRecord:
    async with reading(db.engine) as connection:
        record = await store.get_endpoint(connection, endpoint_id)
    if record is None:
        raise not_found(f"no endpoint {endpoint_id}")
    return record


@router.get("/event-types", summary="Every event type, with an example of its data")
async def event_types(caller: Producer) -> list[EventTypeOut]:
    return [
        EventTypeOut(type=t.name, description=t.description, example=dict(t.example))
        for t in EVENT_TYPES.values()
    ]


@router.post("/endpoints", status_code=201, summary="Add an endpoint; its secret is shown once")
async def add_endpoint(
    caller: Producer, _json: JsonContent, body: EndpointIn, services: ServicesDep
) -> EndpointCreated:
    check_url(body.url, services)
    try:
        async with services.engine.writing() as connection:
            record, secret = await store.create_endpoint(
                connection,
                cipher(services.settings),
                url=body.url,
                event_types=body.event_types,
                description=body.description,
                at=services.clock.now(),
            )
    except store.UnknownEventType as error:
        raise ApiError(422, f"event_types: {error}") from None
    return EndpointCreated(**EndpointOut.of(record).model_dump(), secret=secret)


@router.get("/endpoints", summary="The endpoints (never their secrets)")
async def list_endpoints(caller: Producer, db: DB) -> list[EndpointOut]:
    async with reading(db.engine) as connection:
        return [EndpointOut.of(r) for r in await store.list_endpoints(connection)]


@router.get("/endpoints/{endpoint_id}", summary="One endpoint")
async def get_endpoint(caller: Producer, db: DB, endpoint_id: EndpointId) -> EndpointOut:
    return EndpointOut.of(await _endpoint(db, endpoint_id))


async def _set_enabled(services: Services, endpoint_id: str, enabled: bool, by: str) -> EndpointOut:
    async with services.engine.writing() as connection:
        found = await store.set_enabled(connection, endpoint_id, enabled, f"disabled by {by}")
    if not found:
        raise not_found(f"no endpoint {endpoint_id}")
    services.outbound.poke()
    return EndpointOut.of(await _endpoint(services.db, endpoint_id))


@router.post("/endpoints/{endpoint_id}/disable", summary="Stop delivering to an endpoint")
async def disable(caller: Producer, services: ServicesDep, endpoint_id: EndpointId) -> EndpointOut:
    return await _set_enabled(services, endpoint_id, False, caller.name)


@router.post(
    "/endpoints/{endpoint_id}/enable",
    summary="Deliver to an endpoint again (what is pending resumes; it failing-since resets)",
)
async def enable(caller: Producer, services: ServicesDep, endpoint_id: EndpointId) -> EndpointOut:
    return await _set_enabled(services, endpoint_id, True, caller.name)


@router.post(
    "/endpoints/{endpoint_id}/rotate",
    summary="A new secret; both are signed with during the overlap (24 h)",
)
async def rotate(caller: Producer, services: ServicesDep, endpoint_id: EndpointId) -> SecretOut:
    now = services.clock.now()
    async with services.engine.writing() as connection:
        secret = await store.rotate_secret(connection, cipher(services.settings), endpoint_id, now)
    if secret is None:
        raise not_found(f"no endpoint {endpoint_id}")
    services.outbound.forget_secrets(endpoint_id)
    return SecretOut(
        endpoint_id=endpoint_id, secret=secret, previous_valid_until=now + store.ROTATION_OVERLAP
    )


@router.delete(
    "/endpoints/{endpoint_id}", status_code=204, summary="Delete an endpoint and its log"
)
async def delete(caller: Producer, services: ServicesDep, endpoint_id: EndpointId) -> Response:
    async with services.engine.writing() as connection:
        if not await store.delete_endpoint(connection, endpoint_id):
            raise not_found(f"no endpoint {endpoint_id}")
    return Response(status_code=204)


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    summary="The delivery log: status, timing and the start of each last answer, newest first",
)
async def deliveries(
    caller: Producer,
    db: DB,
    endpoint_id: EndpointId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryOut]:
    await _endpoint(db, endpoint_id)
    async with reading(db.engine) as connection:
        records = await store.deliveries_for(connection, endpoint_id, limit=limit)
    return [
        DeliveryOut(
            id=r.id,
            msg_id=r.msg_id,
            type=r.type,
            session_id=r.session_id,
            replay=r.generation,
            status=r.status,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            created_at=r.created_at,
            finished_at=r.finished_at,
            last_status_code=r.last_status_code,
            last_outcome=r.last_outcome,
            last_duration_ms=r.last_duration_ms,
            last_excerpt=r.last_excerpt,
            last_error=r.last_error,
        )
        for r in records
    ]


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    summary="Send a delivery's event again (the same webhook-id)",
)
async def replay_delivery(
    caller: Producer, services: ServicesDep, delivery_id: DeliveryId
) -> Replayed:
    async with services.engine.writing() as connection:
        new_id = await store.replay_delivery(connection, delivery_id, services.clock.now())
    if new_id is None:
        raise not_found(f"no delivery {delivery_id}")
    services.outbound.poke()
    return Replayed(queued=1, delivery_id=new_id)


@router.post(
    "/endpoints/{endpoint_id}/replay",
    status_code=202,
    summary="Send every event of a session to the endpoint again, in order",
)
async def replay_session(
    caller: Producer,
    _json: JsonContent,
    services: ServicesDep,
    endpoint_id: EndpointId,
    body: ReplaySession,
) -> Replayed:
    await _endpoint(services.db, endpoint_id)
    async with services.engine.writing() as connection:
        queued = await store.replay_session(
            connection, endpoint_id, str(body.session_id), services.clock.now()
        )
    services.outbound.poke()
    return Replayed(queued=queued)
