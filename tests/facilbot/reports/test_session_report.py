"""A show driven on the virtual clock, then its report checked figure by figure against values
worked out by hand below (never read back from the plan).

The story (START = 09:00 UTC, the planned start):

* the show starts 3 minutes late, at 09:03;
* ``arrive`` (connection, 5m) 09:03–09:08; Ana types at 09:04;
* ``talk`` (talk, 6m) from 09:08: the poll opens at 09:09 and closes at 09:11, the producer cue
  "lights" at 09:11 goes to the producer, who confirms it; the producer extends talk by 2m at
  09:10, so it runs 09:08–09:16 (8m, overrun 2m);
* ``work`` (activity, 12m) from 09:16: skipped at 09:20 (4m), its say at 5m never fires;
* ``wrap`` (talk, 6m) 09:20–09:26;
* the 25/5 break rule: 09:03→09:26 is 23m of work and commitments would make it 28m, so the
  guard puts a 5m break at the end of wrap: 09:26–09:31, warned 5m ahead (09:21);
* ``commit`` (commitments, 5m) 09:31–09:36; Ana and Dev commit; the show ends at 09:36.

People: Hana (host) 09:00–end; Ana 09:01–end; Ben 09:01–09:12 and 09:15–end (leaves and comes
back); Cleo joins late at 09:10; Dev joins late at 09:22. Poll answers: Ana (Speed) 09:09:30,
Cleo (Quality) 09:10:30.
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from datetime import datetime, timedelta
from typing import Any

from facilbot.auth import Role
from facilbot.reports import render
from integrations.contract import (
    ChatMessage,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    PollAnswer,
)
from integrations.contract import Role as MeetingRole
from tests.support.api import START, ApiHarness

SHOW = """\
title: Report test show
duration: 34m
rules: {interaction_gap: 7m, breaks: ["25/5"]}
segments:
  - id: arrive
    kind: connection
    duration: 5m
    cues:
      - at: 0m
        say: "In one word, how are you arriving today?"
  - id: talk
    kind: talk
    duration: 6m
    cues:
      - at: 1m
        poll: {question: "Which matters most?", options: [Speed, Quality]}
      - at: 3m
        id: lights
        producer: "Dim the lights"
  - id: work
    kind: activity
    duration: 12m
    cues:
      - at: 5m
        say: "Share one example in the chat."
  - id: wrap
    kind: talk
    duration: 6m
  - id: commit
    kind: commitments
    duration: 5m
    prompt: "Type one specific action you will take in the next 48 hours."
"""

_ids = itertools.count(1)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def iso(minutes: float) -> str:
    return at(minutes).isoformat()


async def until(api: ApiHarness, minutes: float) -> None:
    await api.advance((at(minutes) - api.clock.now()).total_seconds())


async def happen(api: ApiHarness, meeting: str, event_type: type[Any], **fields: Any) -> None:
    event = event_type(
        platform="sim",
        meeting_ref=meeting,
        event_id=f"e{next(_ids)}",
        occurred_at=api.clock.now(),
        **fields,
    )
    await api.engine.ingest(event)
    await api.settle()


async def join(api: ApiHarness, meeting: str, ref: str, name: str, host: bool = False) -> None:
    role = MeetingRole.host if host else MeetingRole.attendee
    person = Participant(id=ref, name=name, role=role)
    await happen(api, meeting, ParticipantJoined, participant=person)


async def say(api: ApiHarness, meeting: str, ref: str, name: str, text: str) -> None:
    await happen(api, meeting, ChatMessage, sender_id=ref, sender_name=name, text=text)


async def report_of(api: ApiHarness, session_id: str, **params: str) -> Any:
    response = await api.client.get(
        f"/sessions/{session_id}/report", params=params, headers=api.auth(Role.viewer)
    )
    assert response.status_code == 200, response.text
    return response


async def first_session(api: ApiHarness) -> str:
    version = await api.upload(SHOW, name="reportshow")
    session_id = await api.attach(
        version, "sim-r1", planned_start=iso(0), producers=[{"name": "Pat Producer"}]
    )
    m = "sim-r1"
    await join(api, m, "h", "Hana Host", host=True)
    await until(api, 1)
    await join(api, m, "a", "Ana")
    await join(api, m, "b", "Ben")
    await until(api, 3)
    await api.control(session_id, "start")
    await until(api, 4)
    await say(api, m, "a", "Ana", "curious")
    await until(api, 9.5)
    await happen(api, m, PollAnswer, poll_key="talk-1", participant_id="a", choices=("Speed",))
    await until(api, 10)
    await api.control(session_id, "extend", seconds=120)
    await join(api, m, "c", "Cleo")
    await until(api, 10.5)
    await happen(api, m, PollAnswer, poll_key="talk-1", participant_id="c", choices=("Quality",))
    await until(api, 11.25)
    state = (await api.client.get(f"/sessions/{session_id}", headers=api.auth())).json()
    lights = next(c for c in state["producer_cues"] if c["key"] == "lights")
    done = await api.client.post(
        f"/sessions/{session_id}/firings/{lights['firing_id']}/ack", headers=api.auth()
    )
    assert done.status_code in (200, 204), done.text
    await until(api, 12)
    await happen(api, m, ParticipantLeft, participant_id="b")
    await until(api, 15)
    await join(api, m, "b", "Ben")
    await until(api, 17)
    await say(api, m, "c", "Cleo", "an example")
    await until(api, 20)
    await api.control(session_id, "skip")
    await until(api, 22)
    await join(api, m, "d", "Dev")
    # a running session's report is partial
    partial = (await report_of(api, session_id)).json()
    assert partial["session"]["partial"] is True
    assert partial["session"]["status"] == "running"
    await until(api, 28)
    await say(api, m, "a", "Ana", "I will call the CFO on Monday")
    await say(api, m, "d", "Dev", "Draft the pilot plan")
    await until(api, 40)
    return session_id


async def test_session_report_figures(api: ApiHarness) -> None:
    session_id = await first_session(api)
    note = await api.client.post(
        f"/sessions/{session_id}/notes",
        json={"segment_id": "talk", "text": "The poll options needed clarifying"},
        headers=api.auth(Role.facilitator),
    )
    assert note.status_code == 201, note.text
    report = (await report_of(api, session_id)).json()
    s = report["session"]
    assert s["partial"] is False and s["status"] == "ended"
    assert s["planned_start"] == iso(0)
    assert s["planned_end"] == iso(34)
    assert s["actual_start"] == iso(3)
    # 25/5 from 09:03: 28m of work to the end at 09:31, 3m past the limit, within the 5m that
    # the end of the session may count as the break (runofshow.guards.end_allowance): no
    # guard break is inserted to send people away just before the close.
    assert s["actual_end"] == iso(31)
    assert s["late_start_seconds"] == 180
    assert s["end_difference_seconds"] == -180
    assert s["why"] == [
        {"reason": "late start", "seconds": 180},
        {"reason": "extensions (1)", "seconds": 120},
        {"reason": "skipped or cut (work; 1 skip controls)", "seconds": -480},
    ]
    rows = {r["key"]: r for r in report["segments"]}
    expected = {
        # key: planned start (min), planned length (s), actual start (min), length (s), state
        "arrive": (0, 300, 3, 300, "done"),
        "talk": (5, 360, 8, 480, "done"),
        "work": (11, 720, 16, 240, "cut short"),
        "wrap": (23, 360, 20, 360, "done"),
        "commit": (29, 300, 26, 300, "done"),
    }
    for key, (p0, plen, a0, alen, state) in expected.items():
        row = rows[key]
        assert row["id"] == key
        assert row["planned_start"] == iso(p0), key
        assert row["planned_seconds"] == plen, key
        assert row["actual_start"] == iso(a0), key
        assert row["actual_seconds"] == alen, key
        assert row["overrun_seconds"] == alen - plen, key
        assert row["state"] == state, key
    assert [r for r in report["segments"] if r["inserted"]] == []

    cues = {c["key"]: c for c in report["cues"]}
    assert cues["arrive-1"]["planned_at"] == iso(3)
    assert cues["arrive-1"]["fired_at"] == iso(3)
    assert cues["arrive-1"]["late_seconds"] == 0
    assert cues["talk-1"]["fired_at"] == iso(9)
    assert cues["talk-1"]["action"] == "poll_open"
    assert cues["lights"]["fired_at"] == iso(11)
    assert cues["lights"]["by_hand"] is True
    assert cues["lights"]["done_by_hand"] is True
    assert cues["lights"]["producers"] == ["Pat Producer"]
    # who pressed "done", and when: the producer token's name, at 09:11:15 on the virtual clock
    assert cues["lights"]["done_by"] == "producer tester"
    assert cues["lights"]["done_at"] == iso(11.25)
    assert report["summary"]["by_hand_done_by"] == {"producer tester": 1}
    assert cues["work-1"]["status"] == "skipped"
    assert cues["work-1"]["fired_at"] is None
    assert cues["commit@open"]["fired_at"] == iso(26)
    assert cues["work-1"]["planned_at"] == iso(21)  # 5m into work, which began at 09:16
    assert report["guards"] == []

    practices = report["practices"]
    # Interaction: arrive (connection) covers 3–8; poll at 9; work (activity) 16–20; commit
    # 26–31 covers the rest. Uncovered: 8–9 (1m), 9–16 (7m, minus nothing), 20–26 (6m). The
    # say in work never fired.
    gap = practices["interaction_gap"]
    assert gap["longest_seconds"] == 420
    assert gap["from"] == iso(9)
    assert gap["to"] == iso(16)
    assert gap["segment_id"] == "talk"
    assert gap["kept"] is True
    assert gap["over_limit"] == []
    # 25/5: work 03–31 = 28m with no break; the end counts as the break, 3m past the limit
    # and within its 5m allowance.
    assert practices["rules"] == [
        {
            "rule": "25/5",
            "longest_work_seconds": 1680,
            "limit_seconds": 1500,
            "end_allowance_seconds": 300,
            "kept": True,
        }
    ]
    assert practices["breaks"] == []
    assert practices["connection"]["offset_seconds"] == 0
    assert practices["connection"]["kept"] is True
    # Talk: talk 8m + wrap 6m = 14m of 28m non-break
    # (arrive 5 + talk 8 + work 4 + wrap 6 + commit 5).
    assert practices["talk_share"]["talk_seconds"] == 840
    assert practices["talk_share"]["non_break_seconds"] == 1680
    assert practices["talk_share"]["percent"] == 50.0
    assert practices["talk_share"]["kept"] is False
    assert practices["commitments"] == {"committed": 2, "present": 4, "percent": 50.0}

    controls = [(c["kind"], c["at"], c["by"]) for c in report["controls"]]
    assert controls == [
        ("start", iso(3), "producer tester"),
        ("extend", iso(10), "producer tester"),
        ("skip", iso(20), "producer tester"),
    ]

    people = {p["name"]: p for p in report["participants"]}
    assert set(people) == {"Hana Host", "Ana", "Ben", "Cleo", "Dev"}
    assert people["Ana"]["intervals"] == [{"joined": iso(1), "left": iso(31)}]
    assert people["Ana"]["minutes_present"] == 30
    assert people["Ben"]["intervals"] == [
        {"joined": iso(1), "left": iso(12)},
        {"joined": iso(15), "left": iso(31)},
    ]
    assert people["Ben"]["minutes_present"] == 27
    assert people["Ben"]["returns"] == 1
    assert people["Cleo"]["joined_late_seconds"] == 420
    assert people["Cleo"]["minutes_present"] == 21
    assert people["Dev"]["joined_late_seconds"] == 1140
    assert people["Dev"]["minutes_present"] == 9
    assert people["Ana"]["messages"] == 2 and people["Ana"]["answers"] == 1
    assert people["Ana"]["active"] and people["Cleo"]["active"] and people["Dev"]["active"]
    assert people["Ben"]["active"] is False
    assert report["summary"]["attendees"] == 4
    assert report["summary"]["active"] == 3
    per_segment = {a["key"]: a["events"] for a in report["activity"]["per_segment"]}
    assert per_segment["arrive"] == 1  # Ana's chat
    assert per_segment["talk"] == 2  # two poll answers
    assert per_segment["work"] == 1  # Cleo's chat
    assert per_segment["commit"] == 2

    (poll,) = report["polls"]
    assert poll["question"] == "Which matters most?"
    assert poll["counts"] == {"Speed": 1, "Quality": 1}
    # present during 09:09–09:11: Ana, Ben, Cleo (joined 09:10); 2 of 3 answered
    assert poll["present"] == 3
    assert poll["response_rate"] == 66.7

    texts = {c["name"]: c["text"] for c in report["commitments"]["items"]}
    assert texts == {"Ana": "I will call the CFO on Monday", "Dev": "Draft the pilot plan"}
    assert report["commitments"]["present_without"] == ["Ben", "Cleo"]
    assert [n["text"] for n in report["notes"]] == ["The poll options needed clarifying"]

    # the other formats carry the same figures
    page = (await report_of(api, session_id, format="html")).text
    assert "<svg" in page and "planned versus actual" in page.lower()
    # The journey around the live hour: the show has no pre-work and no follow-ups; minutes
    # live are counted from the start (09:03) to the end (09:31): Ana 28, Ben 9 + 16, Cleo 21,
    # Dev 9 (the host has no journey).
    assert 'id="journey"' in page
    assert "Pre-work: none in this show" in page
    assert "Attended live: 4 of 4 (100 %), 83 minutes in all" in page
    assert "Committed: 2 of 4 (50 %), 0 of them after the session (asynchronous)" in page
    text = render.to_text(report)
    assert "  planned Tue 4 Mar 2025 09:00:00 → 09:34:00 (34m)" in text
    assert "  actual  Tue 4 Mar 2025 09:03:00 → 09:31:00 (28m); late start 3m" in text
    assert "Follow-ups: none in this show" in text
    table = (await report_of(api, session_id, format="csv", table="segments")).content
    parsed = list(csv.DictReader(io.StringIO(table.decode("utf-8-sig"))))
    assert [r["id"] for r in parsed][:3] == ["arrive", "talk", "work"]
    assert parsed[1]["actual_seconds"] == "480"
    archive = zipfile.ZipFile(io.BytesIO((await report_of(api, session_id, format="csv")).content))
    assert sorted(archive.namelist()) == sorted(
        f"{t}.csv"
        for t in (
            "segments",
            "cues",
            "attendance",
            "poll_answers",
            "commitments",
            "controls",
            "notes",
        )
    )
    assert b"\r\n" in archive.read("attendance.csv")


async def second_session(api: ApiHarness) -> str:
    """The next cohort, on version 2 (commitments 6m instead of 5m), started on time at 10:00."""
    text = SHOW.replace("    duration: 5m\n    prompt:", "    duration: 6m\n    prompt:").replace(
        "duration: 34m", "duration: 35m"
    )
    version = await api.upload(text, name="reportshow")
    session_id = await api.attach(version, "sim-r2", planned_start=iso(60))
    m = "sim-r2"
    await until(api, 59)
    await join(api, m, "e", "Eve")
    await join(api, m, "f", "Finn")
    await until(api, 60)
    await api.control(session_id, "start")
    await until(api, 61.5)
    await say(api, m, "e", "Eve", "awake")
    await until(api, 66.5)
    await happen(api, m, PollAnswer, poll_key="talk-1", participant_id="e", choices=("Speed",))
    await until(api, 80)
    await happen(api, m, ParticipantLeft, participant_id="f")
    await until(api, 96)
    await say(api, m, "e", "Eve", "Ask my team one question")
    await until(api, 100)
    return session_id


async def test_cohort_report(api: ApiHarness) -> None:
    first = await first_session(api)
    second = await second_session(api)
    for session_id, segment, role in (
        (first, "talk", Role.facilitator),
        (second, "work", Role.producer),
    ):
        response = await api.client.post(
            f"/sessions/{session_id}/notes",
            json={"segment_id": segment, "text": f"note on {segment}"},
            headers=api.auth(role),
        )
        assert response.status_code == 201, response.text
    response = await api.client.get("/shows/reportshow/report", headers=api.auth(Role.viewer))
    assert response.status_code == 200, response.text
    cohort = response.json()
    sessions = cohort["sessions"]
    assert [s["id"] for s in sessions] == [first, second]
    assert [s["show_version"] for s in sessions] == [1, 2]
    assert [s["late_start_seconds"] for s in sessions] == [180, 0]
    # first: 3m early (see test_session_report_figures); second: planned 10:00–10:35, ended
    # 10:40 after the guard's 5m break at 10:23
    assert [s["end_difference_seconds"] for s in sessions] == [-180, 300]
    # second: longest without interaction is wrap, 10:28–10:34, after the break
    assert [s["interaction_gap_seconds"] for s in sessions] == [420, 360]
    assert [s["breaks_kept"] for s in sessions] == [{"25/5": True}, {"25/5": True}]
    assert [s["attendees"] for s in sessions] == [4, 2]
    assert [s["active_percent"] for s in sessions] == [75.0, 50.0]
    assert [s["commitment_percent"] for s in sessions] == [50.0, 50.0]
    # the rehearsal meeting carries chat and polls (facilbot.platforms.sim): what went to the
    # producer's hands is what is meant for the producer (cues and break warnings)
    assert [s["by_hand"] for s in sessions] == [1, 2]
    # the first session's "lights" was marked done (see test_session_report_figures)
    assert [s["by_hand_done"] for s in sessions] == [1, 0]
    assert [s["by_hand_done_by"] for s in sessions] == [{"producer tester": 1}, {}]
    assert [s["interventions"] for s in sessions] == [3, 1]
    segments = {row["id"]: row for row in cohort["segments"]}
    talk = segments["talk"]
    assert [r["actual_seconds"] for r in talk["runs"]] == [480, 360]
    assert talk["median_actual_seconds"] == 420
    assert (talk["min_actual_seconds"], talk["max_actual_seconds"]) == (360, 480)
    assert talk["overran_in"] == [first]
    assert talk["median_overrun_of_overran"] == 120
    work = segments["work"]
    assert [r["state"] for r in work["runs"]] == ["cut short", "done"]
    assert work["median_actual_seconds"] == 480  # (240 + 720) / 2
    assert work["overran_in"] == []
    assert segments["commit"]["planned_seconds"] == [300, 360]
    (poll,) = cohort["polls"]
    assert poll["question"] == "Which matters most?"
    assert [p["counts"] for p in poll["sessions"]] == [
        {"Speed": 1, "Quality": 1},
        {"Speed": 1, "Quality": 0},
    ]
    # second: Eve and Finn present 10:06–10:08, Eve answered
    assert [p["response_rate"] for p in poll["sessions"]] == [66.7, 50.0]
    assert poll["totals"] == {"Speed": 2, "Quality": 1}
    assert {k: [n["text"] for n in v] for k, v in cohort["notes"].items()} == {
        "talk": ["note on talk"],
        "work": ["note on work"],
    }
    assert cohort["version_changes"] == [
        {"from": 1, "to": 2, "changes": ["commit: 5m → 6m", "show length 34m → 35m"]}
    ]
    # the journey across both sessions: 4 + 2 people, Ana, Dev and Eve committed; live minutes
    # 83 (see test_session_report_figures) + Eve 40 (10:00–10:40) + Finn 20 (10:00–10:20)
    assert cohort["journey_lines"][:4] == [
        "Pre-work: none in this show",
        "Attended live: 6 of 6 (100 %), 143 minutes in all",
        "Committed: 3 of 6 (50 %), 0 of them after the session (asynchronous)",
        "Follow-ups: none in this show",
    ]
    texts = [x["text"] for x in cohort["suggestions"]]
    assert (
        texts[0]
        == "talk overran in 1 of 2 sessions, by a median of 2m: plan 8m or cut something from it"
    )
    assert any(
        t.startswith("commitments came from fewer than 70 % of the people present in 2 of 2")
        for t in texts
    )
    # Only producer cues went to the producer's hands (they are meant for the producer), so no
    # action was done by hand in every session.
    assert not any("by hand in every" in t for t in texts)
    assert not any(t.startswith("the poll") for t in texts)  # median rate 58 %: fine

    # the viewer reads; only producers and facilitators write notes; nobody reads without a token
    denied = await api.client.post(
        f"/sessions/{first}/notes", json={"text": "x"}, headers=api.auth(Role.viewer)
    )
    assert denied.status_code == 403
    assert (await api.client.get(f"/sessions/{first}/report")).status_code == 401
    assert (await api.client.get("/shows/reportshow/report")).status_code == 401
    unknown = await api.client.post(
        f"/sessions/{first}/notes",
        json={"segment_id": "nope", "text": "x"},
        headers=api.auth(Role.producer),
    )
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"]
    missing = await api.client.get("/shows/nothing/report", headers=api.auth(Role.viewer))
    assert missing.status_code == 404


async def test_report_before_the_start(api: ApiHarness) -> None:
    """Attached, not started: a partial report with nothing actual, in every format."""
    version = await api.upload(SHOW, name="reportshow")
    session_id = await api.attach(version, "sim-r3", planned_start=iso(30))
    report = (await report_of(api, session_id)).json()
    assert report["session"]["partial"] is True
    assert report["session"]["actual_start"] is None
    assert [row["state"] for row in report["segments"]] == ["not reached"] * 5
    assert report["cues"] == [] and report["participants"] == []
    assert "has not started" in (await report_of(api, session_id, format="html")).text
    assert (await report_of(api, session_id, format="csv")).status_code == 200
    cohort = await api.client.get("/shows/reportshow/report", headers=api.auth(Role.viewer))
    assert cohort.status_code == 200
    assert cohort.json()["suggestions"] == []
    refused = await api.client.get(
        f"/sessions/{session_id}/report",
        params={"format": "json", "table": "cues"},
        headers=api.auth(Role.viewer),
    )
    assert refused.status_code == 422
