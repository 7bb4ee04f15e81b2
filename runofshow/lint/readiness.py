"""FB6xx: is the show ready to run: producer notes and the asynchronous alternative."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from runofshow.basics import INTERACTIVE_KINDS, Severity, cues_of, segments_of
from runofshow.lint.core import Hit, LintContext, Rule
from runofshow.schedule import Path

if TYPE_CHECKING:
    from runofshow.shapes import AnyProducerNotes


def _has_notes(notes: str | AnyProducerNotes | None) -> bool:
    if notes is None or isinstance(notes, str):
        return bool(notes and notes.strip())
    return any((notes.watch_for, notes.keep_same, notes.flex))


def _producer_notes(ctx: LintContext) -> Iterator[Hit]:
    for index, segment in enumerate(segments_of(ctx.show)):
        if _has_notes(segment.producer_notes):
            continue  # segment-level notes cover its cues
        base: Path = ("segments", index)
        interactive = [(i, c) for i, c in enumerate(cues_of(segment)) if c.interactive]
        missing = [(i, c) for i, c in interactive if not _has_notes(c.producer_notes)]
        if segment.kind in INTERACTIVE_KINDS and len(missing) == len(interactive):
            yield Hit(
                f"the {segment.kind} segment '{segment.id}' has no producer notes: say why it is "
                "there, what to watch for, what stays the same across cohorts and where to flex",
                base,
            )
            continue
        for i, cue in missing:
            yield Hit(
                f"the {cue.action} cue '{segment.cue_id(i)}' has no producer notes (on the cue or "
                "its segment): say why it is there and what to watch for",
                (*base, "cues", i),
            )


def _access(ctx: LintContext) -> Iterator[Hit]:
    access = ctx.show.access
    missing = [n for n in ("recording", "captions", "transcript") if getattr(access, n) is None]
    if not missing:
        return
    names = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    verb = "is" if len(missing) == 1 else "are"
    yield Hit(
        f"access: {names} {verb} not declared; say true or false, so people who cannot attend "
        "or hear know what they will get",
        ("access",),
        key=True,
    )


RULES = (
    Rule(
        "FB601",
        "producer-notes",
        Severity.advice,
        "A producer beside the facilitator runs the polls, chat and rooms, and needs to know "
        "from the run-of-show why each interaction is there and what to watch for.",
        _producer_notes,
    ),
    Rule(
        "FB602",
        "access",
        Severity.advice,
        "Every live activity has an asynchronous alternative for people who could not attend: "
        "a recording, captions and a transcript, declared up front.",
        _access,
    ),
)
