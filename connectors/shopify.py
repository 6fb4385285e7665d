"""``shopify-orders`` and ``shopify-refunds``: Shopify Admin REST resources and webhook bodies.

Orders come as the REST ``Order`` resource (an export of JSON lines, a JSON array, a REST
response ``{"orders": [...]}`` or one ``orders/create``/``orders/updated`` webhook body per
line). Each order yields its :class:`~schemas.Order`, its customer as a :class:`~schemas.Person`,
one :class:`~schemas.ConsentChange` per marketing consent the customer has been asked for and,
when Shopify says the customer's e-mail address is verified, a
:class:`~schemas.ContactPointStatus` for it; or, when anything in it is wrong, one
:class:`~connectors.base.ItemError` for the whole item.

Refunds come as the REST ``Refund`` resource (``{"refunds": [...]}``, an array, JSON lines or
``refunds/create`` bodies) and become :class:`~schemas.Return` records that name nobody: the
ingest pipeline links them through their order, so both must be imported under one source.

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
from connectors.base import ParseOptions, ParseResult, Rejected
from schemas import CanonicalRecord, RecordKind, describe_errors, parse_record
from schemas.identifiers import IdentifierType, identity_key, normalize_email, normalize_phone

DEFAULT_SOURCE = "shopify"

# ISO 4217 codes that are no money a shop is paid in: "no currency", testing, metals, funds.
_NOT_PAYMENT_CURRENCIES = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}
)

# Shopify marketing consent states → canonical status; ``not_subscribed`` (never asked) → none.
_CONSENT_STATUS: dict[str, str | None] = {
    "subscribed": "opted_in",
    "unsubscribed": "opted_out",
    "pending": "pending",
    "redacted": "opted_out",
    "invalid": "opted_out",
    "not_subscribed": None,
}

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
        return json_results(
            stream, ("orders",), lambda order: _order_records(order, source, options)
        )


def _order_records(value: Any, source: str, options: ParseOptions) -> list[CanonicalRecord]:
    """The order, its customer and the customer's consents; all of them or :class:`Rejected`."""
    order = _object(value, "order")
    order_id = _id(order.get("id"), "id")
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
    if customer is not None and customer_id is not None:
        records.append(_person(customer, customer_id, created_at, source, region))
        records.extend(_consents(customer, customer_id, source, region))
        records.extend(_verified_email(customer, customer_id, created_at, source, region))
    return records


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
    if status is None:
        return
    evidence = [f"{contact.source} {key} state={state}"]
    for field, label in (
        ("opt_in_level", "opt_in_level"),
        ("consent_collected_from", "collected_from"),
    ):
        text = _text(consent.get(field), f"{path}.{field}")
        if text is not None:
            evidence.append(f"{label}={text}")
    yield _consent_record(channel, status, changed_at, " ".join(evidence), contact, path)


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


def _consent_record(
    channel: str,
    status: str,
    changed_at: dt.datetime,
    evidence: str,
    contact: _Contact,
    path: str,
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
        "external_id": f"{contact.customer_id}:{channel}:marketing:{_iso(changed_at)}",
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


# --- Refunds --------------------------------------------------------------------------------


class ShopifyRefundsConnector:
    name: ClassVar[str] = "shopify-refunds"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.RETURN,)

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = options.settings.get("source") or DEFAULT_SOURCE
        return json_results(
            stream, ("refunds",), lambda refund: [_return_record(refund, source, options)]
        )


def _return_record(value: Any, source: str, options: ParseOptions) -> CanonicalRecord:
    refund = _object(value, "refund")
    refund_id = _id(refund.get("id"), "id")
    order_id = _id(refund.get("order_id"), "order_id")
    created_at = _time(refund.get("created_at"), "created_at")
    transactions = [
        _object(t, f"transactions.{i}")
        for i, t in enumerate(_list(refund.get("transactions"), "transactions"))
    ]
    currency = _refund_currency(transactions, options.settings.get("currency"))

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


def _refund_currency(transactions: list[Json], fallback: str | None) -> str:
    found = {
        code.upper()
        for i, t in enumerate(transactions)
        if (code := _text(t.get("currency"), f"transactions.{i}.currency")) is not None
    }
    if len(found) > 1:
        raise Rejected(f"transactions: refunded in several currencies: {', '.join(sorted(found))}")
    if found:
        return _currency(found.pop(), "transactions.currency")
    if fallback:
        return _currency(fallback, "settings.currency")
    raise Rejected("refund currency unknown")


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


def _optional_id(value: Any, path: str) -> str | None:
    """Shopify ids are numbers (REST) or strings (GraphQL ids, exports); never fractions."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and value % 1 == 0:
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
