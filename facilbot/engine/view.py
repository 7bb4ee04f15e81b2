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
    NotesView,
    NoticeView,
    ParticipantView,
    PollView,
    ProducerCueView,
    ReplanOptionView,
    ReplanView,
    SegmentView,
    SessionState,
    TimingView,
)
from facilbot.store import activity
from facilbot.store import firings as store_firings
from facilbot.store import notices as store_notices
from facilbot.store import participants as store_participants
from facilbot.store.sessions import SessionRecord
from runofshow.controls import Control
from runofshow.model import ProducerNotes, Show
from runofshow.plan import describe_item, live_plan
from runofshow.replan import lateness, propose

#: How many of the next items the state lists.
UPCOMING = 8
#: How many of the latest chat-command notices the state lists.
NOTICES = 20


def readable(segment_id: str) -> str:
    """A segment id as a title for people, when the show gives none: ``kick-off_talk`` →
    ``Kick off talk``."""
    words = segment_id.replace("_", " ").replace("-", " ").split()
    text = " ".join(words) or segment_id
    return text[:1].upper() + text[1:]


def notes_view(notes: str | ProducerNotes | None) -> NotesView | None:
    """A segment's producer notes; a plain string says what to watch for."""
    if notes is None:
        return None
    if isinstance(notes, str):
        return NotesView(watch_for=notes)
    return NotesView(watch_for=notes.watch_for, keep_same=notes.keep_same, flex=notes.flex)


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
    by_id = {s.id: s for s in show.segments}

    segments = [
        SegmentView(
            id=s.segment_id,
            kind=s.kind,
            title=titles.get(s.segment_id) or ("Break" if s.inserted else readable(s.segment_id)),
            start=s.start,
            end=s.end,
            state=s.state,
            inserted=s.inserted,
            producer_notes=notes_view(by_id[s.segment_id].producer_notes)
            if s.segment_id in by_id
            else None,
            facilitator_notes=by_id[s.segment_id].facilitator_notes
            if s.segment_id in by_id
            else None,
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
        shown = f.channel == "producer_cue" or any("producer_cue" in a for a in attempts)
        if shown and f.status == "sent" and f.outcome != "missed":
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

    notices = [
        NoticeView(
            at=n.at,
            sender=n.sender,
            command=n.command,
            reply=n.reply,
            refused=n.refused,
            replied_via=n.replied_via,
        )
        for n in await store_notices.notices_for(connection, record.id, limit=NOTICES)
    ]

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
        notices=notices,
        bridge_connected=bridge_connected,
        version=record.version,
        timing=_timing(show, controls, now) if plan.status != "waiting" else None,
        replan=_replan(show, controls, now),
    )


def _timing(show: Show, controls: Sequence[Control], now: datetime) -> TimingView:
    late = lateness(show, controls, now)
    return TimingView(
        planned_end=late.planned_end,
        end=late.end,
        late_by_seconds=late.late_by,
        reasons=list(late.reasons),
        summary=late.summary(),
    )


def _replan(show: Show, controls: Sequence[Control], now: datetime) -> ReplanView | None:
    proposal = propose(show, controls, now)
    if proposal is None:
        return None
    return ReplanView(
        planned_end=proposal.planned_end,
        end=proposal.end,
        late_by_seconds=proposal.late_by,
        reasons=list(proposal.reasons),
        options=[
            ReplanOptionView(
                option=n,
                label=o.label,
                end=o.end,
                late_by_seconds=o.late_by,
                changes=o.durations,
            )
            for n, o in enumerate(proposal.options)
        ],
        auto=proposal.auto,
    )
