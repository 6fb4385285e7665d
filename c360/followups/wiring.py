"""The follow-ups domain built over an open store: its repositories, services and worker (the
one place that wires them; :mod:`c360.services` calls it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
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
from c360.followups.teams import TeamConfig, Teams
from c360.followups.worker import FollowUpWorker
from c360.notifications.delivery import Deliverer, DeliveryConfig
from c360.notifications.repository import OutboxRepository
from c360.profiles.repository import ProfileRepository
from c360.profiles.service import ProfileService
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


@dataclass(frozen=True)
class FollowUpsConfig:
    """What the follow-ups domain is configured with (made from the settings by the wiring)."""

    teams: Mapping[str, TeamConfig]
    followups: FollowUpConfig
    delivery: DeliveryConfig
    lease_for: dt.timedelta
    low_scores: Mapping[str, int]


def build_followups(
    db: Database, config: FollowUpsConfig, profiles: ProfileService, contact: ContactService
) -> FollowUps:
    inputs = RuleInputRepository(db)
    outbox = OutboxRepository(db)
    teams = Teams(TeamRepository(db), config.teams)
    service = FollowUpService(
        FollowUpRepository(db),
        inputs,
        outbox,
        RuleBook(RuleRepository(db)),
        teams,
        profiles,
        config.followups,
        ProfileRepository(db),
    )
    worker = FollowUpWorker(
        service,
        Deliverer(outbox, teams.secret_of, config.delivery, withheld=service.relay.withheld),
        LeaseRepository(db),
        config.lease_for,
    )
    feedback = FeedbackService(
        inputs,
        AcknowledgementRepository(db),
        profiles,
        contact,
        dict(config.low_scores),
        answered=service.feedback_answered,
    )
    return FollowUps(service, feedback, worker, outbox)
