"""Health checks, bearer-token authentication and roles, on the real app and database."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from facilbot.api.routes import sessions, shows
from facilbot.auth import Role
from facilbot.store import tokens as stored_tokens

from .conftest import Api

SESSION = "7f1c9a2e-5b7d-4c1e-9a4b-2f0e6d8c1b3a"


def protected_routes() -> list[tuple[str, str]]:
    """Every route of the producer API (shows, sessions), with path parameters filled in."""
    found = []
    for router in (shows.router, sessions.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = route.path.replace("{session_id}", SESSION)
            path = path.replace("{show_id}", "1").replace("{firing_id}", "1")
            found.extend((method, path) for method in sorted(route.methods))
    return found


async def test_healthz_needs_no_token(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_and_engine(api: Api) -> None:
    response = await api.client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"] in ("sqlite", "postgresql")
    assert body["instance"] == "api-test"


async def test_readyz_is_503_when_the_engine_stops(api: Api) -> None:
    await api.services.engine.stop()
    response = await api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"error": "not_ready", "detail": "engine not running"}
    await api.services.engine.start()
    assert (await api.client.get("/readyz")).status_code == 200


async def test_every_other_route_needs_a_token(api: Api) -> None:
    routes = protected_routes()
    assert len(routes) >= 11
    for method, path in routes:
        response = await api.client.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer fb_not-a-real-token",
        "Bearer ",
        "Bearer " + "x" * 5000,
        "Basic dXNlcjpwYXNz",
        "bearer",
        "Token abc",
    ],
)
async def test_bad_credentials_are_401(api: Api, header: str) -> None:
    response = await api.client.get("/shows", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert set(response.json()) == {"error", "detail"}


async def test_a_revoked_token_is_refused(api: Api) -> None:
    assert (await api.client.get("/shows", headers=api.auth(Role.viewer))).status_code == 200
    async with api.services.db.engine.begin() as connection:
        records = await stored_tokens.list_tokens(connection)
        viewer = next(r for r in records if r.role == "viewer")
        await stored_tokens.revoke_token(connection, viewer.id, api.clock.now())
    response = await api.client.get("/shows", headers=api.auth(Role.viewer))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_use_is_recorded_without_the_token(api: Api) -> None:
    await api.clock.advance(300)
    await api.client.get("/shows", headers=api.auth(Role.viewer))
    async with api.services.db.engine.begin() as connection:
        records = await stored_tokens.list_tokens(connection)
    viewer = next(r for r in records if r.role == "viewer")
    assert viewer.last_used_at == api.clock.now()
    assert api.tokens[Role.viewer] not in repr(records)


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        (Role.viewer, "GET", "/shows", True),
        (Role.viewer, "GET", "/sessions", True),
        (Role.viewer, "POST", "/shows", False),
        (Role.viewer, "POST", "/shows/lint", False),
        (Role.viewer, "GET", "/shows/1/plan", False),
        (Role.facilitator, "POST", "/sessions", False),
        (Role.facilitator, "POST", f"/sessions/{SESSION}/controls", False),
        (Role.facilitator, "POST", f"/sessions/{SESSION}/firings/1/ack", False),
        (Role.viewer, "POST", f"/sessions/{SESSION}/controls", False),
    ],
)
async def test_roles(api: Api, role: Role, method: str, path: str, allowed: bool) -> None:
    response = await api.client.request(method, path, headers=api.auth(role))
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
        assert role.value in response.json()["detail"]


async def test_openapi_declares_the_bearer_scheme(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert spec["paths"]["/sessions"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_every_reference_in_openapi_resolves(api: Api) -> None:
    # Redoc refuses to render a document with a dangling $ref (Swagger UI only flags it)
    spec = (await api.client.get("/openapi.json")).json()

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [ref for value in node.values() for ref in refs(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    found = refs(spec)
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref
    body = spec["paths"]["/shows"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"].keys() == {"name", "yaml"}
