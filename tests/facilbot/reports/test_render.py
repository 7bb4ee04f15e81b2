"""The renderers' own wording: the journey sections and the times in the show's zone, on report
rows written out by hand (the figures themselves are tested in test_session_report)."""

from __future__ import annotations

from typing import Any

from facilbot.reports.render import _Clock, _journey_lines, _journey_table


def person(name: str, **journey: Any) -> dict[str, Any]:
    section = {
        "participant_ref": name.lower(),
        "name": name,
        "prework_done": False,
        "attended": True,
        "committed": False,
        "asynchronous_commitment": False,
        "reminder_sent": False,
        "check_ins": {},
        "final_answer": None,
        "minutes_attended": 30.0,
        **journey,
    }
    return {"name": name, "journey": section}


def report(*people: dict[str, Any], **session: Any) -> dict[str, Any]:
    return {"session": {"prework_items": 1, "follow_ups": True, **session}, "participants": people}


def test_journey_lines_and_table() -> None:
    found = report(
        person(
            "Ana",
            prework_done=True,
            committed=True,
            reminder_sent=True,
            check_ins={"check-in 90d": "done", "check-in 30d": None},
            final_answer="done",
        ),
        person(
            "Bo",
            attended=False,
            minutes_attended=0.0,
            committed=True,
            asynchronous_commitment=True,
            reminder_sent=True,
            check_ins={"check-in 30d": "partly", "check-in 90d": "not_yet"},
            final_answer="not_yet",
        ),
        person("Cy", minutes_attended=12.5),
        {"name": "Hana Host", "journey": {}},  # hosts have no journey
    )
    assert _journey_lines(found) == [
        "Pre-work done: 1 of 3 (33 %)",
        "Attended live: 2 of 3 (67 %), 42 minutes in all",
        "Committed: 2 of 3 (67 %), 1 of them after the session (asynchronous)",
        "Reminder sent: 2 of 3 (67 %)",
        "Check-in 30d: sent to 2; done 0, partly 1, not yet 0, no answer 1",
        "Check-in 90d: sent to 2; done 1, partly 0, not yet 1, no answer 0",
        "Applied at 90 days (done or partly): pre-work and live 1 of 1 who answered (100 %); "
        "everyone else 0 of 1 who answered (0 %)",
    ]
    header, rows = _journey_table(found)
    assert header == [
        "name",
        "pre-work",
        "live",
        "commitment",
        "reminder",
        "check-in 30d",
        "check-in 90d",
    ]
    assert rows == [
        ["Ana", "done", "30 min", "yes", "sent", "no answer", "done"],
        ["Bo", "–", "no", "yes, after the session", "sent", "partly", "not yet"],
        ["Cy", "–", "12 min", "–", "–", "–", "–"],
    ]


def test_a_show_without_prework_or_follow_ups_says_so() -> None:
    found = report(person("Ana", committed=True), prework_items=0, follow_ups=False)
    assert _journey_lines(found) == [
        "Pre-work: none in this show",
        "Attended live: 1 of 1 (100 %), 30 minutes in all",
        "Committed: 1 of 1 (100 %), 0 of them after the session (asynchronous)",
        "Follow-ups: none in this show",
    ]
    assert _journey_table(found) == (["name", "live", "commitment"], [["Ana", "30 min", "yes"]])
    assert _journey_lines(report({"name": "Ana"})) == []  # no journey sections: no section


def test_times_read_in_the_shows_zone() -> None:
    berlin = _Clock({"session": {"timezone": "Europe/Berlin"}})
    assert berlin.hm("2025-03-04T09:03:00+00:00") == "10:03:00"
    assert berlin.span("2025-03-04T22:30:00+00:00", "2025-03-04T23:10:00+00:00") == (
        "Tue 4 Mar 2025 23:30:00 → Wed 5 Mar 2025 00:10:00"
    )
    assert berlin.label == "Europe/Berlin"
    utc = _Clock({"session": {}})
    assert utc.hm("2025-03-04T09:03:00+00:00") == "09:03:00"
    assert utc.span("2025-03-04T09:00:00+00:00", None) == "Tue 4 Mar 2025 09:00:00 → –"
    assert utc.label == "UTC"
