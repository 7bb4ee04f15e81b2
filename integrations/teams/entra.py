"""App-only access tokens from Microsoft Entra ID (OAuth 2.0 client credentials).

``POST {authority}/{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials`` and a
``scope`` of ``{resource}/.default``; the answer carries ``access_token`` and ``expires_in``
(seconds). The token is cached and renewed ``refresh_margin`` seconds before it expires (half
its lifetime for a token shorter than twice that), so a request never leaves with a token about
to lapse; see :class:`integrations.resilience.TokenCache`.
"""

from __future__ import annotations

import httpx

from integrations.resilience import IssuedToken, TokenCache

from ._clock import Clock, wall_clock

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: the tenant multi-tenant bots use for Bot Connector tokens; single-tenant bots use their own
BOT_FRAMEWORK_TENANT = "botframework.com"


class TokenError(Exception):
    """No token could be had. ``reason`` never contains the secret or a token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EntraTokenProvider(TokenCache):
    """One app, one scope: a cached client-credentials token (``await provider.token()``)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        tenant: str,
        scope: str,
        http: httpx.AsyncClient,
        authority: str = DEFAULT_AUTHORITY,
        clock: Clock = wall_clock,
        refresh_margin: float = 300.0,
        timeout: float = 10.0,
    ) -> None:
        if not client_id or not client_secret or not tenant:
            raise ValueError("client_id, client_secret and tenant are required")
        super().__init__(self._request_token, clock=clock, renew_margin=refresh_margin)
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._url = f"{authority.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        self._http = http
        self._timeout = timeout

    @property
    def token_url(self) -> str:
        return self._url

    async def _request_token(self, until: float) -> IssuedToken:
        # not bounded by the asking call's ``until``: one request within ``timeout``, no retry
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret,
            "scope": self._scope,
        }
        try:
            response = await self._http.post(self._url, data=form, timeout=self._timeout)
        except httpx.HTTPError as error:
            raise TokenError(f"token endpoint unreachable: {type(error).__name__}") from None
        if response.status_code != 200:
            raise TokenError(f"token endpoint answered {response.status_code}{_aad_code(response)}")
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise TokenError("token endpoint answered without access_token/expires_in") from None
        if not isinstance(token, str) or not token or lifetime <= 0:
            raise TokenError("token endpoint answered an unusable token")
        return IssuedToken(token, lifetime)


def _aad_code(response: httpx.Response) -> str:
    """The OAuth ``error`` code (e.g. invalid_client) when present: safe to log, no secret."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" ({code})" if isinstance(code, str) and code.isidentifier() else ""
