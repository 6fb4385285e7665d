"""What the Shopify connectors' tests share: parsing, reading results, and a valid order,
customer and refund to start from."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from connectors.base import Connector, ItemError, Parsed, ParseOptions, ParseResult
from connectors.shopify import (
    ShopifyCustomersConnector,
    ShopifyOrdersConnector,
    ShopifyRefundsConnector,
)
from schemas import ConsentChange, ContactPointStatus, Order, Person, Return
from tests.helpers import parse_options

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "shopify"
ORDERS = ShopifyOrdersConnector()
REFUNDS = ShopifyRefundsConnector()

R = TypeVar("R", Order, Person, ConsentChange, ContactPointStatus, Return)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def parse_file(
    connector: Connector, name: str, options: ParseOptions | None = None
) -> list[ParseResult]:
    with (FIXTURES / name).open("rb") as stream:
        return list(connector.parse(stream, options or parse_options()))


def parse_values(
    connector: Connector, values: Iterable[Any], options: ParseOptions | None = None
) -> list[ParseResult]:
    """Parse Python values written as JSON lines."""
    data = "".join(json.dumps(value) + "\n" for value in values).encode()
    return list(connector.parse(io.BytesIO(data), options or parse_options()))


def records(results: Iterable[ParseResult], kind: type[R]) -> list[R]:
    found = [r.record for r in results if isinstance(r, Parsed)]
    return [record for record in found if isinstance(record, kind)]


def errors(results: Iterable[ParseResult]) -> list[tuple[str, str]]:
    return [(r.position, r.reason) for r in results if isinstance(r, ItemError)]


def summary(results: Iterable[ParseResult]) -> list[tuple[str, str]]:
    """Each result as (position, kind of record or "error")."""
    return [(r.position, r.record.kind if isinstance(r, Parsed) else "error") for r in results]


def an_order(order_id: int = 1, **overrides: Any) -> dict[str, Any]:
    """A minimal valid Shopify order resource."""
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "email": "ana@example.com",
        "created_at": "2024-05-01T12:00:00+02:00",
        "updated_at": "2024-05-01T12:00:00+02:00",
        "currency": "EUR",
        "total_price": "25.00",
        "source_name": "web",
        "line_items": [
            {"id": 11, "sku": "SKU-1", "title": "Thing", "price": "25.00", "quantity": 1}
        ],
        **overrides,
    }


def a_customer(customer_id: int = 42, **overrides: Any) -> dict[str, Any]:
    return {
        "id": customer_id,
        "email": "ana@example.com",
        "phone": None,
        "created_at": "2024-01-01T09:00:00Z",
        "updated_at": "2024-04-01T09:00:00Z",
        **overrides,
    }


def email_consent(state: str, at: str | None = "2024-03-01T08:00:00-05:00") -> dict[str, Any]:
    return {"state": state, "opt_in_level": "single_opt_in", "consent_updated_at": at}


def a_refund(refund_id: int = 9, **overrides: Any) -> dict[str, Any]:
    return {
        "id": refund_id,
        "order_id": 1,
        "created_at": "2024-05-03T10:00:00Z",
        "note": None,
        "refund_line_items": [
            {
                "id": 91,
                "line_item_id": 11,
                "quantity": 1,
                "subtotal": "25.00",
                "line_item": {"sku": "SKU-1", "price": "25.00"},
            }
        ],
        "transactions": [
            {"kind": "refund", "status": "success", "currency": "EUR", "amount": "25.00"}
        ],
        **overrides,
    }


CUSTOMERS = ShopifyCustomersConnector()
