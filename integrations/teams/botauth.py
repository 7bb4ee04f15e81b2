"""Authenticating requests from the Bot Connector service to the bot (see NOTES.md).

Every activity arrives with ``Authorization: Bearer <JWT>``. The token must be RS256, signed with
a key from the Bot Framework OpenID metadata's ``jwks_uri``, issued by
``https://api.botframework.com`` for our app id, within its lifetime (5 minutes of clock skew),
its ``serviceurl`` claim equal to the activity's ``serviceUrl``, and its signing key endorsed for
the activity's ``channelId``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ._clock import Clock, wall_clock
from .jwks import JwksCache, KeysUnavailable, TokenRejected, verify_rs256

OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
ISSUER = "https://api.botframework.com"
CLOCK_SKEW = 300.0  # the documented industry-standard skew


class BotAuthError(Exception):
    """The request is not from the Bot Connector for this bot.

    ``status`` is the HTTP answer: 401 for a bad or missing token, 503 when the signing keys
    cannot be fetched (the connector retries). ``reason`` is safe to log.
    """

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class BotAuthenticator:
    def __init__(
        self,
        app_id: str,
        *,
        http: httpx.AsyncClient,
        metadata_url: str = OPENID_METADATA_URL,
        issuer: str = ISSUER,
        clock: Clock = wall_clock,
        leeway: float = CLOCK_SKEW,
        key_ttl: float = 24 * 3600.0,
        refresh_interval: float = 300.0,
    ) -> None:
        if not app_id:
            raise ValueError("app_id is required")
        self._app_id = app_id
        self._issuer = issuer
        self._clock = clock
        self._leeway = leeway
        self.keys = JwksCache(
            metadata_url,
            http=http,
            clock=clock,
            ttl=key_ttl,
            refresh_interval=refresh_interval,
        )

    async def authenticate(
        self, authorization: str | None, activity: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The token's claims when ``authorization`` authenticates ``activity``; else raises
        ``BotAuthError``."""
        token = _bearer(authorization)
        try:
            claims, key = await verify_rs256(
                token, self.keys, clock=self._clock, leeway=self._leeway
            )
        except TokenRejected as rejected:
            raise BotAuthError(rejected.reason) from None
        except KeysUnavailable as unavailable:
            raise BotAuthError(
                f"signing keys unavailable: {unavailable.reason}", status=503
            ) from None
        if claims.get("iss") != self._issuer:
            raise BotAuthError("token issuer is not the Bot Framework")
        if not _audience_matches(claims.get("aud"), self._app_id):
            raise BotAuthError("token audience is not this bot")
        service_url = activity.get("serviceUrl")
        claim = claims.get("serviceurl")
        if not isinstance(service_url, str) or not service_url:
            raise BotAuthError("activity has no serviceUrl")
        if claim != service_url:
            raise BotAuthError("token serviceurl does not match the activity")
        channel = activity.get("channelId")
        if isinstance(channel, str) and channel:
            if key.endorsements is None or channel not in key.endorsements:
                raise BotAuthError("signing key is not endorsed for this channel")
        return claims


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise BotAuthError("missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BotAuthError("Authorization is not a Bearer token")
    return token.strip()


def _audience_matches(aud: object, app_id: str) -> bool:
    if isinstance(aud, str):
        return aud == app_id
    if isinstance(aud, list):
        return app_id in aud
    return False
