"""Vendors' own samples with one value at a time replaced by something hostile: every connector
answers with records or item errors, never an exception, and the pipeline's check of what the
store can hold never raises either."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.ingest.storable import refuse_unstorable
from c360.records.documents import draft_document
from connectors import Parsed, get_connector
from tests.garbage import JSON_DOCUMENTS
from tests.helpers import parse_options

FIXTURES = Path(__file__).parent.parent / "fixtures"
HOSTILE = [
    "123456789012345678901",
    "-123456789012345678901",
    "1e999999",
    "1E+999999999999",
    "NaN",
    "-Infinity",
    "1" * 5000,
    "0." + "1" * 3000,
    '"\\ud800"',
    '{"$x": 1}',
    '{"a\\u0000": 1}',
    '{"a.b": 1}',
    "[" * 450 + "]" * 450,
    '"0001-01-01T00:00:00+14:00"',
    '"9999-12-31T23:59:59-14:00"',
    '"x\\u0000y"',
]
LEAVES = 12
"""Deeper values replaced per sample (chosen at random, seeded by the connector's name)."""


def samples() -> dict[str, Any]:
    """One document of each JSON connector: the vendors' own examples, and the samples
    ``tests/garbage.py`` keeps for every registered connector (a new one is covered here by
    giving it one there)."""
    events = (FIXTURES / "segment" / "events.jsonl").read_text().splitlines()
    return {
        **{name: documents[0] for name, documents in JSON_DOCUMENTS.items()},
        "segment": json.loads(events[0]),
        "shopify-orders": json.loads((FIXTURES / "shopify" / "order_webhook.json").read_text()),
        "shopify-refunds": json.loads((FIXTURES / "shopify" / "refunds.json").read_text())[
            "refunds"
        ][0],
        "zendesk-tickets": json.loads((FIXTURES / "zendesk" / "page1.json").read_text()),
    }


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def replaced(value: Any, path: tuple[Any, ...], text: str) -> bytes:
    """The sample as JSON with the value at ``path`` written as ``text``."""
    copied = copy.deepcopy(value)
    inner = copied
    for step in path[:-1]:
        inner = inner[step]
    inner[path[-1]] = "@HOSTILE@"
    return json.dumps(copied).replace('"@HOSTILE@"', text).encode()


CONNECTORS = sorted(samples())


@pytest.mark.parametrize("connector", CONNECTORS)
def test_a_hostile_value_anywhere_is_at_most_an_item_error(connector: str) -> None:
    sample = samples()[connector]
    paths = list(leaves(sample))
    random.Random(connector).shuffle(paths)
    # Every top-level value (an event's type, an order's id and total), and some deeper ones.
    chosen = [p for p in paths if len(p) == 1] + [p for p in paths if len(p) > 1][:LEAVES]
    options = parse_options(default_region="ES")
    now = dt.datetime.now(dt.UTC)
    for path in chosen:
        for text in HOSTILE:
            body = replaced(sample, path, text)
            results = list(get_connector(connector).parse(io.BytesIO(body), options))
            assert results, (path, text)
            parsed = [r for r in results if isinstance(r, Parsed)]
            refuse_unstorable(parsed, lambda record: draft_document(record, now))
