"""The bundled demo dataset, loaded through the ordinary import path (so idempotently)."""

from __future__ import annotations

import logging
from pathlib import Path

from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings

log = logging.getLogger(__name__)

DEMO_FILE = Path(__file__).parent / "customers.jsonl"


async def load_demo_data(services: Services, settings: Settings) -> None:
    summary = await import_file(
        services.ingest, "canonical", str(DEMO_FILE), settings.parse_options()
    )
    log.info("demo data loaded", extra=summary.counts())
