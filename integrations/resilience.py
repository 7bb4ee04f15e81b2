"""Retries, deadlines, ``Retry-After`` and token caching for calls to Zoom and Microsoft.

One layer for the Zoom REST client and the Teams Bot Connector and Graph clients:

* :class:`RetryPolicy` runs one outgoing call: an attempt that raises :class:`Transient` is
  tried again after the server's ``Retry-After`` or else exponential backoff with jitter and a
  cap, until ``max_attempts`` or until the next wait would pass the call's deadline; then the
  platform's own error (the one ``Transient`` carries) is raised at once, without waiting. What
  counts as transient (429, which 5xx, network errors) stays each client's choice, and a call
  that must never be retried simply does not raise ``Transient`` for that answer.
* :func:`retry_after_seconds` is the one ``Retry-After`` parser: delta-seconds or a date.
* :class:`TokenCache` keeps one bearer token: fetched on first use, reused until shortly before
  it expires, fetched once for many concurrent callers; :meth:`TokenCache.for_call` gives one
  call a view that renews a refused token once (401) and then gives up.

Why tenacity: it is well kept, supports asyncio (``AsyncRetrying``) and takes the ``sleep`` to
wait with, so the clients' injected clock and sleep keep working and tests run on a virtual
clock without real waits. stamina wraps tenacity with good defaults, but waits with
``asyncio.sleep`` (or trio's) that cannot be replaced, and its testing mode
(``stamina.set_testing``) turns waits into zero and caps attempts instead of letting a virtual
clock move, so a test could no longer check that ``Retry-After`` was honoured or a deadline
kept. Checked in stamina 26.1.0 (``_core._smart_sleep``, ``_compute_backoff``).

Nothing here logs or puts a token, a secret or a body into an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NoReturn, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

Clock = Callable[[], float]  # seconds since the epoch
Sleep = Callable[[float], Awaitable[None]]

wall_clock: Clock = time.time
real_sleep: Sleep = asyncio.sleep

T = TypeVar("T")
R = TypeVar("R")

_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``; None when absent or unreadable.

    Delta-seconds (RFC 9110; a fraction is accepted too) or a date: an HTTP date as RFC 9110
    has it, or ISO 8601, which Zoom sends for its daily limits (``2020-05-31T00:00:00Z``). A
    date in the past means no wait.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    when: datetime | None = None
    with contextlib.suppress(ValueError):
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when is None:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class Transient(Exception):
    """An attempt failed in a way worth another try.

    ``retry_after`` is the wait the server asked for in seconds, if any (``inf`` for "not
    soon", e.g. Zoom's daily limit without a date); without it the policy backs off.
    ``give_up`` builds the platform's error to raise when no try is left; it is given the wait
    that was refused, so the error can report it as ``retry_after``.
    """

    def __init__(
        self, give_up: Callable[[float], Exception], *, retry_after: float | None = None
    ) -> None:
        super().__init__("transient failure")
        self.give_up = give_up
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How one client retries. ``jitter`` returns a number in [0, 1)."""

    clock: Clock
    sleep: Sleep
    jitter: Callable[[], float]
    max_attempts: int
    backoff_base: float
    backoff_cap: float = math.inf

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1-based) when the server gave no hint:
        half the exponential step plus up to another half at random ("equal jitter"), so
        clients that failed together do not come back together, yet each waits a while."""
        step = min(self.backoff_cap, self.backoff_base * 2.0 ** min(attempt - 1, 64))
        return step / 2 + self.jitter() * step / 2

    async def run(self, attempt: Callable[[], Awaitable[T]], *, until: float) -> T:
        """Call ``attempt`` until it returns, raises anything but :class:`Transient`, or no try
        is left; ``until`` is the call's deadline on ``clock``."""
        retrying = AsyncRetrying(
            sleep=self.sleep,
            retry=retry_if_exception_type(Transient),
            wait=self._wait,
            stop=stop_after_attempt(self.max_attempts) | _WaitPassesDeadline(until, self.clock),
            retry_error_callback=_give_up,
        )
        # tenacity types ``__call__``'s result as unrelated to ``attempt``'s: tie them here
        call: Callable[[Callable[[], Awaitable[T]]], Awaitable[T]] = retrying
        return await call(attempt)

    def _wait(self, state: RetryCallState) -> float:
        failure = _transient(state)
        if failure.retry_after is not None:
            return failure.retry_after
        return self.backoff(state.attempt_number)


class _WaitPassesDeadline(stop_base):
    """Stop when the coming wait would end after the deadline. tenacity's ``stop_before_delay``
    measures on ``time.monotonic``, which a test's virtual clock cannot move."""

    def __init__(self, until: float, clock: Clock) -> None:
        self._until = until
        self._clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock() + retry_state.upcoming_sleep > self._until


def _transient(state: RetryCallState) -> Transient:
    failure = state.outcome.exception() if state.outcome is not None else None
    assert isinstance(failure, Transient)  # tenacity retries nothing else
    return failure


def _give_up(state: RetryCallState) -> NoReturn:
    raise _transient(state).give_up(state.upcoming_sleep) from None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What a token endpoint answered: the bearer token and its lifetime in seconds."""

    value: str = field(repr=False)
    lifetime: float


class TokenCache:
    """One bearer token, fetched by ``fetch`` when needed.

    The token is reused until ``min(renew_margin, lifetime / 2)`` seconds before it expires, so
    no request leaves with a token about to lapse and a short-lived token is still reused. One
    fetch runs at a time: concurrent callers wait for it (Zoom can revoke earlier tokens when
    many are fetched at once). ``fetch`` is given the deadline of the call that asked (``inf``
    when none), to bound its own retries.
    """

    def __init__(
        self,
        fetch: Callable[[float], Awaitable[IssuedToken]],
        *,
        clock: Clock,
        renew_margin: float,
    ) -> None:
        self._issue = fetch
        self._clock = clock
        self._renew_margin = renew_margin
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times the endpoint was asked; useful to operators and tests

    async def token(self, until: float = math.inf) -> str:
        cached = self._cached()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._cached()
            if cached is not None:
                return cached
            self.fetches += 1
            issued = await self._issue(until)
            margin = min(self._renew_margin, issued.lifetime / 2)
            self._token = issued.value
            self._renew_at = self._clock() + issued.lifetime - margin
            # a token short-lived enough to be due at once still serves the caller that asked
            return issued.value

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (the platform refused it). With ``token``, only if it is
        still the cached one: another caller may already hold a fresh one."""
        if token is None or token == self._token:
            self._token = None
            self._renew_at = 0.0

    def for_call(self, until: float = math.inf) -> CallTokens:
        """Tokens for one outgoing call with deadline ``until``."""
        return CallTokens(self, until)

    def _cached(self) -> str | None:
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        return None


class CallTokens:
    """One call's use of a :class:`TokenCache`: a refused token is renewed once per call, not
    once per attempt, since a second refusal means the credentials are wrong, not the token."""

    def __init__(self, cache: TokenCache, until: float) -> None:
        self._cache = cache
        self._until = until
        self._last: str | None = None
        self._renewed = False

    async def token(self) -> str:
        self._last = await self._cache.token(self._until)
        return self._last

    def refused(self) -> bool:
        """The platform refused the token this call used last: forget it. True if the call may
        try once more with a fresh one, False if it already did."""
        if self._renewed or self._last is None:
            return False
        self._renewed = True
        self._cache.invalidate(self._last)
        return True

    async def send(
        self, request: Callable[[str], Awaitable[R]], *, is_refused: Callable[[R], bool]
    ) -> R:
        """``request`` with a token; once more with a fresh token when ``is_refused`` says the
        answer refused it."""
        while True:
            answer = await request(await self.token())
            if not (is_refused(answer) and self.refused()):
                return answer
