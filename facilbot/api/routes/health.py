"""Liveness and readiness, for process supervisors and load balancers (no token needed)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from facilbot.api.deps import services_of
from facilbot.api.errors import error_body
from facilbot.store.db import reading

router = APIRouter(tags=["health"])

#: Load balancers call this often; a stuck database must not hold the probe for a minute.
DATABASE_TIMEOUT = 3.0
log = logging.getLogger("facilbot.api")


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and the engine runs",
    responses={503: {"description": "not ready; `detail` says what is missing"}},
)
async def readyz(request: Request) -> Any:
    services = services_of(request)
    if services is None:
        return JSONResponse(error_body("not_ready", "starting or stopping"), status_code=503)
    problems = []
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), reading(services.db.engine) as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        problems.append(f"database did not answer within {DATABASE_TIMEOUT:g}s")
    except Exception as exc:
        # The type only: driver messages can carry the connection string.
        log.warning("readiness: database check failed (%s)", type(exc).__name__)
        problems.append(f"database unreachable ({type(exc).__name__})")
    if not services.engine.running:
        problems.append("engine not running")
    if problems:
        return JSONResponse(error_body("not_ready", "; ".join(problems)), status_code=503)
    return {
        "status": "ready",
        "database": services.db.dialect,
        "instance": services.engine.instance_id,
        "sessions_owned": len(services.engine.runners),
    }
