"""``/bindings``: bind a show to a (recurring) meeting so that every occurrence attaches itself.

When the platform reports ``meeting.started`` for a bound meeting that has no session, the
latest uploaded version of the show is attached and started (``facilbot.webhooks.ingest``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from facilbot.api.body import JsonContent
from facilbot.api.deps import DB, Caller, PlatformName, Producer, ServicesDep, known_platform
from facilbot.api.errors import ApiError, not_found
from facilbot.store import bindings as stored
from facilbot.store import shows as store_shows
from facilbot.store.db import reading

router = APIRouter(prefix="/bindings", tags=["bindings"])

Text = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class ProducerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None


class BindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform: PlatformName
    meeting_ref: Text = Field(description="the platform's meeting id (a recurring Zoom meeting)")
    show_name: Text = Field(description="an uploaded show; its latest version is attached")
    producers: list[ProducerIn] = Field(
        default_factory=list,
        max_length=50,
        description="who may steer from the meeting chat, besides the host",
    )


class BindingOut(BaseModel):
    platform: str
    meeting_ref: str
    show_name: str
    latest_version_id: int | None
    producers: list[dict[str, str]]
    created_at: datetime
    created_by: str


async def _out(db: DB, record: stored.BindingRecord) -> BindingOut:
    async with reading(db.engine) as connection:
        latest = await store_shows.latest_show_version(connection, record.show_name)
    return BindingOut(
        platform=record.platform,
        meeting_ref=record.meeting_ref,
        show_name=record.show_name,
        latest_version_id=latest.id if latest else None,
        producers=[{str(k): str(v) for k, v in p.items()} for p in record.producers],
        created_at=record.created_at,
        created_by=record.created_by,
    )


@router.post(
    "",
    summary="Bind a show to a meeting id: every occurrence of the meeting attaches it",
    responses={
        200: {"description": "the binding replaced an earlier one for this meeting"},
        201: {"description": "a new binding"},
        422: {"description": "unknown show or platform not enabled (reason given)"},
    },
    status_code=201,
)
async def bind(
    caller: Producer,
    _json: JsonContent,
    body: BindingIn,
    response: Response,
    services: ServicesDep,
    db: DB,
) -> BindingOut:
    known_platform(services, body.platform, ("body", "platform"))
    if body.platform not in services.engine.adapters:
        raise ApiError(
            422,
            f"platform {body.platform!r} is not enabled on this server",
            code="unknown_platform",
        )
    async with reading(db.engine) as connection:
        latest = await store_shows.latest_show_version(connection, body.show_name)
    if latest is None:
        raise ApiError(
            422, f"no show named {body.show_name!r}: upload it first", code="unknown_show"
        )
    async with db.engine.begin() as connection:
        record, created = await stored.bind(
            connection,
            platform=body.platform,
            meeting_ref=body.meeting_ref,
            show_name=body.show_name,
            at=services.clock.now(),
            by=caller.name,
            producers=[p.model_dump(exclude_none=True) for p in body.producers],
        )
    if not created:
        response.status_code = 200
    return await _out(db, record)


@router.get("", summary="Every binding, by platform and meeting id")
async def list_bindings(db: DB, caller: Caller) -> list[BindingOut]:
    async with reading(db.engine) as connection:
        records = await stored.list_bindings(connection)
    return [await _out(db, record) for record in records]


@router.delete(
    "/{platform}/{meeting_ref}",
    status_code=204,
    summary="Remove a binding (sessions already attached are not touched)",
)
async def unbind(
    db: DB,
    caller: Producer,
    platform: PlatformName,
    meeting_ref: Annotated[str, Path(min_length=1, max_length=200)],
) -> Response:
    async with db.engine.begin() as connection:
        removed = await stored.unbind(connection, platform, meeting_ref)
    if not removed:
        raise not_found(f"no binding for {platform} meeting {meeting_ref}")
    return Response(status_code=204)
