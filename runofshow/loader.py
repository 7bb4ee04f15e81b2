"""Load a run-of-show file: safe YAML with the position of every node, then the typed model.

Every problem comes back as a :class:`~runofshow.source.Problem` at ``file:line:col`` inside a
:class:`~runofshow.source.ShowError`; no YAML or pydantic exception escapes.

Two validations give the same problems: :func:`load_show` builds the pydantic model (the
service, everything that keeps the show), :func:`load_plain_show` the plain classes of
``runofshow.plain`` for ``facilbot lint``, which must not pay for importing pydantic. This
module imports pydantic only when :func:`load_show_text` first runs.

The YAML is read from the parser's event stream rather than PyYAML's composer, for three
reasons: every node's position is kept; alias expansion is counted *before* anything is expanded
(a "billion laughs" file costs a few dozen events, not a billion nodes); and plain scalars are
resolved with the YAML 1.2 core schema, the one editors use, so ``yes``/``no``/``on``/``off`` and
``1:30:00`` stay text instead of turning into booleans and base-60 numbers.
"""

from __future__ import annotations

import codecs
import os
import re
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from runofshow import plain
from runofshow.basics import ID_PATTERN, SHOW_RULE, RuleViolation
from runofshow.schedule import Path
from runofshow.source import (
    Position,
    Problem,
    ShowError,
    ShowUnreadable,
    SourceMap,
    close_matches,
)

if TYPE_CHECKING:
    from runofshow.model import Show

#: Largest file accepted, in bytes. A four-hour show is a few kilobytes.
MAX_BYTES = 1_000_000
#: Most alias uses in one file, counting the uses inside every expanded alias.
MAX_ALIASES = 100
#: Most nodes in the document once aliases are expanded.
MAX_NODES = 100_000
#: Deepest nesting of mappings and lists (a show needs about eight).
MAX_DEPTH = 64

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_C_LOADER = _Loader is not yaml.SafeLoader

# libyaml's own nesting limit (1000 levels by default, since libyaml 0.2.6) words its refusal
# "exceeded maximum nesting depth"; the parser-side variant on libyaml's master branch says
# "Maximum nesting level reached".
_LIBYAML_TOO_DEEP = re.compile(r"maximum nesting (depth|level)", re.IGNORECASE)

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"null|Null|NULL|~|")
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT = re.compile(r"[-+]?[0-9]+")
_INT_OCT = re.compile(r"0o[0-7]+")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")


# NamedTuples, not dataclasses, for facilbot lint's start-up: see RuleViolation in runofshow.basics.
class LoadedShow(NamedTuple):
    """A validated show with the positions of its nodes and the text it came from."""

    show: Show
    source: SourceMap
    file: str
    text: str


class PlainLoadedShow(NamedTuple):
    """The same as :class:`LoadedShow`, the show as ``runofshow.plain`` classes."""

    show: plain.Show
    source: SourceMap
    file: str
    text: str


def load_show(path: str | os.PathLike[str]) -> LoadedShow:
    """Read, parse and validate a run-of-show file.

    Raises :class:`ShowUnreadable` when the file cannot be read as YAML text at all, and
    :class:`ShowError` (with every problem found) when it is YAML but not a valid show.
    """
    return load_show_text(*_read(path))


def load_plain_show(path: str | os.PathLike[str]) -> PlainLoadedShow:
    """:func:`load_show` without pydantic: the same problems, the show as plain classes."""
    return load_plain_show_text(*_read(path))


def _read(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The text of the file and its name for problems."""
    file = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _unreadable(file, "no such file") from None
    except IsADirectoryError:
        raise _unreadable(file, "is a directory, not a run-of-show file") from None
    except PermissionError:
        raise _unreadable(file, "permission denied") from None
    except OSError as error:
        raise _unreadable(file, f"cannot read: {error.strerror or error}") from None
    _check_size(len(raw), file)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        byte = raw[error.start]
        message = f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"
        raise ShowUnreadable([Problem(file, line, column, message)]) from None
    return text, file


def load_show_text(text: str, file: str = "<string>") -> LoadedShow:
    """Parse and validate run-of-show YAML given as text; ``file`` names it in problems."""
    # Imported here, not above: the linter uses this module and must not pay for pydantic.
    from pydantic import ValidationError

    from runofshow.durations import TEXT_SOURCE
    from runofshow.model import Show

    data, source, problems = _parse_show(text, file)
    try:
        show = Show.model_validate(data, context=TEXT_SOURCE)
    except ValidationError as error:
        problems.extend(_explain(error.errors(include_url=False), data, source, file))
    if problems:
        raise ShowError(_sorted(problems))
    return LoadedShow(show, source, file, text)


def load_plain_show_text(text: str, file: str = "<string>") -> PlainLoadedShow:
    """:func:`load_show_text` without pydantic: the same problems, the show as plain classes."""
    data, source, problems = _parse_show(text, file)
    show = plain.validate(data)
    if isinstance(show, list):
        problems.extend(_explain(show, data, source, file))
    if problems or isinstance(show, list):
        raise ShowError(_sorted(problems))
    return PlainLoadedShow(show, source, file, text)


def _parse_show(text: str, file: str) -> tuple[dict[str, Any], SourceMap, list[Problem]]:
    data, source, problems = _parse(text, file)
    if not isinstance(data, dict):
        position = source.position(())
        message = (
            f"a run-of-show is a mapping (title:, duration:, segments: ...); "
            f"this file holds {_kind_of(data)}"
        )
        raise ShowError([Problem(file, position.line, position.column, message)])
    return data, source, problems


def load_yaml(text: str, file: str = "<string>") -> tuple[Any, SourceMap]:
    """The plain data of a YAML document and the positions of its nodes, within the limits.

    The same reading the show loader does (YAML 1.2 core values, no tags beyond the plain
    ones, duplicate keys refused), for callers that need the data before the model.
    """
    data, source, problems = _parse(text, file)
    if problems:
        raise ShowError(_sorted(problems))
    return data, source


def _parse(text: str, file: str) -> tuple[Any, SourceMap, list[Problem]]:
    if len(text) > MAX_BYTES:
        _check_size(len(text), file)
    else:
        _check_size(len(text.encode("utf-8", "surrogatepass")), file)
    text = text.removeprefix("\ufeff")
    root, problems = _Builder(text, file).build()
    if root is None:
        message = "the file is empty; a run-of-show needs at least title, duration and segments"
        raise ShowError([Problem(file, 1, 1, message)])
    values: dict[Path, Position] = {}
    keys: dict[Path, Position] = {}
    data = _to_data(root, (), values, keys)
    return data, SourceMap(values, keys), problems


def _check_size(size: int, file: str) -> None:
    if size > MAX_BYTES:
        limit = f"{MAX_BYTES // 1_000_000} MB" if MAX_BYTES >= 1_000_000 else f"{MAX_BYTES} bytes"
        message = f"the file is larger than {limit}; a run-of-show is a few kilobytes"
        raise _unreadable(file, message)


def _unreadable(file: str, message: str, line: int = 1, column: int = 1) -> ShowUnreadable:
    return ShowUnreadable([Problem(file, line, column, message)])


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.line, p.column, p.message))


# --- YAML events -> nodes -------------------------------------------------------------------


class _Node:
    """One YAML node. A plain class, not a dataclass: facilbot lint imports this module, and
    each dataclass costs it about 4 M instructions to build (bench/lint_speed.py)."""

    __slots__ = ("aliases", "items", "mark", "pairs", "seen_keys", "size", "text", "value")

    def __init__(
        self,
        mark: Position,
        value: Any = None,
        *,
        items: list[_Node] | None = None,
        pairs: list[tuple[_Node, _Node]] | None = None,
        text: str = "",
    ) -> None:
        self.mark = mark
        self.value = value  # scalars
        self.items = items  # sequences
        self.pairs = pairs  # mappings, in order, duplicates dropped
        self.text = text  # a scalar's text as written (mapping keys use it)
        self.size = 1  # nodes in this subtree once its aliases are expanded
        self.aliases = 0  # alias uses in this subtree, counting those inside expanded aliases
        self.seen_keys: dict[str, Position] = {}


class _Builder:
    """Turns the parser's events into a tree of positioned nodes, within the limits."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.anchors: dict[str, _Node] = {}
        self.open: list[_Node] = []  # collections being built, innermost last
        self.pending_key: list[_Node | None] = []  # per open collection (mappings only)
        self.root: _Node | None = None
        self.documents = 0
        self.nodes = 0
        self.alias_uses = 0
        self.problems: list[Problem] = []

    def build(self) -> tuple[_Node | None, list[Problem]]:
        try:
            for event in yaml.parse(self.text, Loader=_Loader):
                self._event(event)
        except yaml.MarkedYAMLError as error:
            if _C_LOADER and _LIBYAML_TOO_DEEP.search(error.problem or ""):
                raise self._too_deep(error) from None
            raise self._syntax_error(error) from None
        except yaml.reader.ReaderError as error:
            line, column = self._position_of_offset(error.position)
            char = error.character
            code = char if isinstance(char, int) else ord(char) if char else 0
            message = f"the character U+{code:04X} is not allowed in YAML ({error.reason})"
            raise _unreadable(self.file, message, line, column) from None
        except yaml.YAMLError as error:
            raise _unreadable(self.file, f"not valid YAML: {error}") from None
        except UnicodeError:
            raise _unreadable(self.file, "the text is not valid Unicode") from None
        return self.root, self.problems

    def _event(self, event: yaml.Event) -> None:
        mark = _mark(event)
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self._refuse(mark, "a run-of-show file holds one YAML document, not several")
        elif isinstance(event, yaml.ScalarEvent):
            node = _Node(mark, self._scalar(event, mark), text=event.value)
            self._count(mark, nodes=1)
            self._anchor(event.anchor, node)
            self._add(node, mark)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            is_map = isinstance(event, yaml.MappingStartEvent)
            expected = f"{_TAG}map" if is_map else f"{_TAG}seq"
            if event.tag not in (None, "!", expected):
                raise self._refuse(mark, _tag_message(event.tag))
            node = _Node(mark, pairs=[]) if is_map else _Node(mark, items=[])
            self._count(mark, nodes=1)
            self._anchor(event.anchor, node)
            self.open.append(node)
            self.pending_key.append(None)
            if len(self.open) > MAX_DEPTH:
                raise self._refuse(mark, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            node = self.open.pop()
            self.pending_key.pop()
            node.seen_keys = {}
            self._add(node, mark)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event.anchor or "", mark)

    def _add(self, node: _Node, mark: Position, *, alias: bool = False) -> None:
        """Attach ``node`` to the open collection (or make it the root)."""
        if not self.open:
            self.root = node
            return
        parent = self.open[-1]
        if parent.pairs is None:
            assert parent.items is not None
            parent.items.append(node)
        else:
            key = self.pending_key[-1]
            if key is None:
                if node.pairs is not None or node.items is not None:
                    raise self._refuse(mark, "a key must be plain text, not a list or a mapping")
                if node.text == "<<" and not alias:
                    raise self._refuse(
                        mark, "merge keys (<<) are not supported; write the keys out in full"
                    )
                self.pending_key[-1] = node
                return
            self.pending_key[-1] = None
            first = parent.seen_keys.get(key.text)
            if first is not None:
                message = (
                    f"duplicate key {key.text!r}; the first is at line {first.line}, "
                    f"column {first.column}"
                )
                self.problems.append(Problem(self.file, key.mark.line, key.mark.column, message))
                return
            parent.seen_keys[key.text] = key.mark
            parent.pairs.append((key, node))
        parent.size += node.size
        parent.aliases += node.aliases + (1 if alias else 0)

    def _alias(self, name: str, mark: Position) -> None:
        target = self.anchors.get(name)
        if target is None:
            raise self._refuse(mark, f"unknown alias *{name}; define &{name} before using it")
        if any(target is node for node in self.open):
            raise self._refuse(mark, f"alias *{name} refers to the node it is inside")
        # Count what expanding it would cost before expanding anything.
        self._count(mark, nodes=target.size, aliases=1 + target.aliases)
        self._add(target, mark, alias=True)

    def _anchor(self, name: str | None, node: _Node) -> None:
        if name is not None:
            self.anchors[name] = node

    def _count(self, mark: Position, *, nodes: int = 0, aliases: int = 0) -> None:
        self.nodes += nodes
        self.alias_uses += aliases
        if self.alias_uses > MAX_ALIASES:
            raise self._refuse(
                mark,
                f"too many aliases: expanding them would take more than {MAX_ALIASES} alias "
                "uses (is this a 'billion laughs' file?)",
            )
        if self.nodes > MAX_NODES:
            raise self._refuse(mark, f"too many nodes: more than {MAX_NODES} once aliases expand")

    def _scalar(self, event: yaml.ScalarEvent, mark: Position) -> Any:
        tag, value = event.tag, event.value
        if tag is None or tag == "!":
            plain = event.implicit[0] and tag is None
            return _resolve_plain(value) if plain else value
        if tag not in _SCALAR_TAGS:
            raise self._refuse(mark, _tag_message(tag))
        if tag == f"{_TAG}str":
            return value
        resolved = _resolve_plain(value)
        wanted = {"int": int, "float": float, "bool": bool, "null": type(None)}[tag[len(_TAG) :]]
        if wanted is float and type(resolved) is int:
            return float(resolved)
        if type(resolved) is not wanted:
            raise self._refuse(mark, f"{value!r} is not a valid {_short_tag(tag)}")
        return resolved

    def _too_deep(self, error: yaml.MarkedYAMLError) -> ShowUnreadable:
        """This builder's own refusal of a file that libyaml refused as nested too deep.

        libyaml 0.2.6 (bundled with PyYAML 6.0.4) refuses more than 1000 levels in its scanner.
        The scanner hands tokens over only once they cannot start a simple key, which can be
        up to 1024 characters later on the same line: on a line of brackets its refusal comes
        before the event at which :meth:`_event` refuses. Every level opened before the one
        libyaml refused lies in the text before it, with fewer levels than libyaml refuses;
        reading that text again lets the builder refuse at :data:`MAX_DEPTH`, at the position
        of the first level too deep, exactly as when libyaml lets the file through.
        """
        mark = error.problem_mark
        if mark is None:
            return self._syntax_error(error)
        # libyaml's mark index counts characters (a CR LF counts two), like str indexes.
        again = _Builder(self.text[: mark.index], self.file)
        try:
            for event in yaml.parse(again.text, Loader=_Loader):
                again._event(event)
        except ShowUnreadable as refusal:
            return refusal
        except yaml.MarkedYAMLError as earlier:
            # A syntax error before the cut is the file's own (the first reading had not got
            # there yet); one at the cut only says the text was cut.
            at = earlier.problem_mark
            if at is not None and (at.line, at.column) < (mark.line, mark.column):
                return again._syntax_error(earlier)
        # Only when libyaml's process-wide limit was set to MAX_DEPTH levels or fewer: its
        # refusal stands.
        return self._syntax_error(error)

    def _refuse(self, mark: Position, message: str) -> ShowUnreadable:
        return _unreadable(self.file, message, mark.line, mark.column)

    def _syntax_error(self, error: yaml.MarkedYAMLError) -> ShowUnreadable:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = error.problem or "not valid YAML"
        if "cannot start any token" in problem and self._char_at(line, column) == "\t":
            message = "YAML syntax: a tab cannot indent YAML; use spaces"
        else:
            context = f" ({error.context})" if error.context else ""
            message = f"YAML syntax: {problem}{context}"
        return _unreadable(self.file, message, line, column)

    def _char_at(self, line: int, column: int) -> str:
        lines = self.text.split("\n")
        if 0 < line <= len(lines) and 0 < column <= len(lines[line - 1]):
            return lines[line - 1][column - 1]
        return ""

    def _position_of_offset(self, offset: int) -> tuple[int, int]:
        # libyaml reports a byte offset into the UTF-8 text, PyYAML a character offset.
        prefix = (
            self.text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "replace")
            if _C_LOADER
            else self.text[:offset]
        )
        line = prefix.count("\n") + 1
        return line, len(prefix) - (prefix.rfind("\n") + 1) + 1


def _mark(event: yaml.Event) -> Position:
    mark = event.start_mark
    return Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1)


def _tag_message(tag: str) -> str:
    return f"the tag {_short_tag(tag)} is not allowed; a run-of-show uses plain YAML values"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


# Every non-text value of the core schema starts with one of these (or is empty): other
# scalars, most of a show, skip the patterns below.
_MAYBE_NOT_TEXT = frozenset("nNtTfF~0123456789+-.")


def _resolve_plain(text: str) -> Any:
    if text and text[0] not in _MAYBE_NOT_TEXT:
        return text
    if _NULL.fullmatch(text):
        return None
    if _BOOL.fullmatch(text):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _INT_OCT.fullmatch(text):
        return int(text[2:], 8)
    if _INT_HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


def _to_data(
    node: _Node, path: Path, values: dict[Path, Position], keys: dict[Path, Position]
) -> Any:
    """Plain Python data for ``node``, recording positions under their document paths."""
    values[path] = node.mark
    if node.pairs is not None:
        out: dict[str, Any] = {}
        for key, value in node.pairs:
            child = (*path, key.text)
            keys[child] = key.mark
            out[key.text] = _to_data(value, child, values, keys)
        return out
    if node.items is not None:
        return [_to_data(item, (*path, i), values, keys) for i, item in enumerate(node.items)]
    return node.value


# --- pydantic errors -> problems ------------------------------------------------------------

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "none_required": "nothing",
}

_MISSING = object()


class _Entry(NamedTuple):
    error: Any  # pydantic's ErrorDetails, or runofshow.plain's of the same form
    path: Path  # into the data, union member tags removed
    union_at: Path | None  # where a union member tag was removed


def _explain(
    errors: list[Any], data: dict[str, Any], source: SourceMap, file: str
) -> list[Problem]:
    """Problems for pydantic's errors, or ``runofshow.plain``'s errors of the same form."""
    entries = [_clean(e, data) for e in errors]
    entries = _resolve_unions(entries, data)
    # A misspelt key also shows up as a missing one; the "did you mean" message says it all.
    suggested = {
        (*e.path[:-1], s)
        for e in entries
        if e.error["type"] == "extra_forbidden"
        for s in _suggestions(str(e.path[-1]), e.path[:-1])
    }
    problems: list[Problem] = []
    for entry in entries:
        if entry.error["type"] == "missing" and entry.path in suggested:
            continue
        problems.extend(_problems_for(entry, data, source, file))
    return problems


def _suggestions(key: str, container: Path) -> list[str]:
    return close_matches(key, _allowed_keys(container))


def _clean(error: Any, data: Any) -> _Entry:
    """Map pydantic's location onto the data, dropping union member tags such as ``str``."""
    loc = error["loc"]
    path: list[str | int] = []
    current = data
    union_at: Path | None = None
    for n, part in enumerate(loc):
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif n == len(loc) - 1 and error["type"] == "missing":
            current = _MISSING
        else:
            union_at = tuple(path)
            continue
        path.append(part)
    return _Entry(error, tuple(path), union_at)


def _resolve_unions(entries: list[_Entry], data: Any) -> list[_Entry]:
    """Of the errors each union member reports, keep the ones that help.

    When the value has the shape of one member (a mapping for a model), that member's errors
    are the real ones; when it fits no member at all, one "expected A or B" error is enough.
    """
    plain = [e for e in entries if e.union_at is None]
    groups: dict[Path, list[_Entry]] = {}
    for entry in entries:
        if entry.union_at is not None:
            groups.setdefault(entry.union_at, []).append(entry)
    for point, group in groups.items():
        deep = [e for e in group if e.path != point or e.error["type"] not in _EXPECTED]
        if deep:
            plain.extend(deep)
            continue
        wanted = list(dict.fromkeys(_EXPECTED[e.error["type"]] for e in group))
        merged = dict(group[0].error, type="union_mismatch", ctx={"expected": wanted})
        plain.append(_Entry(merged, point, None))
    return plain


def _problems_for(entry: _Entry, data: Any, source: SourceMap, file: str) -> list[Problem]:
    error, path = entry.error, entry.path
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}

    def at(where: Path, message: str, *, on_key: bool = False) -> Problem:
        position = source.position(where, prefer_key=on_key)
        return Problem(file, position.line, position.column, message)

    if kind == SHOW_RULE:
        out = []
        for violation in ctx["violations"]:
            assert isinstance(violation, RuleViolation)
            message = violation.message
            if violation.first is not None:
                first = source.position((*path, *violation.first))
                message += f" (first used at line {first.line}, column {first.column})"
            if path:
                message = f"{_noun(path, data)}: {message}"
            out.append(at((*path, *violation.where), message, on_key=violation.on_key))
        return out
    if kind == "extra_forbidden":
        key = str(path[-1])
        container = _noun(path[:-1], data)
        message = f"unknown key {key!r} in {container}"
        allowed = _allowed_keys(path[:-1])
        close = _suggestions(key, path[:-1])
        if close:
            message += f"; did you mean {close[0]!r}?"
        elif allowed:
            message += f"; allowed keys: {', '.join(allowed)}"
        return [at(path, message, on_key=True)]
    if kind == "missing":
        key = str(path[-1])
        return [at(path[:-1], f"{_noun(path[:-1], data)} is missing the required key {key!r}")]
    value = _value_at(data, path)
    return [at(path, f"{_noun(path, data)}: {_describe(kind, ctx, error, value)}")]


def _describe(kind: str, ctx: dict[str, Any], error: Any, value: Any) -> str:
    if kind == "union_mismatch":
        return f"expected {' or '.join(ctx['expected'])}, got {_kind_of(value)}"
    if kind in _EXPECTED:
        got = repr(value) if isinstance(value, float) else _kind_of(value)
        message = f"expected {_EXPECTED[kind]}, got {got}"
        if kind == "string_type" and isinstance(value, int | float | bool):
            message += "; put it in quotes to make it text"
        return message
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind in ("enum", "literal_error"):
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if not isinstance(value, str):
            return f"expected one of {', '.join(allowed)}, got {_kind_of(value)}"
        message = f"{value!r} is not one of {', '.join(allowed)}"
        close = close_matches(str(value), allowed)
        return message + (f"; did you mean {close[0]!r}?" if close else "")
    if kind == "string_pattern_mismatch":
        if isinstance(value, str) and ctx.get("pattern") == ID_PATTERN:
            slug = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")[:63] or "part-1"
            return (
                f"{value!r} is not a valid id; use lower-case letters, digits, '-' and '_' "
                f"(e.g. {slug!r})"
            )
        return f"{value!r} does not have the expected form"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return "needs at least one item" if count == 1 else f"needs at least {count} items"
    if kind == "too_long":
        count = ctx.get("max_length")
        return f"has more than {count} items" if count is not None else "is too long"
    bounds = {
        "greater_than_equal": ("ge", "must be at least {}"),
        "greater_than": ("gt", "must be more than {}"),
        "less_than_equal": ("le", "must be at most {}"),
        "less_than": ("lt", "must be less than {}"),
    }
    if kind in bounds:
        name, template = bounds[kind]
        limit = ctx.get(name)
        return template.format(f"{limit:g}" if isinstance(limit, int | float) else limit)
    return str(error["msg"])


def _kind_of(value: Any) -> str:
    if value is None or value is _MISSING:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _value_at(data: Any, path: Path) -> Any:
    current = data
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return current


def _named(path: Path, data: Any) -> tuple[str, Path]:
    """The nearest named thing at or above ``path`` ("segment 'kickoff'") and the rest of it."""
    if len(path) >= 2 and path[0] == "segments" and isinstance(path[1], int):
        segment = _value_at(data, path[:2])
        seg_id = segment.get("id") if isinstance(segment, dict) else None
        name = f"segment {seg_id!r}" if isinstance(seg_id, str) else f"segment {path[1] + 1}"
        if len(path) >= 4 and path[2] == "cues" and isinstance(path[3], int):
            cue = _value_at(data, path[:4])
            cue_id = cue.get("id") if isinstance(cue, dict) else None
            label = f"cue {cue_id!r}" if isinstance(cue_id, str) else f"cue {path[3] + 1}"
            return f"{label} in {name}", path[4:]
        return name, path[2:]
    if len(path) >= 2 and path[0] == "prework" and isinstance(path[1], int):
        return f"pre-work item {path[1] + 1}", path[2:]
    return "", path


def _trail(rest: Path) -> str:
    out = ""
    for part in rest:
        if isinstance(part, int):
            out += f" item {part + 1}"
        else:
            out += f".{part}" if out else part
    return out


def _noun(path: Path, data: Any) -> str:
    """What is at ``path``, as a noun: "segment 'kickoff'", "poll in cue 2 in segment 'x'"."""
    name, rest = _named(path, data)
    trail = _trail(rest)
    if name and trail:
        return f"{trail} in {name}"
    return name or trail or "the show"


def _allowed_keys(path: Path) -> list[str]:
    return plain.allowed_keys(path)
