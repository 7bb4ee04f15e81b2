"""TeamsGraph through msgraph-sdk, its request adapter pointed at the fake Graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.clock import FakeClock

pytest.importorskip("msgraph", reason="the teams extra (msgraph-sdk) is not installed")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from integrations.teams.entra import GRAPH_SCOPE, EntraTokenProvider  # noqa: E402
from integrations.teams.graph import GraphError, TeamsGraph  # noqa: E402

from .fakes import APP_ID, APP_PASSWORD, GRAPH, TENANT, FakeMicrosoft  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
ORGANIZER = "550fae72-d251-43ec-868c-373732c2704f"
TEAMS_APP = "3b5a9b3c-1d0e-4c8f-9a5b-6c7d8e9f0a1b"


@pytest.fixture
def fake() -> FakeMicrosoft:
    fake = FakeMicrosoft(clock=FakeClock(1_700_000_000.0))
    meeting: dict[str, Any] = json.loads((FIXTURES / "online_meeting.json").read_text())
    meeting["_organizer"] = ORGANIZER
    fake.meetings[meeting["joinWebUrl"]] = meeting
    records = json.loads((FIXTURES / "attendance_records.json").read_text())["value"]
    fake.attendance[meeting["id"]] = [
        {"id": "r1", "totalParticipantCount": 2, "attendanceRecords": records}
    ]
    return fake


def make_graph(
    fake: FakeMicrosoft, before: Callable[[httpx.Request], None] | None = None
) -> tuple[TeamsGraph, EntraTokenProvider]:
    """A TeamsGraph over the fake; ``before`` sees each request before the fake answers it."""

    def handle(request: httpx.Request) -> httpx.Response:
        if before is not None:
            before(request)
        return fake.handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    tokens = EntraTokenProvider(
        client_id=APP_ID,
        client_secret=APP_PASSWORD,
        tenant=TENANT,
        scope=GRAPH_SCOPE,
        http=http,
        clock=fake.clock,
    )
    graph = TeamsGraph(tokens, http=http, base_url=GRAPH, clock=fake.clock, sleep=fake.clock.sleep)
    return graph, tokens


@pytest.fixture
def graph(fake: FakeMicrosoft) -> TeamsGraph:
    return make_graph(fake)[0]


async def test_resolve_meeting_by_join_url(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    url = next(iter(fake.meetings))
    info = await graph.resolve_meeting(ORGANIZER, url)
    assert info.thread_id == "19:meeting_M2IzYzczNTItYzUtYmFiMjNlOTY4MGEz@thread.skype"
    assert info.id == "MSpkYzE3NjctYmZiMi04ZdFpHRTNaR1F6WGhyZWFkLnYy"
    [request] = fake.graph
    assert request.path == f"/users/{ORGANIZER}/onlineMeetings"
    assert request.headers["authorization"] == f"Bearer {fake.issued[0]}"
    assert fake.token_requests[0]["scope"] == "https://graph.microsoft.com/.default"


async def test_unknown_meeting_is_a_graph_error(graph: TeamsGraph) -> None:
    with pytest.raises(GraphError) as caught:
        await graph.resolve_meeting(ORGANIZER, "https://teams.microsoft.com/l/meetup-join/nope")
    assert caught.value.status == 404


async def test_install_app_only_when_missing(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    chat = "19:meeting_abc@thread.v2"
    assert await graph.ensure_app_installed(chat, TEAMS_APP) is True
    assert fake.installed[chat] == [TEAMS_APP]
    post = fake.graph[-1]
    assert post.method == "POST" and post.body == {
        "teamsApp@odata.bind": f"{GRAPH}/appCatalogs/teamsApps/{TEAMS_APP}"
    }
    assert await graph.ensure_app_installed(chat, TEAMS_APP) is False
    assert fake.installed[chat] == [TEAMS_APP]


async def test_subscription_lifecycle(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    chat = "19:meeting_abc@thread.v2"
    sub = await graph.subscribe_chat_messages(
        chat,
        notification_url="https://facilbot.example/webhooks/teams/graph",
        lifecycle_url="https://facilbot.example/webhooks/teams/graph",
        client_state="state-123",
        encryption_certificate="MIIB...",
        encryption_certificate_id="facilbot-1",
    )
    body = fake.graph[-1].body
    assert body["resource"] == f"/chats/{chat}/messages"
    assert body["changeType"] == "created,updated"
    assert body["includeResourceData"] is True and body["encryptionCertificateId"] == "facilbot-1"
    assert body["lifecycleNotificationUrl"].endswith("/webhooks/teams/graph")
    assert body["clientState"] == "state-123"
    start = datetime.fromtimestamp(fake.clock.now, UTC)
    assert (sub.expires_at - start).total_seconds() == pytest.approx(3600, abs=1)

    fake.clock.now += 2700
    renewed = await graph.renew_subscription(sub.id)
    assert renewed.expires_at > sub.expires_at
    assert fake.graph[-1].method == "PATCH"
    await graph.reauthorize_subscription(sub.id)
    assert fake.subscriptions[sub.id]["reauthorized"] == 1
    await graph.delete_subscription(sub.id)
    assert sub.id not in fake.subscriptions
    await graph.delete_subscription(sub.id)  # already gone: fine


async def test_throttling_retries_with_retry_after(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    fake.graph_throttle = [(429, "2"), (503, "1")]
    info = await graph.resolve_meeting(ORGANIZER, next(iter(fake.meetings)))
    assert info.thread_id and fake.clock.slept == [2.0, 1.0]


async def test_throttling_past_deadline_reports_retry_after(
    graph: TeamsGraph, fake: FakeMicrosoft
) -> None:
    fake.graph_throttle = [(429, "600")]
    with pytest.raises(GraphError) as caught:
        await graph.resolve_meeting(ORGANIZER, next(iter(fake.meetings)))
    assert caught.value.retry_after == 600.0 and fake.clock.slept == []


async def test_retry_after_as_an_http_date(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    when = datetime.fromtimestamp(fake.clock.now + 5, UTC)
    fake.graph_throttle = [(503, format_datetime(when, usegmt=True))]
    await graph.resolve_meeting(ORGANIZER, next(iter(fake.meetings)))
    assert fake.clock.slept == [5.0]


async def test_a_refused_token_is_renewed_once(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    url = next(iter(fake.meetings))
    await graph.resolve_meeting(ORGANIZER, url)
    fake.issued.clear()  # revoked: Graph answers 401 to the cached token
    info = await graph.resolve_meeting(ORGANIZER, url)
    assert info.thread_id and len(fake.graph) == 3 and len(fake.token_requests) == 2
    assert fake.graph[-1].headers["authorization"] == f"Bearer {fake.issued[0]}"


async def test_a_token_refused_twice_is_a_401(fake: FakeMicrosoft) -> None:
    def refuse_all(request: httpx.Request) -> None:
        if request.url.host == "graph.microsoft.com":
            fake.issued.clear()

    graph, tokens = make_graph(fake, refuse_all)
    with pytest.raises(GraphError) as caught:
        await graph.resolve_meeting(ORGANIZER, next(iter(fake.meetings)))
    assert caught.value.status == 401 and caught.value.code == "InvalidAuthenticationToken"
    assert len(fake.graph) == 2 and tokens.fetches == 2 and fake.clock.slept == []


async def test_network_errors_are_retried(fake: FakeMicrosoft) -> None:
    failures = 1

    def fail_once(request: httpx.Request) -> None:
        nonlocal failures
        if request.url.host == "graph.microsoft.com" and failures:
            failures -= 1
            raise httpx.ConnectError("down")

    graph, _ = make_graph(fake, fail_once)
    info = await graph.resolve_meeting(ORGANIZER, next(iter(fake.meetings)))
    assert info.thread_id and len(fake.clock.slept) == 1 and 0.5 <= fake.clock.slept[0] <= 1.0


async def test_forbidden_is_not_retried(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    fake.issued.append("never-used")
    fake.graph_throttle = [(403, None)]
    with pytest.raises(GraphError) as caught:
        await graph.resolve_meeting(ORGANIZER, next(iter(fake.meetings)))
    assert caught.value.status == 403


async def test_attendance_records(graph: TeamsGraph, fake: FakeMicrosoft) -> None:
    meeting_id = next(iter(fake.attendance))
    records = await graph.attendance(ORGANIZER, meeting_id)
    assert [(r.name, r.email, r.seconds, r.role) for r in records] == [
        ("Frederick Cormier", "frederick.cormier@contoso.com", 322, "Organizer"),
        ("Lisa Adkins", "lisa.adkins@contoso.com", 314, "Presenter"),
    ]
    assert records[0].participant_id == "dc17674c-81d9-4adb-bfb2-8f6a442e4623"
    joined, left = records[0].intervals[0]
    assert joined is not None and left is not None and joined < left
