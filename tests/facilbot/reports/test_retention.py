"""Retention: the periodic job prunes personal rows of sessions ended longer ago than
``FACILBOT_RETENTION_DAYS``; the report keeps its figures."""

from __future__ import annotations

import asyncio
from pathlib import Path

from facilbot.auth import Role
from facilbot.platforms.sim import SimPlatform
from facilbot.reports import tables
from facilbot.reports.service import prune
from facilbot.store import activity, participants
from facilbot.store.db import Database, reading
from tests.support.api import open_api, service_settings

from .test_session_report import first_session, report_of

KEPT = ("session", "segments", "timeline", "cues", "guards", "practices", "controls", "polls")


async def test_prune_keeps_the_figures(store: Database, tmp_path: Path) -> None:
    settings = service_settings(tmp_path, retention_days=1)
    async with open_api(
        settings, store, platforms=[SimPlatform(rehearse=True, start_planned=False)]
    ) as api:
        session_id = await first_session(api)
        await api.client.post(
            f"/sessions/{session_id}/notes",
            json={"text": "keep me"},
            headers=api.auth(Role.producer),
        )
        before = (await report_of(api, session_id)).json()
        assert before["participants"] and before["commitments"]["items"]
        # Ended at 09:36; a day later (and the loop's next 6-hourly run) it is pruned.
        await api.advance(23 * 3600)
        async with reading(api.db.engine) as connection:
            assert await participants.participants_for(connection, session_id)
        await api.advance(7 * 3600)
        # The loop's run is not part of the clock's settle (it reads, builds the report in a
        # thread and writes): wait for it, bounded generously for a loaded CI machine.
        for _ in range(1500):
            async with reading(api.db.engine) as connection:
                if await tables.aggregates_for(connection, [session_id]):
                    break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the prune loop did not prune the session within 30 s")
        async with reading(api.db.engine) as connection:
            assert await participants.participants_for(connection, session_id) == []
            assert await participants.presence_for(connection, session_id) == []
            assert await activity.chat_for(connection, session_id) == []
            assert await activity.poll_answers_for(connection, session_id) == []
            assert await activity.commitments_for(connection, session_id) == []
        after = (await report_of(api, session_id)).json()
        assert after["pruned"] is True
        for report in (before, after):
            del report["session"]["reported_at"]  # when the figures were computed
        for key in KEPT:
            assert after[key] == before[key], key
        assert after["summary"] == before["summary"]  # attendees 4, active 3 …
        assert after["participants"] == []
        assert after["commitments"] == {"items": [], "present_without": []}
        assert [n["text"] for n in after["notes"]] == ["keep me"]
        text = (await report_of(api, session_id, format="html")).text
        assert "Ana" not in text and "pruned" in text
        # once is enough
        assert await prune(api.db.engine, api.clock.now(), 1) == []
