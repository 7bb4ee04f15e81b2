"""ZoomClient against the fake Zoom: OAuth, retries, rate limits, deadlines, endpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from integrations.zoom.rest import (
    BreakoutAssignment,
    PollQuestion,
    ZoomApiError,
    ZoomAuthError,
    ZoomClient,
    ZoomCredentials,
    meeting_path_id,
)
from tests.support.clock import FakeClock

from .conftest import MEETING_ID
from .fake_zoom import FakeZoom


def no_secrets_in(error: Exception, fake: FakeZoom) -> None:
    text = str(error) + repr(error)
    assert fake.client_secret not in text
    for token in fake.issued:
        assert token not in text


def make_client(fake: FakeZoom, clock: FakeClock, **options: object) -> ZoomClient:
    return ZoomClient(
        ZoomCredentials(fake.account_id, fake.client_id, fake.client_secret),
        api_base_url="https://api.zoom.us/v2",
        oauth_url="https://zoom.us/oauth/token",
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.5,
        **options,  # type: ignore[arg-type]
    )


# -- OAuth ----------------------------------------------------------------------------------


async def test_token_is_requested_the_s2s_way_and_cached(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID)
    for _ in range(3):
        await client.get_meeting(MEETING_ID)
    [token_call] = fake.token_requests()
    assert token_call.method == "POST"
    assert token_call.query == {"grant_type": "account_credentials", "account_id": fake.account_id}
    assert token_call.body is None
    assert len(fake.api_log()) == 3


async def test_token_is_renewed_before_it_expires(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    await client.get_meeting(MEETING_ID)
    clock.advance(3600 - 300 - 1)  # still inside the renewal margin's near side
    await client.get_meeting(MEETING_ID)
    assert len(fake.token_requests()) == 1
    clock.advance(2)  # now within 5 minutes of expiry: renewed without ever seeing a 401
    await client.get_meeting(MEETING_ID)
    assert len(fake.token_requests()) == 2
    assert [e.status for e in fake.api_log()] == [200, 200, 200]


async def test_invalid_token_is_renewed_once_and_the_call_succeeds(
    fake: FakeZoom, client: ZoomClient
):
    fake.add_meeting(MEETING_ID)
    await client.get_meeting(MEETING_ID)
    fake.revoke_tokens()
    meeting = await client.get_meeting(MEETING_ID)
    assert meeting.id == MEETING_ID
    assert [e.status for e in fake.api_log()] == [200, 401, 200]
    assert len(fake.token_requests()) == 2


async def test_a_token_refused_twice_gives_up_with_zooms_code(clock: FakeClock):
    fake = FakeZoom(clock=clock, token_ttl=0)  # every token is dead on arrival
    fake.add_meeting(MEETING_ID)
    client = make_client(fake, clock)
    with pytest.raises(ZoomApiError) as caught:
        await client.get_meeting(MEETING_ID)
    assert (caught.value.status, caught.value.code) == (401, 124)
    assert "Invalid access token" in str(caught.value)
    assert [e.status for e in fake.api_log()] == [401, 401]
    no_secrets_in(caught.value, fake)


async def test_wrong_credentials_are_an_auth_error_without_the_secret(
    fake: FakeZoom, clock: FakeClock
):
    client = ZoomClient(
        ZoomCredentials(fake.account_id, fake.client_id, "not-the-secret"),
        oauth_url="https://zoom.us/oauth/token",
        api_base_url="https://api.zoom.us/v2",
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
        clock=clock,
        sleep=clock.sleep,
    )
    with pytest.raises(ZoomAuthError, match="HTTP 400: Invalid client_id or client_secret"):
        await client.get_meeting(MEETING_ID)
    assert fake.api_log() == []


def test_credentials_repr_hides_the_secret() -> None:
    assert "s3cr3t" not in repr(ZoomCredentials("a", "b", "s3cr3t"))


# -- rate limits and retries ----------------------------------------------------------------


async def test_429_honours_retry_after_seconds(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    fake.throttle(retry_after="2")
    await client.get_meeting(MEETING_ID)
    assert clock.slept == [2.0]
    assert [e.status for e in fake.api_log()] == [429, 200]


async def test_429_honours_retry_after_as_a_date(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    when = datetime.fromtimestamp(clock.now + 3, tz=UTC)
    fake.throttle(retry_after=format_datetime(when, usegmt=True))
    await client.get_meeting(MEETING_ID)
    assert clock.slept == [3.0]


async def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    fake.throttle(2, retry_after=None)
    await client.get_meeting(MEETING_ID)
    # base 0.5 s doubling; jitter fixed at 0.5 of the upper half
    assert clock.slept == [0.375, 0.75]


async def test_daily_limit_without_a_hint_fails_at_once(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    fake.throttle(retry_after=None, daily=True)
    with pytest.raises(
        ZoomApiError, match="HTTP 429 \\(code 429\\): You have reached the maximum daily"
    ):
        await client.get_meeting(MEETING_ID)
    assert clock.slept == []


async def test_retry_after_beyond_the_deadline_falls_back_at_once(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    fake.throttle(retry_after="30")
    with pytest.raises(ZoomApiError) as caught:
        await client.pause_recording(MEETING_ID, deadline=5)
    assert caught.value.status == 429
    assert caught.value.retry_after == 30.0
    assert clock.slept == []


async def test_the_deadline_bounds_the_whole_call(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    fake.throttle(10, retry_after="1")
    start = clock.now
    with pytest.raises(ZoomApiError):
        await client.get_meeting(MEETING_ID, deadline=2.5)
    assert clock.now - start <= 2.5
    assert clock.slept == [1.0, 1.0]


async def test_attempts_are_capped(fake: FakeZoom, clock: FakeClock):
    fake.add_meeting(MEETING_ID)
    fake.throttle(10, retry_after="0")
    client = make_client(fake, clock, max_attempts=3)
    with pytest.raises(ZoomApiError, match="429"):
        await client.get_meeting(MEETING_ID)
    assert len(fake.api_log()) == 3


async def test_server_errors_retry_reads_but_not_poll_creation(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID)
    fake.fail_next(1)
    assert (await client.get_meeting(MEETING_ID)).id == MEETING_ID
    fake.fail_next(1)
    with pytest.raises(ZoomApiError, match="HTTP 503"):
        await client.create_poll(MEETING_ID, "Q", [PollQuestion("Q", ("A", "B"))])
    assert fake.meetings[MEETING_ID].polls == []


async def test_poll_creation_is_posted_once_on_a_server_error(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    fake.fail_next(1)
    with pytest.raises(ZoomApiError) as caught:
        await client.create_poll(MEETING_ID, "Q", [PollQuestion("Q", ("A", "B"))])
    assert caught.value.status == 503 and clock.slept == []
    assert [(e.method, e.status) for e in fake.api_log()] == [("POST", 503)]


async def test_poll_creation_is_retried_when_rate_limited(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    # a 429 is refused before Zoom acts on it: another try cannot create a second poll
    fake.add_meeting(MEETING_ID)
    fake.throttle(retry_after="1")
    poll = await client.create_poll(MEETING_ID, "Q", [PollQuestion("Q", ("A", "B"))])
    assert [p["id"] for p in fake.meetings[MEETING_ID].polls] == [poll.id]
    assert [e.status for e in fake.api_log()] == [429, 201] and clock.slept == [1.0]


async def test_concurrent_calls_share_one_token_fetch(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID)
    meetings = await asyncio.gather(*(client.get_meeting(MEETING_ID) for _ in range(10)))
    assert {m.id for m in meetings} == {MEETING_ID}
    assert len(fake.token_requests()) == 1 and len(fake.api_log()) == 10


async def test_concurrent_refusals_renew_the_token_once(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID)
    await client.get_meeting(MEETING_ID)
    fake.revoke_tokens()
    await asyncio.gather(*(client.get_meeting(MEETING_ID) for _ in range(5)))
    assert len(fake.token_requests()) == 2


async def test_daily_limit_with_a_date_within_the_deadline_is_waited_for(
    fake: FakeZoom, client: ZoomClient, clock: FakeClock
):
    fake.add_meeting(MEETING_ID)
    when = datetime.fromtimestamp(clock.now + 2, tz=UTC).isoformat().replace("+00:00", "Z")
    fake.throttle(retry_after=when, daily=True)
    await client.get_meeting(MEETING_ID)
    assert clock.slept == [2.0]


async def test_no_time_left_fails_before_any_request(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID)
    with pytest.raises(ZoomApiError, match="deadline passed") as caught:
        await client.get_meeting(MEETING_ID, deadline=0)
    assert caught.value.status is None and fake.log == []


async def test_transport_failures_name_the_error_only(clock: FakeClock):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = ZoomClient(
        ZoomCredentials("acc", "cid", "very-secret"),
        http=httpx.AsyncClient(transport=httpx.MockTransport(refuse)),
        clock=clock,
        sleep=clock.sleep,
    )
    with pytest.raises(ZoomApiError, match="token request failed: ConnectError") as caught:
        await client.get_meeting(1)
    assert "very-secret" not in str(caught.value)


async def test_errors_carry_status_code_and_message_only(fake: FakeZoom, client: ZoomClient):
    with pytest.raises(ZoomApiError) as caught:
        await client.get_meeting(999)
    assert str(caught.value) == "Zoom API HTTP 404 (code 3001): Meeting does not exist: 999."
    no_secrets_in(caught.value, fake)


# -- endpoints ------------------------------------------------------------------------------


async def test_get_meeting(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID, type=8, status="started", uuid="abc==")
    meeting = await client.get_meeting(str(MEETING_ID))
    assert (meeting.id, meeting.uuid, meeting.type, meeting.status) == (
        MEETING_ID,
        "abc==",
        8,
        "started",
    )
    assert not meeting.instant


async def test_create_poll_sends_zooms_shape(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID)
    long_title = "Which stakeholder resists the change most, and why do you think so? " * 2
    poll = await client.create_poll(
        MEETING_ID,
        long_title,
        [PollQuestion(long_title, ("CFO", "Plant manager", "Procurement"), multiple=True)],
        anonymous=True,
    )
    [call] = [e for e in fake.api_log() if e.method == "POST"]
    assert call.path == f"/v2/meetings/{MEETING_ID}/polls"
    assert call.body == {
        "title": long_title[:64],
        "anonymous": True,
        "poll_type": 1,
        "questions": [
            {
                "name": long_title,
                "type": "multiple",
                "answers": ["CFO", "Plant manager", "Procurement"],
            }
        ],
    }
    assert poll.status == "notstart"
    assert fake.meetings[MEETING_ID].polls[0]["id"] == poll.id


async def test_create_poll_on_an_instant_meeting_is_refused(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID, type=1)
    with pytest.raises(ZoomApiError, match="HTTP 400 \\(code 300\\)"):
        await client.create_poll(MEETING_ID, "Q", [PollQuestion("Q", ("A", "B"))])


async def test_set_breakout_rooms_pre_assigns_by_email(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID)
    await client.set_breakout_rooms(
        MEETING_ID,
        [
            BreakoutAssignment("Room 1", ("a@example.com", "b@example.com")),
            BreakoutAssignment("Room 2", ()),
        ],
    )
    [call] = fake.api_log()
    assert (call.method, call.path, call.status) == ("PATCH", f"/v2/meetings/{MEETING_ID}", 204)
    assert call.body == {
        "settings": {
            "breakout_room": {
                "enable": True,
                "rooms": [
                    {"name": "Room 1", "participants": ["a@example.com", "b@example.com"]},
                    {"name": "Room 2", "participants": []},
                ],
            }
        }
    }


async def test_pause_and_resume_recording(fake: FakeZoom, client: ZoomClient):
    meeting = fake.add_meeting(MEETING_ID, status="started", recording="recording")
    await client.pause_recording(MEETING_ID)
    assert meeting.recording == "paused"
    await client.resume_recording(MEETING_ID)
    assert meeting.recording == "recording"
    calls = fake.api_log()
    assert [(c.method, c.path, c.body, c.status) for c in calls] == [
        ("PATCH", f"/v2/live_meetings/{MEETING_ID}/events", {"method": "recording.pause"}, 202),
        ("PATCH", f"/v2/live_meetings/{MEETING_ID}/events", {"method": "recording.resume"}, 202),
    ]


async def test_pause_recording_when_not_live_is_an_error(fake: FakeZoom, client: ZoomClient):
    fake.add_meeting(MEETING_ID, status="waiting")
    with pytest.raises(ZoomApiError, match="HTTP 400"):
        await client.pause_recording(MEETING_ID)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (85746065432, "85746065432"),
        ("4444AAAiAAAAAiAiAiiAii==", "4444AAAiAAAAAiAiAiiAii%3D%3D"),
        ("ab+c/d==", "ab%2Bc%2Fd%3D%3D"),
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("ab//c==", "ab%252F%252Fc%253D%253D"),
    ],
)
def test_meeting_path_id_double_encodes_only_when_zoom_says_so(value: object, expected: str):
    assert meeting_path_id(value) == expected  # type: ignore[arg-type]


async def test_past_participants_follow_next_page_token_with_a_double_encoded_uuid(
    fake: FakeZoom, client: ZoomClient
):
    uuid = "/ajXp112QmuoKj4854875=="
    past = fake.add_past_meeting(uuid, MEETING_ID)
    past.participants = [
        {"id": f"id-{n}", "name": f"Person {n}", "user_email": f"p{n}@example.com"}
        for n in range(650)
    ]
    people = await client.past_participants(uuid)
    assert len(people) == 650
    assert people[0].email == "p0@example.com" and people[-1].name == "Person 649"
    calls = fake.api_log()
    assert [c.query.get("next_page_token") for c in calls] == [None, "tok-300", "tok-600"]
    assert calls[0].raw_path == "/v2/past_meetings/%252FajXp112QmuoKj4854875%253D%253D/participants"


async def test_a_single_encoded_slash_uuid_does_not_reach_the_meeting(fake: FakeZoom, clock):
    fake.add_past_meeting("/ajXp112QmuoKj4854875==", MEETING_ID)
    client = make_client(fake, clock)
    token = await client._tokens.token(clock.now + 10)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)) as http:
        response = await http.get(
            "https://api.zoom.us/v2/past_meetings/%2FajXp112QmuoKj4854875%3D%3D/polls",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 404


async def test_past_polls_flatten_zooms_answers(fake: FakeZoom, client: ZoomClient):
    past = fake.add_past_meeting("4444AAAiAAAAAiAiAiiAii==", MEETING_ID)
    past.poll_answers = [
        {
            "name": "Jill Chill",
            "email": "jchill@example.com",
            "question_details": [
                {
                    "answer": "CFO",
                    "date_time": "2026-05-04T09:07:00Z",
                    "polling_id": "798fGJEWrA",
                    "question": "Which stakeholder resists most?",
                }
            ],
        },
        {"name": "Anonymous Attendee", "email": "", "question_details": []},
    ]
    [record] = await client.past_polls("4444AAAiAAAAAiAiAiiAii==")
    assert (record.name, record.email, record.answer, record.polling_id) == (
        "Jill Chill",
        "jchill@example.com",
        "CFO",
        "798fGJEWrA",
    )
