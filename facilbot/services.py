"""What the running service holds, built by the composition root (:mod:`facilbot.app`).

Routes receive it through ``facilbot.api.deps`` and nothing else: the app is a
:class:`ServiceApp`, whose one typed attribute holds the services while they run; no attribute
on ``app.state``, no start-up order hidden in router lifespans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI

from facilbot.engine.clock import Clock
from facilbot.engine.engine import Engine
from facilbot.journey.followups import FollowUps
from facilbot.outbound.worker import OutboundWorker
from facilbot.settings import Settings
from facilbot.store.db import Database
from facilbot.webhooks.ingest import WebhookIngest


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    engine: Engine
    clock: Clock
    ingest: WebhookIngest
    #: the running platforms by name (``facilbot.platforms.base.Platform`` instances; typed
    #: loosely here because the core does not import the platforms — a platform's routes
    #: take theirs with ``facilbot.platforms.base.running``)
    platforms: Mapping[str, object]
    #: every platform this build knows, running or not (requests naming another are invalid)
    known_platforms: frozenset[str]
    #: signs companion-page links: the configured secret, or random for this process
    pages_secret: bytes
    #: delivers the outbox to the outbound webhook endpoints
    outbound: OutboundWorker
    #: sends the follow-up mails (facilbot.journey.followups)
    followups: FollowUps | None = None


class ServiceApp(FastAPI):
    """The facilbot web app: a FastAPI app that holds its running :class:`Services`."""

    services: Services | None = None
