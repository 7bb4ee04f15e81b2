"""Shows: upload a run-of-show (each distinct text kept as a version), lint it, plan it.

A show is sent as its YAML text (``Content-Type: application/yaml``, ``text/yaml`` or
``application/x-yaml``, name in ``?name=``) or as JSON ``{"name": ..., "yaml": ...}``. A file
that is not a valid show is answered 422 with every problem at ``file:line:col``; lint findings
never block an upload, they come back with it.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from facilbot.api.body import JSON_TYPES, YAML_TYPES, decode_utf8, media_type, unsupported
from facilbot.api.deps import DB, Caller, ClockDep, EngineDep, Facilitator
from facilbot.api.errors import ApiError, not_found
from facilbot.store import shows as stored
from facilbot.store.db import reading
from runofshow.lint import Finding, lint
from runofshow.loader import LoadedShow, load_show_text
from runofshow.model import Severity
from runofshow.plan import describe_item, plan

router = APIRouter(prefix="/shows", tags=["shows"])

MAX_ID = 2**31 - 1
ShowName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
ShowId = Annotated[int, Path(ge=1, le=MAX_ID, description="a show version's id")]
NameQuery = Annotated[
    ShowName | None,
    Query(description="the show's name, when the body is the YAML text itself"),
]


class ShowUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ShowName = Field(description="the show's name; each distinct text is a new version")
    yaml: str = Field(description="the run-of-show YAML text")


class LintRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ShowName | None = Field(None, description="names the file in findings")
    yaml: str = Field(description="the run-of-show YAML text")


class ShowVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a stored.ShowVersionRecord

    id: int
    name: str
    version: int
    sha256: str
    title: str
    uploaded_at: datetime
    uploaded_by: str | None


class ShowVersionDetail(ShowVersionOut):
    # the stored record calls it yaml_text; the API has always answered "yaml"
    yaml: str = Field(validation_alias=AliasChoices("yaml", "yaml_text"))


class FindingOut(BaseModel):
    file: str
    line: int
    column: int
    severity: str
    code: str
    rule: str
    message: str
    path: list[str | int]


class LintSummary(BaseModel):
    errors: int
    warnings: int
    advice: int


class LintOut(BaseModel):
    findings: list[FindingOut]
    summary: LintSummary


class UploadOut(LintOut):
    version: ShowVersionOut


class PlannedSegmentOut(BaseModel):
    key: str
    segment_id: str
    kind: str
    start: datetime
    end: datetime
    inserted: bool


class PlannedItemOut(BaseModel):
    key: str
    segment_id: str
    action: str
    due: datetime
    what: str
    origin: str


class PlanOut(BaseModel):
    show_version_id: int
    title: str
    timezone: str
    start: datetime
    end: datetime
    segments: list[PlannedSegmentOut]
    items: list[PlannedItemOut]


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ShowUpload.model_json_schema()},
            **{kind: {"schema": {"type": "string"}} for kind in YAML_TYPES},
        },
    }
}
_LINT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LintRequest.model_json_schema()},
            **{kind: {"schema": {"type": "string"}} for kind in YAML_TYPES},
        },
    }
}
_INVALID_SHOW: dict[int | str, dict[str, Any]] = {
    422: {"description": "not a valid run-of-show: `problems` at file:line:col"}
}


async def _read_show(
    request: Request, name: str | None, model: type[ShowUpload] | type[LintRequest]
) -> tuple[str | None, str]:
    """(name, text) from a JSON or YAML body; 4xx with a reason otherwise."""
    kind, charset = media_type(request)
    if kind in JSON_TYPES or kind.endswith("+json"):
        raw = await request.body()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ApiError(
                400,
                f"the body is not valid JSON: {error.msg} at line {error.lineno}, "
                f"column {error.colno}",
                code="malformed_json",
            ) from None
        except UnicodeDecodeError:
            raise ApiError(400, "the body is not UTF-8 JSON", code="malformed_json") from None
        except RecursionError:
            raise ApiError(
                400, "the JSON body is nested too deeply", code="malformed_json"
            ) from None
        try:
            upload = model.model_validate(data)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
            ) from None
        return upload.name, upload.yaml
    if kind in YAML_TYPES:
        if charset not in (None, "utf-8", "utf8"):
            raise ApiError(415, f"charset {charset!r}: run-of-show text must be UTF-8")
        return name, decode_utf8(await request.body(), "the run-of-show")
    raise unsupported(kind, (*JSON_TYPES, *YAML_TYPES))


def _summary(findings: list[Finding]) -> LintSummary:
    def count(severity: Severity) -> int:
        return sum(1 for f in findings if f.severity == severity)

    return LintSummary(
        errors=count(Severity.error),
        warnings=count(Severity.warning),
        advice=count(Severity.advice),
    )


def _findings(findings: list[Finding]) -> list[FindingOut]:
    return [FindingOut.model_validate(f.to_json()) for f in findings]


def _load_and_lint(text: str, file: str) -> tuple[LoadedShow, list[Finding]]:
    loaded = load_show_text(text, file)
    return loaded, lint(loaded)


@router.post(
    "",
    status_code=201,
    summary="Upload a run-of-show (a new version when the text changed)",
    openapi_extra=_BODY_DOC,
    responses=_INVALID_SHOW,
)
async def upload_show(
    request: Request, engine: EngineDep, caller: Facilitator, name: NameQuery = None
) -> UploadOut:
    show_name, text = await _read_show(request, name, ShowUpload)
    if show_name is None:
        raise RequestValidationError(
            [
                {
                    "type": "missing",
                    "loc": ("query", "name"),
                    "msg": "Field required: name the show with ?name=… when sending YAML",
                }
            ]
        )
    # Parse and lint off the event loop first: a large file must not stall live sessions.
    loaded, findings = await anyio.to_thread.run_sync(_load_and_lint, text, f"{show_name}.yaml")
    record, _ = await engine.upload_show(show_name, text, caller.name, loaded=loaded)
    return UploadOut(
        version=ShowVersionOut.model_validate(record),
        findings=_findings(findings),
        summary=_summary(findings),
    )


@router.post(
    "/lint",
    summary="Lint a run-of-show without storing it",
    openapi_extra=_LINT_DOC,
    responses=_INVALID_SHOW,
)
async def lint_show(request: Request, caller: Facilitator, name: NameQuery = None) -> LintOut:
    show_name, text = await _read_show(request, name, LintRequest)
    file = f"{show_name}.yaml" if show_name else "<upload>"
    _loaded, findings = await anyio.to_thread.run_sync(_load_and_lint, text, file)
    return LintOut(findings=_findings(findings), summary=_summary(findings))


@router.get("", summary="List show versions")
async def list_shows(
    db: DB,
    caller: Caller,
    name: Annotated[ShowName | None, Query(description="only this show's versions")] = None,
) -> list[ShowVersionOut]:
    async with reading(db.engine) as connection:
        records = await stored.show_versions(connection, name)
    return [ShowVersionOut.model_validate(record) for record in records]


async def _version(db: DB, show_id: int) -> stored.ShowVersionRecord:
    async with reading(db.engine) as connection:
        record = await stored.get_show_version(connection, show_id)
    if record is None:
        raise not_found(f"no show version {show_id}")
    return record


@router.get("/{show_id}", summary="One show version, with its text")
async def get_show(db: DB, caller: Caller, show_id: ShowId) -> ShowVersionDetail:
    return ShowVersionDetail.model_validate(await _version(db, show_id))


def _query_error(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": message}])


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _query_error(
            "tz", f"unknown time zone {name[:80]!r}; use an IANA name such as Europe/Berlin"
        ) from None


@router.get(
    "/{show_id}/plan",
    summary="When every segment and cue happens, for a given start",
)
async def plan_show(
    db: DB,
    engine: EngineDep,
    clock: ClockDep,
    caller: Facilitator,
    show_id: ShowId,
    start: Annotated[
        datetime | None,
        Query(
            description="when the show starts (ISO 8601); without an offset it is read in "
            "`tz`; default now"
        ),
    ] = None,
    tz: Annotated[
        str | None,
        Query(
            max_length=100,
            description="IANA time zone for the times (default the show's, else UTC)",
        ),
    ] = None,
) -> PlanOut:
    record = await _version(db, show_id)
    show = await engine.show_for_version(record.id)
    zone_name = tz or show.timezone or "UTC"
    zone: tzinfo = _zone(zone_name)
    begin = start or clock.now()
    if begin.tzinfo is None or begin.utcoffset() is None:
        begin = begin.replace(tzinfo=zone)
    if not 1970 <= begin.year <= 9000:
        raise _query_error("start", "must be a real date (1970–9000)")
    try:
        planned = plan(show, begin)
    except OverflowError:
        raise _query_error("start", "the show would end past the last representable date") from None
    return PlanOut(
        show_version_id=record.id,
        title=show.title,
        timezone=zone_name,
        start=planned.start.astimezone(zone),
        end=planned.end.astimezone(zone),
        segments=[
            PlannedSegmentOut(
                key=s.key,
                segment_id=s.segment_id,
                kind=s.kind,
                start=s.start.astimezone(zone),
                end=s.end.astimezone(zone),
                inserted=s.inserted,
            )
            for s in planned.segments
        ],
        items=[
            PlannedItemOut(
                key=i.key,
                segment_id=i.segment_id,
                action=i.action,
                due=i.due.astimezone(zone),
                what=describe_item(show, i),
                origin=i.origin,
            )
            for i in planned.items
        ],
    )
