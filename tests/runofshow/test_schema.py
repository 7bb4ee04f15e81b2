"""The published JSON Schema: generated from the model, shipped, printed, and true to the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from facilbot.cli import main
from runofshow.jsonschema import SHIPPED, schema_text, show_json_schema
from runofshow.loader import load_show, load_yaml

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
BROKEN = Path(__file__).parent / "broken"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = show_json_schema()
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def errors(validator: Draft7Validator, data: Any) -> list[str]:
    return sorted(e.message for e in validator.iter_errors(data))


def test_shipped_schema_is_the_generated_one() -> None:
    # Regenerate with: python -m runofshow.jsonschema
    assert SHIPPED.read_text(encoding="utf-8") == schema_text()
    assert json.loads(SHIPPED.read_text(encoding="utf-8")) == show_json_schema()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_against_the_schema(validator: Draft7Validator, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "# yaml-language-server: $schema=../runofshow/schema/show.schema.json"
    )
    data, _ = load_yaml(text)
    assert errors(validator, data) == []


@pytest.mark.parametrize(
    "name",
    [
        "unknown-key.yaml",
        "unknown-top-key.yaml",
        "bare-number-duration.yaml",
        "bad-kind.yaml",
        "wrong-types.yaml",
        "segments-not-a-list.yaml",
        "missing-keys.yaml",
        "bad-id.yaml",
        "bad-rules.yaml",
        "no-segments.yaml",
    ],
)
def test_schema_refuses_what_the_loader_refuses(validator: Draft7Validator, name: str) -> None:
    data, _ = load_yaml((BROKEN / name).read_text(encoding="utf-8"))
    assert errors(validator, data)


def test_schema_accepts_the_forms_people_write(validator: Draft7Validator) -> None:
    data, _ = load_yaml(
        """\
title: Forms
duration: 1:30:00
rules: {breaks: ["50/10", {work: 90m, rest: 20m}], talk_share_max: 20%, interaction_gap: 5m}
segments:
  - id: a
    kind: connection
    duration: 1h 30m
    producer_notes: plain text is fine
    cues:
      - {at: 0m, say: hi, producer_notes: {watch_for: the chat}}
      - {at: 90s, break: {duration: 5m}}
"""
    )
    assert errors(validator, data) == []


def test_duration_defaults_are_written_as_durations() -> None:
    rules = show_json_schema()["$defs"]["Rules"]["properties"]
    assert rules["interaction_gap"]["default"] == "7m"
    assert rules["late_grace"]["default"] == "2m"
    follow_up = show_json_schema()["$defs"]["FollowUp"]["properties"]
    assert follow_up["reminder_after"]["default"] == "7d"


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()


def test_schema_command_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "show.schema.json"
    assert main(["schema", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == schema_text()
    assert main(["schema", "--output", str(tmp_path / "missing" / "x.json")]) == 2


def test_loading_a_show_does_not_need_the_schema_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from runofshow.loader import load_show; "
        f"load_show({str(EXAMPLES[0])!r}); "
        "print(any(m in sys.modules for m in ('runofshow.jsonschema', 'jsonschema', "
        "'fastapi', 'sqlalchemy', 'httpx')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert load_show(EXAMPLES[0])
