"""The pydantic-free validation (``runofshow.plain``, used by ``facilbot lint``) against the model.

``runofshow.model`` is the source of truth. For every example, every broken file and many
damaged shows, both validations must give the same problems, and for a valid show the same
values and the same lint findings.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from runofshow import model, plain
from runofshow.durations import TEXT_SOURCE
from runofshow.lint import lint
from runofshow.loader import (
    load_plain_show,
    load_plain_show_text,
    load_show,
    load_show_text,
    load_yaml,
)
from runofshow.source import ShowError
from tests.runofshow.test_lint import FORBIDDEN, GOOD, ROOT

HERE = Path(__file__).parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
BROKEN = sorted((HERE / "broken").glob("*.yaml"))


def outcome(loaded: Any) -> list[str]:
    return [f"{f} [{f.path}]" for f in lint(loaded)]


def both_from_file(path: Path) -> tuple[list[str], list[str]]:
    return _run(lambda: load_show(path)), _run(lambda: load_plain_show(path))


def both_from_text(text: str) -> tuple[list[str], list[str]]:
    return _run(lambda: load_show_text(text, "f.yaml")), _run(
        lambda: load_plain_show_text(text, "f.yaml")
    )


def _run(load: Any) -> list[str]:
    try:
        loaded = load()
    except ShowError as error:
        return ["problem: " + str(p) for p in error.problems]
    return outcome(loaded)


def values(obj: Any) -> Any:
    """A comparable picture of a validated value: records by class name and field."""
    if isinstance(obj, BaseModel):
        names: list[str] = list(type(obj).model_fields)
        return type(obj).__name__, {n: values(getattr(obj, n)) for n in names}
    if isinstance(obj, plain._Record):
        return type(obj).__name__, {n: values(getattr(obj, n)) for n in obj.__slots__}
    if isinstance(obj, list):
        return [values(v) for v in obj]
    if isinstance(obj, dict):
        return {k: values(v) for k, v in obj.items()}
    return type(obj).__name__, repr(obj)  # repr: NaN equals itself, 1 differs from 1.0


@pytest.mark.parametrize("path", EXAMPLES + BROKEN, ids=lambda p: p.name)
def test_examples_and_broken_files_give_the_same_result_both_ways(path: Path) -> None:
    through_model, through_plain = both_from_file(path)
    assert through_plain == through_model


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_give_the_same_values_both_ways(path: Path) -> None:
    assert values(load_plain_show(path).show) == values(load_show(path).show)


def test_defaults_are_the_models() -> None:
    text = "title: t\nduration: 5m\nsegments: [{id: a, kind: breakout, duration: 5m, cues: []}]\n"
    minimal = load_plain_show_text(text).show
    assert values(minimal) == values(load_show_text(text).show)
    breakout = plain.Breakout()
    assert values(breakout) == values(model.Breakout())
    assert values(plain.Commitments()) == values(model.Commitments())
    assert values(plain.FollowUp()) == values(model.FollowUp())


def _model_classes() -> dict[str, type[BaseModel]]:
    return {
        name: cls
        for name, cls in vars(model).items()
        if isinstance(cls, type) and issubclass(cls, model.Strict) and cls is not model.Strict
    }


def test_every_model_has_a_plain_class_with_its_fields() -> None:
    for name, cls in _model_classes().items():
        twin = getattr(plain, name)
        assert sorted(twin.__slots__) == sorted(cls.model_fields), name


# The loader's way of finding the model at a path before runofshow.plain.allowed_keys: it
# followed the pydantic model's annotations.
def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    current: Any = model.Show
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            if typing.get_origin(current) is not list:
                return None
            current = typing.get_args(current)[0]
        else:
            if not (isinstance(current, type) and issubclass(current, BaseModel)):
                return None
            fields = {info.alias or name: info for name, info in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        lists = [m for m in members if typing.get_origin(m) is list]
        return (models or lists or members)[0]
    return annotation


def _paths(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_paths(value, (*path, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.extend(_paths(value, (*path, index)))
    return out


def _model_keys(path: tuple[str | int, ...]) -> list[str]:
    found = _model_at(path)
    return [] if found is None else [i.alias or n for n, i in found.model_fields.items()]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_allowed_keys_follow_the_model(path: Path) -> None:
    data, _ = load_yaml(path.read_text(encoding="utf-8"))
    extra: list[tuple[str | int, ...]] = [
        ("segments", 0, "cues", 0, "break"),
        ("segments", 0, "producer_notes"),
        ("segments", 0, "breakout", "assign"),
        ("prework", 0, "poll"),
        ("rules", "breaks", 0),
        ("follow_up",),
        ("producers",),
        ("lint", "FB101"),
        ("segments", "x"),
        ("nowhere", 0),
    ]
    for where in _paths(data) + extra:
        assert plain.allowed_keys(where) == _model_keys(where), where


# --- damaged shows: both validations agree -------------------------------------------------

AWKWARD: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    2,
    -1,
    3.0,
    2.5,
    1e300,
    10**30,
    2**63 - 1,
    -(2**63),
    9.3e18,
    -9.2e18,
    math.inf,
    -math.inf,
    math.nan,
    "",
    " ",
    "x",
    "5",
    " 5 ",
    "5.0",
    "1_000",
    "1e3",
    "1" * 30,
    "+5.00",
    "5.",
    "infinity",
    "yes",
    "Off",
    "t",
    "5m",
    "0m",
    "1.5m",
    "0.5s",
    "1h1h",
    "-5m",
    "400d",
    "01:30",
    "50/10",
    "50-10",
    "20%",
    "120%",
    "abc%",
    "talk",
    "breakot",
    "error",
    "loud",
    "Kick Off",
    "abc\n",
    "a" * 70,
    "Europe/Berlin",
    "Europe/Atlantis",
    [],
    ["a"],
    ["a", "a"],
    ["a", "b"],
    [5],
    [["a", "b"], ["c"]],
    ["50/10", {"work": "90m", "rest": "20m"}],
    {},
    {"x": 1},
    {"watch_for": "w"},
    {"flex": 2},
    {"work": "50m", "rest": "10m"},
    {"size": 3},
    {"size": 3, "rooms": 2},
    {"random": True, "mix_by": "d"},
    {"duration": "5m"},
    {"question": "q", "options": ["a", "b"]},
    {"at": "0m", "say": "hi"},
    {"at": "1m"},
    {"at": "1m", "say": "a", "producer": "b"},
    {"at": "1m", "break": {"duration": "1m"}, "break_": {"duration": "2m"}},
    {"at": "1m", "break_": {"duration": "1m"}},
    {"min": "1m", "max": "90m"},
    {"title": "t"},
    {"id": "dup", "kind": "talk", "duration": "5m"},
]
KEYS = [
    "title",
    "duration",
    "id",
    "kind",
    "cues",
    "at",
    "say",
    "poll",
    "breakout",
    "break",
    "break_",
    "producer_notes",
    "flex",
    "rules",
    "lint",
    "assign",
    "size",
    "rooms",
    "options",
    "titel",
    "lenght",
    "FB101",
    "unknown",
]
SEEDS = [GOOD] + [p.read_text(encoding="utf-8") for p in EXAMPLES]


def _containers(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    return [p for p in _paths(data, path) if isinstance(_get(data, p), dict | list)]


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]  # type: ignore[index]
    return data


def _awkward(draw: st.DataObject) -> Any:
    return copy.deepcopy(draw.draw(st.sampled_from(AWKWARD)))  # later damage may change it


def _damage(data: Any, draw: st.DataObject) -> None:
    containers = _containers(data)
    where = draw.draw(st.sampled_from(containers))
    node = _get(data, where)
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    action = draw.draw(st.sampled_from(["replace", "delete", "add"] if keys else ["add"]))
    if action == "replace":
        node[draw.draw(st.sampled_from(keys))] = _awkward(draw)
    elif action == "delete":
        del node[draw.draw(st.sampled_from(keys))]
    elif isinstance(node, dict):
        node[draw.draw(st.sampled_from(KEYS))] = _awkward(draw)
    else:
        node.append(_awkward(draw))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_shows_give_the_same_result_both_ways(data: st.DataObject) -> None:
    show, _ = load_yaml(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(1, 4))):
        _damage(show, data)
    text = yaml.safe_dump(show, sort_keys=False, allow_unicode=True)
    through_model, through_plain = both_from_text(text)
    assert through_plain == through_model
    if not through_model or not through_model[0].startswith("problem: "):
        loaded = load_plain_show_text(text, "f.yaml").show
        assert values(loaded) == values(load_show_text(text, "f.yaml").show)


# Every field of every model, to damage one at a time.
FULL: dict[str, Any] = {
    "title": "Full",
    "duration": "2h",
    "timezone": "Europe/Berlin",
    "rules": {
        "interaction_gap": "7m",
        "breaks": ["50/10", {"work": "90m", "rest": "20m"}],
        "connection_within": "10m",
        "commitments_within": "10m",
        "talk_share_max": "20%",
        "segments_per_3h": 6,
        "late_grace": "2m",
    },
    "lint": {"FB101": "warning"},
    "prework": [
        {
            "title": "Read",
            "url": "https://example.org",
            "poll": {"question": "q", "options": ["a", "b"], "multiple": False},
            "due_before": "1d",
        }
    ],
    "access": {"recording": True, "captions": False, "transcript": None, "recap_for": "7d"},
    "producers": {"names": ["Ann"], "emails": ["ann@example.org"]},
    "prompt_bank": ["What surprised you?"],
    "segments": [
        {
            "id": "arrive",
            "kind": "connection",
            "title": "Arrive",
            "duration": "10m",
            "lead": "Lee",
            "facilitator_notes": "Smile",
            "producer_notes": {"watch_for": "w", "keep_same": "k", "flex": "f"},
            "flex": {"min": "5m", "max": "15m"},
            "cues": [
                {"id": "hello", "at": "0m", "say": "Hi", "producer_notes": "n"},
                {
                    "at": "1m",
                    "poll": {
                        "question": "q",
                        "options": ["a", "b"],
                        "multiple": False,
                        "anonymous": True,
                        "open_for": "2m",
                        "show_results": True,
                    },
                },
                {
                    "at": "2m",
                    "breakout": {
                        "size": 3,
                        "assign": {"random": True},
                        "duration": "3m",
                        "warn_before_close": "1m",
                    },
                },
                {"at": "3m", "break": {"duration": "1m"}},
                {"at": "4m", "commitments": {"prompt": "p", "collect_for": "1m"}},
                {"at": "5m", "producer": "x"},
            ],
        },
        {
            "id": "rooms",
            "kind": "breakout",
            "duration": "20m",
            "breakout": {"rooms": 4, "assign": {"mix_by": "team", "rooms": None}},
        },
        {"id": "close", "kind": "commitments", "duration": "10m", "prompt": "Do it"},
    ],
    "follow_up": {"reminder_after": "7d", "check_ins": ["30d"]},
}


def _errors(errors: list[Any]) -> list[tuple[Any, ...]]:
    def ctx(error: Any) -> Any:
        found = error.get("ctx") or {}
        return (
            str(found.get("error")),
            found.get("violations"),
            found.get("expected"),
            found.get("pattern"),
        )

    return [(e["type"], e["loc"], e["msg"], ctx(e)) for e in errors]


def _both_validations(data: Any) -> tuple[Any, Any]:
    try:
        through_model: Any = values(model.Show.model_validate(data, context=TEXT_SOURCE))
    except ValidationError as error:
        through_model = _errors(error.errors(include_url=False))
    through_plain = plain.validate(data)
    if isinstance(through_plain, list):
        return through_model, _errors(through_plain)
    return through_model, values(through_plain)


def test_every_field_refuses_and_accepts_as_the_model_does() -> None:
    assert isinstance(plain.validate(copy.deepcopy(FULL)), plain.Show)
    seen = 0
    for where in _paths(FULL)[1:]:
        parent, last = where[:-1], where[-1]
        changes: list[Any] = [*AWKWARD, "delete"] + (["extra"] if isinstance(last, str) else [])
        for change in changes:
            data = copy.deepcopy(FULL)
            node = _get(data, parent)
            if change == "delete":
                del node[last]
            elif change == "extra":
                node["break_" if "break" in node else f"{last}x"] = "1m"
            else:
                node[last] = copy.deepcopy(change)
            through_model, through_plain = _both_validations(data)
            assert through_plain == through_model, (where, change)
            seen += 1
    assert seen > 5000


# --- what the lint command imports ----------------------------------------------------------


def test_facilbot_lint_imports_no_pydantic_and_nothing_else_it_does_not_use() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from facilbot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['lint', {str(EXAMPLES[0])!r}])\n"
        "print(' '.join(sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    tops = {m.split(".")[0] for m in out}
    assert sorted(tops & set(FORBIDDEN) - {"facilbot"}) == []
    ours = sorted(m for m in out if m.split(".")[0] == "facilbot")
    assert ours == ["facilbot", "facilbot.cli", "facilbot.commands", "facilbot.commands.lint"]
    assert "runofshow.model" not in out and "runofshow.durations" not in out
