"""What the benchmarks share: a throw-away database on the store, and argument parsing."""

from __future__ import annotations

import argparse
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from c360.settings import Settings
from c360.store import Store


@contextlib.asynccontextmanager
async def bench_store(
    work_dir: Path, batch_size: int, overrides: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Store, Settings]]:
    """A fresh database on the configured store (or a private embedded one), dropped after."""
    settings = Settings(
        _env_file=None,
        database=f"bench_{uuid.uuid4().hex[:8]}",
        data_dir=work_dir / "store",
        default_region="ES",
        ingest_batch_size=batch_size,
        log_level="WARNING",
    ).model_copy(update=overrides or {})
    store = await Store.open(settings)
    try:
        yield store, settings
    finally:
        await store.client.drop_database(settings.database)
        await store.close()


def positive(text: str) -> int:
    """An argparse type: a whole number above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value
