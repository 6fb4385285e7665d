"""``shopify-orders``, ``shopify-refunds`` and ``shopify-customers``: Shopify Admin REST
resources and webhook bodies.

Orders come as the REST ``Order`` resource: an export of JSON lines, a JSON array, a list
response ``{"orders": [...]}``, a single-resource response ``{"order": {...}}`` (GET one, POST,
PUT, the cancel response with its ``notice``) or an ``orders/*`` webhook body. Each order yields
its :class:`~schemas.Order`; one :class:`~schemas.Return` per refund it carries (``refunds[]``,
with the same ids as the Refund resource, so the same refund arriving again through
``shopify-refunds`` or ``refunds/create`` is a duplicate); its customer as a
:class:`~schemas.Person`; the billing and shipping addresses as a person record of the order;
one :class:`~schemas.ConsentChange` per marketing consent state Shopify timed (the *current*
state, see ``_CONSENT_STATUS``) and, when Shopify says the customer's e-mail address is
verified, a :class:`~schemas.ContactPointStatus` for it; or, when anything in it is wrong, one
:class:`~connectors.base.ItemError` for the whole item.

Bodies are read by what they are, whatever the topic: a Refund (``order_id`` and
``refund_line_items``) becomes its return; a test order (``test: true``), an ``orders/edited``
body (``{"order_edit": ...}``: the changed order follows as ``orders/updated``) and an
``orders/delete`` body (the id alone) are :class:`~connectors.base.Ignored` with the reason.

Refunds come as the REST ``Refund`` resource (``{"refunds": [...]}``, ``{"refund": {...}}``, an
array, JSON lines or ``refunds/create`` bodies) and become :class:`~schemas.Return` records that
name nobody: the ingest pipeline links them through their order, so both must be imported under
one source. A refund's currency is its transactions', else its amounts' (``*_set``), else its
order's when the order carries it, else the ``currency`` setting; a refund stating none is
rejected naming its order, which the pipeline looks up to read it again in the order's
currency (see :class:`~connectors.base.CurrencyOfOrder`).

Customers come as the REST ``Customer`` resource (``{"customers": [...]}``, ``{"customer":
{...}}``, an array, JSON lines, ``customers/create`` and ``customers/update`` bodies) and become
the customer as a person, their consents and their verified e-mail address, read as an order's
customer is: where most consent changes reach a shop's systems (a customer unsubscribing places
no order). The consent topics' bodies are read too: ``customers_email_marketing_consent/update``
(``customer_id``, ``email_address``, ``email_marketing_consent``) and
``customers_marketing_consent/update`` (``id``, ``phone``, ``sms_marketing_consent``); a
``customers/delete`` body (the id alone) and a ``customers/redact`` request are ignored with
the reason.

Money is read as decimals and converted exactly into minor units; an amount with more decimals
than its currency has is refused, never rounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO, ClassVar

import pycountry
from pydantic import ValidationError

from connectors._json import json_results
from connectors._values import minor_units, stable_id, utc_timestamp
from connectors.base import CurrencyOfOrder, Ignore, ParseOptions, ParseResult, Rejected
from schemas import CanonicalRecord, RecordKind, describe_errors, parse_record
from schemas.identifiers import IdentifierType, identity_key, normalize_email, normalize_phone

DEFAULT_SOURCE = "shopify"

# ISO 4217 codes that are no money a shop is paid in: "no currency", testing, metals, funds.
_NOT_PAYMENT_CURRENCIES = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}
)

# Shopify's marketing consent on a customer is the *current* state, timed by
# ``consent_updated_at``; each state says what holds from then on. ``not_subscribed`` with a
# time is a "no" that replaces an earlier subscription (a customer set back to not subscribed
# must not stay opted in); with no time the customer was never asked, and nothing changes.
# ``pending`` (double opt-in sent, not confirmed) is not subscribed yet: a "no" from then on (an
# earlier subscription is over) with the pending confirmation next to it (``_PENDING``);
# ``redacted`` (erased) and ``invalid`` (the address cannot receive marketing) are a "no".
_CONSENT_STATUS: dict[str, str] = {
    "subscribed": "opted_in",
    "not_subscribed": "opted_out",
    "unsubscribed": "opted_out",
    "pending": "opted_out",
    "redacted": "opted_out",
    "invalid": "opted_out",
}
_PENDING = "pending"

# A customer's own e-mail consent, newest field first; the order's checkbox counts without them.
_EMAIL_CONSENT_FIELDS = frozenset({"email_marketing_consent", "accepts_marketing"})

# The keys of an ``orders/delete`` or ``customers/delete`` body: the id, and nothing else read.
_DELETED_ORDER_KEYS = frozenset({"id", "admin_graphql_api_id"})

_MAX_REASON_CHARS = 2000

Json = dict[str, Any]


# --- Orders ---------------------------------------------------------------------------------


class ShopifyOrdersConnector:
    name: ClassVar[str] = "shopify-orders"
    kinds: ClassVar[tuple[RecordKind, ...]] = (
        RecordKind.ORDER,
        RecordKind.PERSON,
        RecordKind.CONSENT_CHANGE,
        RecordKind.CONTACT_POINT_STATUS,
    )

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = options.settings.get("source") or DEFAULT_SOURCE
        return json_results(stream, ("orders",), lambda body: _body_records(body, source, options))


def _body_records(value: Any, source: str, options: ParseOptions) -> list[CanonicalRecord]:
    """An order body's records, read by what the body is (see the module's docstring)."""
    body = _object(value, "order")
    if isinstance(body.get("order_edit"), dict):
        raise Ignore(
            "an orders/edited body (order_edit) lists changes, not the order: the edited "
            "order arrives as orders/updated"
        )
    if isinstance(body.get("order"), dict):  # a single-resource response
        body = body["order"]
    elif isinstance(body.get("refund"), dict):
        return [_return_record(body["refund"], source, options)]
    if "refund_line_items" in body and "order_id" in body and "line_items" not in body:
        return [_return_record(body, source, options)]
    if body and set(body) <= _DELETED_ORDER_KEYS:
        raise Ignore(
            f"an orders/delete body names only order {_optional_id(body.get('id'), 'id')}: "
            "the records already stored are kept"
        )
    return _order_records(body, source, options)


def _order_records(order: Json, source: str, options: ParseOptions) -> list[CanonicalRecord]:
    """The order, its refunds, its customer and consents; all of them or :class:`Rejected`."""
    order_id = _id(order.get("id"), "id")
    if order.get("test") is True:
        raise Ignore(f"test order {order_id}: kept out of every profile and metric")
    created_at = _time(order.get("created_at"), "created_at")
    currency = _currency(order.get("currency") or options.settings.get("currency"), "currency")
    region = options.default_region

    customer = _optional_object(order.get("customer"), "customer")
    customer_id = _optional_id(customer.get("id"), "customer.id") if customer else None

    identifiers = _Identifiers(region)
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
    location_id = _optional_id(order.get("location_id"), "location_id") if in_store else None
    data: Json = {
        "kind": "order",
        "source": source,
        "external_id": order_id,
        "occurred_at": created_at,
        "updated_at": _optional_time(order.get("updated_at"), "updated_at"),
        "identifiers": identifiers.items,
        "order_number": _text(order.get("name"), "name")
        or _optional_id(order.get("order_number"), "order_number"),
        "channel": "in_store" if in_store else "online",
        "store_id": location_id,
        "line_items": [
            _line_item(line, currency, f"line_items.{index}")
            for index, line in enumerate(_list(order.get("line_items"), "line_items"))
        ],
        "total": {
            "amount": _money(order.get("total_price"), currency, "total_price"),
            "currency": currency,
        },
        "cancelled_at": _optional_time(order.get("cancelled_at"), "cancelled_at"),
    }
    records = [_validate(data, region)]
    for index, refund in enumerate(_list(order.get("refunds"), "refunds")):
        records.append(
            _return_record(
                _object(refund, f"refunds.{index}"),
                source,
                options,
                order_id=order_id,
                order_currency=currency,
                where=f"refunds.{index}",
            )
        )
    if customer is not None and customer_id is not None:
        records.append(_person(customer, customer_id, created_at, source, region))
    records.extend(_order_addresses(order, order_id, identifiers.items, source, region))
    if customer is not None and customer_id is not None:
        records.extend(_consents(customer, customer_id, source, region))
        records.extend(_verified_email(customer, customer_id, created_at, source, region))
    if customer is None or all(customer.get(name) is None for name in _EMAIL_CONSENT_FIELDS):
        records.extend(_checkout_consent(order, order_id, identifiers, source, region))
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
        address = _address(order.get(field), field)
        if address is not None and address not in addresses:
            addresses.append(address)
    if not addresses:
        return
    created_at = _time(order.get("created_at"), "created_at")
    data: Json = {
        "kind": "person",
        "source": source,
        "external_id": f"order:{order_id}",
        "occurred_at": created_at,
        "updated_at": _optional_time(order.get("updated_at"), "updated_at"),
        "identifiers": identifiers,
        "addresses": addresses,
    }
    yield _validate(data, region, "billing_address/shipping_address")


def _line_item(value: Any, currency: str, path: str) -> Json:
    line = _object(value, path)
    return {
        "line_id": _optional_id(line.get("id"), f"{path}.id"),
        "sku": _text(line.get("sku"), f"{path}.sku"),
        "title": _text(line.get("title"), f"{path}.title"),
        "category": _text(line.get("product_type"), f"{path}.product_type"),
        "quantity": line.get("quantity"),
        "unit_price": {
            "amount": _money(line.get("price"), currency, f"{path}.price"),
            "currency": currency,
        },
    }


def _customer_times(
    customer: Json, order_created_at: dt.datetime
) -> tuple[dt.datetime, dt.datetime | None]:
    """When the customer was created (else the order), and its revision if not earlier."""
    occurred_at = _optional_time(customer.get("created_at"), "customer.created_at")
    occurred_at = occurred_at or order_created_at
    updated_at = _optional_time(customer.get("updated_at"), "customer.updated_at")
    return occurred_at, updated_at if updated_at and updated_at >= occurred_at else None


def _person(
    customer: Json, customer_id: str, order_created_at: dt.datetime, source: str, region: str
) -> CanonicalRecord:
    occurred_at, updated_at = _customer_times(customer, order_created_at)
    identifiers = _Identifiers(region)
    identifiers.external(source, customer_id)
    identifiers.email(customer.get("email"), "customer.email")
    identifiers.phone(customer.get("phone"), "customer.phone")
    address = _address(customer.get("default_address"), "customer.default_address")
    data: Json = {
        "kind": "person",
        "source": source,
        "external_id": customer_id,
        "occurred_at": occurred_at,
        "updated_at": updated_at,
        "identifiers": identifiers.items,
        "given_name": _text(customer.get("first_name"), "customer.first_name"),
        "family_name": _text(customer.get("last_name"), "customer.last_name"),
        "addresses": [address] if address else [],
    }
    return _validate(data, region, "customer")


def _address(value: Any, path: str) -> Json | None:
    """The default address, when it has a street and a real country; else none."""
    address = _optional_object(value, path)
    if address is None:
        return None
    line1 = _text(address.get("address1"), f"{path}.address1")
    country = (_text(address.get("country_code"), f"{path}.country_code") or "").upper()
    if line1 is None or len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
        return None
    return {
        "line1": line1,
        "line2": _text(address.get("address2"), f"{path}.address2"),
        "city": _text(address.get("city"), f"{path}.city"),
        "region": _text(address.get("province"), f"{path}.province"),
        "postal_code": _text(address.get("zip"), f"{path}.zip"),
        "country": country,
    }


@dataclass(frozen=True)
class _Contact:
    """Who a customer's consents belong to, and the addresses they apply to."""

    customer_id: str
    source: str
    region: str
    email: str | None
    phone: str | None


def _consents(
    customer: Json, customer_id: str, source: str, region: str
) -> Iterator[CanonicalRecord]:
    """One record per consent the customer was asked for, identified by when it changed."""
    # An invalid address is left out of the consent, as it is left out of the identifiers.
    addresses = _Identifiers(region)
    contact = _Contact(
        customer_id=customer_id,
        source=source,
        region=region,
        email=addresses.email(customer.get("email"), "customer.email"),
        phone=addresses.phone(customer.get("phone"), "customer.phone"),
    )
    email_consent = customer.get("email_marketing_consent")
    if email_consent is not None:
        yield from _consent(email_consent, "email_marketing_consent", "email", contact)
    elif isinstance(customer.get("accepts_marketing"), bool):
        yield from _legacy_consent(customer, contact)
    sms_consent = customer.get("sms_marketing_consent")
    if sms_consent is not None:
        yield from _consent(sms_consent, "sms_marketing_consent", "sms", contact)


def _consent(value: Any, key: str, channel: str, contact: _Contact) -> Iterator[CanonicalRecord]:
    path = f"customer.{key}"
    consent = _object(value, path)
    changed_at = _optional_time(consent.get("consent_updated_at"), f"{path}.consent_updated_at")
    if changed_at is None:  # never asked, or asked before Shopify kept the time
        return
    state = _text(consent.get("state"), f"{path}.state")
    if state is None:
        raise Rejected(f"{path}.state: missing")
    if state.lower() not in _CONSENT_STATUS:
        raise Rejected(f"{path}.state: unknown consent state {state!r}")
    status = _CONSENT_STATUS[state.lower()]
    evidence = [f"{contact.source} {key} state={state}"]
    for field, label in (
        ("opt_in_level", "opt_in_level"),
        ("consent_collected_from", "collected_from"),
    ):
        text = _text(consent.get(field), f"{path}.{field}")
        if text is not None:
            evidence.append(f"{label}={text}")
    yield _consent_record(channel, status, changed_at, " ".join(evidence), contact, path)
    if state.lower() == _PENDING:  # a record of its own, after the "no" at the same instant
        yield _consent_record(
            channel, _PENDING, changed_at, " ".join(evidence), contact, path, suffix=":pending"
        )


def _legacy_consent(customer: Json, contact: _Contact) -> Iterator[CanonicalRecord]:
    """Before ``email_marketing_consent``: ``accepts_marketing`` and when it last changed."""
    path = "customer.accepts_marketing"
    changed_at = _optional_time(customer.get("accepts_marketing_updated_at"), f"{path}_updated_at")
    if changed_at is None:
        return
    accepts = bool(customer.get("accepts_marketing"))
    evidence = f"{contact.source} accepts_marketing={'true' if accepts else 'false'}"
    level = _text(customer.get("marketing_opt_in_level"), "customer.marketing_opt_in_level")
    if level is not None:
        evidence += f" opt_in_level={level}"
    status = "opted_in" if accepts else "opted_out"
    yield _consent_record("email", status, changed_at, evidence, contact, path)


def _checkout_consent(
    order: Json, order_id: str, identifiers: _Identifiers, source: str, region: str
) -> Iterator[CanonicalRecord]:
    """``buyer_accepts_marketing``, for orders whose customer carries no consent of its own.

    Ticked at checkout, it is an e-mail opt-in at the time the order was placed. Unticked, it
    says nothing: the buyer did not ask, which neither withdraws an earlier subscription nor
    refuses one.
    """
    if order.get("buyer_accepts_marketing") is not True:
        return
    email = next((i["value"] for i in identifiers.items if i["type"] == "email"), None)
    if email is None:
        return
    changed_at = _optional_time(order.get("processed_at"), "processed_at") or _time(
        order.get("created_at"), "created_at"
    )
    consent_ids = _Identifiers(region)
    for item in identifiers.items:
        if item["type"] in ("external", "email"):
            consent_ids.add(IdentifierType(item["type"]), item["value"], item.get("source"))
    data: Json = {
        "kind": "consent_change",
        "source": source,
        "external_id": f"order:{order_id}:email:marketing",
        "occurred_at": changed_at,
        "identifiers": consent_ids.items,
        "channel": "email",
        "purpose": "marketing",
        "status": "opted_in",
        "contact_point": email,
        "evidence": f"{source} order {order_id} buyer_accepts_marketing=true",
    }
    yield _validate(data, region, "buyer_accepts_marketing")


def _consent_record(
    channel: str,
    status: str,
    changed_at: dt.datetime,
    evidence: str,
    contact: _Contact,
    path: str,
    suffix: str = "",
) -> CanonicalRecord:
    identifiers = _Identifiers(contact.region)
    identifiers.external(contact.source, contact.customer_id)
    contact_point = contact.email if channel == "email" else contact.phone
    if contact_point is not None:
        kind = IdentifierType.EMAIL if channel == "email" else IdentifierType.PHONE
        identifiers.add(kind, contact_point)
    data: Json = {
        "kind": "consent_change",
        "source": contact.source,
        # Each change is a record of its own; importing the same change again is a duplicate.
        "external_id": f"{contact.customer_id}:{channel}:marketing:{_iso(changed_at)}{suffix}",
        "occurred_at": changed_at,
        "identifiers": identifiers.items,
        "channel": channel,
        "purpose": "marketing",
        "status": status,
        "contact_point": contact_point,
        "evidence": evidence,
    }
    return _validate(data, contact.region, path)


def _verified_email(
    customer: Json, customer_id: str, order_created_at: dt.datetime, source: str, region: str
) -> Iterator[CanonicalRecord]:
    """The customer's e-mail address as verified, when ``verified_email`` is true.

    One record per customer and address, dated like the customer: it happened when the
    customer was created and is revised by the customer's ``updated_at``. Shopify bumps
    ``updated_at`` on any change (every order), so dating the verification by it would let an
    unrelated edit undo a later bounce seen elsewhere; importing the customer again is a
    duplicate or a revision, never a new record.
    """
    if customer.get("verified_email") is not True:
        return
    addresses = _Identifiers(region)
    email = addresses.email(customer.get("email"), "customer.email")
    if email is None:  # an invalid address is no contact point
        return
    identifiers = _Identifiers(region)
    identifiers.external(source, customer_id)
    identifiers.add(IdentifierType.EMAIL, email)
    occurred_at, updated_at = _customer_times(customer, order_created_at)
    digest = stable_id(email)  # an id of fixed length, whatever the address
    data: Json = {
        "kind": "contact_point_status",
        "source": source,
        "external_id": f"{customer_id}:email:{digest}",
        "occurred_at": occurred_at,
        "updated_at": updated_at,
        "identifiers": identifiers.items,
        "origin": "import",
        "evidence": f"{source} verified_email=true",
        "channel": "email",
        "contact_point": email,
        "status": "verified",
    }
    yield _validate(data, region, "customer")


# --- Customers ------------------------------------------------------------------------------


class ShopifyCustomersConnector:
    name: ClassVar[str] = "shopify-customers"
    kinds: ClassVar[tuple[RecordKind, ...]] = (
        RecordKind.PERSON,
        RecordKind.CONSENT_CHANGE,
        RecordKind.CONTACT_POINT_STATUS,
    )

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = options.settings.get("source") or DEFAULT_SOURCE
        region = options.default_region
        return json_results(
            stream, ("customers",), lambda body: _customer_body(body, source, region)
        )


def _customer_body(value: Any, source: str, region: str) -> list[CanonicalRecord]:
    """A customer body's records, read by what the body is (see the module's docstring)."""
    body = _object(value, "customer")
    if "orders_to_redact" in body:
        raise Ignore(
            "a customers/redact request: erasing a customer is not done by an import; the "
            "records already stored are kept"
        )
    if isinstance(body.get("customer"), dict):  # a single-resource response
        body = body["customer"]
    if "customer_id" in body and "id" not in body:  # customers_email_marketing_consent/update
        customer_id = _id(body.get("customer_id"), "customer_id")
        consent = body.get("email_marketing_consent")
        if consent is None:
            raise Ignore(f"an e-mail consent update of customer {customer_id} stating no consent")
        email = _Identifiers(region).email(body.get("email_address"), "email_address")
        contact = _Contact(customer_id, source, region, email=email, phone=None)
        changes = list(_consent(consent, "email_marketing_consent", "email", contact))
        if not changes:
            raise Ignore(
                f"an e-mail consent update of customer {customer_id} without consent_updated_at "
                "(never asked): it changes nothing"
            )
        return changes
    customer_id = _id(body.get("id"), "id")
    if set(body) <= _DELETED_ORDER_KEYS:
        raise Ignore(
            f"a customers/delete body names only customer {customer_id}: the records already "
            "stored are kept"
        )
    records: list[CanonicalRecord] = []
    created_at = _optional_time(body.get("created_at"), "created_at") or _optional_time(
        body.get("updated_at"), "updated_at"
    )
    if created_at is not None:  # a whole Customer (a consent update carries no times)
        records.append(_person(body, customer_id, created_at, source, region))
        records.extend(_verified_email(body, customer_id, created_at, source, region))
    records.extend(_consents(body, customer_id, source, region))
    if not records:
        raise Ignore(f"customer {customer_id}: nothing c360 reads (no times, no timed consent)")
    return records


# --- Refunds --------------------------------------------------------------------------------


class ShopifyRefundsConnector:
    name: ClassVar[str] = "shopify-refunds"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.RETURN,)

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = options.settings.get("source") or DEFAULT_SOURCE
        return json_results(stream, ("refunds",), lambda body: _refund_body(body, source, options))


def _refund_body(value: Any, source: str, options: ParseOptions) -> list[CanonicalRecord]:
    body = _object(value, "refund")
    if isinstance(body.get("refund"), dict):  # a single-resource response
        body = body["refund"]
    return [_return_record(body, source, options)]


def _return_record(
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
            _object(value, "refund"), source, options, order_id, order_currency
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
    refund_id = _id(refund.get("id"), "id")
    order_id = _optional_id(refund.get("order_id"), "order_id") or order_id
    if order_id is None:
        raise Rejected("order_id: missing")
    created_at = _time(refund.get("created_at"), "created_at")
    transactions = [
        _object(t, f"transactions.{i}")
        for i, t in enumerate(_list(refund.get("transactions"), "transactions"))
    ]
    currency = _refund_currency(
        transactions,
        _set_currencies(refund),
        order_currency or options.settings.get("currency"),
        f"{source}:order:{order_id}",
    )

    items: list[Json] = []
    for index, entry in enumerate(_list(refund.get("refund_line_items"), "refund_line_items")):
        path = f"refund_line_items.{index}"
        line = _object(entry, path)
        bought = _optional_object(line.get("line_item"), f"{path}.line_item") or {}
        subtotal = line.get("subtotal")
        items.append(
            {
                "line_id": _optional_id(line.get("line_item_id"), f"{path}.line_item_id"),
                "sku": _text(bought.get("sku"), f"{path}.line_item.sku"),
                "quantity": line.get("quantity"),
                "amount": None
                if subtotal is None
                else {
                    "amount": _money(subtotal, currency, f"{path}.subtotal"),
                    "currency": currency,
                },
            }
        )

    if transactions:
        amount = sum(
            _money(t.get("amount"), currency, f"transactions.{i}.amount")
            for i, t in enumerate(transactions)
            if t.get("kind") == "refund" and t.get("status") in (None, "success")
        )
    else:
        amount = sum(item["amount"]["amount"] for item in items if item["amount"] is not None)

    note = _text(refund.get("note"), "note")
    data: Json = {
        "kind": "return",
        "source": source,
        "external_id": refund_id,
        "order_external_id": order_id,
        "occurred_at": created_at,
        "items": items,
        "amount": {"amount": amount, "currency": currency},
        "reason": note[:_MAX_REASON_CHARS] if note else None,
    }
    return _validate(data, options.default_region)


def _refund_currency(
    transactions: list[Json], amounts: set[str], fallback: str | None, order_record_id: str
) -> str:
    """The transactions' currency, else the refund's amounts' (shop money), else ``fallback``;
    else the order's, if the pipeline knows it."""
    found = {
        code.upper()
        for i, t in enumerate(transactions)
        if (code := _text(t.get("currency"), f"transactions.{i}.currency")) is not None
    }
    if len(found) > 1:
        raise Rejected(f"transactions: refunded in several currencies: {', '.join(sorted(found))}")
    if found:
        return _currency(found.pop(), "transactions.currency")
    if len(amounts) == 1:
        return _currency(amounts.pop(), "subtotal_set.shop_money.currency_code")
    if fallback:
        return _currency(fallback, "currency")
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


# --- Reading Shopify values -----------------------------------------------------------------


class _Identifiers:
    """Valid identifiers of a record, deduplicated; invalid e-mails and phones are dropped."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._keys: set[str] = set()
        self.items: list[Json] = []
        self.dropped: list[str] = []

    def email(self, value: Any, path: str) -> str | None:
        """Add an e-mail address if there is a valid one; return it normalised."""
        return self._try(IdentifierType.EMAIL, value, path, normalize_email)

    def phone(self, value: Any, path: str) -> str | None:
        """Add a phone number if there is a valid one; return it in E.164."""
        return self._try(
            IdentifierType.PHONE, value, path, lambda v: normalize_phone(v, self._region)
        )

    def external(self, source: str, value: str) -> None:
        self.add(IdentifierType.EXTERNAL, value, source)

    def _try(
        self, kind: IdentifierType, value: Any, path: str, normalize: Callable[[str], str]
    ) -> str | None:
        text = _text(value, path)
        if text is None:
            return None
        try:
            normalized = normalize(text)
        except ValueError as exc:
            self.dropped.append(f"{path}: {exc}")
            return None
        self.add(kind, normalized)
        return normalized

    def add(self, kind: IdentifierType, value: str, source: str | None = None) -> None:
        """Add a normalised identifier unless the record has it already."""
        key = identity_key(kind, value, source)
        if key in self._keys:
            return
        self._keys.add(key)
        item: Json = {"type": kind.value, "value": value}
        if source is not None:
            item["source"] = source
        self.items.append(item)


def _validate(data: Json, region: str, where: str = "") -> CanonicalRecord:
    try:
        return parse_record(data, default_region=region)
    except ValidationError as exc:
        reason = describe_errors(exc)
        raise Rejected(f"{where}: {reason}" if where else reason) from None


def _object(value: Any, path: str) -> Json:
    if not isinstance(value, dict):
        raise Rejected(f"{path}: expected an object, got {_json_type(value)}")
    return value


def _optional_object(value: Any, path: str) -> Json | None:
    return None if value is None else _object(value, path)


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejected(f"{path}: expected a list, got {_json_type(value)}")
    return value


def _id(value: Any, path: str) -> str:
    found = _optional_id(value, path)
    if found is None:
        raise Rejected(f"{path}: missing")
    return found


_ID_DIGITS = 40


def _optional_id(value: Any, path: str) -> str | None:
    """Shopify ids are numbers (REST) or strings (GraphQL ids, exports); never fractions."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # A whole Decimal (12e2) short enough to be an id, not 1e999999.
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and 0 <= value.adjusted() < _ID_DIGITS
        and value == value.to_integral_value()
    ):
        return str(int(value))
    raise Rejected(f"{path}: not an id: {value!r}")


def _text(value: Any, path: str) -> str | None:
    """A non-empty trimmed string, or None; numbers are read as their text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise Rejected(f"{path}: expected text, got {_json_type(value)}")


def _time(value: Any, path: str) -> dt.datetime:
    found = _optional_time(value, path)
    if found is None:
        raise Rejected(f"{path}: missing")
    return found


def _optional_time(value: Any, path: str) -> dt.datetime | None:
    text = _text(value, path)
    if text is None:
        return None
    try:
        return utc_timestamp(text)
    except ValueError as exc:
        raise Rejected(f"{path}: {exc}") from None


def _currency(value: Any, path: str) -> str:
    text = _text(value, path)
    if text is None:
        raise Rejected(f"{path}: missing")
    code = text.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise Rejected(f"{path}: unknown ISO 4217 currency code {text!r}")
    if code in _NOT_PAYMENT_CURRENCIES:
        raise Rejected(f"{path}: {text!r} is not a currency anything is paid in")
    return code


def _money(value: Any, currency: str, path: str) -> int:
    """Exact minor units of an amount (a string like ``"12.99"`` or a JSON number)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Rejected(f"{path}: missing")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise Rejected(f"{path}: not an amount: {_json_type(value)}")
    try:
        return minor_units(value, currency)
    except ValueError as exc:
        raise Rejected(f"{path}: {exc}") from None


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | Decimal():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
    return type(value).__name__
