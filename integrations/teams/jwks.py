"""Signing keys published behind an OpenID metadata document, cached and refreshed.

The metadata document names the key set (``jwks_uri``). Keys are kept for ``ttl`` seconds; a token
signed with a key we do not know triggers a refresh, at most once every ``refresh_interval``
seconds, so a flood of forged ``kid`` values cannot turn us into a load generator against the key
endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from ._clock import Clock, wall_clock


class KeysUnavailable(Exception):
    """The metadata or the key set could not be fetched or read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    key: Any  # a cryptography public key, as PyJWT wants it
    endorsements: tuple[str, ...] | None  # Bot Framework's per-key channel endorsements


class JwksCache:
    def __init__(
        self,
        metadata_url: str,
        *,
        http: httpx.AsyncClient,
        clock: Clock = wall_clock,
        ttl: float = 24 * 3600.0,
        refresh_interval: float = 300.0,
        timeout: float = 10.0,
    ) -> None:
        self._metadata_url = metadata_url
        self._http = http
        self._clock = clock
        self._ttl = ttl
        self._refresh_interval = refresh_interval
        self._timeout = timeout
        self._keys: dict[str, SigningKey] = {}
        self._algorithms: tuple[str, ...] = ()
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self, kid: str) -> SigningKey | None:
        """The key ``kid``, fetching or refreshing the set when allowed; None if unknown."""
        if self._stale():
            await self._refresh(force=True)
        key = self._keys.get(kid)
        if key is None and self._may_refresh():
            await self._refresh(force=False)
            key = self._keys.get(kid)
        return key

    @property
    def algorithms(self) -> tuple[str, ...]:
        """``id_token_signing_alg_values_supported`` from the metadata, when it says."""
        return self._algorithms

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or (
            self._clock() - self._fetched_at >= self._refresh_interval
        )

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            # another caller may have refreshed while we waited for the lock
            if not force and not self._may_refresh():
                return
            if force and not self._stale():
                return
            metadata = await self._get_json(self._metadata_url, "metadata")
            jwks_uri = metadata.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise KeysUnavailable("metadata has no usable jwks_uri")
            algs = metadata.get("id_token_signing_alg_values_supported")
            key_set = await self._get_json(jwks_uri, "key set")
            self._keys = _parse_keys(key_set.get("keys"))
            if isinstance(algs, list):
                self._algorithms = tuple(a for a in algs if isinstance(a, str))
            else:
                self._algorithms = ()
            self._fetched_at = self._clock()
            self.fetches += 1

    async def _get_json(self, url: str, what: str) -> Mapping[str, Any]:
        try:
            response = await self._http.get(url, timeout=self._timeout)
        except httpx.HTTPError as error:
            raise KeysUnavailable(f"{what} unreachable: {type(error).__name__}") from None
        if response.status_code != 200:
            raise KeysUnavailable(f"{what} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise KeysUnavailable(f"{what} is not JSON") from None
        if not isinstance(body, dict):
            raise KeysUnavailable(f"{what} is not a JSON object")
        return body


def _parse_keys(raw: object) -> dict[str, SigningKey]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise KeysUnavailable("key set has no keys list")
    keys: dict[str, SigningKey] = {}
    for item in raw:
        if not isinstance(item, dict) or item.get("kty") != "RSA":
            continue  # only RSA keys can verify RS256; skip the rest rather than fail all
        kid = item.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            public = jwt.PyJWK({k: v for k, v in item.items() if k != "endorsements"}, "RS256").key
        except (jwt.PyJWKError, ValueError, TypeError):
            continue
        raw_endorsements = item.get("endorsements")
        endorsements = (
            tuple(e for e in raw_endorsements if isinstance(e, str))
            if isinstance(raw_endorsements, list)
            else None
        )
        keys[kid] = SigningKey(kid=kid, key=public, endorsements=endorsements)
    return keys


class TokenRejected(Exception):
    """The token is not acceptable; ``reason`` is short and never contains the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def verify_rs256(
    token: str, keys: JwksCache, *, clock: Clock, leeway: float
) -> tuple[dict[str, Any], SigningKey]:
    """Check an RS256 JWT's signature against ``keys`` and its exp/nbf against ``clock``.

    Issuer, audience and other claims are the caller's to check. Raises ``TokenRejected`` or
    ``KeysUnavailable``.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("token is not a well-formed JWT") from None
    if header.get("alg") != "RS256":
        raise TokenRejected("token algorithm is not RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("token header has no kid")
    key = await keys.get(kid)
    if key is None:
        raise TokenRejected("token signed with an unknown key")
    if keys.algorithms and "RS256" not in keys.algorithms:
        raise TokenRejected("issuer does not publish RS256")
    try:
        # exp/nbf are checked below against the injected clock, not PyJWT's wall clock
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            options={
                "verify_aud": False,
                "verify_iss": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp"],
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenRejected("token signature is invalid") from None
    except jwt.PyJWTError:
        raise TokenRejected("token is not a valid JWT") from None
    now = clock()
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenRejected("token exp is not a number")
    if now > exp + leeway:
        raise TokenRejected("token has expired")
    nbf = claims.get("nbf")
    if nbf is not None:
        if not isinstance(nbf, int | float) or isinstance(nbf, bool):
            raise TokenRejected("token nbf is not a number")
        if now < nbf - leeway:
            raise TokenRejected("token is not valid yet")
    return claims, key
