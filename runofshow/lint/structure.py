"""FB3xx: how a session opens and closes."""

from __future__ import annotations

from collections.abc import Iterator

from runofshow.basics import SegmentKind, Severity
from runofshow.durationtext import format_duration
from runofshow.lint.core import Hit, LintContext, Rule, clock


def _connection_first(ctx: LintContext) -> Iterator[Hit]:
    within = ctx.rules.connection_within
    spans = ctx.schedule.spans
    connection = next((s for s in spans if s.kind == SegmentKind.connection), None)
    if connection is None:
        yield Hit(
            f"the session has no connection activity: open with a check-in (e.g. a one-word "
            f"chat) within the first {format_duration(within)}, before any content",
            ("segments",),
            key=True,
        )
        return
    for span in spans:
        if span is connection:
            break
        if span.kind == SegmentKind.talk:
            yield Hit(
                f"content ('{span.segment_id}', talk) starts at {clock(span.start)}, before the "
                f"connection activity '{connection.segment_id}' at {clock(connection.start)}: "
                "connect people first",
                span.path,
            )
            break
    if connection.start > within:
        yield Hit(
            f"the connection activity '{connection.segment_id}' starts at "
            f"{clock(connection.start)}; start it within the first {format_duration(within)}",
            connection.path,
        )


def _commitments_last(ctx: LintContext) -> Iterator[Hit]:
    within = ctx.rules.commitments_within
    end = ctx.end
    spans = ctx.schedule.spans
    opens = [i for i in ctx.schedule.instants if i.action == "commitments_open"]
    if not opens:
        yield Hit(
            "the session does not end with commitments: add a commitments segment in the last "
            f"{format_duration(within)} (one specific action in the next 48 hours)",
            spans[-1].path,
        )
        return
    last = opens[-1]
    final = spans[-1]
    if last.segment_id != final.segment_id:
        yield Hit(
            f"the session ends with '{final.segment_id}' ({final.kind}) after the commitments "
            f"at {clock(last.at)}: end with the commitments",
            final.path,
        )
    elif end - last.at > within:
        yield Hit(
            f"commitments start at {clock(last.at)}, {format_duration(end - last.at)} before the "
            f"end; start them within the last {format_duration(within)}",
            last.path if last.cue_index is not None else last.path[:2],
        )


RULES = (
    Rule(
        "FB301",
        "connection-first",
        Severity.warning,
        "The first 10 minutes are for connection (a check-in, a one-word chat), not content: "
        "people who have spoken once keep speaking.",
        _connection_first,
    ),
    Rule(
        "FB302",
        "commitments-last",
        Severity.warning,
        "Every session ends with a commitment to action (one specific action in the next "
        "48 hours), which the follow-up reminds people of a week later.",
        _commitments_last,
    ),
)
