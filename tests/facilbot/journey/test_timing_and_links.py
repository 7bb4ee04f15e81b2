"""Sensible local hours (across daylight-saving changes) and signed links (tampering, expiry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facilbot.journey import links
from facilbot.journey.timing import sensible

BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    ("due", "zone", "expected"),
    [
        # Tuesday 10:30 CET: already a sensible hour
        (datetime(2025, 3, 4, 9, 30, tzinfo=UTC), BERLIN, datetime(2025, 3, 4, 9, 30, tzinfo=UTC)),
        # Tuesday 06:00 CET: later the same morning, 09:00
        (datetime(2025, 3, 4, 5, 0, tzinfo=UTC), BERLIN, datetime(2025, 3, 4, 8, 0, tzinfo=UTC)),
        # Friday 18:00 CET: Monday 09:00 CET
        (datetime(2025, 3, 7, 17, 0, tzinfo=UTC), BERLIN, datetime(2025, 3, 10, 8, 0, tzinfo=UTC)),
        # Saturday 29 March, 21:00 CET; summer time begins on Sunday: Monday 09:00 CEST
        (datetime(2025, 3, 29, 20, 0, tzinfo=UTC), BERLIN, datetime(2025, 3, 31, 7, 0, tzinfo=UTC)),
        # Saturday 25 October 20:00 CEST; winter time begins on Sunday: Monday 09:00 CET
        (
            datetime(2025, 10, 25, 18, 0, tzinfo=UTC),
            BERLIN,
            datetime(2025, 10, 27, 8, 0, tzinfo=UTC),
        ),
        # New York: Sunday 9 March 2025 is the change; due at 02:30 local on the Sunday
        (
            datetime(2025, 3, 9, 7, 30, tzinfo=UTC),
            "America/New_York",
            datetime(2025, 3, 10, 13, 0, tzinfo=UTC),
        ),
        # Midnight in Tokyo on a Wednesday: 09:00 that day
        (
            datetime(2025, 3, 4, 15, 0, tzinfo=UTC),
            "Asia/Tokyo",
            datetime(2025, 3, 5, 0, 0, tzinfo=UTC),
        ),
        # No zone known: UTC office hours
        (datetime(2025, 3, 8, 12, 0, tzinfo=UTC), None, datetime(2025, 3, 10, 9, 0, tzinfo=UTC)),
    ],
)
def test_never_at_night_never_at_weekends(
    due: datetime, zone: str | None, expected: datetime
) -> None:
    moved = sensible(due, zone)
    assert moved == expected
    assert moved >= due


SECRET = b"links-test-secret"
NOW = datetime(2025, 4, 7, 7, 0, tzinfo=UTC)


def test_a_link_reads_back_what_it_was_made_for() -> None:
    token = links.make(SECRET, 42, "check_in", NOW)
    link = links.read(SECRET, token, NOW + timedelta(days=1))
    assert (link.followup_id, link.action) == (42, "check_in")
    assert link.expires == NOW + links.LIFETIME["check_in"]


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: ("e" if t[0] != "e" else "f") + t[1:],  # the payload
        lambda t: t.split(".")[0],  # no signature
        lambda t: t.replace(".", ""),
        lambda t: "",
    ],
)
def test_a_changed_link_is_refused(change: object) -> None:
    token = links.make(SECRET, 42, "check_in", NOW)
    assert callable(change)
    with pytest.raises(links.BadLink):
        links.read(SECRET, change(token), NOW)


def test_a_link_made_with_another_secret_or_expired_is_refused() -> None:
    token = links.make(SECRET, 42, "unsubscribe", NOW)
    with pytest.raises(links.BadLink, match="not valid"):
        links.read(b"another secret", token, NOW)
    links.read(SECRET, token, NOW + timedelta(days=364))
    with pytest.raises(links.BadLink, match="expired"):
        links.read(SECRET, token, NOW + timedelta(days=366))
