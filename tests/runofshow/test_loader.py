"""Loading run-of-show files: positions, limits, and a precise message for every broken file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from runofshow.loader import (
    MAX_ALIASES,
    MAX_BYTES,
    MAX_DEPTH,
    LoadedShow,
    load_show,
    load_show_text,
    load_yaml,
)
from runofshow.model import Show
from runofshow.source import Position, ShowError, ShowUnreadable

HERE = Path(__file__).parent
BROKEN = HERE / "broken"
EXAMPLES = sorted((HERE.parents[1] / "examples").glob("*.yaml"))
CASES: dict[str, dict[str, Any]] = yaml.safe_load((BROKEN / "cases.yaml").read_text())

MINIMAL = """\
title: Minimal
duration: 10m
segments:
  - id: hello
    kind: connection
    duration: 10m
    cues:
      - at: 0m
        say: "In one word: how are you?"
"""


def problems(error: ShowError) -> list[str]:
    return [f"{p.line}:{p.column}: {p.message}" for p in error.problems]


# --- the fixture set of broken files ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_file_gets_its_messages_at_their_positions(name: str) -> None:
    case = CASES[name]
    with pytest.raises(ShowError) as caught:
        load_show(BROKEN / name)
    assert problems(caught.value) == case["problems"]
    assert isinstance(caught.value, ShowUnreadable) is case["unreadable"]
    assert all(p.file == str(BROKEN / name) for p in caught.value.problems)


def test_every_broken_file_has_a_case() -> None:
    files = {p.name for p in BROKEN.glob("*.yaml")} - {"cases.yaml"}
    assert files == set(CASES)


def test_messages_speak_plainly() -> None:
    jargon = (
        "type=",
        "pydantic",
        "http",
        "Input should",
        "Value error",
        "Traceback",
        "input_value",
    )
    for case in CASES.values():
        for message in case["problems"]:
            assert not any(word in message for word in jargon), message


def test_problems_are_sorted_by_position() -> None:
    for case in CASES.values():
        positions = [tuple(int(n) for n in m.split(":")[:2]) for m in case["problems"]]
        assert positions == sorted(positions)


# --- examples and positions ----------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load_with_positions(path: Path) -> None:
    loaded = load_show(path)
    assert isinstance(loaded, LoadedShow)
    assert loaded.file == str(path)
    assert loaded.text == path.read_text(encoding="utf-8")
    assert loaded.text.startswith("# yaml-language-server: $schema=")
    lines = loaded.text.splitlines()
    for i, segment in enumerate(loaded.show.segments):
        key = loaded.source.keys[("segments", i, "id")]
        value = loaded.source.values[("segments", i, "id")]
        assert lines[key.line - 1][key.column - 1 :].startswith("id:")
        assert lines[value.line - 1][value.column - 1 :].startswith(segment.id)
        for j, cue in enumerate(segment.cues):
            at = loaded.source.position(("segments", i, "cues", j, "at"))
            assert lines[at.line - 1][at.column - 1 :].split()[0].rstrip(",}") in (
                {f"{cue.at // 60}m", f"{cue.at}s"}
            )


def test_examples_cover_the_brief() -> None:
    assert [p.name for p in EXAMPLES] == [
        "carbon-accounting-flipped-2h.yaml",
        "circular-design-4h.yaml",
        "onboarding-welcome.yaml",
        "roleplay-90m.yaml",
        "workshop-3h.yaml",
    ]
    shows = {p.name: load_show(p).show for p in EXAMPLES}
    assert shows["roleplay-90m.yaml"].duration == 90 * 60
    assert shows["circular-design-4h.yaml"].duration == 4 * 3600
    assert shows["carbon-accounting-flipped-2h.yaml"].prework
    for show in shows.values():
        assert sum(s.duration for s in show.segments) == show.duration
        assert show.prompt_bank and show.follow_up is not None


def test_value_and_key_positions_are_one_based() -> None:
    loaded = load_show_text(MINIMAL, "minimal.yaml")
    source = loaded.source
    assert source.values[()] == Position(1, 1)
    assert source.keys[("title",)] == Position(1, 1)
    assert source.values[("title",)] == Position(1, 8)
    assert source.values[("segments", 0)] == Position(4, 5)
    assert source.keys[("segments", 0, "cues", 0, "say")] == Position(9, 9)
    assert source.values[("segments", 0, "cues", 0, "say")] == Position(9, 14)
    # A path with no node of its own falls back to its nearest ancestor.
    assert source.position(("segments", 0, "cues", 0, "poll")) == Position(8, 9)


def test_columns_count_characters_not_bytes() -> None:
    line = '  - {id: a, title: "Ça va ☕", kind: lecture, duration: 10m}'
    text = f"title: Café\nduration: 10m\nsegments:\n{line}\n"
    with pytest.raises(ShowError) as caught:
        load_show_text(text)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (4, line.index("lecture") + 1)


def test_yaml_values_follow_yaml_1_2() -> None:
    text = """\
title: 2024-05-01
duration: 1:30:00
access: {recording: true, captions: no, transcript: ~}
segments:
  - id: vote
    kind: activity
    duration: 90m
    cues:
      - at: 1:00
        poll: {question: Ready?, options: [Yes, No, on, off, Norway, NO]}
"""
    loaded = load_show_text(text)
    show = loaded.show
    assert show.title == "2024-05-01"
    assert show.duration == 5400
    assert show.segments[0].cues[0].at == 60
    poll = show.segments[0].cues[0].poll
    assert poll is not None and poll.options == ["Yes", "No", "on", "off", "Norway", "NO"]
    assert show.access.recording is True and show.access.transcript is None
    # 'no' is text in YAML 1.2; pydantic reads the text "no" as false where a boolean is due.
    assert show.access.captions is False


def test_quoted_values_stay_text_and_tags_of_plain_types_work() -> None:
    data, _ = load_yaml('a: "true"\nb: !!str 5\nc: !!int "7"\nd: !!float 1\ne: 0x1f\nf: .inf')
    assert data == {"a": "true", "b": "5", "c": 7, "d": 1.0, "e": 31, "f": float("inf")}
    with pytest.raises(ShowUnreadable, match="not a valid !!int"):
        load_yaml("a: !!int seven")


def test_anchors_and_aliases_within_the_limit() -> None:
    text = """\
title: Shared notes
duration: 20m
notes: &notes {watch_for: the chat}
segments:
  - {id: a, kind: connection, duration: 10m, producer_notes: &n {watch_for: the chat}}
  - {id: b, kind: discussion, duration: 10m, producer_notes: *n}
"""
    with pytest.raises(ShowError, match="unknown key 'notes' in the show"):
        load_show_text(text)
    loaded = load_show_text(text.replace("notes: &notes {watch_for: the chat}\n", ""))
    a, b = loaded.show.segments
    assert a.producer_notes == b.producer_notes
    # The alias's nodes are positioned where the anchored node is written.
    line = loaded.text.splitlines()[3]
    anchored = Position(4, line.index("the chat") + 1)
    assert loaded.source.values[("segments", 0, "producer_notes", "watch_for")] == anchored
    assert loaded.source.values[("segments", 1, "producer_notes", "watch_for")] == anchored


def test_alias_limit_is_exact() -> None:
    def text(uses: int) -> str:
        return "a: &x 1\nb: [" + ", ".join(["*x"] * uses) + "]\n"

    data, _ = load_yaml(text(MAX_ALIASES))
    assert data["b"] == [1] * MAX_ALIASES
    with pytest.raises(ShowUnreadable, match="too many aliases"):
        load_yaml(text(MAX_ALIASES + 1))


@contextmanager
def counting_calls() -> Iterator[list[int]]:
    """Count every Python and C function call made inside the block."""
    count = [0]

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event in ("call", "c_call"):
            count[0] += 1

    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(None)


def laughs(depth: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, depth + 1):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_anything_expands() -> None:
    with counting_calls() as calls, pytest.raises(ShowUnreadable) as caught:
        load_show_text(laughs(9), "laughs.yaml")
    assert "too many aliases" in str(caught.value)
    assert "billion laughs" in str(caught.value)
    # 10**9 nodes if expanded; refusing costs a few hundred calls, and does not grow with the
    # depth of the nesting (the work stops at the first line over the limit).
    assert calls[0] < 5_000
    with counting_calls() as deeper, pytest.raises(ShowUnreadable):
        load_show_text(laughs(60), "laughs.yaml")
    assert deeper[0] < calls[0] + 500


def test_size_limit(tmp_path: Path) -> None:
    padding = "#" * 99 + "\n"
    fits = MINIMAL + padding * ((MAX_BYTES - len(MINIMAL)) // len(padding))
    fits += "#" * (MAX_BYTES - len(fits) - 1) + "\n"
    assert len(fits.encode()) == MAX_BYTES
    assert load_show_text(fits).show.title == "Minimal"
    path = tmp_path / "big.yaml"
    path.write_text(fits + "#")
    with pytest.raises(ShowUnreadable, match="larger than 1 MB"):
        load_show(path)
    with pytest.raises(ShowUnreadable, match="larger than 1 MB"):
        load_show_text(fits + "#")
    with pytest.raises(ShowUnreadable, match="larger than 1 MB"):
        load_show_text("é" * (MAX_BYTES // 2 + 1))  # counted in UTF-8 bytes


def test_nesting_limit() -> None:
    deepest = MAX_DEPTH - 1  # the top-level mapping is the first level
    load_yaml("a: " + "[" * deepest + "]" * deepest)
    with pytest.raises(ShowUnreadable, match=f"nested more than {MAX_DEPTH} levels"):
        load_yaml("a: " + "[" * (deepest + 1) + "]" * (deepest + 1))
    with pytest.raises(ShowUnreadable, match="nested more than"):
        load_yaml("[" * (MAX_BYTES // 2))  # a deep file neither crashes nor recurses


# libyaml 0.2.6 (in PyYAML 6.0.4's wheels) refuses more than 1000 levels itself, in a scanner
# that can run 1024 characters ahead of the events: the loader still gives its own message, at
# the first level too deep, with libyaml and with PyYAML's pure-Python parser alike.
LOADERS = [yaml.SafeLoader, *([yaml.CSafeLoader] if yaml.__with_libyaml__ else [])]

TOO_DEEP = [
    ("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH, f"1:{3 + MAX_DEPTH}"),
    ("[" * (MAX_BYTES // 2), f"1:{MAX_DEPTH + 1}"),
    ("[ " * 1500, f"1:{2 * MAX_DEPTH + 1}"),
    ("{a: " * 1100, f"1:{4 * MAX_DEPTH + 1}"),
    ("- " * 1100 + "x", f"1:{2 * MAX_DEPTH + 1}"),
    ("a:\n" + "".join(" " * level + f"k{level}:\n" for level in range(1, 1100)), "65:65"),
    ("é☕𝄞:\r\n  b: " + "[" * 1200, f"2:{5 + MAX_DEPTH - 1}"),
]


@pytest.fixture(params=LOADERS, ids=lambda loader: loader.__name__)
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    loader = request.param
    monkeypatch.setattr("runofshow.loader._Loader", loader)
    monkeypatch.setattr("runofshow.loader._C_LOADER", loader is not yaml.SafeLoader)
    return loader


@pytest.mark.parametrize(("text", "where"), TOO_DEEP, ids=range(len(TOO_DEEP)))
def test_nesting_is_refused_at_the_first_level_too_deep(
    yaml_loader: Any, text: str, where: str
) -> None:
    with pytest.raises(ShowUnreadable) as caught:
        load_yaml(text, "deep.yaml")
    assert problems(caught.value) == [f"{where}: nested more than {MAX_DEPTH} levels deep"]
    assert caught.value.problems[0].file == "deep.yaml"


def test_a_syntax_error_before_deep_nesting_is_reported_first(yaml_loader: Any) -> None:
    with pytest.raises(ShowUnreadable) as caught:
        load_yaml("[1, 2] ] " + "[" * 1200)
    [problem] = problems(caught.value)
    assert problem.startswith("1:8: YAML syntax: ")
    assert "nest" not in problem


def test_libyaml_refusal_stands_when_its_own_limit_is_below_ours() -> None:
    # libyaml's limit is process-wide; PyYAML 6.0.4 can lower it (a private call).
    cyaml: Any = getattr(yaml, "_yaml", None)
    if not hasattr(cyaml, "_set_max_nest_level"):
        pytest.skip("this PyYAML has no libyaml nesting limit")
    before = cyaml._get_max_nest_level()
    cyaml._set_max_nest_level(10)
    try:
        with pytest.raises(ShowUnreadable) as caught:
            load_yaml("a: " + "[" * 20)
    finally:
        cyaml._set_max_nest_level(before)
    [problem] = problems(caught.value)
    assert problem.startswith("1:13: YAML syntax: exceeded maximum nesting depth")


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ShowUnreadable, match="no such file"):
        load_show(tmp_path / "missing.yaml")
    with pytest.raises(ShowUnreadable, match="is a directory"):
        load_show(tmp_path)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_show(path).show.title == "Minimal"
    assert load_show_text("\ufeff" + MINIMAL).show.title == "Minimal"


def test_control_characters_are_refused_at_their_position() -> None:
    with pytest.raises(ShowUnreadable) as caught:
        load_show_text("title: Café\nduration: 1\x00m\n")
    assert problems(caught.value) == [
        "2:12: the character U+0000 is not allowed in YAML (control characters are not allowed)"
    ]


def test_the_model_refuses_bad_data_from_python_too() -> None:
    segment = {"id": "a", "kind": "talk", "duration": 600}
    with pytest.raises(ValidationError, match="cue at 10m is outside its segment"):
        Show.model_validate(
            {
                "title": "t",
                "duration": 600,
                "segments": [{**segment, "cues": [{"at": 600, "say": "x"}]}],
            }
        )
    with pytest.raises(ValidationError, match="duplicate id 'a'"):
        Show.model_validate({"title": "t", "duration": 1200, "segments": [segment, segment]})
    with pytest.raises(ValidationError, match="exactly one action, this one has say and producer"):
        Show.model_validate(
            {
                "title": "t",
                "duration": 600,
                "segments": [{**segment, "cues": [{"at": 0, "say": "x", "producer": "y"}]}],
            }
        )


# --- nothing but ShowError, whatever the input ----------------------------------------------


def load_or_problem(text: str) -> None:
    try:
        load_show_text(text, "fuzz.yaml")
    except ShowError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line >= 1 and problem.column >= 1 and problem.message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_loads_or_gets_problems(text: str) -> None:
    load_or_problem(text)


EXAMPLE_TEXT = (HERE.parents[1] / "examples" / "roleplay-90m.yaml").read_text(encoding="utf-8")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_damaged_examples_load_or_get_problems(data: st.DataObject) -> None:
    lines = EXAMPLE_TEXT.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "dedent", "indent", "garble", "swap"]))
        line = lines[index]
        if action == "drop":
            del lines[index]
        elif action == "dedent":
            lines[index] = line[2:]
        elif action == "indent":
            lines[index] = "  " + line
        elif action == "garble":
            at = data.draw(st.integers(0, max(0, len(line) - 1)))
            char = data.draw(st.sampled_from(list(":-[]{}&*!|>'\"#%@`0 \t")))
            lines[index] = line[:at] + char + line[at + 1 :]
        elif index + 1 < len(lines):
            lines[index], lines[index + 1] = lines[index + 1], line
        if not lines:
            break
    load_or_problem("".join(lines))
