"""Importing a file (or standard input) through a connector, streaming line by line."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from c360.ingest.service import IngestService, IngestSummary
from connectors import get_connector


def read_lines(path: str) -> Iterator[bytes]:
    """Raw lines of a file, or of standard input for ``-``, one at a time (constant memory)."""
    if path == "-":
        yield from sys.stdin.buffer
        return
    with Path(path).open("rb") as handle:
        yield from handle


async def import_file(
    ingest: IngestService,
    connector_name: str,
    path: str,
    *,
    default_region: str,
    progress: Callable[[IngestSummary], None] | None = None,
) -> IngestSummary:
    connector = get_connector(connector_name)
    items = connector.parse(read_lines(path), default_region=default_region)
    origin = "stdin" if path == "-" else path
    return await ingest.ingest(connector.name, items, origin=origin, progress=progress)
