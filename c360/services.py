"""Builds the services over an open store: the one place that wires repositories to rules."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import tempfile
from dataclasses import dataclass

from c360.audit.repository import AuditRepository
from c360.audit.service import AuditService
from c360.auth.masking import Masker
from c360.auth.ratelimit import Bucket, Limit, RateLimiter
from c360.auth.repository import ApiKeyRepository, RateLimitRepository
from c360.auth.service import ApiKeyService, Role
from c360.console.repository import SessionRepository
from c360.console.service import SessionService
from c360.contact.links import LinkSigner
from c360.contact.policy import PolicyConfig
from c360.contact.preferences import Cap, Hours
from c360.contact.repository import ContactRepository
from c360.contact.service import ContactConfig, ContactService
from c360.followups.repository import FollowUpRepository
from c360.followups.service import FollowUpConfig
from c360.followups.stage import EvaluateAlertRules
from c360.followups.teams import TeamConfig
from c360.followups.wiring import FollowUps, FollowUpsConfig, build_followups
from c360.identity.match_service import Matcher
from c360.identity.merge import MergeService
from c360.identity.repository import (
    IdentityRepository,
    MatchRepository,
    MergeRepository,
    SuggestionRepository,
)
from c360.identity.service import IdentityService
from c360.ingest.replay import DeadLetterService
from c360.ingest.repository import BatchJournal, DeadLetterRepository
from c360.ingest.service import IngestService
from c360.ingest.stages import Collaborators
from c360.kpis.compute import KpiConfig
from c360.kpis.repository import KpiRepository
from c360.kpis.service import KpiService, KpiSettings
from c360.lookup.repository import ReferenceRepository
from c360.lookup.service import LookupService
from c360.metrics.repository import MetricsRepository
from c360.metrics.service import MetricsConfig, MetricsService
from c360.notifications.delivery import DeliveryConfig
from c360.privacy.export import AccessExport
from c360.privacy.hashing import Hasher, SuppressionList, Tombstones
from c360.privacy.repository import (
    ErasureRepository,
    ExportRepository,
    ReceiptRepository,
    RequestRepository,
    RetentionRepository,
    SuppressionRepository,
    TombstoneRepository,
)
from c360.privacy.retention import Retention
from c360.privacy.service import PrivacyConfig, PrivacyService
from c360.profiles.lifecycle import Thresholds
from c360.profiles.repository import ProfileRepository, SearchRepository
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from c360.settings import RateLimit, ReferenceKind, Secret, Settings, secrets_of
from c360.store import Database
from c360.store.leases import LeaseRepository


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


def kpi_settings(settings: Settings) -> KpiSettings:
    segments = metrics_config(settings)
    return KpiSettings(
        time_zone=settings.reporting_time_zone,
        max_periods=settings.kpi_max_periods,
        thresholds=segments.thresholds,
        tier_percentiles=tuple(segments.tier_percentiles),
        figures=KpiConfig(
            promoter_min=settings.nps_promoter_min,
            detractor_max=settings.nps_detractor_max,
            csat_satisfied_min=settings.csat_satisfied_min,
            ces_high_effort_max=settings.ces_high_effort_max,
            reporting_currency=settings.reporting_currency,
            rates=dict(settings.exchange_rates),
            min_group_size=settings.kpi_min_group_size,
            feedback_low_scores=dict(settings.feedback_low_scores),
        ),
    )


def contact_config(settings: Settings) -> ContactConfig:
    quiet = None
    if settings.contact_quiet_hours:
        start, end = settings.contact_quiet_hours.split("-")
        quiet = Hours(dt.time.fromisoformat(start), dt.time.fromisoformat(end))
    policy = PolicyConfig(
        purposes=tuple(settings.contact_purposes),
        regime_purposes=frozenset(settings.contact_regime_purposes),
        opt_out_countries=frozenset(c.upper() for c in settings.contact_opt_out_countries),
        default_country=settings.default_region,
        default_time_zone=settings.contact_default_time_zone,
        quiet_hours=quiet,
        quiet_channels=frozenset(settings.contact_quiet_channels),
        frequency_caps={
            (cap.channel.value, cap.purpose): Cap(cap.max_contacts, cap.per_days)
            for cap in settings.contact_frequency_caps
            if cap.max_contacts is not None
        },
        channel_order=tuple(settings.contact_channel_order),
        inference_window=settings.contact_inference_window,
    )
    return ContactConfig(
        policy=policy,
        double_opt_in_channels=frozenset(settings.contact_double_opt_in_channels),
        confirmation_ttl=dt.timedelta(hours=settings.contact_confirmation_ttl_hours),
        gpc_purposes=tuple(settings.contact_gpc_purposes),
        handout_purposes=frozenset(settings.contact_marketing_purposes),
        public_url=settings.public_base,
        default_region=settings.default_region,
        audience_batch=settings.audience_batch,
        audience_page_scan=settings.audience_page_scan,
    )


def privacy_config(settings: Settings) -> PrivacyConfig:
    return PrivacyConfig(
        secret=privacy_secret(settings),
        deadline_months=settings.privacy_deadline_months,
        max_extension_months=settings.privacy_max_extension_months,
        tombstone_purposes=tuple(settings.privacy_tombstone_purposes),
        default_region=settings.default_region,
    )


def rate_limits(settings: Settings) -> dict[Bucket, dict[Role, Limit | None]]:
    def per_role(limits: dict[Role, RateLimit | None]) -> dict[Role, Limit | None]:
        return {
            role: None if limit is None else Limit(limit.per_minute, limit.burst)
            for role, limit in limits.items()
        }

    return {
        Bucket.REQUESTS: per_role(settings.rate_limits),
        Bucket.LOOKUPS: per_role(settings.lookup_rate_limits),
    }


def followups_config(settings: Settings) -> FollowUpsConfig:
    return FollowUpsConfig(
        teams={
            team_id: TeamConfig(
                tuple(team.members),
                team.escalation_team,
                None if team.webhook_url is None else str(team.webhook_url),
                None if team.webhook_secret is None else team.webhook_secret.get_secret_value(),
            )
            for team_id, team in settings.followup_teams.items()
        },
        followups=FollowUpConfig(
            root_causes=tuple(settings.followup_root_causes),
            due_soon=settings.followup_due_soon_fraction,
            max_trigger_age_days=settings.followup_max_trigger_age_days,
        ),
        delivery=DeliveryConfig(
            max_attempts=settings.notify_max_attempts,
            backoff_base_s=settings.notify_backoff_base_s,
            backoff_max_s=settings.notify_backoff_max_s,
            timeout_s=settings.notify_timeout_s,
            concurrency=settings.notify_concurrency,
        ),
        lease_for=dt.timedelta(seconds=settings.alerts_lease_s),
        low_scores=settings.feedback_low_scores,
    )


def signing_secret(settings: Settings) -> str:
    return _secret(settings, secrets_of(settings)[0])


def privacy_secret(settings: Settings) -> str:
    return _secret(settings, secrets_of(settings)[1])


def _secret(settings: Settings, secret: Secret) -> str:
    """The configured secret, else one generated once and kept in the data directory.

    The file appears whole or not at all (written aside, then hard-linked into place), so a
    process starting at the same moment never reads it half-written.
    """
    configured, name, variable = secret.value, secret.file, secret.variable
    if configured is not None:
        return configured.get_secret_value()
    path = settings.data_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another process was first: keep its
                os.link(draft, path)
        finally:
            os.unlink(draft)
    kept = path.read_text().strip()
    if not kept:
        raise RuntimeError(f"{path} is empty: remove it, or set {variable}")
    return kept


@dataclass(frozen=True)
class Services:
    ingest: IngestService
    profiles: ProfileService
    metrics: MetricsService
    dead_letters: DeadLetterService
    merges: MergeService
    contact: ContactService
    keys: ApiKeyService
    matcher: Matcher
    limits: RateLimiter
    audit: AuditService
    masker: Masker  # contact points as roles without them see them
    kpis: KpiService
    followups: FollowUps  # alert rules, follow-ups, feedback, the worker and its outbox
    lookup: LookupService
    console: SessionService
    privacy: PrivacyService
    retention: Retention

    @classmethod
    def build(cls, db: Database, settings: Settings) -> Services:
        identities = IdentityRepository(db)
        profiles = ProfileRepository(db)
        records = RecordRepository(db)
        dead_letters = DeadLetterRepository(db)
        metrics = MetricsService(MetricsRepository(db), records, profiles, metrics_config(settings))
        privacy_settings = privacy_config(settings)
        hasher = Hasher(privacy_settings.secret)
        suppressions = SuppressionList(SuppressionRepository(db), hasher)
        profile_service = ProfileService(
            profiles, identities, records, settings.default_region, metrics, SearchRepository(db)
        )
        suggestions = SuggestionRepository(db)
        matches = MatchRepository(db)
        merges = MergeService(
            MergeRepository(db), identities, records, profile_service, suggestions, matches
        )
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
            Collaborators(
                identity=IdentityService(identities, settings.identity_rules(), matches),
                identities=identities,
                merges=merges,
                profiles=profile_service,
                metrics=metrics,
                records=records,
                dead_letters=dead_letters,
                suggestions=suggestions,
                matcher=matcher,
                suppressions=suppressions,
            ),
            BatchJournal(db),
            batch_size=settings.ingest_batch_size,
            repair_after=dt.timedelta(seconds=settings.metrics_repair_after_s),
        )
        contact = ContactService(
            ContactRepository(db),
            records,
            profile_service,
            metrics,
            ingest,
            LinkSigner(
                signing_secret(settings),
                dt.timedelta(days=settings.unsubscribe_link_ttl_days),
                settings.contact_purposes,
            ),
            contact_config(settings),
            Tombstones(TombstoneRepository(db), hasher, settings.privacy_tombstone_purposes),
        )
        followups = build_followups(db, followups_config(settings), profile_service, contact)
        privacy = PrivacyService(
            RequestRepository(db),
            SuppressionRepository(db),
            TombstoneRepository(db),
            ReceiptRepository(db),
            ErasureRepository(db),
            FollowUpRepository(db),
            followups.outbox,
            AccessExport(ExportRepository(db), profiles, metrics, contact),
            privacy_settings,
            suppressions,
        )
        # Ingest tells the privacy service what it meets of erased people; it is built first.
        suppressions.when_met = privacy.completions.erase_met
        ingest.add_stage(EvaluateAlertRules(followups.service.evaluation), after="fold metrics")
        merges.after_merge = followups.service.merging.merged
        followups.service.erasures = suppressions
        merges.after_unmerge = followups.service.merging.unmerged
        keys = ApiKeyService(ApiKeyRepository(db))
        return cls(
            ingest=ingest,
            profiles=profile_service,
            metrics=metrics,
            dead_letters=DeadLetterService(dead_letters, ingest),
            merges=merges,
            contact=contact,
            keys=keys,
            matcher=matcher,
            limits=RateLimiter(RateLimitRepository(db), rate_limits(settings)),
            audit=AuditService(
                AuditRepository(db), dt.timedelta(days=settings.audit_retention_days)
            ),
            masker=Masker(settings.default_region),
            kpis=KpiService(KpiRepository(db), profile_service, kpi_settings(settings)),
            followups=followups,
            lookup=LookupService(
                profile_service,
                ReferenceRepository(db),
                settings.default_region,
                order_sources=settings.reference_sources.get(ReferenceKind.ORDER, []),
                ticket_sources=settings.reference_sources.get(ReferenceKind.SERVICE_CASE, []),
            ),
            console=SessionService(
                SessionRepository(db),
                keys,
                ttl=dt.timedelta(seconds=settings.console_session_ttl_s),
                idle=dt.timedelta(seconds=settings.console_session_idle_s),
            ),
            privacy=privacy,
            retention=Retention(
                RetentionRepository(db),
                profile_service,
                settings.retention_days,
                LeaseRepository(db),
            ),
        )
