"""Entra tokens and the Bot Connector client against local fakes, on a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from integrations.teams.connector import BotConnectorClient, ConnectorError
from integrations.teams.entra import (
    BOT_FRAMEWORK_SCOPE,
    EntraTokenProvider,
    TokenError,
)
from tests.support.clock import FakeClock

from .fakes import APP_ID, APP_PASSWORD, SERVICE_URL, TENANT, FakeMicrosoft

CONVERSATION = "19:meeting_NTM3ZDJjOTUtZGRhOS00MzYxLTk5NDAtMzY4M2IzZWFjZGE1@thread.v2"


def make(
    secret: str = APP_PASSWORD,
    *,
    before: Callable[[FakeMicrosoft, httpx.Request], None] | None = None,
    **kwargs: float,
) -> tuple[FakeMicrosoft, FakeClock, EntraTokenProvider, BotConnectorClient]:
    """``before`` sees each request before the fake answers it."""
    clock = FakeClock(1_700_000_000.0)
    fake = FakeMicrosoft(clock=clock)

    def handle(request: httpx.Request) -> httpx.Response:
        if before is not None:
            before(fake, request)
        return fake.handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    tokens = EntraTokenProvider(
        client_id=APP_ID,
        client_secret=secret,
        tenant=TENANT,
        scope=BOT_FRAMEWORK_SCOPE,
        http=http,
        clock=clock,
    )
    client = BotConnectorClient(tokens, http=http, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]
    return fake, clock, tokens, client


async def test_token_request_is_client_credentials() -> None:
    fake, _, tokens, _ = make()
    token = await tokens.token()
    [form] = fake.token_requests
    assert form == {
        "grant_type": "client_credentials",
        "client_id": APP_ID,
        "client_secret": APP_PASSWORD,
        "scope": "https://api.botframework.com/.default",
    }
    assert token == fake.issued[0]
    assert tokens.token_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"


async def test_token_cached_and_renewed_before_expiry() -> None:
    _, clock, tokens, _ = make()
    first = await tokens.token()
    clock.now += 3600 - 301
    assert await tokens.token() == first
    clock.now += 2  # inside the 5-minute margin: renew
    second = await tokens.token()
    assert second != first and tokens.fetches == 2


async def test_concurrent_callers_share_one_fetch() -> None:
    _, _, tokens, _ = make()
    got = await asyncio.gather(*(tokens.token() for _ in range(20)))
    assert len(set(got)) == 1 and tokens.fetches == 1


async def test_bad_secret_is_a_token_error_without_the_secret() -> None:
    _, _, tokens, client = make(secret="wrong-secret-value")
    with pytest.raises(TokenError) as caught:
        await tokens.token()
    assert "invalid_client" in caught.value.reason and "wrong-secret" not in caught.value.reason
    with pytest.raises(ConnectorError) as sent:
        await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "hi"})
    assert "wrong-secret" not in str(sent.value)


async def test_send_posts_the_activity_with_the_token() -> None:
    fake, _, _, client = make()
    ident = await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "Hello"})
    [request] = fake.sent()
    assert request.path == f"/amer/v3/conversations/{CONVERSATION}/activities"
    assert "%3A" in request.url and "%40" in request.url  # the id is one encoded path segment
    assert request.body == {"type": "message", "text": "Hello"}
    assert request.headers["authorization"] == f"Bearer {fake.issued[0]}"
    assert ident.startswith("1")


async def test_update_puts_to_the_activity() -> None:
    fake, _, _, client = make()
    await client.update(SERVICE_URL, CONVERSATION, "1700000000001", {"type": "message"})
    [request] = fake.sent("PUT")
    assert request.path.endswith("/activities/1700000000001")
    assert request.body == {"type": "message", "id": "1700000000001"}


async def test_429_honours_retry_after_on_the_virtual_clock() -> None:
    fake, clock, _, client = make()
    fake.throttle = [(429, "3"), (503, None)]
    await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "x"})
    assert clock.slept[0] == 3.0
    assert len(clock.slept) == 2 and 0.5 <= clock.slept[1] <= 2.0  # backoff with jitter
    assert len(fake.connector) == 3


async def test_retry_after_beyond_deadline_is_reported_not_slept() -> None:
    fake, clock, _, client = make(deadline=10.0)
    fake.throttle = [(429, "120")]
    with pytest.raises(ConnectorError) as caught:
        await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "x"})
    assert caught.value.retry_after == 120.0 and caught.value.status == 429
    assert clock.slept == []


async def test_retry_after_as_an_http_date() -> None:
    fake, clock, _, client = make()
    fake.throttle = [(429, format_datetime(datetime.fromtimestamp(clock.now + 4, UTC)))]
    await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "x"})
    assert clock.slept == [4.0] and len(fake.sent()) == 1


async def test_backoff_past_the_deadline_fails_at_once() -> None:
    fake, clock, _, client = make(deadline=3.0)
    fake.throttle = [(503, None)] * 10
    start = clock.now
    with pytest.raises(ConnectorError) as caught:
        await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "x"})
    assert caught.value.status == 503 and caught.value.retry_after is None
    # waits of 0.5-1 s and 1-2 s fit in 3 s; the third, 2-4 s, would pass the deadline
    assert len(clock.slept) == 2 and clock.now - start < 3.0 and len(fake.connector) == 3


async def test_client_errors_are_not_retried() -> None:
    fake, clock, _, client = make()
    fake.throttle = [(403, None)]
    with pytest.raises(ConnectorError) as caught:
        await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "x"})
    assert caught.value.status == 403 and clock.slept == [] and len(fake.connector) == 1


async def test_401_renews_the_token_once() -> None:
    fake, _, tokens, client = make()
    await tokens.token()
    fake.issued.clear()  # the connector no longer accepts the cached token
    await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "x"})
    assert tokens.fetches == 2 and len(fake.connector) == 2


async def test_a_token_refused_again_in_the_same_call_is_final() -> None:
    revoke_before = {1, 3}  # the first token; then the renewed one, after the 503
    seen = 0

    def revoke(fake: FakeMicrosoft, request: httpx.Request) -> None:
        nonlocal seen
        if request.url.host == "smba.trafficmanager.net":
            seen += 1
            if seen in revoke_before:
                fake.issued.clear()

    fake, clock, tokens, client = make(before=revoke)
    fake.throttle = [(503, "1")]
    with pytest.raises(ConnectorError) as caught:
        await client.send(SERVICE_URL, CONVERSATION, {"type": "message", "text": "x"})
    assert caught.value.status == 401
    assert tokens.fetches == 2 and len(fake.connector) == 3 and clock.slept == [1.0]


async def test_concurrent_refusals_renew_the_token_once() -> None:
    fake, _, tokens, client = make()
    await tokens.token()
    fake.issued.clear()
    await asyncio.gather(
        *(client.send(SERVICE_URL, CONVERSATION, {"type": "message"}) for _ in range(5))
    )
    assert tokens.fetches == 2 and len(fake.sent()) == 5


async def test_network_failure_gives_up_within_attempts() -> None:
    clock = FakeClock(1_700_000_000.0)
    fake = FakeMicrosoft(clock=clock)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "smba.trafficmanager.net":
            raise httpx.ConnectError("down")
        return fake.handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    tokens = EntraTokenProvider(
        client_id=APP_ID,
        client_secret=APP_PASSWORD,
        tenant=TENANT,
        scope=BOT_FRAMEWORK_SCOPE,
        http=http,
        clock=clock,
    )
    client = BotConnectorClient(tokens, http=http, clock=clock, sleep=clock.sleep, max_attempts=3)
    with pytest.raises(ConnectorError, match="unreachable"):
        await client.send(SERVICE_URL, CONVERSATION, {"type": "message"})
    assert len(clock.slept) == 2


async def test_targeted_meeting_notification_shape() -> None:
    fake, _, _, client = make()
    await client.notify_meeting(
        SERVICE_URL,
        "MCMxOTptZWV0aW5n",
        recipients=["29:a", "29:b"],
        title="Break",
        url="https://facilbot.example/p/abc",
    )
    [request] = fake.sent()
    assert request.path == "/amer/v1/meetings/MCMxOTptZWV0aW5n/notification"
    assert request.body["type"] == "targetedMeetingNotification"
    [surface] = request.body["value"]["surfaces"]
    assert surface["surface"] == "meetingStage" and surface["contentType"] == "task"
    assert request.body["value"]["recipients"] == ["29:a", "29:b"]


async def test_bad_service_url_is_refused() -> None:
    _, _, _, client = make()
    with pytest.raises(ConnectorError, match="http"):
        await client.send("ftp://example", CONVERSATION, {"type": "message"})
