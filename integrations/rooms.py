"""Putting the people present into breakout rooms: at random, mixed by an attribute, or given.

Sizes are balanced (they differ by at most one) and nobody sits alone in a room when that can be
avoided. Everything is seeded, so the same meeting and seed give the same rooms.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from integrations.contract import Participant, Room

Method = Literal["random", "mix_by", "rooms"]
DEFAULT_SIZE = 4


@dataclass(frozen=True, slots=True)
class Assignment:
    rooms: tuple[Room, ...]
    #: entries of a given list that matched nobody present (or someone already placed)
    unknown: tuple[str, ...] = ()


def assign_rooms(
    participants: Sequence[Participant],
    *,
    size: int | None = None,
    rooms: int | None = None,
    method: Method = "random",
    mix_by: str | None = None,
    given: Sequence[Sequence[str]] | None = None,
    seed: int | str,
) -> tuple[Room, ...]:
    """The rooms only; see ``plan_rooms`` for the names of a given list that matched nobody."""
    return plan_rooms(
        participants, size=size, rooms=rooms, method=method, mix_by=mix_by, given=given, seed=seed
    ).rooms


def plan_rooms(
    participants: Sequence[Participant],
    *,
    size: int | None = None,
    rooms: int | None = None,
    method: Method = "random",
    mix_by: str | None = None,
    given: Sequence[Sequence[str]] | None = None,
    seed: int | str,
) -> Assignment:
    """Assign every participant to exactly one room.

    ``size`` (people per room) or ``rooms`` (how many) sets the number of rooms, by default rooms
    of about ``DEFAULT_SIZE``. ``method="mix_by"`` spreads each value of the attribute ``mix_by``
    (say, department) as evenly as possible across rooms; ``method="rooms"`` takes ``given``
    lists of names or emails, and spreads the people present but not listed over the smallest
    rooms.
    """
    if size is not None and size < 1:
        raise ValueError("size must be at least 1")
    if rooms is not None and rooms < 1:
        raise ValueError("rooms must be at least 1")
    people = _unique(participants)
    rng = random.Random(f"rooms:{seed}")
    if method == "rooms":
        if given is None:
            raise ValueError("method 'rooms' needs the given lists")
        return _given(people, given, rng)
    if not people:
        return Assignment(())
    count = room_count(len(people), size=size, rooms=rooms)
    if method == "mix_by":
        if not mix_by:
            raise ValueError("method 'mix_by' needs the attribute to mix by")
        ordered = _mixed_order(people, mix_by, rng)
    elif method == "random":
        ordered = list(people)
        rng.shuffle(ordered)
    else:
        raise ValueError(f"unknown assignment method {method!r}")
    # Dealing round-robin keeps sizes within one, and spreads each run of equal values evenly.
    buckets: list[list[Participant]] = [[] for _ in range(count)]
    for index, person in enumerate(ordered):
        buckets[index % count].append(person)
    return Assignment(_rooms(buckets))


def room_count(people: int, *, size: int | None = None, rooms: int | None = None) -> int:
    """How many rooms for ``people``: never more than asked, and no room of one if avoidable."""
    if people <= 0:
        return 0
    if rooms is not None:
        count = rooms
    else:
        count = math.ceil(people / (size or DEFAULT_SIZE))
    count = min(count, people // 2) if people >= 2 else 1
    return max(1, count)


def _unique(participants: Sequence[Participant]) -> list[Participant]:
    seen: set[str] = set()
    unique: list[Participant] = []
    for person in participants:
        if person.id not in seen:
            seen.add(person.id)
            unique.append(person)
    return unique


def _mixed_order(
    people: list[Participant], attribute: str, rng: random.Random
) -> list[Participant]:
    groups: dict[str, list[Participant]] = {}
    for person in people:
        groups.setdefault(person.attributes.get(attribute, ""), []).append(person)
    for members in groups.values():
        rng.shuffle(members)
    # Largest groups first so the big departments are dealt across all rooms from the start.
    values = sorted(groups, key=lambda value: (-len(groups[value]), value))
    return [person for value in values for person in groups[value]]


def _given(
    people: list[Participant], given: Sequence[Sequence[str]], rng: random.Random
) -> Assignment:
    by_key: dict[str, Participant] = {}
    for person in people:
        by_key.setdefault(person.name.strip().casefold(), person)
    for person in people:  # an email wins over a name that happens to look the same
        if person.email:
            by_key[person.email.strip().casefold()] = person
    placed: set[str] = set()
    unknown: list[str] = []
    buckets: list[list[Participant]] = []
    for listed in given:
        bucket: list[Participant] = []
        for entry in listed:
            match = by_key.get(entry.strip().casefold())
            if match is None or match.id in placed:
                unknown.append(entry)
                continue
            placed.add(match.id)
            bucket.append(match)
        buckets.append(bucket)
    rest = [person for person in people if person.id not in placed]
    rng.shuffle(rest)
    if not buckets:
        buckets = [[]]
    for person in rest:
        min(buckets, key=len).append(person)
    return Assignment(_rooms([b for b in buckets if b]), tuple(unknown))


def _rooms(buckets: list[list[Participant]]) -> tuple[Room, ...]:
    return tuple(
        Room(
            f"Room {number}",
            tuple(person.id for person in bucket),
            tuple(person.name for person in bucket),
        )
        for number, bucket in enumerate(buckets, 1)
    )
