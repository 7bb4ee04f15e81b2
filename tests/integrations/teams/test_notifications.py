"""Graph change notifications: validation, parsing, decryption and validation tokens."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.contract import ChatCommand, ChatMessage
from integrations.teams.notifications import (
    DecryptionError,
    NotificationError,
    ValidationTokenChecker,
    chat_event,
    check_client_state,
    decrypt_resource_data,
    parse_notifications,
    validation_response,
)
from tests.support.clock import FakeClock
from tests.support.graph import certificate_b64, graph_encrypt, notification_certificate

from .fakes import APP_ID, ID_METADATA, TENANT, FakeMicrosoft, rsa_key

FIXTURES = Path(__file__).parent / "fixtures"
CHAT = "19:meeting_NTM3ZDJjOTUtZGRhOS00MzYxLTk5NDAtMzY4M2IzZWFjZGE1@thread.v2"


CHAT_MESSAGE = {
    "id": "1616990032035",
    "messageType": "message",
    "createdDateTime": "2021-03-29T03:53:52.035Z",
    "chatId": CHAT,
    "from": {"user": {"id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2", "displayName": "Robin Kline"}},
    "body": {"contentType": "html", "content": "<p>Hello <b>everyone</b></p>"},
}


def test_validation_echoes_the_decoded_token() -> None:
    assert validation_response({"validationToken": "Validation: Testing client application"}) == (
        "Validation: Testing client application"
    )
    assert validation_response({}) is None
    with pytest.raises(NotificationError):
        validation_response({"validationToken": "<script>\x00"})
    with pytest.raises(NotificationError):
        validation_response({"validationToken": "x" * 5000})


def test_client_state() -> None:
    assert check_client_state("secretClientValue", "secretClientValue")
    assert not check_client_state("secretClientValue", "secretClientValuf")
    assert not check_client_state("secretClientValue", None)


def test_parse_documented_change_and_lifecycle() -> None:
    parsed = parse_notifications((FIXTURES / "graph_change_basic.json").read_bytes())
    [change] = parsed.changes
    assert change.change_type == "created" and change.client_state == "secretClientValue"
    assert change.resource_data["id"] == "{long_id_string}"
    assert change.subscription_expires_at == datetime(2016, 3, 19, 22, 11, 9, 952000, tzinfo=UTC)
    assert parsed.lifecycle_events == [] and parsed.validation_tokens == []
    lifecycle = parse_notifications((FIXTURES / "graph_lifecycle.json").read_text())
    [event] = lifecycle.lifecycle_events
    assert event.event == "reauthorizationRequired"
    assert event.subscription_id == "7c4f3f13-5b1e-4d2a-9c3f-0a1d2e3f4a5b"
    assert (
        change.dedup_key
        == parse_notifications((FIXTURES / "graph_change_basic.json").read_bytes())
        .changes[0]
        .dedup_key
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"value": []}', "non-empty list"),
        (b'{"value": [1]}', "value[0] is not an object"),
        (b'{"value": [{"changeType": "created"}]}', "subscriptionId"),
        (b'{"value": [{"subscriptionId": "s"}]}', "neither changeType nor lifecycleEvent"),
        (b'{"value": [{"subscriptionId": "s", "lifecycleEvent": "explode"}]}', "not known"),
        (b'{"value": [{"subscriptionId": "s", "changeType": "created"}]}', "resource"),
        (
            b'{"value": [{"subscriptionId": "s", "changeType": "x", "lifecycleEvent": "missed"}]}',
            "both",
        ),
        (
            b'{"value": [{"subscriptionId": "s", "lifecycleEvent": "missed"}],'
            b' "validationTokens": 1}',
            "validationTokens",
        ),
        (
            b'{"value": [{"subscriptionId": "s", "lifecycleEvent": "missed",'
            b' "subscriptionExpirationDateTime": "soon"}]}',
            "ISO 8601",
        ),
    ],
)
def test_parse_errors_are_precise(body: bytes, reason: str) -> None:
    with pytest.raises(NotificationError) as caught:
        parse_notifications(body)
    assert reason in caught.value.reason


@pytest.fixture(scope="module")
def keypair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa_key()
    return key, certificate_b64(notification_certificate(key, at=datetime.now(UTC)))


def test_decrypt_what_graph_encrypted(keypair: tuple[rsa.RSAPrivateKey, str]) -> None:
    key, cert = keypair
    body = {
        "value": [
            {
                "subscriptionId": "sub-1",
                "changeType": "created",
                "clientState": "s3cret",
                "tenantId": TENANT,
                "resource": f"chats('{CHAT}')/messages('1616990032035')",
                "resourceData": {
                    "id": "1616990032035",
                    "@odata.type": "#Microsoft.Graph.chatMessage",
                },
                "encryptedContent": graph_encrypt(CHAT_MESSAGE, cert),
            }
        ],
        "validationTokens": ["eyJ..."],
    }
    [change] = parse_notifications(json.dumps(body)).changes
    assert change.encrypted_content is not None
    resource = decrypt_resource_data(change.encrypted_content, key)
    assert resource == CHAT_MESSAGE
    event = chat_event(resource, CHAT)
    assert isinstance(event, ChatMessage)
    assert event.text == "Hello everyone" and event.event_id == "1616990032035"


def test_tampered_data_is_refused(keypair: tuple[rsa.RSAPrivateKey, str]) -> None:
    key, cert = keypair
    content = graph_encrypt(CHAT_MESSAGE, cert)
    raw = bytearray(base64.b64decode(content["data"]))
    raw[0] ^= 1
    with pytest.raises(DecryptionError, match="dataSignature"):
        decrypt_resource_data({**content, "data": base64.b64encode(raw).decode()}, key)
    with pytest.raises(DecryptionError, match="private key"):
        decrypt_resource_data(content, rsa_key())
    with pytest.raises(DecryptionError, match="base64"):
        decrypt_resource_data({**content, "dataKey": "***"}, key)


def test_chat_event_commands_and_skips() -> None:
    command = chat_event({**CHAT_MESSAGE, "body": {"content": "<p>/fb skip</p>"}}, CHAT)
    assert isinstance(command, ChatCommand) and command.verb == "skip"
    assert chat_event({**CHAT_MESSAGE, "messageType": "systemEventMessage"}, CHAT) is None
    bot = {**CHAT_MESSAGE, "from": {"application": {"id": APP_ID, "displayName": "facilbot"}}}
    assert chat_event(bot, CHAT) is None
    with pytest.raises(NotificationError):
        chat_event({"messageType": "message"}, CHAT)


def _token_checker() -> tuple[FakeClock, FakeMicrosoft, ValidationTokenChecker]:
    clock = FakeClock(1_700_000_000.0)
    fake = FakeMicrosoft(clock=clock)
    checker = ValidationTokenChecker(
        app_ids=[APP_ID],
        tenant_id=TENANT,
        http=fake.client(),
        metadata_url=ID_METADATA,
        clock=clock,
    )
    return clock, fake, checker


async def test_validation_tokens() -> None:
    clock, fake, checker = _token_checker()
    await checker.check([fake.mint_validation_token()])
    await checker.check(
        [fake.mint_validation_token(iss=f"https://login.microsoftonline.com/{TENANT}/v2.0")]
    )
    bad = {
        "audience": fake.mint_validation_token(aud="another-app"),
        "publisher": fake.mint_validation_token(appid="11111111-2222-3333-4444-555555555555"),
        "issuer": fake.mint_validation_token(iss="https://sts.windows.net/other-tenant/"),
        "expired": fake.mint_validation_token(exp=int(clock.now) - 3600),
    }
    for reason, token in bad.items():
        with pytest.raises(NotificationError) as caught:
            await checker.check([fake.mint_validation_token(), token])
        assert reason in caught.value.reason
    with pytest.raises(NotificationError, match="no validationTokens"):
        await checker.check([])


async def test_a_validation_token_verified_once_is_only_time_checked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Graph repeats a token across notifications: its signature and claims are checked once,
    its time window on every use, and a token that failed is checked again in full."""
    import integrations.teams.notifications as notifications

    clock, fake, checker = _token_checker()
    verified = []
    real = notifications.verify_rs256

    async def counting(token: str, *args: object, **kwargs: object) -> object:
        verified.append(token)
        return await real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(notifications, "verify_rs256", counting)
    token = fake.mint_validation_token()
    for _ in range(3):
        await checker.check([token])
    assert verified == [token]
    foreign = fake.mint_validation_token(aud="another-app")
    for _ in range(2):
        with pytest.raises(NotificationError, match="audience"):
            await checker.check([foreign])
    assert verified == [token, foreign, foreign]
    clock.advance(3600 + 300 + 1)  # past exp and the leeway: the full check rejects it
    with pytest.raises(NotificationError, match="expired"):
        await checker.check([token])
    assert verified[-1] == token


async def test_a_remembered_validation_token_falls_with_its_key() -> None:
    """Once the key set is refreshed without the key that verified a remembered token, the
    token is checked in full again, and rejected, as it would be without the memory."""
    clock, fake, checker = _token_checker()
    token = fake.mint_validation_token()
    await checker.check([token])
    fake.id_keys["id-key-1"] = rsa_key()  # Microsoft rolls the key over
    clock.advance(301)
    assert await checker.keys.get("another-kid") is None  # an unknown kid refreshes the set
    with pytest.raises(NotificationError, match="signature"):
        await checker.check([token])
    await checker.check([fake.mint_validation_token()])
