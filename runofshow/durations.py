"""Durations as the model's field types: seconds in, ``1h30m`` out, the file's text parsed.

The parsing and formatting live in ``runofshow.durationtext`` (no pydantic); this module adds
the pydantic annotated types the model's fields use, and re-exports the rest.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

from runofshow.durationtext import (
    DURATION_PATTERN,
    MAX_SECONDS,
    DurationError,
    coerce_seconds,
    format_duration,
    parse_duration,
)

__all__ = [
    "DURATION_JSON_SCHEMA",
    "DURATION_PATTERN",
    "MAX_SECONDS",
    "TEXT_SOURCE",
    "Duration",
    "DurationError",
    "Offset",
    "format_duration",
    "parse_duration",
]


def _from_text(info: ValidationInfo) -> bool:
    # The loader says through the validation context that the input came from a file.
    return bool((info.context or {}).get("text_source"))


def _positive(value: Any, info: ValidationInfo) -> int:
    return coerce_seconds(value, text_source=_from_text(info), positive=True)


def _non_negative(value: Any, info: ValidationInfo) -> int:
    return coerce_seconds(value, text_source=_from_text(info), positive=False)


#: The JSON Schema of a duration as written in a file.
DURATION_JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": DURATION_PATTERN,
    "description": "A duration: 90s, 5m, 1h30m, 7d or 01:30:00",
    "examples": ["5m", "90s", "1h30m", "01:30:00"],
}
_schema = WithJsonSchema(DURATION_JSON_SCHEMA)
_serialize = PlainSerializer(format_duration, return_type=str)

#: Validation context the loader passes for text sources (numbers without a unit refused).
TEXT_SOURCE = {"text_source": True}

#: A duration in seconds, zero allowed (an offset such as ``at: 0m``).
Offset = Annotated[int, BeforeValidator(_non_negative), _schema, _serialize]
#: A duration in seconds that must be longer than zero.
Duration = Annotated[int, BeforeValidator(_positive), _schema, _serialize]
