"""All configuration, read once from ``C360_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from c360.identity.rules import DEFAULT_BLOCKED, DEFAULT_LIMITS, DEFAULT_PRIORITY, IdentityRules
from connectors import ParseOptions


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="C360_", env_file=".env", extra="ignore")

    mongodb_uri: str | None = Field(
        default=None,
        description="MongoDB connection string. Unset: start (or reuse) the embedded server.",
    )
    database: str = Field(default="c360", description="Database name.")
    data_dir: Path = Field(
        default=Path(".c360"), description="Where the embedded server keeps its files."
    )
    embedded_start_timeout: float = Field(
        default=20.0, gt=0, description="Seconds to wait for the embedded server to answer."
    )
    store_timeout_ms: int = Field(
        default=5000, gt=0, description="Server selection and health-check timeout."
    )

    default_region: str = Field(
        default="US",
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
    identity_match_auto: float = Field(
        default=22.0, description="Probabilistic score (log2 odds) from which profiles merge."
    )
    identity_match_review: float = Field(
        default=12.0, description="Score from which a pair is suggested for review."
    )
    ingest_batch_size: int = Field(
        default=500, gt=0, le=10_000, description="Records per store round trip at ingest."
    )

    graphql_max_depth: int = Field(default=10, gt=0, description="Deepest GraphQL selection.")
    graphql_max_tokens: int = Field(
        default=5000, gt=0, description="Largest GraphQL document, in tokens."
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
    port: int = 8000
    demo_data: bool = Field(
        default=False, description="Load the bundled demo customers at start-up (idempotent)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

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

    def identity_rules(self) -> IdentityRules:
        return IdentityRules.from_settings(
            self.identity_blocked, self.identity_limits, self.identity_priority
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
