"""The JSON Schema of a run-of-show file, generated from the model.

Editors use it to complete and check show files (``# yaml-language-server: $schema=...``). The
copy shipped in ``runofshow/schema/show.schema.json`` is regenerated with
``python -m runofshow.jsonschema``; a test fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from runofshow.durations import DURATION_PATTERN, format_duration
from runofshow.model import Show

#: Draft 7: the newest draft the YAML language server (VS Code's YAML extension) fully supports.
DRAFT = "http://json-schema.org/draft-07/schema#"
SHIPPED = Path(__file__).parent / "schema" / "show.schema.json"


def show_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 7) of a run-of-show document."""
    schema = Show.model_json_schema(by_alias=True, mode="validation")
    _durations_as_written(schema)
    return {
        "$schema": DRAFT,
        "title": "facilbot run-of-show",
        "description": "A live training session's run-of-show, as a facilitator writes it.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def schema_text() -> str:
    """The schema as the shipped file holds it (stable key order, trailing newline)."""
    return json.dumps(show_json_schema(), indent=2, ensure_ascii=False) + "\n"


def _durations_as_written(node: Any) -> None:
    """Write defaults of duration fields as a facilitator would (``7m``, not 420 seconds).

    pydantic puts the Python default (seconds) in the schema; a file may not use a bare
    number for a duration, so an editor must not suggest one.
    """
    if isinstance(node, list):
        for item in node:
            _durations_as_written(item)
        return
    if not isinstance(node, dict):
        return
    if "default" in node and _is_duration(node):
        default = node["default"]
        if isinstance(default, int) and not isinstance(default, bool):
            node["default"] = format_duration(default)
        elif isinstance(default, list) and _is_duration(node.get("items", {})):
            node["default"] = [format_duration(d) if isinstance(d, int) else d for d in default]
    for value in node.values():
        _durations_as_written(value)


def _is_duration(node: dict[str, Any]) -> bool:
    if node.get("pattern") == DURATION_PATTERN:
        return True
    if isinstance(node.get("items"), dict) and _is_duration(node["items"]):
        return True
    return any(_is_duration(m) for m in node.get("anyOf", []) if isinstance(m, dict))


def main() -> int:
    """Rewrite the shipped schema file from the model."""
    SHIPPED.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SHIPPED}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
