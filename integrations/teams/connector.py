"""Proactive messages through the Bot Connector service.

* ``POST {serviceUrl}/v3/conversations/{conversationId}/activities`` -> ``{"id": ...}``
* ``PUT {serviceUrl}/v3/conversations/{conversationId}/activities/{activityId}`` (update a card)
* ``POST {serviceUrl}/v1/meetings/{meetingId}/notification`` (targeted in-meeting notification)

Every request carries an Entra ID token for the bot (scope ``https://api.botframework.com/.default``).
429, 5xx and network errors are retried (on every call, the activity POSTs included),
honouring ``Retry-After``, within a per-call deadline; a 401 renews the token once. All waiting
goes through the injected ``sleep`` and ``clock``, by :mod:`integrations.resilience`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from integrations.contract import ChannelError
from integrations.resilience import RetryPolicy, Transient, retry_after_seconds

from ._clock import Clock, Sleep, real_sleep, wall_clock
from .entra import EntraTokenProvider, TokenError


class ConnectorError(ChannelError):
    """The Bot Connector did not take the request. ``status`` is its HTTP status, if any."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, retry_after=retry_after)
        self.status = status


class BotConnectorClient:
    def __init__(
        self,
        tokens: EntraTokenProvider,
        *,
        http: httpx.AsyncClient,
        clock: Clock = wall_clock,
        sleep: Sleep = real_sleep,
        deadline: float = 20.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        request_timeout: float = 10.0,
        jitter: random.Random | None = None,
    ) -> None:
        self._tokens = tokens
        self._http = http
        self._clock = clock
        self._deadline = deadline
        self._timeout = request_timeout
        self._retry = RetryPolicy(
            clock=clock,
            sleep=sleep,
            jitter=(jitter or random.Random()).random,
            max_attempts=max_attempts,
            backoff_base=backoff,
        )

    async def send(
        self, service_url: str, conversation_id: str, activity: Mapping[str, Any]
    ) -> str:
        """Post ``activity`` into the conversation; the new activity's id."""
        url = f"{_base(service_url)}/v3/conversations/{_seg(conversation_id)}/activities"
        body = await self._call("POST", url, activity)
        ident = body.get("id") if isinstance(body, Mapping) else None
        if not isinstance(ident, str) or not ident:
            raise ConnectorError("connector answered without an activity id")
        return ident

    async def update(
        self,
        service_url: str,
        conversation_id: str,
        activity_id: str,
        activity: Mapping[str, Any],
    ) -> None:
        """Replace a message the bot sent (e.g. a poll card by its results)."""
        url = (
            f"{_base(service_url)}/v3/conversations/{_seg(conversation_id)}"
            f"/activities/{_seg(activity_id)}"
        )
        await self._call("PUT", url, {**activity, "id": activity_id})

    async def notify_meeting(
        self,
        service_url: str,
        meeting_id: str,
        *,
        recipients: list[str],
        title: str,
        url: str,
        width: int = 400,
        height: int = 300,
    ) -> None:
        """A targeted in-meeting notification (needs RSC ``OnlineMeetingNotification.Send.Chat``)
        showing ``url`` on the meeting stage of ``recipients`` (Teams user ids, ``29:…``)."""
        payload = {
            "type": "targetedMeetingNotification",
            "value": {
                "recipients": recipients,
                "surfaces": [
                    {
                        "surface": "meetingStage",
                        "contentType": "task",
                        "content": {
                            "value": {
                                "height": str(height),
                                "width": str(width),
                                "title": title,
                                "url": url,
                            }
                        },
                    }
                ],
            },
        }
        target = f"{_base(service_url)}/v1/meetings/{_seg(meeting_id)}/notification"
        await self._call("POST", target, payload)

    async def _call(self, method: str, url: str, payload: Mapping[str, Any]) -> object:
        until = self._clock() + self._deadline
        tokens = self._tokens.for_call(until)

        async def send(token: str) -> httpx.Response:
            try:
                return await self._http.request(
                    method,
                    url,
                    json=dict(payload),
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self._timeout,
                )
            except httpx.HTTPError as error:
                failure = f"connector unreachable: {type(error).__name__}"
                raise Transient(lambda _wait: ConnectorError(failure)) from None

        async def attempt() -> object:
            try:
                # 401: revoked or rotated; one fresh token, then give up
                response = await tokens.send(send, is_refused=lambda r: r.status_code == 401)
            except TokenError as error:
                raise ConnectorError(f"no bot token: {error.reason}") from None
            status = response.status_code
            if 200 <= status < 300:
                return _json(response)
            if status != 429 and status < 500:
                raise ConnectorError(f"connector refused the request ({status})", status=status)
            hint = retry_after_seconds(response.headers.get("Retry-After"), self._clock())
            raise Transient(
                lambda wait: ConnectorError(
                    f"connector answered {status}",
                    status=status,
                    retry_after=wait if status == 429 else None,
                ),
                retry_after=hint,
            )

        return await self._retry.run(attempt, until=until)


def _base(service_url: str) -> str:
    if not service_url.startswith(("https://", "http://")):
        raise ConnectorError("service URL is not an http(s) URL")
    return service_url.rstrip("/")


def _seg(value: str) -> str:
    if not value:
        raise ConnectorError("empty id in connector path")
    return quote(value, safe="")


def _json(response: httpx.Response) -> object:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}
