"""Microsoft Graph change notifications: validation, parsing, decryption, token checks.

* Endpoint validation: Graph POSTs ``?validationToken=…``; answer 200, ``text/plain``, the
  URL-decoded token, within 10 seconds (``validation_response``).
* Each notification's ``clientState`` must equal ours (``check_client_state``, constant time).
* A body is a ``changeNotificationCollection``: ``value`` holds change notifications
  (``changeType``) and lifecycle notifications (``lifecycleEvent``: ``reauthorizationRequired``,
  ``subscriptionRemoved``, ``missed``), plus ``validationTokens`` when resource data is included.
* Resource data (``encryptedContent``): ``dataKey`` is RSA-OAEP (SHA-1) encrypted with our
  certificate's public key; ``dataSignature`` is HMAC-SHA256 of the encrypted ``data`` under that
  key; ``data`` is AES-CBC (PKCS7) with IV = the key's first 16 bytes.
* ``validationTokens`` are JWTs from the Microsoft identity platform: audience our app id,
  ``appid``/``azp`` Graph's change-notification publisher, issuer our tenant.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, Literal, NamedTuple

import httpx
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from integrations.contract import ChatCommand, ChatMessage, Platform, parse_command

from ._clock import Clock, wall_clock
from .activities import clean_text
from .jwks import JwksCache, KeysUnavailable, SigningKey, TokenRejected, verify_rs256

LifecycleKind = Literal["reauthorizationRequired", "subscriptionRemoved", "missed"]
LIFECYCLE_EVENTS: frozenset[str] = frozenset(
    {"reauthorizationRequired", "subscriptionRemoved", "missed"}
)
#: the app id of Microsoft Graph's change-notification publisher (documented constant)
GRAPH_NOTIFICATION_PUBLISHER = "0bf30f3b-4a52-48df-9a82-234910c4a086"
IDENTITY_METADATA_URL = "https://login.microsoftonline.com/common/.well-known/openid-configuration"
MAX_VALIDATION_TOKEN = 4096
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


class NotificationError(ValueError):
    """A notification request is not what Graph sends; ``reason`` is safe to return as a 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DecryptionError(NotificationError):
    """Encrypted resource data that cannot be decrypted or fails its HMAC check."""


class ValidationKeysUnavailable(NotificationError):
    """The keys that sign Graph's validation tokens could not be fetched: not the sender's
    fault, so the receiver answers 503 and Graph delivers again."""


@dataclass(frozen=True, slots=True)
class EncryptedContent:
    data: str
    data_signature: str
    data_key: str
    encryption_certificate_id: str | None = None
    encryption_certificate_thumbprint: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeNotification:
    subscription_id: str
    change_type: str
    resource: str
    client_state: str | None
    tenant_id: str | None
    resource_data: Mapping[str, Any] = field(default_factory=dict)
    encrypted_content: EncryptedContent | None = None
    subscription_expires_at: datetime | None = None

    @property
    def dedup_key(self) -> str:
        """Stable across Graph's redeliveries of the same change."""
        ident = self.resource_data.get("id")
        base = f"{self.subscription_id}|{self.change_type}|{self.resource}|{ident}"
        return "sha256:" + sha256(base.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    subscription_id: str
    event: LifecycleKind
    client_state: str | None
    tenant_id: str | None
    subscription_expires_at: datetime | None = None


class Notifications(NamedTuple):
    changes: list[ChangeNotification]
    lifecycle_events: list[LifecycleEvent]
    validation_tokens: list[str]


def validation_response(query: Mapping[str, str]) -> str | None:
    """The body to answer (as ``text/plain``, with ``X-Content-Type-Options: nosniff``) when the
    request is Graph's endpoint validation; None when it is not. ``query`` is already URL-decoded
    (as every web framework's query mapping is)."""
    token = query.get("validationToken")
    if token is None:
        return None
    if not token or len(token) > MAX_VALIDATION_TOKEN or not _PRINTABLE.match(token):
        raise NotificationError("validationToken is empty, too long or not printable text")
    return token


def check_client_state(expected: str, got: str | None) -> bool:
    """Constant-time comparison of the clientState we set with the one received."""
    if got is None:
        return False
    return hmac.compare_digest(expected.encode(), got.encode())


def parse_notifications(body: bytes | str | Mapping[str, Any]) -> Notifications:
    """Split a notification body into change and lifecycle notifications."""
    if isinstance(body, bytes | str):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise NotificationError("body is not JSON") from None
    else:
        parsed = body
    if not isinstance(parsed, Mapping):
        raise NotificationError("body is not a JSON object")
    items = parsed.get("value")
    if not isinstance(items, list) or not items:
        raise NotificationError("value is not a non-empty list")
    tokens_raw = parsed.get("validationTokens", [])
    if not isinstance(tokens_raw, list) or not all(isinstance(t, str) for t in tokens_raw):
        raise NotificationError("validationTokens is not a list of strings")
    changes: list[ChangeNotification] = []
    lifecycle: list[LifecycleEvent] = []
    for index, item in enumerate(items):
        where = f"value[{index}]"
        if not isinstance(item, Mapping):
            raise NotificationError(f"{where} is not an object")
        subscription = _req_str(item, "subscriptionId", where)
        client_state = _opt_str(item, "clientState", where)
        tenant = _opt_str(item, "tenantId", where)
        expires = _opt_time(item, "subscriptionExpirationDateTime", where)
        event = item.get("lifecycleEvent")
        change = item.get("changeType")
        if event is not None and change is not None:
            raise NotificationError(f"{where} has both lifecycleEvent and changeType")
        if event is not None:
            if event not in LIFECYCLE_EVENTS:
                raise NotificationError(f"{where}.lifecycleEvent {event!r} is not known")
            lifecycle.append(LifecycleEvent(subscription, event, client_state, tenant, expires))
            continue
        if not isinstance(change, str) or not change:
            raise NotificationError(f"{where} has neither changeType nor lifecycleEvent")
        resource = _req_str(item, "resource", where)
        data = item.get("resourceData", {})
        if not isinstance(data, Mapping):
            raise NotificationError(f"{where}.resourceData is not an object")
        encrypted = _encrypted(item.get("encryptedContent"), f"{where}.encryptedContent")
        changes.append(
            ChangeNotification(
                subscription_id=subscription,
                change_type=change,
                resource=resource,
                client_state=client_state,
                tenant_id=tenant,
                resource_data=dict(data),
                encrypted_content=encrypted,
                subscription_expires_at=expires,
            )
        )
    return Notifications(changes, lifecycle, list(tokens_raw))


def decrypt_resource_data(
    encrypted: EncryptedContent | Mapping[str, Any], private_key: rsa.RSAPrivateKey
) -> dict[str, Any]:
    """The resource Graph encrypted into a notification, after checking its signature."""
    content = (
        encrypted
        if isinstance(encrypted, EncryptedContent)
        else _encrypted(encrypted, "encryptedContent")
    )
    if content is None:
        raise DecryptionError("no encrypted content")
    wrapped = _b64(content.data_key, "dataKey")
    data = _b64(content.data, "data")
    signature = _b64(content.data_signature, "dataSignature")
    try:
        key = private_key.decrypt(
            wrapped,
            OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None),  # noqa: S303
        )
    except ValueError:
        raise DecryptionError("dataKey does not decrypt with our private key") from None
    if len(key) not in (16, 24, 32):
        raise DecryptionError("dataKey is not an AES key")
    expected = hmac.new(key, data, sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise DecryptionError("dataSignature does not match the data")
    if not data or len(data) % 16:
        raise DecryptionError("data is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionError("data padding is invalid") from None
    try:
        resource = json.loads(plain)
    except (ValueError, UnicodeDecodeError):
        raise DecryptionError("decrypted data is not JSON") from None
    if not isinstance(resource, dict):
        raise DecryptionError("decrypted data is not a JSON object")
    return resource


class ValidationTokenChecker:
    """Checks the ``validationTokens`` of notifications that carry resource data."""

    def __init__(
        self,
        *,
        app_ids: Iterable[str],
        tenant_id: str,
        http: httpx.AsyncClient,
        metadata_url: str = IDENTITY_METADATA_URL,
        clock: Clock = wall_clock,
        leeway: float = 300.0,
    ) -> None:
        self._app_ids = frozenset(app_ids)
        if not self._app_ids or not tenant_id:
            raise ValueError("app_ids and tenant_id are required")
        self._tenant = tenant_id
        self._clock = clock
        self._leeway = leeway
        self.keys = JwksCache(metadata_url, http=http, clock=clock)
        # Tokens that passed every check: their exp, nbf and the key that verified them. Graph
        # puts the same token on every notification of a subscription for a while, and each
        # parse and RS256 check (PyJWT reads the header twice, in Python) was a sixth of a
        # notification's CPU (issue 14). The same bytes verify the same way under the same
        # key, and the claims checks depend on the claims alone; the time window is checked
        # again on every use, and the key must still be the one the key set gives for the
        # kid: once the set is refreshed (a key rotated out) the token is checked in full
        # again, so it is accepted exactly when a full check would accept it. Bounded: the
        # oldest is dropped first.
        self._verified: OrderedDict[str, tuple[float, float | None, SigningKey]] = OrderedDict()
        self._verified_limit = 256

    async def check(self, tokens: Iterable[str]) -> None:
        """Raises ``NotificationError`` unless every token is valid (and there is one)."""
        tokens = list(tokens)
        if not tokens:
            raise NotificationError("notification with resource data has no validationTokens")
        for token in tokens:
            if await self._still_valid(token):
                continue
            try:
                claims, key = await verify_rs256(
                    token, self.keys, clock=self._clock, leeway=self._leeway
                )
            except TokenRejected as rejected:
                raise NotificationError(f"validation token: {rejected.reason}") from None
            except KeysUnavailable as unavailable:
                raise ValidationKeysUnavailable(
                    f"validation token keys: {unavailable.reason}"
                ) from None
            aud = claims.get("aud")
            if aud not in self._app_ids:
                raise NotificationError("validation token audience is not our app")
            publisher = claims.get("appid", claims.get("azp"))
            if publisher != GRAPH_NOTIFICATION_PUBLISHER:
                raise NotificationError("validation token is not from Graph's publisher")
            issuers = {
                f"https://sts.windows.net/{self._tenant}/",
                f"https://login.microsoftonline.com/{self._tenant}/v2.0",
            }
            if claims.get("iss") not in issuers:
                raise NotificationError("validation token issuer is not our tenant")
            nbf = claims.get("nbf")
            self._verified[token] = (float(claims["exp"]), None if nbf is None else float(nbf), key)
            while len(self._verified) > self._verified_limit:
                self._verified.popitem(last=False)

    async def _still_valid(self, token: str) -> bool:
        """Whether ``token`` passed every check before, its time window still holds (the same
        leeway as ``verify_rs256``) and the key set still gives the key that verified it;
        otherwise it is forgotten and checked in full."""
        verified = self._verified.get(token)
        if verified is None:
            return False
        exp, nbf, key = verified
        now = self._clock()
        if (
            now > exp + self._leeway
            or (nbf is not None and now < nbf - self._leeway)
            or await self.keys.get(key.kid) is not key
        ):
            del self._verified[token]
            return False
        return True


def chat_event(resource: Mapping[str, Any], meeting_ref: str) -> ChatMessage | ChatCommand | None:
    """A Graph ``chatMessage`` -> a contract chat event; None for system or app messages.

    ``event_id`` is the message id, which is also the bot activity id for the same message, so
    the two channels de-duplicate each other."""
    if resource.get("messageType", "message") != "message" or resource.get("deletedDateTime"):
        return None
    ident = resource.get("id")
    sender = resource.get("from")
    if not isinstance(ident, str) or not ident or not isinstance(sender, Mapping):
        raise NotificationError("chatMessage has no id or from")
    user = sender.get("user")
    if not isinstance(user, Mapping):
        return None  # posted by an application (our bot included)
    user_id = user.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise NotificationError("chatMessage from.user has no id")
    body = resource.get("body")
    content = body.get("content") if isinstance(body, Mapping) else None
    if not isinstance(content, str):
        raise NotificationError("chatMessage has no body.content")
    text = clean_text(content)
    if not text:
        return None
    when = _opt_time(resource, "createdDateTime", "chatMessage")
    if when is None:
        raise NotificationError("chatMessage has no createdDateTime")
    name = user.get("displayName")
    common: dict[str, Any] = {
        "platform": Platform.teams,
        "meeting_ref": meeting_ref,
        "event_id": ident,
        "occurred_at": when,
        "sender_id": user_id,
        "sender_name": name if isinstance(name, str) else "",
    }
    command = parse_command(text)
    if command is not None:
        return ChatCommand(verb=command[0], args=command[1], **common)
    return ChatMessage(text=text, **common)


# ---------------------------------------------------------------------------------------------


def _encrypted(raw: object, where: str) -> EncryptedContent | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise NotificationError(f"{where} is not an object")
    return EncryptedContent(
        data=_req_str(raw, "data", where),
        data_signature=_req_str(raw, "dataSignature", where),
        data_key=_req_str(raw, "dataKey", where),
        encryption_certificate_id=_opt_str(raw, "encryptionCertificateId", where),
        encryption_certificate_thumbprint=_opt_str(raw, "encryptionCertificateThumbprint", where),
    )


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError(f"{name} is not base64") from None


def _req_str(parent: Mapping[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise NotificationError(f"{where}.{key} is missing or not a string")
    return value


def _opt_str(parent: Mapping[str, Any], key: str, where: str) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise NotificationError(f"{where}.{key} is not a string")
    return value


def _opt_time(parent: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise NotificationError(f"{where}.{key} is not a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise NotificationError(f"{where}.{key} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Graph writes UTC, sometimes without the Z
    return parsed.astimezone(UTC)
