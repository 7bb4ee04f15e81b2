from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.contract import Participant, Room
from integrations.rooms import assign_rooms, plan_rooms, room_count

DEPARTMENTS = ("Sales", "Finance", "Ops", "People")


def people(n: int, departments: list[str] | None = None) -> list[Participant]:
    chosen = departments or [DEPARTMENTS[i % len(DEPARTMENTS)] for i in range(n)]
    return [
        Participant(
            f"p{i}", f"Person {i}", f"person{i}@example.com", attributes={"department": chosen[i]}
        )
        for i in range(n)
    ]


def assigned(rooms: tuple[Room, ...]) -> list[str]:
    return [pid for room in rooms for pid in room.participant_ids]


crowds = st.integers(min_value=0, max_value=60).flatmap(
    lambda n: st.lists(st.sampled_from(DEPARTMENTS), min_size=n, max_size=n)
)
sizing = st.one_of(
    st.tuples(st.integers(1, 12), st.none()),
    st.tuples(st.none(), st.integers(1, 20)),
    st.tuples(st.none(), st.none()),
)


@settings(max_examples=200, deadline=None)
@given(
    departments=crowds,
    sizing=sizing,
    method=st.sampled_from(["random", "mix_by"]),
    seed=st.integers(),
)
def test_everyone_once_and_sizes_balanced(
    departments: list[str],
    sizing: tuple[int | None, int | None],
    method: Literal["random", "mix_by"],
    seed: int,
) -> None:
    crowd = people(len(departments), departments)
    size, count = sizing
    rooms = assign_rooms(
        crowd,
        size=size,
        rooms=count,
        method=method,
        mix_by="department",
        seed=seed,
    )
    ids = assigned(rooms)
    assert sorted(ids) == sorted(p.id for p in crowd)  # everyone exactly once
    sizes = [len(room.participant_ids) for room in rooms]
    if crowd:
        assert max(sizes) - min(sizes) <= 1
        if len(crowd) >= 2:
            assert min(sizes) >= 2, "nobody alone when it can be avoided"
        if size is not None:
            assert len(rooms) <= max(1, -(-len(crowd) // size))
        if count is not None:
            assert len(rooms) <= count
    else:
        assert rooms == ()
    for room in rooms:
        assert len(room.names) == len(room.participant_ids)


@settings(max_examples=200, deadline=None)
@given(departments=crowds, rooms=st.integers(1, 10), seed=st.integers())
def test_mix_by_spreads_each_department_evenly(
    departments: list[str], rooms: int, seed: int
) -> None:
    crowd = people(len(departments), departments)
    department = {p.id: p.attributes["department"] for p in crowd}
    result = assign_rooms(crowd, rooms=rooms, method="mix_by", mix_by="department", seed=seed)
    for value in set(departments):
        per_room = [
            sum(1 for pid in room.participant_ids if department[pid] == value) for room in result
        ]
        # The best possible spread: every room gets floor or ceil of its share.
        assert max(per_room) - min(per_room) <= 1, (value, per_room)


def test_random_is_seeded() -> None:
    crowd = people(20)
    first = assign_rooms(crowd, size=4, seed=3)
    assert first == assign_rooms(crowd, size=4, seed=3)
    assert first != assign_rooms(crowd, size=4, seed=4)
    assert [len(r.participant_ids) for r in first] == [4, 4, 4, 4, 4]
    assert [r.name for r in first] == [f"Room {i}" for i in range(1, 6)]


def test_mix_by_random_order_still_spreads() -> None:
    crowd = people(12, ["Sales"] * 6 + ["Finance"] * 3 + ["Ops"] * 3)
    rooms = assign_rooms(crowd, size=3, method="mix_by", mix_by="department", seed=1)
    assert len(rooms) == 4
    for room in rooms:
        departments = [crowd[int(pid[1:])].attributes["department"] for pid in room.participant_ids]
        assert len(set(departments)) >= 2  # nobody ends up in a single-department room


def test_given_lists_match_names_and_emails_and_report_unknown() -> None:
    crowd = people(7)
    plan = plan_rooms(
        crowd,
        method="rooms",
        given=[["Person 0", "PERSON1@example.com", "Nobody Here"], ["person 2", "Person 0"]],
        seed=0,
    )
    assert plan.unknown == ("Nobody Here", "Person 0")  # unknown, then listed twice
    assert plan.rooms[0].participant_ids[:2] == ("p0", "p1")
    assert plan.rooms[1].participant_ids[0] == "p2"
    assert sorted(assigned(plan.rooms)) == sorted(p.id for p in crowd)
    sizes = [len(r.participant_ids) for r in plan.rooms]
    assert max(sizes) - min(sizes) <= 1  # the unlisted went to the smallest rooms


def test_given_lists_with_nobody_present_are_dropped() -> None:
    crowd = people(2)
    plan = plan_rooms(crowd, method="rooms", given=[["Ghost"], ["Person 0", "Person 1"]], seed=0)
    assert [r.participant_ids for r in plan.rooms] == [("p0", "p1")]
    assert plan.rooms[0].name == "Room 1"
    assert plan.unknown == ("Ghost",)


@pytest.mark.parametrize(
    ("n", "size", "rooms", "expected"),
    [(0, 3, None, 0), (1, 3, None, 1), (3, 2, None, 1), (7, 3, None, 3), (6, None, 5, 3),
     (10, None, None, 3), (9, 3, None, 3)],
)  # fmt: skip
def test_room_count(n: int, size: int | None, rooms: int | None, expected: int) -> None:
    assert room_count(n, size=size, rooms=rooms) == expected


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        assign_rooms(people(3), size=0, seed=1)
    with pytest.raises(ValueError, match="mix_by"):
        assign_rooms(people(3), method="mix_by", seed=1)
    with pytest.raises(ValueError, match="given"):
        assign_rooms(people(3), method="rooms", seed=1)


def test_duplicate_participants_counted_once() -> None:
    crowd = people(4)
    rooms = assign_rooms([*crowd, crowd[0]], rooms=2, seed=0)
    assert sorted(assigned(rooms)) == ["p0", "p1", "p2", "p3"]
