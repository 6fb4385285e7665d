"""``shopify-refunds``: the Refund resource as returns, in the currency they were paid in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from connectors._json import json_results
from connectors.base import JSON_MEDIA_TYPES, CurrencyOfOrder, ParseOptions, ParseResult, Rejected
from connectors.shopify._values import (
    DEFAULT_SOURCE,
    Json,
    as_list,
    as_object,
    minor_amount,
    optional_id,
    optional_object,
    payment_currency,
    required_id,
    required_time,
    text_of,
    validate,
)
from schemas import CanonicalRecord, RecordKind

_MAX_REASON_CHARS = 2000


class ShopifyRefundsConnector:
    name: ClassVar[str] = "shopify-refunds"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.RETURN,)
    media_types: ClassVar[tuple[str, ...]] = JSON_MEDIA_TYPES

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = options.settings.get("source") or DEFAULT_SOURCE
        return json_results(stream, ("refunds",), lambda body: _refund_body(body, source, options))


def _refund_body(value: Any, source: str, options: ParseOptions) -> list[CanonicalRecord]:
    body = as_object(value, "refund")
    if isinstance(body.get("refund"), dict):  # a single-resource response
        body = body["refund"]
    return [return_record(body, source, options)]


def return_record(
    value: Any,
    source: str,
    options: ParseOptions,
    *,
    order_id: str | None = None,
    order_currency: str | None = None,
    where: str = "",
) -> CanonicalRecord:
    """A refund as a return; ``order_id`` and ``order_currency`` when it came inside its order."""
    try:
        return _refund_as_return(
            as_object(value, "refund"), source, options, order_id, order_currency
        )
    except CurrencyOfOrder:
        raise  # only a refund on its own: inside its order, the order's currency is known
    except Rejected as exc:
        raise Rejected(f"{where}.{exc}" if where else str(exc)) from None


def _refund_as_return(
    refund: Json,
    source: str,
    options: ParseOptions,
    order_id: str | None,
    order_currency: str | None,
) -> CanonicalRecord:
    refund_id = required_id(refund.get("id"), "id")
    order_id = optional_id(refund.get("order_id"), "order_id") or order_id
    if order_id is None:
        raise Rejected("order_id: missing")
    created_at = required_time(refund.get("created_at"), "created_at")
    transactions = [
        as_object(t, f"transactions.{i}")
        for i, t in enumerate(as_list(refund.get("transactions"), "transactions"))
    ]
    currency = _refund_currency(
        transactions,
        _set_currencies(refund),
        order_currency or options.settings.get("currency"),
        f"{source}:order:{order_id}",
    )

    items: list[Json] = []
    for index, entry in enumerate(as_list(refund.get("refund_line_items"), "refund_line_items")):
        path = f"refund_line_items.{index}"
        line = as_object(entry, path)
        bought = optional_object(line.get("line_item"), f"{path}.line_item") or {}
        subtotal = line.get("subtotal")
        items.append(
            {
                "line_id": optional_id(line.get("line_item_id"), f"{path}.line_item_id"),
                "sku": text_of(bought.get("sku"), f"{path}.line_item.sku"),
                "quantity": line.get("quantity"),
                "amount": None
                if subtotal is None
                else {
                    "amount": minor_amount(subtotal, currency, f"{path}.subtotal"),
                    "currency": currency,
                },
            }
        )

    if transactions:
        amount = sum(
            minor_amount(t.get("amount"), currency, f"transactions.{i}.amount")
            for i, t in enumerate(transactions)
            if t.get("kind") == "refund" and t.get("status") in (None, "success")
        )
    else:
        amount = sum(item["amount"]["amount"] for item in items if item["amount"] is not None)

    note = text_of(refund.get("note"), "note")
    data: Json = {
        "kind": RecordKind.RETURN,
        "source": source,
        "external_id": refund_id,
        "order_external_id": order_id,
        "occurred_at": created_at,
        "items": items,
        "amount": {"amount": amount, "currency": currency},
        "reason": note[:_MAX_REASON_CHARS] if note else None,
    }
    return validate(data, options.default_region)


def _refund_currency(
    transactions: list[Json], amounts: set[str], fallback: str | None, order_record_id: str
) -> str:
    """The transactions' currency, else the refund's amounts' (shop money), else ``fallback``;
    else the order's, if the pipeline knows it."""
    found = {
        code.upper()
        for i, t in enumerate(transactions)
        if (code := text_of(t.get("currency"), f"transactions.{i}.currency")) is not None
    }
    if len(found) > 1:
        raise Rejected(f"transactions: refunded in several currencies: {', '.join(sorted(found))}")
    if found:
        return payment_currency(found.pop(), "transactions.currency")
    if len(amounts) == 1:
        return payment_currency(amounts.pop(), "subtotal_set.shop_money.currency_code")
    if fallback:
        return payment_currency(fallback, "currency")
    raise CurrencyOfOrder(
        "currency: unknown (no currency on the transactions or amounts, and its order is not "
        "known yet: import the order, then replay the dead letters, or set the source's "
        "currency)",
        order_record_id,
    )


def _set_currencies(refund: Json) -> set[str]:
    """The shop-money currencies of a refund's line items and adjustments (``*_set``)."""
    found: set[str] = set()
    for key in ("refund_line_items", "order_adjustments"):
        for line in refund.get(key) or ():
            if not isinstance(line, dict):
                continue
            for name, value in line.items():
                if name.endswith("_set") and isinstance(value, dict):
                    money = value.get("shop_money")
                    code = money.get("currency_code") if isinstance(money, dict) else None
                    if isinstance(code, str) and code.strip():
                        found.add(code.strip().upper())
    return found
