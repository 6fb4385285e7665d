"""The bundled demo dataset, loaded through the ordinary import path (so idempotently)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from pathlib import Path

from c360.auth.service import ApiKeyNotFound, ApiKeyService, Role
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings

log = logging.getLogger(__name__)

DEMO_FILE = Path(__file__).parent / "customers.jsonl"
DEMO_KEY_NAME = "demo:{role}"  # a colon: not a label anyone picks for a real key


async def load_demo_data(services: Services, settings: Settings) -> None:
    summary = await import_file(
        services.ingest, "canonical", str(DEMO_FILE), settings.parse_options()
    )
    log.info("demo data loaded", extra=summary.counts())


async def issue_demo_keys(keys: ApiKeyService, now: dt.datetime) -> dict[Role, str]:
    """A fresh demo key per role, to print; the previous demo keys are revoked.

    Only hashes are stored, so an earlier start's keys cannot be shown again: rotating them is
    what keeps the printed ones the only working ones, and never writes a secret to disk.
    """
    names = {DEMO_KEY_NAME.format(role=role.value) for role in Role}
    for key in await keys.all():
        if key.name in names and key.revoked_at is None:
            with contextlib.suppress(ApiKeyNotFound):  # another start revoked it first
                await keys.revoke(key.id, now)
    issued = {
        role: await keys.create(role, DEMO_KEY_NAME.format(role=role.value), now) for role in Role
    }
    return {role: key for role, (_, key) in issued.items()}
