"""Build a session's live state from the database and the timeline (read-only)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from facilbot.engine.state import (
    CommitmentView,
    FiringView,
    ItemView,
    ParticipantView,
    PollView,
    ProducerCueView,
    SegmentView,
    SessionState,
)
from facilbot.store import activity
from facilbot.store import firings as store_firings
from facilbot.store import participants as store_participants
from facilbot.store.sessions import SessionRecord
from runofshow.controls import Control
from runofshow.model import Show
from runofshow.plan import describe_item, live_plan

#: How many of the next items the state lists.
UPCOMING = 8


async def build_state(
    connection: AsyncConnection,
    record: SessionRecord,
    show: Show,
    controls: Sequence[Control],
    now: datetime,
    *,
    bridge_connected: bool,
) -> SessionState:
    plan = live_plan(show, controls, now)
    firings = await store_firings.firings_for(connection, record.id)
    fired = {f.key for f in firings}
    titles = {s.id: s.title for s in show.segments}

    segments = [
        SegmentView(
            id=s.segment_id,
            kind=s.kind,
            title=titles.get(s.segment_id) or ("Break" if s.inserted else None),
            start=s.start,
            end=s.end,
            state=s.state,
            inserted=s.inserted,
        )
        for s in plan.segments
    ]
    current = next(
        (v for v, s in zip(segments, plan.segments, strict=True) if s.state == "current"), None
    )
    left = plan.time_left_in_segment

    def item_view(item_key: str) -> ItemView | None:
        item = plan.item(item_key)
        if item is None:
            return None
        state = "fired" if item.key in fired else item.state
        return ItemView(
            key=item.key,
            segment_id=item.segment_id,
            action=item.action,
            what=describe_item(show, item),
            due=item.due,
            origin=item.origin,
            state=state,
            countdown_seconds=max((item.due - now).total_seconds(), 0.0),
        )

    upcoming_items = [
        i
        for i in plan.items
        if i.state == "upcoming" and i.key not in fired and plan.status != "ended"
    ]
    upcoming = [v for v in (item_view(i.key) for i in upcoming_items[:UPCOMING]) if v is not None]

    firing_views = []
    cues = []
    for f in firings:
        late_ms = None
        if f.sent_at is not None:
            late_ms = (f.claimed_at - f.planned_at).total_seconds() * 1000
        attempts = [dict(a) for a in f.attempts]
        firing_views.append(
            FiringView(
                id=f.id,
                key=f.key,
                action=f.action,
                status=f.status,
                channel=f.channel,
                outcome=f.outcome,
                planned_at=f.planned_at,
                sent_at=f.sent_at,
                late_ms=late_ms,
                error=f.error,
                attempts=attempts,
            )
        )
        if f.channel == "producer_cue" and f.status == "sent":
            text = next((str(a["producer_cue"]) for a in attempts if "producer_cue" in a), f.key)
            paste = next((a.get("paste") for a in attempts if "producer_cue" in a), None)
            cues.append(
                ProducerCueView(
                    firing_id=f.id,
                    key=f.key,
                    text=text,
                    paste=str(paste) if paste else None,
                    since=f.sent_at,
                )
            )

    people = await store_participants.participants_for(connection, record.id)
    presence = await store_participants.presence_for(connection, record.id)
    open_presence = {p.participant_id: p for p in presence if p.left_at is None}
    commitments = await activity.commitments_for(connection, record.id)
    committed = {c.participant_ref for c in commitments}
    participant_views = []
    for person in people:
        stay = open_presence.get(person.id)
        attributes = person.attributes or {}
        participant_views.append(
            ParticipantView(
                id=person.participant_ref,
                name=person.name,
                role=person.role,
                present=stay is not None,
                room=stay.room if stay else None,
                department=str(attributes["department"]) if "department" in attributes else None,
                committed=person.participant_ref in committed,
            )
        )
    not_committed = [
        p.name for p in participant_views if p.role == "attendee" and p.present and not p.committed
    ]

    polls = []
    answers = await activity.poll_answers_for(connection, record.id)
    by_poll: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for answer in answers:
        by_poll.setdefault(answer.poll_key, Counter()).update(answer.answer)
        totals[answer.poll_key] += 1
    for segment in show.segments:
        for index, cue in enumerate(segment.cues):
            if cue.poll is None:
                continue
            key = segment.cue_id(index)
            if key not in fired and key not in by_poll:
                continue
            polls.append(
                PollView(
                    key=key,
                    question=cue.poll.question,
                    options=list(cue.poll.options),
                    counts=dict(by_poll.get(key, Counter())),
                    answers=totals[key],
                )
            )

    return SessionState(
        id=record.id,
        status=record.status,
        paused=plan.status == "paused",
        show_title=show.title,
        show_version_id=record.show_version_id,
        platform=record.platform,
        meeting_ref=record.meeting_ref,
        now=now,
        owner=record.owner,
        current_segment=current,
        segment_time_left_seconds=left.total_seconds() if left is not None else None,
        next_item=upcoming[0] if upcoming else None,
        segments=segments,
        upcoming=upcoming,
        firings=firing_views,
        producer_cues=cues,
        participants=participant_views,
        commitments=[CommitmentView(participant=c.name, text=c.text, at=c.at) for c in commitments],
        not_committed=not_committed,
        polls=polls,
        bridge_connected=bridge_connected,
        version=record.version,
    )
