"""Adaptive Cards the bot posts: a poll and its live results.

The poll card has one ``Input.ChoiceSet`` (id ``choice``; values are option indexes, so option
texts with commas survive Teams' comma-joined multi-select answer) and an ``Action.Submit`` whose
``data`` carries the poll key and the options. Teams sends the inputs merged with ``data`` back
as the ``value`` of a message activity (activities.py reads it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from integrations.contract import OpenPoll

from .activities import POLL_MARKER

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.4"  # rendered by Teams desktop, web and mobile


def poll_card(poll: OpenPoll) -> dict[str, Any]:
    choices = [{"title": option, "value": str(i)} for i, option in enumerate(poll.options)]
    hint = "Choose one or more." if poll.multiple else "Choose one."
    if poll.anonymous:
        hint += " Answers are shown only as totals."
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": [
            {"type": "TextBlock", "text": poll.question, "wrap": True, "weight": "Bolder"},
            {"type": "TextBlock", "text": hint, "wrap": True, "isSubtle": True, "size": "Small"},
            {
                "type": "Input.ChoiceSet",
                "id": "choice",
                "style": "expanded",
                "isMultiSelect": poll.multiple,
                "isRequired": True,
                "errorMessage": "Pick an answer first.",
                "choices": choices,
            },
        ],
        "actions": [
            {
                "type": "Action.Submit",
                "title": "Submit",
                "data": {POLL_MARKER: poll.poll_key, "options": list(poll.options)},
            }
        ],
    }


def results_card(
    question: str,
    options: Sequence[str],
    counts: Mapping[str, int],
    *,
    closed: bool,
) -> dict[str, Any]:
    """Totals per option; replaces the poll card when the poll closes, or lives beside it."""
    total = sum(counts.get(option, 0) for option in options)
    rows: list[dict[str, Any]] = []
    for option in options:
        count = counts.get(option, 0)
        share = round(100 * count / total) if total else 0
        rows.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [{"type": "TextBlock", "text": option, "wrap": True}],
                    },
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [{"type": "TextBlock", "text": f"{count} ({share} %)"}],
                    },
                ],
            }
        )
    status = "Poll closed" if closed else "Live results"
    answers = "1 answer" if total == 1 else f"{total} answers"
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": [
            {"type": "TextBlock", "text": question, "wrap": True, "weight": "Bolder"},
            {"type": "TextBlock", "text": f"{status} · {answers}", "isSubtle": True},
            *rows,
        ],
    }


def card_activity(card: Mapping[str, Any], *, summary: str | None = None) -> dict[str, Any]:
    """A message activity carrying one Adaptive Card attachment."""
    activity: dict[str, Any] = {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": dict(card)}],
    }
    if summary:
        activity["summary"] = summary
    return activity


def text_activity(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text, "textFormat": "plain"}
