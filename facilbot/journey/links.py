"""Signed one-click links in the follow-up mails: no account, no password.

A link token is ``<payload>.<signature>``: the payload names one follow-up message, what the
link does (``check_in`` or ``unsubscribe``) and when it stops working; the signature is an
HMAC under the pages secret. Tampering breaks the signature; an expired link is refused with
a page that says so; a replayed check-in answer changes nothing (the first answer stands).
A GET only ever shows a confirmation page, because mail scanners follow GETs; answers and
unsubscribes are POSTs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Action = Literal["check_in", "unsubscribe"]
_CONTEXT = b"facilbot mail link v1\x00"
#: A check-in can be answered for this long after it was due; unsubscribing works for a year.
LIFETIME: dict[str, timedelta] = {
    "check_in": timedelta(days=60),
    "unsubscribe": timedelta(days=365),
}


class BadLink(Exception):
    """The link cannot be used; the message is fit for the person who clicked it."""


@dataclass(frozen=True, slots=True)
class Link:
    followup_id: int
    action: Action
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest())


def make(secret: bytes, followup_id: int, action: Action, from_time: datetime) -> str:
    expires = int((from_time + LIFETIME[action]).timestamp())
    payload = _b64(json.dumps({"f": followup_id, "a": action, "x": expires}).encode())
    return f"{payload}.{_sign(secret, payload)}"


def read(secret: bytes, token: str, now: datetime) -> Link:
    payload, dot, signature = token.partition(".")
    if not dot or len(token) > 400:
        raise BadLink("this link is incomplete; open it from the mail once more")
    if not hmac.compare_digest(
        _sign(secret, payload).encode(), signature.encode("utf-8", "replace")
    ):
        raise BadLink("this link is not valid (it may have been cut or changed)")
    try:
        data = json.loads(_unb64(payload))
        link = Link(
            followup_id=int(data["f"]),
            action=data["a"],
            expires=datetime.fromtimestamp(int(data["x"]), UTC),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise BadLink("this link is not valid") from error
    if link.action not in LIFETIME:
        raise BadLink("this link is not valid")
    if now > link.expires:
        raise BadLink("this link has expired")
    return link
