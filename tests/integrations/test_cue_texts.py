"""Texts a producer reads or pastes are whole sentences: no empty room list after a colon, no
log line ("break called by the producer: 10m") pasted into the meeting chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.contract import OpenBreakouts, Room
from integrations.routing import to_producer_cue
from runofshow.controls import CallBreak, Start
from runofshow.loader import load_show_text
from runofshow.plan import live_plan

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def test_rooms_with_nobody_to_assign_say_what_to_do() -> None:
    cue = to_producer_cue(OpenBreakouts(rooms=(), duration=900))
    assert cue.text == (
        "Open breakout rooms now for 15 min: nobody was in the meeting to assign, so let the "
        "platform assign people automatically."
    )
    assert cue.paste is None
    listed = to_producer_cue(OpenBreakouts(rooms=(Room("Room 1", ("a",), ("Ada",)),), duration=60))
    assert listed.text == "Open 1 breakout room now for 1 min: Room 1: Ada"


def test_a_called_break_posts_a_sentence() -> None:
    show = load_show_text(
        "title: T\nduration: 10m\nsegments:\n  - {id: a, kind: talk, duration: 10m}\n", "t.yaml"
    ).show
    now = T0 + timedelta(minutes=2)
    plan = live_plan(show, [Start(T0), CallBreak(now, seconds=600)], now)
    [start] = [item for item in plan.items if item.action == "break_start"]
    assert start.text == "Break: back in 10 min. Stretch, get water, look away."
