"""The companion page's link key and view, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from facilbot.engine.state import SegmentView, SessionState
from facilbot.pages import companion
from runofshow.loader import load_show_text
from tests.pages.conftest import SHOW

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
SESSION = "6f1c1d2e-0000-4000-8000-000000000001"


def state(**changes: object) -> SessionState:
    base: dict[str, object] = {
        "id": SESSION,
        "status": "running",
        "show_title": "Pages test",
        "show_version_id": 1,
        "platform": "sim",
        "meeting_ref": "m",
        "now": NOW,
    }
    base.update(changes)
    return SessionState.model_validate(base)


def segment(kind: str, end: datetime | None = None, segment_id: str = "x") -> SegmentView:
    return SegmentView(id=segment_id, kind=kind, title=None, start=NOW, end=end, state="current")


SHOW_MODEL = load_show_text(SHOW, file="pages-test.yaml").show


def test_keys_are_per_session_and_per_secret() -> None:
    key = companion.companion_key(b"secret-one", SESSION)
    assert companion.key_matches(b"secret-one", SESSION, key)
    assert not companion.key_matches(b"secret-two", SESSION, key)
    assert not companion.key_matches(b"secret-one", SESSION.replace("1", "2"), key)
    assert not companion.key_matches(b"secret-one", SESSION, key[:-1])
    assert not companion.key_matches(b"secret-one", SESSION, key + "é")
    assert len(key) == 43 and "=" not in key  # 256 bits, URL-safe, fits a fragment


def test_the_form_stays_open_through_the_recap_after_the_end() -> None:
    ended = NOW - companion.FORM_OPEN_AFTER_END
    assert companion.accepting_commitments(SHOW_MODEL, "running", None, NOW)
    assert companion.accepting_commitments(SHOW_MODEL, "ended", ended, NOW)
    assert not companion.accepting_commitments(
        SHOW_MODEL, "ended", ended - timedelta(seconds=1), NOW
    )
    assert not companion.accepting_commitments(SHOW_MODEL, "waiting", None, NOW)
    assert not companion.accepting_commitments(SHOW_MODEL, "attached", None, NOW)


def test_a_break_counts_down_to_the_end_of_its_segment() -> None:
    end = NOW + timedelta(minutes=10)
    view = companion.build_view(
        state(current_segment=segment("break", end), segment_time_left_seconds=600.0),
        {},
        SHOW_MODEL,
        ended_at=None,
    )
    assert view.on_break is not None
    assert view.on_break.ends_at == end and view.on_break.text == "Break"
    live = {"break": {"text": "Back at 10:10", "duration": 600, "kind": "start_break"}}
    view = companion.build_view(
        state(current_segment=segment("break", end)), live, SHOW_MODEL, ended_at=None
    )
    assert view.on_break is not None and view.on_break.text == "Back at 10:10"


def test_the_commitment_form_follows_the_segment_and_the_end() -> None:
    during = companion.build_view(
        state(current_segment=segment("commitments", segment_id="commit")),
        {},
        SHOW_MODEL,
        ended_at=None,
    )
    assert during.commitments == companion.FormOut(
        prompt="One action you will take in the next 48 hours.", accepting=True
    )
    before = companion.build_view(state(status="waiting"), {}, SHOW_MODEL, ended_at=None)
    assert before.commitments is None
    after = companion.build_view(
        state(status="ended"), {}, SHOW_MODEL, ended_at=NOW - timedelta(hours=1)
    )
    assert after.commitments == companion.FormOut(prompt=companion.DEFAULT_PROMPT, accepting=True)
    long_after = companion.build_view(
        state(status="ended"), {}, SHOW_MODEL, ended_at=NOW - timedelta(days=8)
    )
    assert long_after.commitments is None


def test_after_the_end_the_live_parts_give_way_to_the_recap() -> None:
    live = {
        "prompt": "In one word, how are you arriving?",
        "poll": {"poll_key": "welcome-2", "question": "Which?", "options": ["A", "B"]},
        "rooms": [{"name": "Room 1", "names": ["Ada", "Bob"]}],
    }
    running = companion.build_view(state(), live, SHOW_MODEL, ended_at=None)
    assert running.prompt and running.poll and running.rooms
    ended = companion.build_view(
        state(status="ended"), live, SHOW_MODEL, ended_at=NOW - timedelta(hours=1)
    )
    assert (ended.prompt, ended.poll, ended.results, ended.rooms) == (None, None, None, [])


def test_rooms_show_names_not_ids() -> None:
    live = {
        "rooms": [
            {"name": "Room 1", "participant_ids": ["p-1", "p-2"], "names": ["Ada", "Bob"]},
        ],
        "prompt": "Go!",
    }
    view = companion.build_view(state(), live, SHOW_MODEL, ended_at=None)
    assert [room.model_dump() for room in view.rooms] == [
        {"name": "Room 1", "people": ["Ada", "Bob"]}
    ]
    assert "p-1" not in view.model_dump_json()
    assert view.prompt == "Go!"
