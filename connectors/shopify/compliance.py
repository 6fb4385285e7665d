"""Shopify's compliance webhooks read as the privacy requests they are.

Shopify sends an app ``customers/data_request`` when a customer asked the shop for their data,
and ``customers/redact`` when the shop's owner asked for a customer's data to be erased (at
once, or ten days after the request when the customer placed no order in the last six months).
Both name the customer by Shopify id, e-mail address and phone number, and the orders
concerned; a data request carries Shopify's id for it. ``shop/redact`` (48 hours after a shop
uninstalled the app) asks for everything the shop ever sent to be erased: that is an operator's
decision about the whole store, so it is told apart, not read as a person's request.

Nothing here stores anything: the API hands the request to the privacy service, which takes it
in as verified by the shop (Shopify signed it) for a person to run.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from connectors.base import Ignore, Rejected
from connectors.shopify._values import (
    DEFAULT_SOURCE,
    Identifiers,
    Json,
    as_list,
    as_object,
    optional_id,
    text_of,
)

CUSTOMERS_DATA_REQUEST = "customers/data_request"
CUSTOMERS_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"
COMPLIANCE_TOPICS = frozenset({CUSTOMERS_DATA_REQUEST, CUSTOMERS_REDACT, SHOP_REDACT})


class Asked(enum.StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"


@dataclass(frozen=True)
class ComplianceRequest:
    asked: Asked
    identifiers: tuple[Json, ...]
    """Whom it is about, each readable one normalised: ``{"type", "value"[, "source"]}``."""
    shop: str
    """The shop's domain (its id when the body gives no domain)."""
    reference: str | None
    """What names the request at Shopify, the same in every delivery of it: a data request's
    id, else the delivery's event id; None when neither is known (each delivery is new)."""
    request_id: str | None
    """Shopify's id for the request (a data request's)."""
    orders: int
    """How many orders the request names (``orders_requested`` / ``orders_to_redact``)."""
    unread: tuple[str, ...]
    """Identifiers the body gives that could not be read, each by its field and why, not by
    its value (kept in the request's notes, which an erasure does not forget)."""

    def note(self, topic: str) -> str:
        """What the request's first event keeps of the body: the ids a person checks it by."""
        parts = [f"Shopify {topic} from {self.shop}"]
        if self.request_id is not None:
            parts.append(f"Shopify's request id {self.request_id}")
        if self.orders:  # how many, not which: the notes outlive an erasure
            parts.append(f"{self.orders} order{'s' if self.orders > 1 else ''} named")
        if self.unread:
            parts.append(f"not read: {'; '.join(self.unread)}")
        return "; ".join(parts)


def compliance_request(
    topic: str, body: bytes, region: str, *, delivery: str | None, source: str = DEFAULT_SOURCE
) -> ComplianceRequest:
    """The request a compliance webhook's ``body`` makes; ``delivery``: the event id of the
    delivery (``X-Shopify-Event-Id``, else ``X-Shopify-Webhook-Id``), if any. Raises
    :class:`Ignore` for ``shop/redact`` and :class:`Rejected` for a body that names no one c360
    could find."""
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise Rejected(f"invalid JSON: {exc}") from None
    payload = as_object(data, "body")
    shop = text_of(payload.get("shop_domain"), "shop_domain") or optional_id(
        payload.get("shop_id"), "shop_id"
    )
    if topic == SHOP_REDACT:
        raise Ignore(
            f"a shop/redact request{f' from {shop}' if shop else ''}: erasing everything a shop "
            "sent is decided by whoever runs c360, not by a webhook; nothing was changed"
        )
    if shop is None:
        raise Rejected("shop_domain and shop_id: missing; nothing says which shop asks")
    if topic == CUSTOMERS_DATA_REQUEST:
        asked, orders_field = Asked.ACCESS, "orders_requested"
        request = as_object(payload.get("data_request"), "data_request")
        request_id = optional_id(request.get("id"), "data_request.id")
    else:
        asked, orders_field, request_id = Asked.ERASURE, "orders_to_redact", None
    if request_id is not None:
        reference: str | None = f"shopify:{shop}:data_request:{request_id}"
    elif delivery is not None and delivery.strip():
        reference = f"shopify:{shop}:event:{delivery.strip()}"
    else:
        reference = None
    customer = as_object(payload.get("customer"), "customer")
    found = Identifiers(region)
    customer_id = optional_id(customer.get("id"), "customer.id")
    if customer_id is not None:
        found.external(source, customer_id)
    unread = []
    for field, read, what in (
        ("email", found.email, "an e-mail address"),
        ("phone", found.phone, f"a phone number in region {region}"),
    ):
        path = f"customer.{field}"
        if read(customer.get(field), path) is None and text_of(customer.get(field), path):
            # Said without the value: the request's notes outlive its erasure.
            unread.append(f"{path}: not {what} c360 can read")
    if not found.items:
        said = f" ({'; '.join(found.dropped)})" if found.dropped else ""
        raise Rejected(f"customer: no id, e-mail address or phone number c360 can read{said}")
    orders = 0
    for n, value in enumerate(as_list(payload.get(orders_field), orders_field)):
        path = f"{orders_field}[{n}]"
        try:
            orders += optional_id(value, path) is not None
        except Rejected:  # the person's request stands without it
            unread.append(f"{path}: not an order id")
    return ComplianceRequest(
        asked=asked,
        identifiers=tuple(found.items),
        shop=shop,
        reference=reference,
        request_id=request_id,
        orders=orders,
        unread=tuple(unread),
    )
