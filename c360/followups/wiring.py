"""The follow-ups domain built over an open store: its repositories, services and worker (the
one place that wires them; :mod:`c360.services` calls it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from c360.contact.service import ContactService
from c360.followups.feedback import FeedbackService
from c360.followups.repository import (
    AcknowledgementRepository,
    FollowUpRepository,
    RuleInputRepository,
    RuleRepository,
    TeamRepository,
)
from c360.followups.rulebook import RuleBook
from c360.followups.service import FollowUpConfig, FollowUpService
from c360.followups.teams import Teams
from c360.followups.worker import FollowUpWorker
from c360.notifications.delivery import Deliverer, DeliveryConfig
from c360.notifications.repository import OutboxRepository
from c360.profiles.repository import ProfileRepository
from c360.profiles.service import ProfileService
from c360.settings import Settings
from c360.store import Database
from c360.store.leases import LeaseRepository


@dataclass(frozen=True)
class FollowUps:
    service: FollowUpService
    feedback: FeedbackService
    worker: FollowUpWorker
    outbox: OutboxRepository

    @property
    def rules(self) -> RuleBook:
        return self.service.rules

    @property
    def teams(self) -> Teams:
        return self.service.teams


def delivery_config(settings: Settings) -> DeliveryConfig:
    return DeliveryConfig(
        max_attempts=settings.notify_max_attempts,
        backoff_base_s=settings.notify_backoff_base_s,
        backoff_max_s=settings.notify_backoff_max_s,
        timeout_s=settings.notify_timeout_s,
        concurrency=settings.notify_concurrency,
    )


def build_followups(
    db: Database, settings: Settings, profiles: ProfileService, contact: ContactService
) -> FollowUps:
    inputs = RuleInputRepository(db)
    outbox = OutboxRepository(db)
    teams = Teams(TeamRepository(db), settings.followup_teams)
    service = FollowUpService(
        FollowUpRepository(db),
        inputs,
        outbox,
        RuleBook(RuleRepository(db)),
        teams,
        profiles,
        FollowUpConfig(
            root_causes=tuple(settings.followup_root_causes),
            due_soon=settings.followup_due_soon_fraction,
        ),
        ProfileRepository(db),
    )
    worker = FollowUpWorker(
        service,
        Deliverer(outbox, teams.secret_of, delivery_config(settings)),
        LeaseRepository(db),
        dt.timedelta(seconds=settings.alerts_lease_s),
    )
    feedback = FeedbackService(
        inputs, AcknowledgementRepository(db), profiles, contact, settings.feedback_low_scores
    )
    return FollowUps(service, feedback, worker, outbox)
