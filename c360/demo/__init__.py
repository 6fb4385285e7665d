"""The bundled demo dataset, loaded through the ordinary import path (so idempotently).

Its customers' stories happened in 2022-2024. At its first load into a store their times are
moved on by whole weeks (weekdays and hours stay), so that the latest falls in the week before:
a demo started years later shows active customers and a KPI dashboard with recent figures, not
everyone churned. A later start finds the moved records and moves them alike (all duplicates).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from c360.auth.service import ApiKeyNotFound, ApiKeyService, Role
from c360.ingest.service import IngestService
from c360.services import Services
from c360.settings import Settings
from connectors import get_connector

log = logging.getLogger(__name__)

DEMO_FILE = Path(__file__).parent / "customers.jsonl"
DEMO_KEY_NAME = "demo:{role}"  # a colon: not a label anyone picks for a real key
WEEK = dt.timedelta(weeks=1)
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT")  # a time of day: birth dates are not moved


async def load_demo_data(services: Services, settings: Settings, now: dt.datetime) -> None:
    records = [json.loads(line) for line in DEMO_FILE.read_text("utf-8").splitlines() if line]
    shift = await _shift(services.ingest, records, now)
    moved = "".join(json.dumps(moved_on(r, shift), ensure_ascii=False) + "\n" for r in records)
    connector, options = get_connector("canonical"), settings.parse_options()
    summary = await services.ingest.ingest(
        connector.name,
        connector.parse(io.BytesIO(moved.encode()), options),
        origin=f"{DEMO_FILE} (moved on {shift.days // 7} weeks)",
        options=options,
    )
    log.info("demo data loaded", extra={"weeks_moved": shift.days // 7, **summary.counts()})


def weeks_on(latest: dt.datetime, now: dt.datetime) -> dt.timedelta:
    """The whole weeks that bring ``latest`` into the week before ``now`` (none when it is)."""
    return max(dt.timedelta(0), (now - latest) // WEEK * WEEK)


def moved_on(value: Any, shift: dt.timedelta) -> Any:
    """A demo record (or any part of it) with every instant moved on by ``shift``."""
    if isinstance(value, dict):
        return {k: moved_on(v, shift) for k, v in value.items()}
    if isinstance(value, list):
        return [moved_on(v, shift) for v in value]
    if isinstance(value, str) and _INSTANT.match(value):
        moved = dt.datetime.fromisoformat(value) + shift
        return moved.isoformat().replace("+00:00", "Z")
    return value


async def _shift(
    ingest: IngestService, records: list[dict[str, Any]], now: dt.datetime
) -> dt.timedelta:
    """How far the demo's times move: as far as a start before moved the records it finds
    stored (most of them: one may have been amended since), else the weeks that bring its
    latest instant into the week before ``now``."""
    revisions = {
        f"{r['source']}:{r['kind']}:{r['external_id']}": dt.datetime.fromisoformat(
            r.get("updated_at") or r["occurred_at"]
        )
        for r in records
    }
    stored = await ingest.stored_revisions(revisions)
    shifts = Counter(at - revisions[record_id] for record_id, at in stored.items())
    if shifts:
        return shifts.most_common(1)[0][0]
    return weeks_on(max(_instants(records)), now)


def _instants(value: Any) -> list[dt.datetime]:
    if isinstance(value, dict):
        return [i for v in value.values() for i in _instants(v)]
    if isinstance(value, list):
        return [i for v in value for i in _instants(v)]
    if isinstance(value, str) and _INSTANT.match(value):
        return [dt.datetime.fromisoformat(value)]
    return []


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
