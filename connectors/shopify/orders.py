"""``shopify-orders``: the Order resource and the ``orders/*`` bodies, read by what they are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from connectors._json import json_results
from connectors.base import JSON_MEDIA_TYPES, Ignore, ParseOptions, ParseResult, Rejected
from connectors.shopify._values import (
    DEFAULT_SOURCE,
    DELETED_KEYS,
    Identifiers,
    Json,
    as_list,
    as_object,
    minor_amount,
    optional_id,
    optional_object,
    optional_time,
    payment_currency,
    required_id,
    required_time,
    text_of,
    validate,
)
from connectors.shopify.consent import EMAIL_CONSENT_FIELDS, checkout_consent, customer_consents
from connectors.shopify.customers import (
    address_of,
    customer_person,
    order_customer_names,
    verified_email,
)
from connectors.shopify.refunds import return_record
from schemas import CanonicalRecord, RecordKind
from schemas.records import OrderChannel


class ShopifyOrdersConnector:
    name: ClassVar[str] = "shopify-orders"
    kinds: ClassVar[tuple[RecordKind, ...]] = (
        RecordKind.ORDER,
        RecordKind.PERSON,
        RecordKind.CONSENT_CHANGE,
        RecordKind.CONTACT_POINT_STATUS,
    )
    media_types: ClassVar[tuple[str, ...]] = JSON_MEDIA_TYPES

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = options.settings.get("source") or DEFAULT_SOURCE
        return json_results(
            stream,
            ("orders",),
            lambda body: _body_records(body, source, options),
            names=lambda body: order_customer_names(body, source),
        )


def _body_records(value: Any, source: str, options: ParseOptions) -> list[CanonicalRecord]:
    """An order body's records, read by what the body is (see the module's docstring)."""
    body = as_object(value, "order")
    if isinstance(body.get("data"), dict) and "id" not in body:
        raise Rejected(
            "a GraphQL Admin API response: shopify-orders reads the REST Order JSON "
            "(GET /admin/api/{version}/orders.json) and the orders/* webhook bodies"
        )
    if isinstance(body.get("order_edit"), dict):
        raise Ignore(
            "an orders/edited body (order_edit) lists changes, not the order: the edited "
            "order arrives as orders/updated"
        )
    if isinstance(body.get("order"), dict):  # a single-resource response
        body = body["order"]
    elif isinstance(body.get("refund"), dict):
        return [return_record(body["refund"], source, options)]
    if "refund_line_items" in body and "order_id" in body and "line_items" not in body:
        return [return_record(body, source, options)]
    if body and set(body) <= DELETED_KEYS:
        raise Ignore(
            f"an orders/delete body names only order {optional_id(body.get('id'), 'id')}: "
            "the records already stored are kept"
        )
    return _order_records(body, source, options)


def _order_records(order: Json, source: str, options: ParseOptions) -> list[CanonicalRecord]:
    """The order, its refunds, its customer and consents; all of them or :class:`Rejected`."""
    order_id = required_id(order.get("id"), "id")
    if order.get("test") is True:
        raise Ignore(f"test order {order_id}: kept out of every profile and metric")
    created_at = required_time(order.get("created_at"), "created_at")
    currency = payment_currency(
        order.get("currency") or options.settings.get("currency"), "currency"
    )
    region = options.default_region

    customer = optional_object(order.get("customer"), "customer")
    customer_id = optional_id(customer.get("id"), "customer.id") if customer else None

    identifiers = Identifiers(region)
    identifiers.email(order.get("email"), "email")
    identifiers.phone(order.get("phone"), "phone")
    if customer is not None:
        identifiers.email(customer.get("email"), "customer.email")
        identifiers.phone(customer.get("phone"), "customer.phone")
    if customer_id is not None:
        identifiers.external(source, customer_id)
    if not identifiers.items:
        reason = "the order names nobody: no valid e-mail, phone or customer id"
        if identifiers.dropped:
            reason += f" ({'; '.join(identifiers.dropped)})"
        raise Rejected(reason)

    in_store = order.get("source_name") == "pos"
    location_id = optional_id(order.get("location_id"), "location_id") if in_store else None
    data: Json = {
        "kind": RecordKind.ORDER,
        "source": source,
        "external_id": order_id,
        "occurred_at": created_at,
        "updated_at": optional_time(order.get("updated_at"), "updated_at"),
        "identifiers": identifiers.items,
        "order_number": text_of(order.get("name"), "name")
        or optional_id(order.get("order_number"), "order_number"),
        "channel": OrderChannel.IN_STORE if in_store else OrderChannel.ONLINE,
        "store_id": location_id,
        "line_items": [
            _line_item(line, currency, f"line_items.{index}")
            for index, line in enumerate(as_list(order.get("line_items"), "line_items"))
        ],
        "discount": _discount(order, currency),
        "total": {
            "amount": minor_amount(order.get("total_price"), currency, "total_price"),
            "currency": currency,
        },
        "cancelled_at": optional_time(order.get("cancelled_at"), "cancelled_at"),
    }
    records = [validate(data, region)]
    for index, refund in enumerate(as_list(order.get("refunds"), "refunds")):
        records.append(
            return_record(
                as_object(refund, f"refunds.{index}"),
                source,
                options,
                order_id=order_id,
                order_currency=currency,
                where=f"refunds.{index}",
            )
        )
    if customer is not None and customer_id is not None:
        records.append(customer_person(customer, customer_id, created_at, source, region))
    records.extend(_order_addresses(order, order_id, identifiers.items, source, region))
    if customer is not None and customer_id is not None:
        records.extend(customer_consents(customer, customer_id, source, region))
        records.extend(verified_email(customer, customer_id, created_at, source, region))
    if customer is None or all(customer.get(name) is None for name in EMAIL_CONSENT_FIELDS):
        records.extend(checkout_consent(order, order_id, identifiers, source, region))
    return records


def _order_addresses(
    order: Json, order_id: str, identifiers: list[Json], source: str, region: str
) -> Iterator[CanonicalRecord]:
    """The order's billing and shipping addresses, as a person record of the order.

    A record of its own (not the customer's): every order's addresses stay known with when they
    were used, while the customer record is replaced by each newer revision.
    """
    addresses: list[Json] = []
    for field in ("billing_address", "shipping_address"):
        address = address_of(order.get(field), field)
        if address is not None and address not in addresses:
            addresses.append(address)
    if not addresses:
        return
    created_at = required_time(order.get("created_at"), "created_at")
    data: Json = {
        "kind": RecordKind.PERSON,
        "source": source,
        "external_id": f"order:{order_id}",
        "occurred_at": created_at,
        "updated_at": optional_time(order.get("updated_at"), "updated_at"),
        "identifiers": identifiers,
        "addresses": addresses,
    }
    yield validate(data, region, "billing_address/shipping_address")


def _discount(order: Json, currency: str) -> Json | None:
    """What the order's discounts took off (``total_discounts``), when something was."""
    value = order.get("total_discounts")
    if value is None or value == "":
        return None
    amount = minor_amount(value, currency, "total_discounts")
    return {"amount": amount, "currency": currency} if amount else None


def _line_item(value: Any, currency: str, path: str) -> Json:
    line = as_object(value, path)
    return {
        "line_id": optional_id(line.get("id"), f"{path}.id"),
        "sku": text_of(line.get("sku"), f"{path}.sku"),
        "title": text_of(line.get("title"), f"{path}.title"),
        "category": text_of(line.get("product_type"), f"{path}.product_type"),
        "quantity": line.get("quantity"),
        "unit_price": {
            "amount": minor_amount(line.get("price"), currency, f"{path}.price"),
            "currency": currency,
        },
    }
