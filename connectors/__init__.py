"""Source connectors: pure functions from a source's format to canonical records.

A connector never touches the store. It yields, for every input item, either a
:class:`~connectors.base.Parsed` record or an :class:`~connectors.base.ItemError` saying why the
item was rejected, with where it was and what it was, so the pipeline can dead-letter it. An
input it cannot read at all as it was told (bad options, a CSV header lacking a column) raises
:class:`~connectors.base.Unreadable` before any item, and nothing of it is kept.
"""

from connectors.base import (
    Connector,
    Ignored,
    ItemError,
    Parsed,
    ParseOptions,
    ParseResult,
    Unreadable,
    kept_whole,
)
from connectors.csv import parse_mapping
from connectors.registry import CONNECTORS, get_connector

__all__ = [
    "CONNECTORS",
    "Connector",
    "Ignored",
    "ItemError",
    "ParseOptions",
    "ParseResult",
    "Parsed",
    "Unreadable",
    "get_connector",
    "kept_whole",
    "parse_mapping",
]
