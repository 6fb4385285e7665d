"""Builds the services over an open store: the one place that wires repositories to rules."""

from __future__ import annotations

from dataclasses import dataclass

from c360.auth.repository import ApiKeyRepository
from c360.auth.service import ApiKeyService
from c360.consent.service import ConsentService
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
from c360.profiles.repository import ProfileRepository
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from c360.settings import Settings
from c360.store import Database


@dataclass(frozen=True)
class Services:
    ingest: IngestService
    profiles: ProfileService
    dead_letters: DeadLetterService
    merges: MergeService
    consent: ConsentService
    keys: ApiKeyService

    @classmethod
    def build(cls, db: Database, settings: Settings) -> Services:
        identities = IdentityRepository(db)
        profiles = ProfileRepository(db)
        records = RecordRepository(db)
        dead_letters = DeadLetterRepository(db)
        profile_service = ProfileService(profiles, identities, records, settings.default_region)
        suggestions = SuggestionRepository(db)
        merges = MergeService(
            MergeRepository(db), identities, records, profile_service, suggestions
        )
        matcher = Matcher(
            MatchRepository(db),
            identities,
            records,
            profile_service,
            merges,
            suggestions,
            auto_merge_at=settings.identity_match_auto,
            review_at=settings.identity_match_review,
        )
        ingest = IngestService(
            IdentityService(identities, settings.identity_rules()),
            merges,
            profile_service,
            records,
            dead_letters,
            suggestions,
            matcher,
            batch_size=settings.ingest_batch_size,
        )
        return cls(
            ingest=ingest,
            profiles=profile_service,
            dead_letters=DeadLetterService(dead_letters, ingest),
            merges=merges,
            consent=ConsentService(records),
            keys=ApiKeyService(ApiKeyRepository(db)),
        )
