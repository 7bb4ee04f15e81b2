"""BotAuthenticator against a fake Bot Framework OpenID metadata + JWKS, keys made here."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.teams.botauth import BotAuthenticator, BotAuthError
from tests.support.clock import FakeClock

from .fakes import APP_ID, BF_METADATA, SERVICE_URL, FakeMicrosoft, rsa_key

ACTIVITY: dict[str, Any] = {"type": "message", "serviceUrl": SERVICE_URL, "channelId": "msteams"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def fake(clock: FakeClock) -> FakeMicrosoft:
    return FakeMicrosoft(clock=clock)


@pytest.fixture
def auth(fake: FakeMicrosoft, clock: FakeClock) -> BotAuthenticator:
    return BotAuthenticator(APP_ID, http=fake.client(), metadata_url=BF_METADATA, clock=clock)


async def test_valid_token_is_accepted(auth: BotAuthenticator, fake: FakeMicrosoft) -> None:
    claims = await auth.authenticate(f"Bearer {fake.mint()}", ACTIVITY)
    assert claims["aud"] == APP_ID
    assert fake.metadata_fetches == 1 and fake.key_fetches == 1


async def test_keys_are_cached(auth: BotAuthenticator, fake: FakeMicrosoft) -> None:
    for _ in range(5):
        await auth.authenticate(f"Bearer {fake.mint()}", ACTIVITY)
    assert fake.key_fetches == 1


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Authorization"),
        ("", "missing Authorization"),
        ("Basic abc", "not a Bearer"),
        ("Bearer ", "not a Bearer"),
        ("Bearer not-a-jwt", "well-formed"),
    ],
)
async def test_missing_or_garbled_header(
    auth: BotAuthenticator, header: str | None, reason: str
) -> None:
    with pytest.raises(BotAuthError) as caught:
        await auth.authenticate(header, ACTIVITY)
    assert reason in caught.value.reason
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://sts.windows.net/evil/"}, "issuer"),
        ({"aud": "someone-else"}, "audience"),
        ({"serviceurl": "https://evil.example/"}, "serviceurl"),
        ({"serviceurl": None}, "serviceurl"),
        ({"exp": None}, "valid JWT"),
    ],
)
async def test_wrong_claims_are_refused(
    auth: BotAuthenticator, fake: FakeMicrosoft, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(BotAuthError) as caught:
        await auth.authenticate(f"Bearer {fake.mint(**overrides)}", ACTIVITY)
    assert reason in caught.value.reason


async def test_audience_list_containing_app_id(auth: BotAuthenticator, fake: FakeMicrosoft) -> None:
    await auth.authenticate(f"Bearer {fake.mint(aud=['other', APP_ID])}", ACTIVITY)


async def test_expiry_uses_the_clock_with_five_minutes_skew(
    auth: BotAuthenticator, fake: FakeMicrosoft, clock: FakeClock
) -> None:
    token = fake.mint(lifetime=60)
    clock.now += 60 + 299
    await auth.authenticate(f"Bearer {token}", ACTIVITY)  # inside the skew
    clock.now += 2
    with pytest.raises(BotAuthError, match="expired"):
        await auth.authenticate(f"Bearer {token}", ACTIVITY)


async def test_not_yet_valid(auth: BotAuthenticator, fake: FakeMicrosoft, clock: FakeClock) -> None:
    token = fake.mint(nbf=int(clock.now) + 400)
    with pytest.raises(BotAuthError, match="not valid yet"):
        await auth.authenticate(f"Bearer {token}", ACTIVITY)


async def test_forged_signature_is_refused(auth: BotAuthenticator, fake: FakeMicrosoft) -> None:
    forged = fake.mint(key=rsa_key())  # same kid, someone else's key
    with pytest.raises(BotAuthError, match="signature"):
        await auth.authenticate(f"Bearer {forged}", ACTIVITY)


async def test_hs256_and_none_are_refused(auth: BotAuthenticator, fake: FakeMicrosoft) -> None:
    import jwt

    hs = jwt.encode({"aud": APP_ID}, "s" * 32, algorithm="HS256", headers={"kid": "bf-key-1"})
    with pytest.raises(BotAuthError, match="RS256"):
        await auth.authenticate(f"Bearer {hs}", ACTIVITY)
    none = jwt.encode({"aud": APP_ID}, None, algorithm="none", headers={"kid": "bf-key-1"})
    with pytest.raises(BotAuthError, match="RS256"):
        await auth.authenticate(f"Bearer {none}", ACTIVITY)


async def test_activity_service_url_must_match(auth: BotAuthenticator, fake: FakeMicrosoft) -> None:
    other = {**ACTIVITY, "serviceUrl": "https://smba.trafficmanager.net/emea/"}
    with pytest.raises(BotAuthError, match="serviceurl"):
        await auth.authenticate(f"Bearer {fake.mint()}", other)
    with pytest.raises(BotAuthError, match="no serviceUrl"):
        await auth.authenticate(f"Bearer {fake.mint()}", {"type": "message"})


async def test_endorsement_for_channel(auth: BotAuthenticator, fake: FakeMicrosoft) -> None:
    fake.bf_endorsements = ["webchat"]
    with pytest.raises(BotAuthError, match="endorsed"):
        await auth.authenticate(f"Bearer {fake.mint()}", ACTIVITY)


async def test_rotated_key_is_fetched_once_then_rate_limited(
    auth: BotAuthenticator, fake: FakeMicrosoft, clock: FakeClock
) -> None:
    await auth.authenticate(f"Bearer {fake.mint()}", ACTIVITY)
    clock.now += 600
    fake.bf_keys["bf-key-2"] = rsa_key()
    await auth.authenticate(f"Bearer {fake.mint(kid='bf-key-2')}", ACTIVITY)
    assert fake.key_fetches == 2
    # unknown kids right after a refresh do not hammer the key endpoint
    for n in range(5):
        bogus = fake.mint(kid=f"nope-{n}", key=rsa_key())
        with pytest.raises(BotAuthError, match="unknown key"):
            await auth.authenticate(f"Bearer {bogus}", ACTIVITY)
    assert fake.key_fetches == 2
    clock.now += 301
    with pytest.raises(BotAuthError, match="unknown key"):
        await auth.authenticate(f"Bearer {fake.mint(kid='x', key=rsa_key())}", ACTIVITY)
    assert fake.key_fetches == 3


async def test_keys_unavailable_is_503(clock: FakeClock) -> None:
    import httpx

    down = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    auth = BotAuthenticator(APP_ID, http=down, metadata_url=BF_METADATA, clock=clock)
    fake = FakeMicrosoft(clock=clock)
    with pytest.raises(BotAuthError) as caught:
        await auth.authenticate(f"Bearer {fake.mint()}", ACTIVITY)
    assert caught.value.status == 503
