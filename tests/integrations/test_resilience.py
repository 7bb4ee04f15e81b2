"""integrations.resilience against the fake Zoom and fake Microsoft, on their virtual clocks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from integrations.resilience import (
    IssuedToken,
    RetryPolicy,
    TokenCache,
    Transient,
    retry_after_seconds,
)
from tests.support.clock import FakeClock

from .teams.fakes import SERVICE_URL, FakeMicrosoft
from .zoom.fake_zoom import FakeZoom

NOW = 1_750_000_000.0
ACTIVITIES = f"{SERVICE_URL}v3/conversations/19:abc@thread.v2/activities"


def http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, tz=UTC), usegmt=True)


# -- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        (http_date(NOW + 4), 4.0),
        (http_date(NOW - 60), 0.0),  # a date gone by: no wait
        ("2025-06-15T15:06:50Z", 10.0),  # NOW + 10 as Zoom's daily limit gives it, ISO 8601
        ("2025-06-15T15:06:50", 10.0),  # no zone: UTC
        (None, None),
        ("", None),
        ("soon", None),
        ("-1", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_is_delta_seconds_or_a_date(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


# -- RetryPolicy against the fake Bot Connector -----------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, wait: float) -> None:
        super().__init__(f"refused with {status}")
        self.status = status
        self.wait = wait


def connector_setup(
    *answers: tuple[int, str | None],
) -> tuple[FakeMicrosoft, FakeClock, httpx.AsyncClient]:
    clock = FakeClock(1_700_000_000.0)
    fake = FakeMicrosoft(clock=clock)
    fake.issued.append("tok-test")
    fake.throttle = list(answers)
    return fake, clock, fake.client()


def policy(clock: FakeClock, **options: float) -> RetryPolicy:
    settings: dict[str, float] = {"max_attempts": 4, "backoff_base": 1.0, **options}
    return RetryPolicy(
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.5,
        max_attempts=int(settings["max_attempts"]),
        backoff_base=settings["backoff_base"],
        backoff_cap=settings.get("backoff_cap", float("inf")),
    )


def post_activity(
    http: httpx.AsyncClient, clock: FakeClock, *, retry_5xx: bool = True
) -> Callable[[], Awaitable[str]]:
    """One attempt at posting an activity: 429 (and 5xx unless told not to) are transient."""

    async def attempt() -> str:
        response = await http.post(
            ACTIVITIES, json={"type": "message"}, headers={"Authorization": "Bearer tok-test"}
        )
        status = response.status_code
        if status == 429 or (retry_5xx and status >= 500):
            hint = retry_after_seconds(response.headers.get("Retry-After"), clock())
            raise Transient(lambda wait: Refused(status, wait), retry_after=hint)
        if status >= 400:
            raise Refused(status, 0.0)
        ident: str = response.json()["id"]
        return ident

    return attempt


async def test_waits_retry_after_in_seconds_then_as_a_date() -> None:
    fake, clock, http = connector_setup((429, "3"), (503, None))
    fake.throttle.insert(1, (429, http_date(clock.now + 3 + 7)))
    ident = await policy(clock).run(post_activity(http, clock), until=clock.now + 30)
    assert ident.startswith("1")
    # the third had no hint: step 1 s * 2**2, half of it plus jitter 0.5 of the other half
    assert clock.slept == [3.0, 7.0, 3.0]
    assert len(fake.connector) == 4 and len(fake.sent()) == 1


async def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    fake, clock, http = connector_setup(*[(503, None)] * 4)
    await policy(clock, max_attempts=5, backoff_cap=3.0).run(
        post_activity(http, clock), until=clock.now + 60
    )
    # steps 1, 2, 4 -> capped at 3, 3; each half of the step plus jitter 0.5 of the other half
    assert clock.slept == [0.75, 1.5, 2.25, 2.25]
    assert len(fake.connector) == 5


async def test_a_wait_past_the_deadline_raises_at_once_with_the_wait_refused() -> None:
    fake, clock, http = connector_setup((503, "1"), (429, "30"))
    with pytest.raises(Refused) as caught:
        await policy(clock).run(post_activity(http, clock), until=clock.now + 10)
    assert (caught.value.status, caught.value.wait) == (429, 30.0)
    assert clock.slept == [1.0]  # the 30 s were never slept
    assert len(fake.connector) == 2


async def test_backoff_stops_before_the_deadline_not_after() -> None:
    fake, clock, http = connector_setup(*[(503, None)] * 10)
    start = clock.now
    with pytest.raises(Refused) as caught:
        await policy(clock, max_attempts=10).run(post_activity(http, clock), until=start + 3)
    # waits 0.75 and 1.5 fit in 3 s; the next, 3.0, would end at 5.25
    assert clock.slept == [0.75, 1.5] and caught.value.wait == 3.0
    assert clock.now - start <= 3 and len(fake.connector) == 3


async def test_attempts_are_capped_and_the_last_answer_is_reported() -> None:
    fake, clock, http = connector_setup(*[(502, "0")] * 5)
    with pytest.raises(Refused) as caught:
        await policy(clock, max_attempts=3).run(post_activity(http, clock), until=clock.now + 60)
    assert caught.value.status == 502 and len(fake.connector) == 3


async def test_an_answer_that_is_not_transient_is_not_retried() -> None:
    # the rule a non-idempotent POST follows: a 5xx may mean "done", so it is final
    fake, clock, http = connector_setup((503, None))
    with pytest.raises(Refused) as caught:
        await policy(clock).run(post_activity(http, clock, retry_5xx=False), until=clock.now + 60)
    assert caught.value.status == 503
    assert clock.slept == [] and len(fake.connector) == 1


async def test_a_wait_without_end_is_refused_as_infinite() -> None:
    fake, clock, http = connector_setup((429, None))

    async def attempt() -> None:
        response = await http.post(
            ACTIVITIES, json={"type": "message"}, headers={"Authorization": "Bearer tok-test"}
        )
        raise Transient(lambda wait: Refused(response.status_code, wait), retry_after=float("inf"))

    with pytest.raises(Refused) as caught:
        await policy(clock).run(attempt, until=clock.now + 3600)
    assert caught.value.wait == float("inf") and clock.slept == []
    assert len(fake.connector) == 1


# -- TokenCache against the fake Zoom OAuth endpoint -------------------------------------------


def zoom_tokens(
    fake: FakeZoom, clock: FakeClock, *, renew_margin: float = 300.0
) -> tuple[TokenCache, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))

    async def fetch(until: float) -> IssuedToken:
        response = await http.post(
            "https://zoom.us/oauth/token",
            params={"grant_type": "account_credentials", "account_id": fake.account_id},
            auth=(fake.client_id, fake.client_secret),
            timeout=max(0.001, min(10.0, until - clock())),
        )
        body = response.json()
        return IssuedToken(body["access_token"], float(body["expires_in"]))

    return TokenCache(fetch, clock=clock, renew_margin=renew_margin), http


async def test_concurrent_callers_share_one_fetch_and_one_renewal() -> None:
    clock = FakeClock()
    fake = FakeZoom(clock=clock)
    tokens, _ = zoom_tokens(fake, clock)
    first = await asyncio.gather(*(tokens.token() for _ in range(20)))
    assert set(first) == {fake.issued[0]} and len(fake.token_requests()) == 1
    clock.advance(3600 - 300)  # due for renewal
    renewed = await asyncio.gather(*(tokens.token() for _ in range(20)))
    assert set(renewed) == {fake.issued[1]} and len(fake.token_requests()) == 2
    assert tokens.fetches == 2


async def test_a_short_lived_token_is_reused_for_half_its_life() -> None:
    clock = FakeClock()
    fake = FakeZoom(clock=clock, token_ttl=120)  # shorter than the 300 s renewal margin
    tokens, _ = zoom_tokens(fake, clock)
    first = await tokens.token()
    clock.advance(59)
    assert await tokens.token() == first
    clock.advance(2)
    assert await tokens.token() != first and len(fake.token_requests()) == 2


async def test_a_refused_token_is_renewed_once_per_call() -> None:
    clock = FakeClock()
    fake = FakeZoom(clock=clock)
    fake.add_meeting(85746065432)
    tokens, http = zoom_tokens(fake, clock)

    async def get(token: str) -> httpx.Response:
        return await http.get(
            "https://api.zoom.us/v2/meetings/85746065432",
            headers={"Authorization": f"Bearer {token}"},
        )

    await tokens.token()
    fake.revoke_tokens()
    answer = await tokens.for_call().send(get, is_refused=lambda r: r.status_code == 401)
    assert answer.status_code == 200 and len(fake.token_requests()) == 2

    call = tokens.for_call()
    fake.revoke_tokens()
    answer = await call.send(get, is_refused=lambda r: r.status_code == 401)
    assert answer.status_code == 200
    fake.revoke_tokens()  # refused again in the same call: the credentials, not the token
    answer = await call.send(get, is_refused=lambda r: r.status_code == 401)
    assert answer.status_code == 401 and len(fake.token_requests()) == 3
    assert [e.status for e in fake.api_log()] == [401, 200, 401, 200, 401]


async def test_a_refusal_of_an_old_token_keeps_the_fresh_one() -> None:
    clock = FakeClock()
    fake = FakeZoom(clock=clock)
    tokens, _ = zoom_tokens(fake, clock)
    old = await tokens.token()
    tokens.invalidate(old)
    fresh = await tokens.token()
    tokens.invalidate(old)  # a slower caller reports the token it had: the fresh one stays
    assert await tokens.token() == fresh and tokens.fetches == 2
    tokens.invalidate()
    assert await tokens.token() != fresh and tokens.fetches == 3


def test_an_issued_token_does_not_show_in_its_repr() -> None:
    assert "s3cr3t" not in repr(IssuedToken("s3cr3t", 3600))
