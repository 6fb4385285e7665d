"""What the stages' tests share: a batch made of canonical records, as a connector gives them."""

from __future__ import annotations

from typing import Any

from c360.ingest.batch import Batch
from connectors import ItemError, Parsed, ParseResult
from schemas import parse_record
from tests.helpers import NOW

REGION = "ES"


def parsed(record: dict[str, Any], position: str = "1") -> Parsed:
    return Parsed(position, parse_record(record, default_region=REGION), "{}")


def batch_of(*results: ParseResult) -> Batch:
    """A batch of a canonical import at :data:`NOW` holding these results."""
    return Batch("canonical", "test", NOW, None, results)


def item_error(position: str, reason: str = "not a record") -> ItemError:
    return ItemError.of(position, "{", reason)


def return_of(order_external_id: str, external_id: str = "r-1") -> dict[str, Any]:
    """A return that names nobody: it belongs to whoever placed its order."""
    return {
        "kind": "return",
        "source": "shop",
        "external_id": external_id,
        "occurred_at": "2024-06-02T10:00:00Z",
        "order_external_id": order_external_id,
        "amount": {"amount": 500, "currency": "EUR"},
    }
