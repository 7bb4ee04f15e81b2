"""Local fakes of the Microsoft services the Teams integration talks to.

All of them answer through one ``httpx.MockTransport`` (``FakeMicrosoft.transport``), routed by
host and path, and speak the documented wire shapes:

* Entra ID token endpoint (client credentials) — issues opaque tokens, records requests;
* Bot Framework OpenID metadata + JWKS — RSA keys generated here, with endorsements, and
  ``mint()`` to sign Connector->bot tokens;
* Microsoft identity platform metadata + JWKS — for Graph ``validationTokens``;
* Bot Connector — records every request, answers ids, can be told to throttle;
* Microsoft Graph (the subset facilbot uses) — online meetings, chat installed apps,
  subscriptions, attendance reports.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.clock import FakeClock

BF_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BF_KEYS = "https://login.botframework.com/v1/.well-known/keys"
ID_METADATA = "https://login.microsoftonline.com/common/.well-known/openid-configuration"
ID_KEYS = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"
GRAPH = "https://graph.microsoft.com/v1.0"
APP_ID = "8e460676-ae3f-4b1e-8790-ee0fb5d6148f"
APP_PASSWORD = "fake-bot-secret-" + "x" * 8
TENANT = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
GRAPH_PUBLISHER = "0bf30f3b-4a52-48df-9a82-234910c4a086"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "use": "sig", **extra}


@dataclass
class Recorded:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    body: Any
    accepted: bool = False  # the fake answered 2xx
    answer_id: str | None = None  # the activity id the fake gave a new activity


@dataclass
class FakeMicrosoft:
    clock: FakeClock
    bf_keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    bf_endorsements: list[str] = field(default_factory=lambda: ["msteams"])
    id_keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    token_lifetime: int = 3600
    issued: list[str] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    metadata_fetches: int = 0
    key_fetches: int = 0
    connector: list[Recorded] = field(default_factory=list)
    graph: list[Recorded] = field(default_factory=list)
    throttle: list[tuple[int, str | None]] = field(default_factory=list)  # next answers
    graph_throttle: list[tuple[int, str | None]] = field(default_factory=list)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)  # joinWebUrl -> meeting
    installed: dict[str, list[str]] = field(default_factory=dict)  # chat id -> app ids
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    attendance: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # meeting -> recs
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        if not self.bf_keys:
            self.bf_keys["bf-key-1"] = rsa_key()
        if not self.id_keys:
            self.id_keys["id-key-1"] = rsa_key()

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport)

    # -- signing -------------------------------------------------------------------------------

    def mint(
        self,
        *,
        kid: str = "bf-key-1",
        key: rsa.RSAPrivateKey | None = None,
        lifetime: int = 3600,
        alg: str = "RS256",
        **overrides: Any,
    ) -> str:
        """A Connector->bot token as the Bot Framework signs it."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": "https://api.botframework.com",
            "aud": APP_ID,
            "nbf": now - 5,
            "exp": now + lifetime,
            "serviceurl": SERVICE_URL,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.bf_keys[kid], algorithm=alg, headers={"kid": kid})

    def mint_validation_token(self, **overrides: Any) -> str:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "aud": APP_ID,
            "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "appid": GRAPH_PUBLISHER,
            "tid": TENANT,
            "ver": "1.0",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(
            claims, self.id_keys["id-key-1"], algorithm="RS256", headers={"kid": "id-key-1"}
        )

    # -- routing -------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        host = request.url.host
        if url.split("?")[0] == BF_METADATA:
            self.metadata_fetches += 1
            return httpx.Response(
                200,
                json={
                    "issuer": "https://api.botframework.com",
                    "authorization_endpoint": "https://invalid.botframework.com",
                    "jwks_uri": BF_KEYS,
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                },
            )
        if url == BF_KEYS:
            self.key_fetches += 1
            keys = [
                jwk_of(k, kid, endorsements=list(self.bf_endorsements))
                for kid, k in self.bf_keys.items()
            ]
            return httpx.Response(200, json={"keys": keys})
        if url == ID_METADATA:
            return httpx.Response(
                200,
                json={
                    "issuer": "https://sts.windows.net/{tenantid}/",
                    "jwks_uri": ID_KEYS,
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        if url == ID_KEYS:
            return httpx.Response(
                200, json={"keys": [jwk_of(k, kid) for kid, k in self.id_keys.items()]}
            )
        if host == "login.microsoftonline.com" and request.url.path.endswith("/oauth2/v2.0/token"):
            return self._token(request)
        if host == "smba.trafficmanager.net":
            return self._connector(request)
        if host == "graph.microsoft.com":
            return self._graph(request)
        return httpx.Response(404, json={"error": "no such fake"})

    # -- Entra ID ------------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.token_requests.append(form)
        if form.get("grant_type") != "client_credentials":
            return httpx.Response(400, json={"error": "unsupported_grant_type"})
        if form.get("client_id") != APP_ID or form.get("client_secret") != APP_PASSWORD:
            return httpx.Response(401, json={"error": "invalid_client"})
        token = "tok-" + secrets.token_urlsafe(16)
        self.issued.append(token)
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            },
        )

    def _authorised(self, request: httpx.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.issued

    # -- Bot Connector -------------------------------------------------------------------------

    def _connector(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        record = Recorded(
            request.method,
            str(request.url),
            unquote(request.url.raw_path.decode()),
            dict(request.headers),
            body,
        )
        self.connector.append(record)
        if not self._authorised(request):
            return httpx.Response(401, json={"error": {"code": "Unauthorized"}})
        if self.throttle:
            status, retry_after = self.throttle.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return httpx.Response(status, headers=headers, json={"error": {"code": "Throttled"}})
        path = request.url.path
        if request.method == "POST" and path.endswith("/activities"):
            record.accepted = True
            record.answer_id = f"1{next(self._ids):012d}"
            return httpx.Response(201, json={"id": record.answer_id})
        if request.method == "PUT" and "/activities/" in path:
            record.accepted = True
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[1]})
        if request.method == "POST" and path.endswith("/notification"):
            record.accepted = True
            return httpx.Response(202)
        return httpx.Response(404, json={"error": {"code": "NotFound"}})

    def sent(self, method: str = "POST") -> list[Recorded]:
        """Connector requests that the fake accepted (authorised, not throttled)."""
        return [r for r in self.connector if r.method == method and r.accepted]

    # -- Microsoft Graph -----------------------------------------------------------------------

    def _graph(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = unquote(request.url.path).removeprefix("/v1.0")
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        self.graph.append(
            Recorded(request.method, str(request.url), path, dict(request.headers), body)
        )
        if not self._authorised(request):
            return _odata(401, "InvalidAuthenticationToken", "Access token is empty.")
        if self.graph_throttle:
            status, retry_after = self.graph_throttle.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return httpx.Response(
                status,
                headers=headers,
                json={"error": {"code": "TooManyRequests", "message": "Too many requests"}},
            )
        m = re.fullmatch(r"/users/([^/]+)/onlineMeetings", path)
        if m and request.method == "GET":
            wanted = re.fullmatch(r"JoinWebUrl eq '(.*)'", query.get("$filter", ""), re.DOTALL)
            if not wanted:
                return _odata(400, "BadRequest", "Filter is required.")
            url = wanted[1].replace("''", "'")
            meeting = self.meetings.get(url)
            found = [meeting] if meeting and meeting["_organizer"] == m[1] else []
            return httpx.Response(
                200,
                json={"value": [{k: v for k, v in x.items() if k != "_organizer"} for x in found]},
            )
        m = re.fullmatch(r"/chats/([^/]+)/installedApps", path)
        if m and request.method == "GET":
            apps = self.installed.get(m[1], [])
            wanted = re.fullmatch(r"teamsApp/id eq '(.*)'", query.get("$filter", ""))
            if wanted:
                apps = [a for a in apps if a == wanted[1]]
            return httpx.Response(
                200,
                json={"value": [{"id": f"inst-{a}", "teamsApp": {"id": a}} for a in apps]},
            )
        if m and request.method == "POST":
            bind = (body or {}).get("teamsApp@odata.bind", "")
            app = bind.rsplit("/", 1)[-1]
            if not bind.startswith(GRAPH + "/appCatalogs/teamsApps/") or not app:
                return _odata(400, "BadRequest", "teamsApp@odata.bind is required.")
            self.installed.setdefault(m[1], []).append(app)
            return httpx.Response(201)
        if path == "/subscriptions" and request.method == "POST":
            required = ("changeType", "notificationUrl", "resource", "expirationDateTime")
            if not body or any(not body.get(k) for k in required):
                return _odata(400, "InvalidRequest", "A required property is missing.")
            if body.get("includeResourceData") and not body.get("encryptionCertificate"):
                return _odata(400, "InvalidRequest", "encryptionCertificate is required.")
            sub_id = f"sub-{next(self._ids)}"
            created = {**body, "id": sub_id, "applicationId": APP_ID}
            created.pop("encryptionCertificate", None)
            self.subscriptions[sub_id] = created
            return httpx.Response(201, json=created)
        m = re.fullmatch(r"/subscriptions/([^/]+)(/reauthorize)?", path)
        if m:
            sub = self.subscriptions.get(m[1])
            if sub is None:
                return _odata(404, "ResourceNotFound", "Subscription not found.")
            if m[2] and request.method == "POST":
                sub["reauthorized"] = sub.get("reauthorized", 0) + 1
                return httpx.Response(204)
            if request.method == "PATCH":
                sub["expirationDateTime"] = body["expirationDateTime"]
                return httpx.Response(200, json=sub)
            if request.method == "DELETE":
                del self.subscriptions[m[1]]
                return httpx.Response(204)
        m = re.fullmatch(r"/users/([^/]+)/onlineMeetings/([^/]+)/attendanceReports", path)
        if m and request.method == "GET":
            reports = self.attendance.get(m[2], [])
            return httpx.Response(
                200,
                json={
                    "value": [
                        {k: v for k, v in r.items() if k != "attendanceRecords"} for r in reports
                    ]
                },
            )
        m = re.fullmatch(
            r"/users/([^/]+)/onlineMeetings/([^/]+)/attendanceReports/([^/]+)/attendanceRecords",
            path,
        )
        if m and request.method == "GET":
            for report in self.attendance.get(m[2], []):
                if report["id"] == m[3]:
                    return httpx.Response(200, json={"value": report["attendanceRecords"]})
            return _odata(404, "NotFound", "Report not found.")
        return _odata(404, "NotFound", f"The fake has no {request.method} {path}.")


def _odata(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
