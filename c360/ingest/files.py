"""Importing a file (or standard input) through a connector, streaming."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from c360.ingest.service import IngestService
from c360.ingest.summary import IngestSummary
from connectors import ParseOptions, get_connector


@contextmanager
def open_input(path: str) -> Iterator[BinaryIO]:
    """The file at ``path``, or standard input for ``-``, as a binary stream."""
    if path == "-":
        yield sys.stdin.buffer
        return
    with Path(path).open("rb") as handle:
        yield handle


async def import_file(
    ingest: IngestService,
    connector_name: str,
    path: str,
    options: ParseOptions,
    *,
    progress: Callable[[IngestSummary], None] | None = None,
) -> IngestSummary:
    connector = get_connector(connector_name)
    origin = "stdin" if path == "-" else path
    with open_input(path) as stream:
        items = connector.parse(stream, options)
        try:
            return await ingest.ingest(
                connector.name, items, origin=origin, progress=progress, options=options
            )
        finally:
            # An import cut short (the store gone) leaves the reader half-way: close it while
            # its stream is open, not when it is collected after the stream was closed.
            close = getattr(items, "close", None)
            if close is not None:
                close()
