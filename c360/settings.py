"""All configuration, read once from ``C360_*`` environment variables (or a ``.env`` file)."""

# Over 500 lines, kept whole: every setting of c360 is read in this one module (its `Settings`
# class and the shapes of its structured values), as the house rules ask.

from __future__ import annotations

import datetime as dt
import difflib
import enum
import json
import re
import types
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Union, get_args, get_origin
from urllib.parse import urlsplit

import phonenumbers
import platformdirs
import pycountry
from dotenv import dotenv_values
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from c360.auth.service import Role
from c360.errors import C360Error
from c360.followups.rules import MAX_TRIGGER_AGE_DAYS
from c360.followups.teams import member_name
from c360.identity.matching import Weights
from c360.identity.rules import (
    DEFAULT_BLOCKED,
    DEFAULT_HOUSEHOLD_LINES,
    DEFAULT_LIMITS,
    DEFAULT_PRIORITY,
    DEFAULT_SHAREABLE,
    LINE_TYPES,
    IdentityRules,
)
from c360.logging import LogFormat, LogLevel
from c360.privacy.retention import DEAD_LETTERS, KEPT_KINDS
from connectors import ParseOptions
from schemas import IdentifierType
from schemas.common import CountryCode, TimeZoneName
from schemas.identifiers import DEFAULT_REGION
from schemas.quoting import shown
from schemas.records import PURPOSE_PATTERN, ContactChannel, FrequencyCap, RecordKind


class RateLimit(BaseModel):
    """A token bucket: ``per_minute`` tokens a minute, at most ``burst`` saved up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_minute: float = Field(gt=0)
    burst: int = Field(ge=1)


DEFAULT_RATE_LIMITS: dict[Role, RateLimit | None] = {
    Role.ADMIN: RateLimit(per_minute=3000, burst=500),
    Role.AGENT: RateLimit(per_minute=3000, burst=500),
    Role.MARKETING: RateLimit(per_minute=3000, burst=500),
    Role.CONNECTOR: RateLimit(per_minute=600, burst=100),
}
# Lookups (searchProfiles, profileByIdentifier) are what an oracle needs: a tighter bucket of
# their own. Agents look people up as calls come in; a preference centre looks up the visitor;
# a marketing tool has no need to guess.
DEFAULT_LOOKUP_RATE_LIMITS: dict[Role, RateLimit | None] = {
    Role.ADMIN: RateLimit(per_minute=600, burst=100),
    Role.AGENT: RateLimit(per_minute=600, burst=100),
    Role.MARKETING: RateLimit(per_minute=60, burst=20),
    Role.CONNECTOR: RateLimit(per_minute=10, burst=10),
}


class TeamSettings(BaseModel):
    """A team follow-ups are assigned to: its members, whom its overdue follow-ups escalate to,
    and the webhook its notifications are posted to (signed with its secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    members: list[str] = Field(default_factory=list, max_length=1000)
    escalation_team: str | None = None
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: SecretStr | None = Field(default=None, min_length=16)

    @field_validator("members")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        """Each a name as an owner must be (the follow-ups' rule): one line, 1 to 200
        characters."""
        try:
            return [member_name(m) for m in value]
        except C360Error as exc:
            raise ValueError(exc.detail) from None

    @model_validator(mode="after")
    def _signed(self) -> TeamSettings:
        # A notification is never sent unsigned: a webhook needs its secret (and a secret
        # without a webhook is a mistake worth saying).
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError("webhook_url and webhook_secret go together")
        return self


DEFAULT_ROOT_CAUSES = (
    "product-defect",
    "delivery",
    "billing",
    "service-quality",
    "communication",
    "policy",
    "price",
    "no-issue",
    "other",
)
DEFAULT_LOW_SCORES = {"nps": 6, "csat": 2, "ces": 3}


class ReferenceKind(enum.StrEnum):
    """The records whose source ids find a customer (``C360_REFERENCE_SOURCES``' keys)."""

    ORDER = "order"
    SERVICE_CASE = "service_case"


DEFAULT_REFERENCE_SOURCES: dict[ReferenceKind, list[str]] = {
    ReferenceKind.ORDER: ["shopify"],
    ReferenceKind.SERVICE_CASE: ["zendesk"],
}

LEGACY_DATA_DIR = Path(".c360")
"""Where the embedded store lived before it moved to the user's data directory."""


def default_data_dir() -> Path:
    """The user's data directory for c360 (``~/.local/share/c360`` on Linux)."""
    return Path(platformdirs.user_data_dir("c360", appauthor=False))


_PURPOSE_LISTS = (
    "contact_regime_purposes",
    "contact_marketing_purposes",
    "contact_gpc_purposes",
    "privacy_tombstone_purposes",
)
"""The settings that name some of ``contact_purposes``."""

_NOT_IN_DATABASE_NAMES = '/\\. "$\x00'
"""Characters MongoDB refuses in a database name."""


class Settings(BaseSettings):
    # Structured values (JSON in the environment) are decoded by `_json` below, not by
    # pydantic-settings: its decoding stops at the first variable that is not JSON, with an
    # exception that names a field rather than the variable.
    model_config = SettingsConfigDict(
        env_prefix="C360_", env_file=".env", extra="ignore", enable_decoding=False
    )

    mongodb_uri: str | None = Field(
        default=None,
        description="MongoDB connection string. Unset: start (or reuse) the embedded server.",
    )
    database: str = Field(default="c360", description="Database name.")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded server keeps its files (default: the user's data "
        "directory, so every command finds the same store wherever it runs).",
    )
    embedded_start_timeout: float = Field(
        default=20.0, gt=0, description="Seconds to wait for the embedded server to answer."
    )
    store_timeout_ms: int = Field(
        default=5000, gt=0, description="Server selection and health-check timeout."
    )

    default_region: str = Field(
        # The canonical records' own reading of a number when no region is given, so that a
        # record validated anywhere reads a national number as ingest does.
        default=DEFAULT_REGION,
        min_length=2,
        max_length=2,
        description="ISO 3166 region for phone numbers written without a country code.",
    )
    complaint_tags: frozenset[str] = Field(
        default=frozenset({"complaint"}),
        description="Service-case tags or types that mark a complaint (JSON list in the env).",
    )
    ingest_max_body_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest body POST /ingest and webhooks take."
    )
    shopify_webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret of Shopify webhooks (unset: endpoint off)."
    )
    zendesk_webhook_secret: SecretStr | None = Field(
        default=None, description="Signing secret of the Zendesk webhook (unset: endpoint off)."
    )
    identity_blocked: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BLOCKED),
        description="Regular expressions over identity keys (email:…, phone:+…) that never link.",
    )
    identity_limits: dict[str, int] = Field(
        default_factory=lambda: {k.value: v for k, v in DEFAULT_LIMITS.items()},
        description="At most so many identifiers of a type per profile; more are flagged.",
    )
    identity_priority: list[str] = Field(
        default_factory=lambda: [t.value for t in DEFAULT_PRIORITY],
        description="Identifier types, strongest first, deciding which profile a record joins.",
    )
    identity_shareable: list[IdentifierType] = Field(
        default_factory=lambda: list(DEFAULT_SHAREABLE),
        description="Identifier types several people may share: alone, they link no one whose "
        "given name or birth date conflicts.",
    )
    identity_household_lines: list[str] = Field(
        default_factory=lambda: list(DEFAULT_HOUSEHOLD_LINES),
        description="Phone line types that belong to a place (a home's landline): they link "
        "only records naming nothing else and never merge profiles. [] treats every phone alike.",
    )
    identity_match_auto: float = Field(
        default=22.0,
        description="Probabilistic score (log2 likelihood ratio) from which profiles merge.",
    )
    identity_match_review: float = Field(
        default=12.0, description="Score from which a pair is suggested for review."
    )
    identity_match_weights: dict[str, dict[str, tuple[float, float]]] = Field(
        default_factory=dict,
        description="m and u per field and level of the probabilistic score, over the defaults "
        "(JSON; `c360 identity calibrate` estimates them from the store).",
    )
    ingest_batch_size: int = Field(
        default=500, gt=0, le=10_000, description="Records per store round trip at ingest."
    )

    reporting_currency: str = Field(
        default="EUR",
        pattern=r"^[A-Z]{3}$",
        description="Currency lifetime values are also reported in (ISO 4217).",
    )
    exchange_rates: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Units of the reporting currency per unit of another (JSON object); "
        "amounts in a currency without a rate are left out of the reported total.",
    )
    lifecycle_loyal_orders: int = Field(default=5, gt=1, description="Orders from which loyal.")
    lifecycle_at_risk_days: int = Field(
        default=180, gt=0, description="Days without an order after which a buyer is at risk."
    )
    lifecycle_churned_days: int = Field(
        default=365, gt=0, description="Days unseen on any channel after which churned."
    )
    nps_promoter_min: int = Field(default=9, ge=0, le=10, description="NPS from which promoter.")
    nps_detractor_max: int = Field(default=6, ge=0, le=10, description="NPS up to detractor.")
    value_tier_percentiles: list[float] = Field(
        default_factory=lambda: [0.5, 0.8, 0.95],
        min_length=3,
        max_length=3,
        description="LTV percentiles among buyers where the medium, high and top tiers begin.",
    )
    recent_case_days: int = Field(default=90, gt=0, description="Window of 'recent cases'.")
    past_problems: int = Field(
        default=5, gt=0, le=50, description="Resolved cases shown as a profile's past problems."
    )

    metrics_repair_after_s: float = Field(
        default=300.0,
        ge=0,
        description="Age after which an ingest batch's unfolded metrics count as abandoned "
        "(its worker died): the next ingest run recomputes those profiles.",
    )

    # The loyalty scorecard (KPIs).
    reporting_time_zone: TimeZoneName = Field(
        default="UTC",
        description="The time zone KPI periods are in: a day, week (from Monday) or month "
        "starts at its local midnight (IANA name, e.g. Europe/Madrid).",
    )
    kpi_min_group_size: int = Field(
        default=5,
        ge=1,
        description="KPI figures resting on fewer people than this are suppressed (null), so a "
        "group never identifies a person.",
    )
    kpi_max_periods: int = Field(
        default=400,
        gt=0,
        le=5000,
        description="Most periods one KPI query may span (e.g. days between from and to).",
    )
    csat_satisfied_min: int = Field(
        default=4, ge=1, le=5, description="CSAT answers (1 to 5) from which satisfied."
    )
    ces_high_effort_max: int = Field(
        default=3,
        ge=1,
        le=7,
        description="CES answers (1 very difficult to 7 very easy) up to which high effort.",
    )

    contact_purposes: list[str] = Field(
        default_factory=lambda: ["service", "transactional", "marketing", "surveys"],
        min_length=1,
        description="The purposes consent and decisions are kept for (JSON list).",
    )
    contact_regime_purposes: list[str] = Field(
        default_factory=lambda: ["marketing", "surveys"],
        description="Purposes that need an opt-in where the regime requires one; the others "
        "(service, transactional) are allowed until an opt-out.",
    )
    contact_marketing_purposes: list[str] = Field(
        default_factory=lambda: ["marketing", "surveys"],
        description="Purposes for which roles that see contact points masked (marketing) are "
        "handed them in full: their decisions name the address, their audiences and exports "
        "list it. Audiences and exports for other purposes (service, transactional) are "
        "refused to them, and their decisions show the address masked.",
    )
    contact_opt_out_countries: list[CountryCode] = Field(
        default_factory=list,
        description="Countries (ISO 3166) whose regime allows those purposes until an opt-out; "
        "everywhere else an opt-in is required. The contact point's country decides.",
    )
    contact_default_time_zone: TimeZoneName = Field(
        default="UTC", description="Time zone when neither the customer's nor a country's is known."
    )
    contact_quiet_hours: str | None = Field(
        default="21:00-08:00",
        pattern=r"^(\d{2}:\d{2}-\d{2}:\d{2})?$",
        description="Default quiet hours, local to the customer (empty: none).",
    )
    contact_quiet_channels: list[ContactChannel] = Field(
        default_factory=lambda: [ContactChannel(c) for c in ("phone", "sms", "whatsapp", "push")],
        description="Channels quiet hours apply to.",
    )
    contact_frequency_caps: list[FrequencyCap] = Field(
        default_factory=lambda: [
            FrequencyCap(channel=ContactChannel.EMAIL, purpose="marketing", max_contacts=2),
            FrequencyCap(channel=ContactChannel.SMS, purpose="marketing", max_contacts=1),
        ],
        description="Default caps: at most max_contacts per channel and purpose in any per_days.",
    )
    contact_channel_order: list[ContactChannel] = Field(
        default_factory=lambda: list(ContactChannel),
        description="How channels rank when neither preference nor behaviour says.",
    )
    contact_inference_window: int = Field(
        default=5, gt=0, le=100, description="Last conversations a channel is inferred from."
    )
    contact_gpc_purposes: list[str] = Field(
        default_factory=lambda: ["marketing"],
        description="Purposes a Global Privacy Control signal (Sec-GPC: 1) opts out of.",
    )
    contact_double_opt_in_channels: list[ContactChannel] = Field(
        default_factory=lambda: [ContactChannel.EMAIL],
        description="Channels where an opt-in is pending until confirmed through a link.",
    )
    contact_confirmation_ttl_hours: int = Field(
        default=72, gt=0, description="Hours a double opt-in confirmation link stays valid."
    )
    unsubscribe_link_ttl_days: int = Field(
        default=180, gt=0, description="Days an unsubscribe link stays valid."
    )
    public_url: str | None = Field(
        default=None,
        description="Where customers reach this API: the base of unsubscribe and confirmation "
        "links. Unset: where c360 serve listens (see public_base).",
    )
    signing_secret: SecretStr | None = Field(
        default=None,
        description="Secret that signs unsubscribe links. Unset: one is generated and kept in "
        "C360_DATA_DIR/signing-secret.",
    )
    audience_batch: int = Field(
        default=500, gt=0, le=10_000, description="Profiles examined per audience round trip."
    )
    audience_page_scan: int = Field(
        default=5_000,
        gt=0,
        le=1_000_000,
        description="Profiles one audience page examines at most: a page of a rare audience "
        "ends short there, with hasNextPage, rather than one request reading every profile "
        "(the export reads them all).",
    )
    privacy_secret: SecretStr | None = Field(
        default=None,
        description="Secret the suppression list and opt-out tombstones are keyed with (HMAC) "
        "and erasure receipts are signed with (Ed25519, derived). Unset: one is generated and "
        "kept in C360_DATA_DIR/privacy-secret. Changing it forgets every suppression.",
    )
    privacy_deadline_months: int = Field(
        default=1, ge=1, le=12, description="Calendar months to answer a privacy request in."
    )
    privacy_max_extension_months: int = Field(
        default=2, ge=0, le=12, description="Months a request's deadline may be extended by."
    )
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description="Days records of a kind are kept (JSON object: record kind → days, e.g. "
        '{"site_event": 395, "outbound_contact": 730, "dead_letters": 30}); `dead_letters` '
        "counts from an item's latest rejection. Kinds not named are kept; person, consent, "
        "preference and contact-point records always are. Applied by `c360 retention apply` "
        "and hourly by the API.",
    )
    privacy_tombstone_purposes: list[str] = Field(
        default_factory=lambda: ["marketing", "surveys"],
        description="Purposes an erased person's contact points are opted out of, on every "
        "channel of the point, until a newer explicit opt-in.",
    )

    graphql_max_depth: int = Field(default=10, gt=0, description="Deepest GraphQL selection.")
    graphql_max_tokens: int = Field(
        default=5000, gt=0, description="Largest GraphQL document, in tokens."
    )
    graphql_max_complexity: int = Field(
        default=10_000,
        gt=0,
        description="Highest GraphQL query cost: each field 1, what is under a list once per "
        "item its `first` asks for.",
    )
    graphql_max_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest POST /graphql body, and longest GET query string, accepted (else "
        "413, or 414).",
    )
    graphql_max_variable_values: int = Field(
        default=10_000,
        gt=0,
        description="Most values (every number, string, list and object, nested ones too) the "
        "variables of one GraphQL request may hold.",
    )

    rate_limits: dict[Role, RateLimit | None] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description="Requests per API key, by role: a token bucket of per_minute and burst "
        "(JSON; the roles named replace their defaults, null: unlimited). Shared by every "
        "process on the store.",
    )
    lookup_rate_limits: dict[Role, RateLimit | None] = Field(
        default_factory=lambda: dict(DEFAULT_LOOKUP_RATE_LIMITS),
        description="searchProfiles and profileByIdentifier per API key, by role (each lookup "
        "of a request takes a token): a bucket of its own, tighter than the requests'.",
    )
    audit_retention_days: int = Field(
        default=365,
        gt=0,
        description="Days access-audit entries are kept (a TTL index on MongoDB; pruned "
        "explicitly too).",
    )
    console_session_ttl_s: int = Field(
        default=8 * 3600,
        gt=0,
        le=7 * 24 * 3600,
        description="Seconds a console sign-in lasts at most (a shift), however active.",
    )
    console_session_idle_s: int = Field(
        default=30 * 60,
        gt=0,
        description="Seconds without a request after which a console session ends.",
    )
    reference_sources: dict[ReferenceKind, list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_REFERENCE_SOURCES),
        description="Sources whose order ids and service-case (ticket) ids findProfiles and "
        "the console's screen pop find a customer by; order numbers (#1042) of every source "
        "are found too.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus server sends for /metrics from another host "
        "(an admin API key works too; from loopback no key is needed).",
    )
    metrics_operation_names: int = Field(
        default=100,
        ge=0,
        le=10_000,
        description="Distinct GraphQL operation names given series of their own in /metrics; "
        "later new names count as 'other'.",
    )

    followup_teams: dict[str, TeamSettings] = Field(
        default_factory=dict,
        description="Teams follow-ups go to (JSON object, id → members, escalation_team, "
        "webhook_url, webhook_secret); admins may change members and escalation teams over "
        "GraphQL, which takes precedence. Webhooks and their secrets are set here only.",
    )
    followup_root_causes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ROOT_CAUSES),
        min_length=1,
        description="Root causes a follow-up may be resolved with (what the KPI report groups by).",
    )
    followup_max_trigger_age_days: int = Field(
        default=30,
        ge=1,
        le=MAX_TRIGGER_AGE_DAYS,
        description="Days after which a record (a survey answer, a case) is too old to open a "
        "follow-up, for the alert rules that set no max_trigger_age_days: importing history "
        "records it without filling the agents' queues with overdue work.",
    )
    followup_due_soon_fraction: float = Field(
        default=0.25,
        gt=0,
        lt=1,
        description="An SLA target is due soon (at risk) once this share of its window is left "
        "(0.25: three quarters of it gone); the worker then warns its owner, or its team while "
        "nobody owns it, once. Fixed per follow-up when it opens.",
    )
    feedback_low_scores: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_LOW_SCORES),
        description="Survey scores at or below which an answer needs acknowledging (closing "
        "the loop), per survey type; answers with a comment always do.",
    )
    alerts_tick_s: float = Field(
        default=30.0,
        ge=0,
        description="Seconds between the rounds of c360 serve's follow-up worker (escalation, "
        "due-soon warnings, the outbox, deliveries); 0 turns it off (run c360 alerts tick "
        "instead).",
    )
    alerts_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="How long the store lease of the follow-up worker lasts without renewal: "
        "one process works at a time, another takes over after this.",
    )
    notify_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Delivery attempts of a notification before it is dead.",
    )
    notify_backoff_base_s: float = Field(
        default=30.0, ge=0, description="Wait before the second attempt; doubles each time."
    )
    notify_backoff_max_s: float = Field(
        default=3600.0, ge=0, description="Longest wait between two attempts."
    )
    notify_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a webhook has to answer an attempt."
    )
    notify_concurrency: int = Field(
        default=8, ge=1, le=256, description="Notifications delivered at once by a worker."
    )

    zendesk_subdomain: str | None = Field(
        default=None, description="Zendesk account: https://{subdomain}.zendesk.com."
    )
    zendesk_base_url: str | None = Field(
        default=None, description="Overrides the Zendesk URL (a proxy, or a test server)."
    )
    zendesk_email: str | None = Field(default=None, description="Agent e-mail for the API token.")
    zendesk_api_token: SecretStr | None = None
    zendesk_start_time: int = Field(
        default=0, ge=0, description="Unix time the first sync starts from (later: the cursor)."
    )
    sync_max_retries: int = Field(default=5, ge=0, le=20)
    sync_backoff_base_s: float = Field(default=1.0, ge=0)
    sync_backoff_max_s: float = Field(default=60.0, ge=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    shutdown_timeout_s: int = Field(
        default=30,
        gt=0,
        description="Seconds c360 serve waits, once told to stop (SIGTERM, SIGINT), for the "
        "requests under way before it cuts them short and stops (an import cut short is "
        "completed by the next run of the same input).",
    )
    http_head_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request's line and headers may take from their first byte (a "
        "connection's first request: from the connection) before c360 serve answers 408 and "
        "closes the connection.",
    )
    demo_data: bool = Field(
        default=False, description="Load the bundled demo customers at start-up (idempotent)."
    )
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.TEXT

    def parse_options(
        self, mapping: Mapping[str, str] | None = None, csv: Mapping[str, str] | None = None
    ) -> ParseOptions:
        """What connectors are told: these settings plus a CSV mapping when one is given."""
        return ParseOptions(
            default_region=self.default_region,
            complaint_tags=self.complaint_tags,
            mapping=dict(mapping or {}),
            settings=dict(csv or {}),
        )

    @field_validator("*", mode="before")
    @classmethod
    def _json(cls, value: Any, info: ValidationInfo) -> Any:
        """A structured setting as the environment or ``.env`` gives it: JSON text. Text that is
        not JSON is one more problem named with the others."""
        if isinstance(value, str) and info.field_name in _STRUCTURED:
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not JSON ({exc})") from None
        return value

    @field_validator("default_region")
    @classmethod
    def _phone_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is no region phone numbers are written in (e.g. ES, GB)")
        return region

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http or https address with a host")
        return value

    @field_validator("database")
    @classmethod
    def _database_name(cls, value: str) -> str:
        # The driver refuses these only when a command first names the database, with a
        # traceback; the server refuses a name too long as if it were unreachable.
        size = len(value.encode())
        bad = next((c for c in _NOT_IN_DATABASE_NAMES if c in value), None)
        why = (
            "it is empty"
            if not value
            else f"{bad!r} is not allowed in one"
            if bad
            else f"{size} bytes, at most 63"
            if size > 63
            else None
        )
        if why:
            raise ValueError(f"{shown(value)} is no MongoDB database name: {why}")
        return value

    @field_validator("mongodb_uri")
    @classmethod
    def _mongodb_address(cls, value: str | None) -> str | None:
        # What the driver would take for a host name (``notauri``) fails later as a store
        # that cannot be reached, exit 75: "try again", where the setting is what is wrong.
        if value is not None and not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError(f"{shown(value)} is not a mongodb:// or mongodb+srv:// address")
        return value

    @field_validator("identity_blocked")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value

    @field_validator("identity_priority", "identity_limits")
    @classmethod
    def _identifier_types(cls, value: list[str] | dict[str, int]) -> list[str] | dict[str, int]:
        known = [t.value for t in IdentifierType]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(
                f"unknown identifier types {', '.join(unknown)}; known: {', '.join(known)}"
            )
        return value

    @field_validator("contact_quiet_hours")
    @classmethod
    def _times_of_day(cls, value: str | None) -> str | None:
        for time in value.split("-") if value else ():
            try:
                dt.time.fromisoformat(time)
            except ValueError:
                raise ValueError(f"{time} is not a time of day (HH:MM-HH:MM)") from None
        return value

    @field_validator("identity_match_weights")
    @classmethod
    def _known_weights(
        cls, value: dict[str, dict[str, tuple[float, float]]]
    ) -> dict[str, dict[str, tuple[float, float]]]:
        Weights.over_defaults(value)  # unknown fields or levels, m or u outside (0, 1)
        return value

    @field_validator("rate_limits", "lookup_rate_limits", mode="after")
    @classmethod
    def _over_default_limits(
        cls, value: dict[Role, RateLimit | None], info: ValidationInfo
    ) -> dict[Role, RateLimit | None]:
        defaults = DEFAULT_RATE_LIMITS if info.field_name == "rate_limits" else None
        return {**(defaults or DEFAULT_LOOKUP_RATE_LIMITS), **value}

    @field_validator("retention_days")
    @classmethod
    def _retained_kinds(cls, value: dict[str, int]) -> dict[str, int]:
        known = {k.value for k in RecordKind} - KEPT_KINDS | {DEAD_LETTERS}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"no retention window for {', '.join(unknown)}: windows apply to "
                f"{', '.join(sorted(known))} (person, consent, preference and contact-point "
                "records are kept)"
            )
        if any(days <= 0 for days in value.values()):
            raise ValueError("a retention window is a positive number of days")
        return value

    @field_validator("exchange_rates")
    @classmethod
    def _known_currencies(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        """ISO 4217 codes, written as they are (a rate under ``usd`` would never be found: the
        codes c360 stores are upper case), each with a positive finite rate."""
        for code, rate in value.items():
            if code != code.upper() or pycountry.currencies.get(alpha_3=code) is None:
                raise ValueError(f"{shown(code)} is no ISO 4217 currency code (as USD)")
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"the rate of {code} is {rate}: a rate is a positive number")
        return value

    @field_validator("value_tier_percentiles")
    @classmethod
    def _rising_shares(cls, value: list[float]) -> list[float]:
        if not all(0 < p < 1 for p in value) or value != sorted(set(value)):
            raise ValueError(
                f"{value}: three shares between 0 and 1, rising (medium, high, top), as "
                "[0.5, 0.8, 0.95]"
            )
        return value

    @field_validator(
        "contact_purposes",
        "contact_regime_purposes",
        "contact_marketing_purposes",
        "contact_gpc_purposes",
        "privacy_tombstone_purposes",
    )
    @classmethod
    def _purposes(cls, value: list[str]) -> list[str]:
        # A purpose is a name records and requests carry as they are: one that no record can
        # (a capital, a space) would never match; one the policy does not keep, never apply.
        bad = [p for p in value if not re.fullmatch(PURPOSE_PATTERN, p)]
        if bad:
            raise ValueError(
                f"{', '.join(shown(p) for p in bad)}: a purpose is lower-case letters, digits "
                "and _, from a letter"
            )
        return value

    @model_validator(mode="after")
    def _purposes_kept(self) -> Settings:
        # A list given that names a purpose the policy does not keep would never apply; a
        # default that does (the operator left "surveys" out) is harmless, and not refused.
        for name in _PURPOSE_LISTS:
            unknown = [p for p in getattr(self, name) if p not in self.contact_purposes]
            if unknown and name in self.model_fields_set:
                raise ValueError(
                    f"C360_{name.upper()}: {', '.join(shown(p) for p in unknown)} not in "
                    f"C360_CONTACT_PURPOSES ({', '.join(self.contact_purposes)})"
                )
        return self

    @field_validator("nps_detractor_max")
    @classmethod
    def _nps_bands(cls, value: int, info: ValidationInfo) -> int:
        promoter = info.data.get("nps_promoter_min")
        if promoter is not None and value >= promoter:
            raise ValueError(
                f"{value} is not below C360_NPS_PROMOTER_MIN ({promoter}): a score would be a "
                "detractor's and a promoter's"
            )
        return value

    @field_validator("identity_household_lines")
    @classmethod
    def _known_lines(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(LINE_TYPES.values())
        if unknown:
            raise ValueError(f"unknown phone line types: {', '.join(sorted(unknown))}")
        return value

    @property
    def public_base(self) -> str:
        """``public_url``, else where ``c360 serve`` listens (a wildcard host as the loopback
        address: links must name a host)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def match_weights(self) -> Weights:
        return Weights.over_defaults(self.identity_match_weights)

    def identity_rules(self) -> IdentityRules:
        return IdentityRules.from_settings(
            self.identity_blocked,
            self.identity_limits,
            self.identity_priority,
            self.identity_shareable,
            self.identity_household_lines,
        )


def _is_structured(annotation: Any) -> bool:
    """A list, set or mapping (alone or with None): a value given as JSON."""
    if get_origin(annotation) in (types.UnionType, Union):
        return any(_is_structured(member) for member in get_args(annotation))
    origin = get_origin(annotation)
    return origin is not None and isinstance(origin, type) and issubclass(origin, Collection)


_STRUCTURED = frozenset(
    name for name, field in Settings.model_fields.items() if _is_structured(field.annotation)
)
"""The settings given as JSON (lists, objects)."""


class InvalidSettings(ValueError):
    """Settings that do not validate: one problem per variable, each naming it and why."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)

    @classmethod
    def of(cls, exc: ValidationError) -> InvalidSettings:
        found: dict[str, list[str]] = {}
        for error in exc.errors(include_url=False):
            field, *inside = error["loc"] or ("",)
            variable = f"C360_{str(field).upper()}" if field else "settings"
            ctx = error.get("ctx") or {}
            reason = str(ctx["error"]) if error["type"] == "value_error" else error["msg"]
            if not field and (named := re.match(r"(C360_[A-Z0-9_]+): ", reason)):
                # A check across settings names the variable it refuses.
                variable, reason = named[1], reason[named.end() :]
            where = ".".join(str(part) for part in inside)
            found.setdefault(variable, []).append(f"{where}: {reason}" if where else reason)
        return cls([f"{variable}: {'; '.join(reasons)}" for variable, reasons in found.items()])


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; :class:`InvalidSettings` names every variable that is
    wrong (a value that is not JSON, a number out of range, an unknown kind)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings.of(exc) from None


PREFIX = "C360_"
_NOT_SETTINGS = ("C360_TEST_",)
"""Variables of the project's own tests, not of c360."""


def unknown_variables(environ: Mapping[str, str], env_file: Path = Path(".env")) -> list[str]:
    """A line for each ``C360_`` variable of the environment or the ``.env`` file that is no
    setting (a typo: ``C360_MONGO_URI`` would leave c360 on its embedded store without a word),
    with the setting it most resembles."""
    known = [PREFIX + name.upper() for name in Settings.model_fields]
    found = [(name, "") for name in environ]
    if env_file.is_file():
        found += [(name, " (in .env)") for name in dotenv_values(env_file)]
    lines = []
    for name, where in found:
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in known or upper.startswith(_NOT_SETTINGS):
            continue
        like = difflib.get_close_matches(upper, known, n=1, cutoff=0.8)
        hint = f" ({like[0]} is one)" if like else ""
        lines.append(f"{name}{where} is not a c360 setting, and is ignored{hint}")
    return lines


@dataclass(frozen=True)
class Secret:
    """A secret setting: its variable, its value when set, and the file in ``data_dir`` a
    generated one is kept in when it is not."""

    variable: str
    value: SecretStr | None
    file: str


def secrets_of(settings: Settings) -> tuple[Secret, Secret]:
    """The signing secret, then the privacy secret."""
    return (
        Secret("C360_SIGNING_SECRET", settings.signing_secret, "signing-secret"),
        Secret("C360_PRIVACY_SECRET", settings.privacy_secret, "privacy-secret"),
    )


MIN_SECRET_CHARACTERS = 32
"""What a generated secret has (more: 43 base64 characters); a shorter one set by hand can be
guessed, and who guesses the signing secret can unsubscribe anyone."""


def weak_secrets(settings: Settings) -> list[str]:
    """A line for each secret set shorter than :data:`MIN_SECRET_CHARACTERS` (a warning, not a
    refusal: changing the privacy secret forgets every suppression and tombstone)."""
    lines = []
    for secret in secrets_of(settings):
        size = 0 if secret.value is None else len(secret.value.get_secret_value())
        if secret.value is not None and size < MIN_SECRET_CHARACTERS:
            lines.append(
                f"{secret.variable} is shorter than {MIN_SECRET_CHARACTERS} characters "
                f"({size}): one that short can be guessed; use "
                f'{MIN_SECRET_CHARACTERS} or more random ones (python -c "import secrets; '
                'print(secrets.token_urlsafe(32))")'
            )
    return lines
