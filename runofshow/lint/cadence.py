"""FB1xx: interaction cadence."""

from __future__ import annotations

from collections.abc import Iterator

from runofshow.basics import Severity
from runofshow.durationtext import format_duration
from runofshow.lint.core import Hit, LintContext, Rule, clock, length
from runofshow.schedule import Path, interaction_gaps


def _cadence(ctx: LintContext) -> Iterator[Hit]:
    limit = ctx.rules.interaction_gap
    schedule = ctx.schedule
    for start, end in interaction_gaps(schedule.spans, schedule.instants):
        if end - start <= limit:
            continue
        yield Hit(
            f"{length(end - start)} without an interaction, {clock(start)}–{clock(end)} "
            f"(limit {format_duration(limit)}): add a poll, chat prompt or turn-and-talk "
            f"by {clock(start + limit)}",
            _where(ctx, start),
        )


def _where(ctx: LintContext, start: int) -> Path:
    """The cue the stretch starts after, or the segment it starts with."""
    span = ctx.span_at(start)
    if start != span.start:
        for instant in ctx.schedule.instants:
            if instant.at == start and instant.interactive:
                return instant.path
    return span.path


RULES = (
    Rule(
        "FB101",
        "interaction-cadence",
        Severity.error,
        "An interaction (poll, chat prompt, turn-and-talk, breakout) every 5–7 minutes keeps "
        "a virtual audience with you; attention drops after a few minutes of broadcast.",
        _cadence,
    ),
)
