"""The duration parser: every accepted form, the round trip, and what it refuses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from runofshow.durations import (
    DURATION_PATTERN,
    MAX_SECONDS,
    TEXT_SOURCE,
    Duration,
    DurationError,
    Offset,
    format_duration,
    parse_duration,
)

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
seconds = st.integers(min_value=0, max_value=MAX_SECONDS)
spaces = st.sampled_from(["", " ", "  ", "\t"])


def matches_schema(text: str) -> bool:
    # JSON Schema's "pattern" is a search, not a full match.
    return re.search(DURATION_PATTERN, text) is not None


@given(seconds)
def test_format_then_parse_is_the_identity(value: int) -> None:
    text = format_duration(value)
    assert parse_duration(text) == value
    assert matches_schema(text)


@given(seconds)
def test_format_is_the_shortest_unit_form(value: int) -> None:
    text = format_duration(value)
    parts = re.findall(r"(\d+)([dhms])", text)
    assert "".join(a + u for a, u in parts) == text
    assert [u for _, u in parts] == sorted((u for _, u in parts), key="dhms".index)
    # Each amount is below the next larger unit, so no shorter spelling exists.
    limits = {"h": 24, "m": 60, "s": 60}
    assert all(int(a) < limits[u] for a, u in parts if u in limits)


@given(
    st.dictionaries(st.sampled_from("dhms"), st.integers(0, 300), min_size=1),
    st.booleans(),
    spaces,
    spaces,
)
def test_unit_forms_in_any_case_with_spaces(
    amounts: dict[str, int], upper: bool, inner: str, outer: str
) -> None:
    order = [u for u in "dhms" if u in amounts]
    text = inner.join(f"{amounts[u]}{inner}{u.upper() if upper else u}" for u in order)
    expected = sum(amounts[u] * UNITS[u] for u in order)
    if expected > MAX_SECONDS:
        with pytest.raises(DurationError, match="longer than a year"):
            parse_duration(outer + text + outer)
        return
    assert parse_duration(outer + text + outer) == expected
    assert matches_schema(outer + text + outer)


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59), st.booleans())
def test_clock_forms(hours: int, minutes: int, secs: int, padded: bool) -> None:
    hh = f"{hours:02d}" if padded else str(hours)
    assert parse_duration(f"{hh}:{minutes:02d}:{secs:02d}") == hours * 3600 + minutes * 60 + secs
    assert parse_duration(f"{minutes}:{secs:02d}") == minutes * 60 + secs
    assert matches_schema(f"{hh}:{minutes:02d}:{secs:02d}")


@given(st.integers(1, 400), st.sampled_from(["d", "h", "m"]))
def test_fractions_that_make_whole_seconds(tenths: int, unit: str) -> None:
    text = f"{tenths // 10}.{tenths % 10}{unit}"
    exact = tenths * UNITS[unit]
    if exact % 10:
        with pytest.raises(DurationError, match="whole number of seconds"):
            parse_duration(text)
    elif exact // 10 > MAX_SECONDS:
        with pytest.raises(DurationError):
            parse_duration(text)
    else:
        assert parse_duration(text) == exact // 10


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1.5h", 5400),
        ("0.1h", 360),  # exact arithmetic: no float rounding
        ("7d", 604800),
        ("01:30:00", 5400),
        ("1:30:00", 5400),
        ("05:00", 300),
        ("0m", 0),
        ("0:00", 0),
        ("2H", 7200),
        ("30m1h", 5400),
    ],
)
def test_examples(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", "has no unit; write 5m for minutes or 5s for seconds"),
        ("1.5", "has no unit"),
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("-5m", "cannot be negative"),
        ("+5m", "cannot have a sign"),
        ("1h1h", "names the unit 'h' twice"),
        ("0.5s", "not a whole number of seconds"),
        ("1:60", "minutes and seconds < 60"),
        ("1:60:00", "minutes and seconds < 60"),
        ("1:2", "is not a duration"),
        ("5 minutes", "is not a duration"),
        ("1e3s", "is not a duration"),
        ("٣m", "is not a duration"),  # an Arabic-Indic digit: ASCII digits only
        ("367d", "longer than a year"),
        ("1" * 50 + "s", "too long for a duration"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(DurationError, match=re.escape(message)):
        parse_duration(text)


@given(st.text(max_size=30))
def test_any_text_is_a_duration_or_a_duration_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except DurationError as error:
        assert str(error)
    else:
        assert 0 <= value <= MAX_SECONDS
        assert matches_schema(text)


@given(st.from_regex(DURATION_PATTERN, fullmatch=True).filter(lambda t: len(t.strip()) <= 40))
def test_what_the_schema_allows_the_parser_reads_or_explains(text: str) -> None:
    try:
        parse_duration(text)
    except DurationError as error:
        reasons = ("twice", "whole number", "< 60", "longer than a year")
        assert any(reason in str(error) for reason in reasons), str(error)


class Timed(BaseModel):
    duration: Duration
    at: Offset = 0


def test_python_callers_pass_seconds_files_must_name_the_unit() -> None:
    assert Timed.model_validate({"duration": 300}).duration == 300
    with pytest.raises(ValidationError, match="has no unit"):
        Timed.model_validate({"duration": 300}, context=TEXT_SOURCE)
    assert Timed.model_validate({"duration": "5m"}, context=TEXT_SOURCE).duration == 300


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"duration": 0}, "must be longer than zero"),
        ({"duration": "0s"}, "must be longer than zero"),
        ({"duration": -1}, "cannot be negative"),
        ({"duration": 10**12}, "longer than a year"),
        ({"duration": True}, "cannot be true/false"),
        ({"duration": [5]}, "got a list"),
        ({"duration": 5.0}, "has no unit"),
        ({"duration": "5m", "at": -1}, "cannot be negative"),
    ],
)
def test_model_refusals(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Timed.model_validate(data)


def test_zero_offset_allowed_and_serialised_as_written() -> None:
    timed = Timed.model_validate({"duration": "1h30m", "at": "0m"})
    assert timed.at == 0
    assert timed.model_dump() == {"duration": "1h30m", "at": "0s"}
