"""Shows over HTTP: upload (YAML or JSON), versions, lint without storage, plan; bad input."""

from __future__ import annotations

from datetime import datetime

import pytest

from facilbot.auth import Role

from .conftest import EXAMPLES, SMALL_SHOW, Api

BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def yaml_headers(api: Api, kind: str = "application/yaml") -> dict[str, str]:
    return {**api.auth(Role.facilitator), "Content-Type": kind}


async def count_versions(api: Api) -> int:
    response = await api.client.get("/shows", headers=api.auth(Role.viewer))
    assert response.status_code == 200
    return len(response.json())


@pytest.mark.parametrize("kind", ["application/yaml", "text/yaml", "application/x-yaml"])
async def test_upload_yaml_returns_the_version_and_findings(api: Api, kind: str) -> None:
    response = await api.client.post(
        "/shows",
        params={"name": "small"},
        content=SMALL_SHOW.encode(),
        headers=yaml_headers(api, f"{kind}; charset=utf-8"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    version = body["version"]
    assert version["name"] == "small"
    assert version["version"] == 1
    assert version["title"] == "API test show"
    assert version["uploaded_by"] == "facilitator tester"
    assert len(version["sha256"]) == 64
    assert datetime.fromisoformat(version["uploaded_at"]) == api.clock.now()
    codes = {f["code"] for f in body["findings"]}
    assert "FB601" in codes
    finding = body["findings"][0]
    assert finding["file"] == "small.yaml"
    assert finding["line"] >= 1 and finding["column"] >= 1
    assert body["summary"]["advice"] == sum(f["severity"] == "advice" for f in body["findings"])


async def test_versions_same_text_same_version_changed_text_next(api: Api) -> None:
    first = await api.upload()
    again = await api.upload()
    assert again == first
    changed = await api.upload(SMALL_SHOW.replace("API test show", "API test show, take 2"))
    assert changed != first
    listed = (await api.client.get("/shows", headers=api.auth(Role.viewer))).json()
    assert [(v["name"], v["version"]) for v in listed] == [("small", 1), ("small", 2)]
    assert "yaml" not in listed[0]
    one = await api.client.get(f"/shows/{changed}", headers=api.auth(Role.viewer))
    assert one.status_code == 200
    assert one.json()["yaml"].startswith("title: API test show, take 2")
    filtered = await api.client.get("/shows", params={"name": "other"}, headers=api.auth())
    assert filtered.json() == []


async def test_upload_as_json(api: Api) -> None:
    text = (EXAMPLES / "roleplay-90m.yaml").read_text()
    response = await api.client.post(
        "/shows", json={"name": "roleplay", "yaml": text}, headers=api.auth(Role.facilitator)
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"]["title"].startswith("Facilitative Consultant")


async def test_lint_stores_nothing(api: Api) -> None:
    response = await api.client.post(
        "/shows/lint", content=SMALL_SHOW.encode(), headers=yaml_headers(api)
    )
    assert response.status_code == 200
    assert response.json()["findings"][0]["file"] == "<upload>"
    as_json = await api.client.post(
        "/shows/lint", json={"yaml": SMALL_SHOW, "name": "mine"}, headers=api.auth(Role.producer)
    )
    assert as_json.status_code == 200
    assert as_json.json()["findings"][0]["file"] == "mine.yaml"
    assert await count_versions(api) == 0


async def test_an_invalid_show_is_422_with_positions_and_stores_nothing(api: Api) -> None:
    broken = SMALL_SHOW.replace(
        "duration: 5m\n    cues:\n      - at: 0m", "duration: 5x\n    cues:\n      - at: 0m", 1
    )
    broken = broken.replace("kind: talk", "kind: lecture")
    response = await api.client.post(
        "/shows", params={"name": "broken"}, content=broken.encode(), headers=yaml_headers(api)
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_show"
    assert body["detail"].startswith("broken.yaml:")
    lines = {(p["line"], p["column"]) for p in body["problems"]}
    assert (6, 15) in lines  # duration: 5x
    assert (11, 11) in lines  # kind: lecture
    assert all(p["file"] == "broken.yaml" for p in body["problems"])
    assert await count_versions(api) == 0


async def test_a_yaml_bomb_is_refused_with_the_loaders_message(api: Api) -> None:
    for path in ("/shows", "/shows/lint"):
        response = await api.client.post(
            path, params={"name": "bomb"}, content=BOMB.encode(), headers=yaml_headers(api)
        )
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_show"
        assert "too many aliases" in response.json()["detail"]
    assert await count_versions(api) == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"- just\n- a list\n", "mapping"),
        (b"title: [unclosed\n", "YAML syntax"),
        (b"title: x\n\tduration: 5m\n", "tab"),
        (b"!!python/object:os.system {}\n", "tag"),
        (b"title: x\n---\ntitle: y\n", "one YAML document"),
        (b"title: caf\xe9\n", "not UTF-8"),
    ],
)
async def test_unusable_texts_get_a_reason(api: Api, content: bytes, fragment: str) -> None:
    response = await api.client.post(
        "/shows", params={"name": "bad"}, content=content, headers=yaml_headers(api)
    )
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]
    assert await count_versions(api) == 0


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        (
            {"content": SMALL_SHOW.encode(), "headers": {"Content-Type": "application/yaml"}},
            422,
            "query.name",
        ),
        (
            {"params": {"name": " "}, "content": b"x", "headers": {"Content-Type": "text/yaml"}},
            422,
            "query.name",
        ),
        (
            {
                "params": {"name": "a\x01b"},
                "content": b"x",
                "headers": {"Content-Type": "text/yaml"},
            },
            422,
            "query.name",
        ),
        (
            {
                "params": {"name": "n" * 201},
                "content": b"x",
                "headers": {"Content-Type": "text/yaml"},
            },
            422,
            "query.name",
        ),
        ({"content": b"title: x", "headers": {"Content-Type": "text/plain"}}, 415, "text/plain"),
        ({"content": b"title: x"}, 415, "no Content-Type"),
        (
            {"content": b"x", "headers": {"Content-Type": "text/yaml; charset=latin-1"}},
            415,
            "UTF-8",
        ),
        ({"json": {"yaml": SMALL_SHOW}}, 422, "body.name"),
        ({"json": {"name": "x"}}, 422, "body.yaml"),
        ({"json": {"name": "x", "yaml": 5}}, 422, "body.yaml"),
        ({"json": {"name": "x", "yaml": "t", "extra": 1}}, 422, "body.extra"),
        ({"json": ["name", "yaml"]}, 422, "body"),
        (
            {"content": b'{"name": "x", "yaml": ', "headers": {"Content-Type": "application/json"}},
            400,
            "line 1, column 23",
        ),
        ({"content": b"\xff\xfe{", "headers": {"Content-Type": "application/json"}}, 400, "JSON"),
        ({"content": b"[" * 100_000, "headers": {"Content-Type": "application/json"}}, 400, "JSON"),
        (
            {
                "content": b'{"name": "x", "yaml": "\\ud800"}',
                "headers": {"Content-Type": "application/json"},
            },
            422,
            "",
        ),
    ],
)
async def test_bad_upload_requests(
    api: Api, kwargs: dict[str, object], status: int, fragment: str
) -> None:
    options = dict(kwargs)
    headers = {**api.auth(Role.facilitator), **options.pop("headers", {})}  # type: ignore[dict-item]
    response = await api.client.post("/shows", headers=headers, **options)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    body = response.json()
    assert fragment in body["detail"]
    assert "https://errors.pydantic.dev" not in response.text
    assert await count_versions(api) == 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/shows/999", 404),
        ("/shows/abc", 422),
        ("/shows/0", 422),
        ("/shows/-1", 422),
        ("/shows/99999999999999999999", 422),
        ("/shows/1.5", 422),
        ("/shows/999/plan", 404),
    ],
)
async def test_unknown_and_malformed_show_ids(api: Api, path: str, status: int) -> None:
    response = await api.client.get(path, headers=api.auth(Role.facilitator))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == ("not_found" if status == 404 else "invalid_request")
    if status == 422:
        assert body["fields"][0]["field"] == "path.show_id"


async def test_plan_in_a_time_zone(api: Api) -> None:
    version = await api.upload()
    response = await api.client.get(
        f"/shows/{version}/plan",
        params={"start": "2025-06-02T14:00:00", "tz": "Europe/Berlin"},
        headers=api.auth(Role.facilitator),
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["timezone"] == "Europe/Berlin"
    assert plan["start"] == "2025-06-02T14:00:00+02:00"
    assert plan["end"] == "2025-06-02T14:30:00+02:00"
    assert [s["segment_id"] for s in plan["segments"]] == ["arrive", "talk", "work", "commit"]
    first = plan["items"][0]
    assert first["due"] == "2025-06-02T14:00:00+02:00"
    assert first["what"] == "In one word, how are you arriving today?"
    assert any(i["what"].startswith("Which matters most?") for i in plan["items"])


async def test_plan_defaults_to_now_in_utc(api: Api) -> None:
    version = await api.upload()
    response = await api.client.get(f"/shows/{version}/plan", headers=api.auth())
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json()["start"]) == api.clock.now()
    assert response.json()["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "Mars/Olympus"}, "query.tz"),
        ({"tz": "../../etc/passwd"}, "query.tz"),
        ({"tz": "America"}, "query.tz"),
        ({"tz": "x" * 101}, "query.tz"),
        ({"start": "tomorrow"}, "query.start"),
        ({"start": "9999-12-31T23:59:59+00:00"}, "query.start"),
        ({"start": "0001-01-01T00:00:00+00:00"}, "query.start"),
    ],
)
async def test_plan_bad_parameters(api: Api, params: dict[str, str], field: str) -> None:
    version = await api.upload()
    response = await api.client.get(
        f"/shows/{version}/plan", params=params, headers=api.auth(Role.facilitator)
    )
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == field
