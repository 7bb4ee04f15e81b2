"""The Teams webhook routes: authentication, bad input, Graph validation and lifecycle, the
subscription kept alive on the clock, join URLs resolved, and a restart remembering chats."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from facilbot.auth import Role
from facilbot.platforms.teams.runtime import TeamsRuntime, chat_of_resource, organizer_from_join_url
from facilbot.platforms.teams.store import conversation
from facilbot.store.db import Database, reading
from facilbot.store.models import PlatformEvent, table_of
from integrations.contract import Say
from integrations.teams.adapter import TeamsAdapter
from integrations.teams.botauth import BotAuthenticator
from integrations.teams.connector import BotConnectorClient
from integrations.teams.entra import BOT_FRAMEWORK_SCOPE, EntraTokenProvider
from tests.integrations.teams.fakes import APP_ID, APP_PASSWORD, SERVICE_URL, TENANT, rsa_key
from tests.support.api import open_api, service_settings

from .conftest import (
    CLIENT_STATE,
    JOIN_URL,
    MEETING,
    ONLINE_MEETING_ID,
    ORGANIZER,
    EpochView,
    Harness,
    person,
    teams_settings,
)
from .test_show import SHOW

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ANA = person(2, "Ana Alves")


async def stored_events(h: Harness) -> list[Any]:
    table = table_of(PlatformEvent)
    async with reading(h.db.engine) as connection:
        return list((await connection.execute(select(table).order_by(table.c.id))).all())


LONG_SHOW = """\
title: A long discussion
duration: 150m
segments:
  - id: talk
    kind: discussion
    duration: 150m
"""


async def started(h: Harness, show: str = SHOW) -> str:
    version = await h.upload(show, "teams-routes")
    session_id = await h.attach(version)
    await h.runtime.sync()
    await h.deliver(h.meeting_event("meetingStart", person(1, "Pat"), JoinUrl=JOIN_URL))
    return session_id


# -- the bot route ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "token audience is not this bot"),
        ({"iss": "https://evil.example"}, "token issuer is not the Bot Framework"),
        ({"serviceurl": "https://evil.example/"}, "token serviceurl does not match the activity"),
        ({"exp": 1_700_000_000}, "expired"),
    ],
)
async def test_bot_tokens_that_do_not_authenticate_get_401_and_change_nothing(
    h: Harness, claims: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = h.fake.mint(**claims)
    response = await h.post_activity(h.message(ANA, "hello"), token=token)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_token"
    assert reason in response.json()["detail"]
    assert await stored_events(h) == []
    assert token not in caplog.text and "hello" not in caplog.text


async def test_bot_token_signed_by_an_unknown_key_is_refused(h: Harness) -> None:
    forged = h.fake.mint(key=rsa_key())  # right kid, wrong key
    response = await h.post_activity(h.message(ANA, "hi"), token=forged)
    assert response.status_code == 401
    missing = await h.client.post("/webhooks/teams/bot", json=h.message(ANA, "hi"))
    assert missing.status_code == 401
    assert missing.json()["detail"] == "missing Authorization header"
    assert await stored_events(h) == []


async def test_signing_keys_unavailable_is_503_so_the_connector_retries(h: Harness) -> None:
    h.runtime.authenticator = BotAuthenticator(
        APP_ID,
        http=h.runtime.http,
        metadata_url="https://login.botframework.com/v1/.well-known/missing",
        clock=EpochView(h.clock),
    )
    response = await h.post_activity(h.message(ANA, "hi"))
    assert response.status_code == 503
    assert response.json()["error"] == "keys_unavailable"


async def test_bad_bodies_get_400_with_a_reason(h: Harness) -> None:
    token = h.fake.mint()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body, detail in [
        (b"{not json", "the activity is not JSON"),
        (b"[1, 2]", "the activity is not a JSON object"),
    ]:
        response = await h.client.post("/webhooks/teams/bot", content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["detail"] == detail
    broken = h.message(ANA, "hi")
    del broken["conversation"]
    response = await h.post_activity(broken)
    assert response.status_code == 400
    assert response.json() == {
        "error": "malformed_activity",
        "detail": "conversation is missing or not an object",
    }
    huge = h.message(ANA, "x" * 300_000)
    assert (await h.post_activity(huge)).status_code == 413
    assert await stored_events(h) == []


async def test_a_bad_card_submission_is_answered_in_the_invoke_body(h: Harness) -> None:
    invoke = h.activity(
        "invoke",
        ANA,
        name="adaptiveCard/action",
        value={
            "action": {
                "type": "Action.Execute",
                "data": {"facilbot_poll": "p", "choice": "7", "options": ["a", "b"]},
            }
        },
    )
    response = await h.post_activity(invoke)
    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 400
    assert body["type"] == "application/vnd.microsoft.error"
    assert "not one of the options" in body["value"]["message"]
    other = h.activity("invoke", ANA, name="task/fetch", value={})
    assert (await h.post_activity(other)).json() == {"status": 200}


async def test_not_configured_is_503_with_the_settings_to_set(
    store: Database, tmp_path: Path
) -> None:
    async with open_api(service_settings(tmp_path, platforms="sim"), store) as api:
        for path in ("/webhooks/teams/bot", "/webhooks/teams/graph"):
            response = await api.client.post(path, json={})
            assert response.status_code == 503
            assert "FACILBOT_TEAMS_APP_ID" in response.json()["detail"]


# -- the Graph routes -------------------------------------------------------------------------


async def test_validation_is_echoed_on_both_urls_and_bad_tokens_refused(h: Harness) -> None:
    for path in ("/webhooks/teams/graph", "/webhooks/teams/graph/lifecycle"):
        response = await h.client.post(f"{path}?validationToken=a%2Bb%20c")
        assert response.status_code == 200
        assert response.text == "a+b c"
        assert response.headers["x-content-type-options"] == "nosniff"
    bad = await h.client.post("/webhooks/teams/graph", params={"validationToken": "x\x01"})
    assert bad.status_code == 400


async def test_foreign_client_state_and_forged_tokens_are_dropped_with_202(h: Harness) -> None:
    await started(h)
    before = len(await stored_events(h))
    message = h.chat_message(ANA, "from a forger", "1741080000001")
    foreign = h.encrypted_notification(message, client_state="not-ours-at-all")
    assert (await h.post_graph(foreign)).status_code == 202
    forged = h.encrypted_notification(message)
    forged["validationTokens"] = [h.fake.mint_validation_token(aud="another-app")]
    assert (await h.post_graph(forged)).status_code == 202
    await h.settle()
    assert len(await stored_events(h)) == before
    assert h.runtime.counters["graph_foreign_client_state"] == 1
    assert h.runtime.counters["graph_bad_validation_token"] == 1
    assert (await h.post_graph({"value": []})).status_code == 400
    response = await h.client.post("/webhooks/teams/graph", content=b"{oops")
    assert response.json() == {"error": "malformed_notification", "detail": "body is not JSON"}


async def test_a_notification_redelivered_is_stored_once(h: Harness) -> None:
    await started(h)
    before = len(await stored_events(h))
    body = h.encrypted_notification(h.chat_message(ANA, "Hello all", "1741080000002"))
    basic = {
        "value": [
            {
                "subscriptionId": h.subscription_id(),
                "changeType": "updated",
                "clientState": CLIENT_STATE,
                "resource": f"chats('{MEETING}')/messages('1741080000002')",
                "resourceData": {"id": "1741080000002"},
            }
        ]
    }
    for _ in range(2):
        assert (await h.post_graph(body)).status_code == 202
        assert (await h.post_graph(basic)).status_code == 202
    await h.settle()
    rows = await stored_events(h)
    assert len(rows) == before + 2  # the message once, the edit notice once
    assert {r.type for r in rows[before:]} == {"ChatMessage", "graph.updated"}


async def test_lifecycle_events_keep_the_subscription(h: Harness) -> None:
    await started(h)
    sub_id = h.subscription_id()
    expires = h.fake.subscriptions[sub_id]["expirationDateTime"]
    await h.advance(600)

    def lifecycle(event: str, sub: str) -> dict[str, Any]:
        return {
            "value": [
                {
                    "subscriptionId": sub,
                    "subscriptionExpirationDateTime": expires,
                    "tenantId": TENANT,
                    "clientState": CLIENT_STATE,
                    "lifecycleEvent": event,
                }
            ]
        }

    path = "/webhooks/teams/graph/lifecycle"
    assert (
        await h.post_graph(lifecycle("reauthorizationRequired", sub_id), path)
    ).status_code == 202
    await h.settle()
    assert h.fake.subscriptions[sub_id]["reauthorized"] == 1
    assert h.fake.subscriptions[sub_id]["expirationDateTime"] > expires

    # Removed: created again, then the chat is read back so nothing is missed.
    missed = h.chat_message(ANA, "Said while unsubscribed", "1741080000003")
    h.fake.chat_messages[MEETING] = [missed]
    del h.fake.subscriptions[sub_id]
    assert (await h.post_graph(lifecycle("subscriptionRemoved", sub_id), path)).status_code == 202
    await h.settle()
    new_id = h.subscription_id()
    assert new_id != sub_id
    rows = await stored_events(h)
    assert [r.event_id for r in rows if r.type == "ChatMessage"] == ["1741080000003"]
    # Missed: read back again; what was stored already stays stored once.
    assert (await h.post_graph(lifecycle("missed", new_id), path)).status_code == 202
    await h.settle()
    assert len(await stored_events(h)) == len(rows)
    assert h.runtime.counters["lifecycle_missed"] == 1


async def test_subscriptions_are_renewed_on_the_clock_and_recreated_when_gone(h: Harness) -> None:
    await started(h, LONG_SHOW)
    sub_id = h.subscription_id()
    first = h.fake.subscriptions[sub_id]["expirationDateTime"]
    await h.advance(49 * 60)
    assert not [r for r in h.fake.graph if r.method == "PATCH"]
    await h.advance(2 * 60)  # 10 minutes before the hour is up
    [renewal] = [r for r in h.fake.graph if r.method == "PATCH"]
    assert renewal.path == f"/subscriptions/{sub_id}"
    assert h.fake.subscriptions[sub_id]["expirationDateTime"] > first
    del h.fake.subscriptions[sub_id]  # Graph dropped it
    await h.advance(60 * 60)
    assert h.subscription_id() != sub_id
    assert h.runtime.counters["recreated"] == 1


async def test_a_join_url_is_resolved_to_the_meeting_chat(h: Harness) -> None:
    assert organizer_from_join_url(JOIN_URL) == ORGANIZER
    assert chat_of_resource(f"chats('{MEETING}')/messages('1')") == MEETING
    version = await h.upload(SHOW, "teams-join-url")
    session_id = await h.attach(version, meeting=JOIN_URL)
    await h.runtime.sync()
    response = await h.client.get(f"/sessions/{session_id}", headers=h.auth())
    assert response.json()["meeting_ref"] == MEETING
    async with reading(h.db.engine) as connection:
        chat = await conversation(connection, MEETING)
    assert chat is not None and chat.online_meeting_id == ONLINE_MEETING_ID
    assert chat.organizer_id == ORGANIZER and chat.subscription_id
    await h.deliver(h.meeting_event("meetingStart", person(1, "Pat"), JoinUrl=JOIN_URL))
    assert h.texts_sent() == ["In one word, how are you arriving today?"]


async def test_a_restarted_runtime_remembers_where_each_chat_lives(
    h: Harness, tmp_path: Any
) -> None:
    await h.deliver(h.message(ANA, "hello"))
    http = h.runtime.http
    tokens = EntraTokenProvider(
        client_id=APP_ID,
        client_secret=APP_PASSWORD,
        tenant=TENANT,
        scope=BOT_FRAMEWORK_SCOPE,
        http=http,
        clock=EpochView(h.clock),
    )
    fresh = TeamsAdapter(BotConnectorClient(tokens, http=http))
    runtime = TeamsRuntime(
        teams_settings(),
        h.engine,
        fresh,
        http=http,
        base_url=h.settings.base_url,
        ingest=h.ingest,
        sync_interval=None,
    )
    await runtime.start()
    try:
        delivery = await fresh.carry(MEETING, Say("Welcome back"))
    finally:
        await runtime.stop()
    assert delivery.channel == "server_api"
    last = h.fake.sent("POST")[-1]
    assert last.url.startswith(SERVICE_URL.rstrip("/"))
    assert json.loads(json.dumps(last.body))["text"] == "Welcome back"


async def test_a_long_join_url_is_resolved_through_the_meetings_endpoint(h: Harness) -> None:
    long_url = JOIN_URL + "&" + "x" * 300  # real join URLs are often over 200 characters
    h.fake.meetings[long_url] = {**h.fake.meetings[JOIN_URL], "joinWebUrl": long_url}
    response = await h.client.post("/teams/meetings", json={"join_url": long_url}, headers=h.auth())
    assert response.status_code == 200, response.text
    assert response.json()["meeting_ref"] == MEETING
    assert response.json()["online_meeting_id"] == ONLINE_MEETING_ID
    unknown = await h.client.post(
        "/teams/meetings",
        json={"join_url": "https://teams.microsoft.com/meet/123?p=abc"},
        headers=h.auth(),
    )
    assert unknown.status_code == 422
    assert "organizer" in unknown.json()["detail"]
    viewer = await h.client.post(
        "/teams/meetings", json={"join_url": long_url}, headers=h.auth(Role.viewer)
    )
    assert viewer.status_code == 403
