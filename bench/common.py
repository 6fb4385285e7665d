"""What the benchmarks share: a throw-away database on the store, generated files imported
through the pipeline, and argument parsing."""

from __future__ import annotations

import argparse
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.generate import Written, generate_all
from c360.followups.rules import MAX_TRIGGER_AGE_DAYS
from c360.ingest.files import import_file
from c360.ingest.summary import IngestSummary
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from connectors import ParseOptions


@contextlib.asynccontextmanager
async def bench_store(
    work_dir: Path, batch_size: int, overrides: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Store, Settings]]:
    """A fresh database on the configured store (or a private embedded one), dropped after.

    Without rate limits unless ``overrides`` set them: a benchmark's clients send far more than
    one key may (``bench.overhead`` measures what the limits, the audit and metrics cost)."""
    unlimited = {"admin": None, "agent": None, "marketing": None, "connector": None}
    settings = Settings(
        _env_file=None,
        database=f"bench_{uuid.uuid4().hex[:8]}",
        data_dir=work_dir / "store",
        default_region="ES",
        ingest_batch_size=batch_size,
        log_level="WARNING",
        rate_limits=unlimited,
        lookup_rate_limits=unlimited,
        # The generated year is 2024: the alert rules open follow-ups for it as for live data,
        # so that opening them is measured too.
        followup_max_trigger_age_days=MAX_TRIGGER_AGE_DAYS,
    ).model_copy(update=overrides or {})
    store = await Store.open(settings)
    try:
        yield store, settings
    finally:
        await store.client.drop_database(settings.database)
        await store.close()


def generate_files(directory: Path, records: int, people: int, seed: int) -> list[Written]:
    """Every connector's file (``generate_all``), timed apart; prints what was written."""
    started = time.perf_counter()
    files = generate_all(directory, records, people, seed)
    seconds = time.perf_counter() - started
    size_mb = sum(f.bytes for f in files) / 2**20
    print(
        f"generated   {sum(f.records for f in files):,} records in "
        f"{sum(f.items for f in files):,} items ({size_mb:,.1f} MB) for {people:,} people "
        f"in {seconds:.1f} s (not counted), seed {seed}, in {directory}"
    )
    return files


@dataclass
class Imported:
    """One generated file through the whole pipeline: what it held, what came of it, how long."""

    written: Written
    summary: IngestSummary
    seconds: float


async def import_written(
    services: Services,
    written: Written,
    options: ParseOptions,
    progress: Callable[[IngestSummary], None] | None = None,
) -> Imported:
    """Import one generated file with ``import_file``, timed (``progress``: after each batch)."""
    started = time.perf_counter()
    summary = await import_file(
        services.ingest, written.connector, str(written.path), options, progress=progress
    )
    return Imported(written, summary, time.perf_counter() - started)


def positive(text: str) -> int:
    """An argparse type: a whole number above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value
