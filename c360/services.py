"""Builds the services over an open store: the one place that wires repositories to rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from c360.auth.repository import ApiKeyRepository
from c360.auth.service import ApiKeyService
from c360.contact.service import ConsentService
from c360.identity.matcher import Matcher
from c360.identity.merge import MergeService
from c360.identity.repository import (
    IdentityRepository,
    MatchRepository,
    MergeRepository,
    SuggestionRepository,
)
from c360.identity.service import IdentityService
from c360.ingest.replay import DeadLetterService
from c360.ingest.repository import DeadLetterRepository
from c360.ingest.service import IngestService
from c360.profiles.lifecycle import Thresholds
from c360.profiles.metrics_service import MetricsConfig, MetricsService
from c360.profiles.repository import MetricsRepository, ProfileRepository, SearchRepository
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from c360.settings import Settings
from c360.store import Database


def metrics_config(settings: Settings) -> MetricsConfig:
    return MetricsConfig(
        reporting_currency=settings.reporting_currency,
        rates=dict(settings.exchange_rates),
        thresholds=Thresholds(
            loyal_orders=settings.lifecycle_loyal_orders,
            at_risk_days=settings.lifecycle_at_risk_days,
            churned_days=settings.lifecycle_churned_days,
            promoter_min=settings.nps_promoter_min,
            detractor_max=settings.nps_detractor_max,
        ),
        tier_percentiles=tuple(settings.value_tier_percentiles),
        recent_case_days=settings.recent_case_days,
        past_problems=settings.past_problems,
    )


@dataclass(frozen=True)
class Services:
    ingest: IngestService
    profiles: ProfileService
    dead_letters: DeadLetterService
    merges: MergeService
    consent: ConsentService
    keys: ApiKeyService
    matcher: Matcher

    @classmethod
    def build(cls, db: Database, settings: Settings) -> Services:
        identities = IdentityRepository(db)
        profiles = ProfileRepository(db)
        records = RecordRepository(db)
        dead_letters = DeadLetterRepository(db)
        metrics = MetricsService(MetricsRepository(db), records, profiles, metrics_config(settings))
        profile_service = ProfileService(
            profiles, identities, records, settings.default_region, metrics, SearchRepository(db)
        )
        suggestions = SuggestionRepository(db)
        merges = MergeService(
            MergeRepository(db), identities, records, profile_service, suggestions
        )
        matches = MatchRepository(db)
        matcher = Matcher(
            matches,
            identities,
            records,
            profile_service,
            merges,
            suggestions,
            auto_merge_at=settings.identity_match_auto,
            review_at=settings.identity_match_review,
            weights=settings.match_weights(),
        )
        ingest = IngestService(
            IdentityService(identities, settings.identity_rules(), matches),
            merges,
            profile_service,
            records,
            dead_letters,
            suggestions,
            matcher,
            batch_size=settings.ingest_batch_size,
            metrics_repair_after=dt.timedelta(seconds=settings.metrics_repair_after_s),
        )
        return cls(
            ingest=ingest,
            profiles=profile_service,
            dead_letters=DeadLetterService(dead_letters, ingest),
            merges=merges,
            consent=ConsentService(records),
            keys=ApiKeyService(ApiKeyRepository(db)),
            matcher=matcher,
        )
