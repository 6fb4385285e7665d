"""``shopify-customers``: the Customer resource and the customer topics' bodies; and a customer
as a person with their verified e-mail address, read the same way inside an order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pycountry

from connectors._json import json_results
from connectors._values import stable_id
from connectors.base import JSON_MEDIA_TYPES, Ignore, ParseOptions, ParseResult, identity_names
from connectors.shopify._values import (
    DEFAULT_SOURCE,
    DELETED_KEYS,
    Identifiers,
    Json,
    as_object,
    optional_object,
    optional_time,
    required_id,
    text_of,
    validate,
)
from connectors.shopify.consent import Contact, consent_changes, customer_consents
from schemas import CanonicalRecord, RecordKind
from schemas.identifiers import IdentifierType
from schemas.records import ChangeOrigin, ContactChannel, ContactPointState


class ShopifyCustomersConnector:
    name: ClassVar[str] = "shopify-customers"
    kinds: ClassVar[tuple[RecordKind, ...]] = (
        RecordKind.PERSON,
        RecordKind.CONSENT_CHANGE,
        RecordKind.CONTACT_POINT_STATUS,
    )
    media_types: ClassVar[tuple[str, ...]] = JSON_MEDIA_TYPES

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = options.settings.get("source") or DEFAULT_SOURCE
        region = options.default_region
        return json_results(
            stream,
            ("customers",),
            lambda body: _customer_body(body, source, region),
            names=lambda body: customer_names(body, source),
        )


def customer_names(body: Any, source: str) -> list[str]:
    """Whom a customer body that cannot be read is about: its ``id`` (under ``customer`` in a
    single-resource response), or ``customer_id`` in a consent update."""
    if isinstance(body, dict) and isinstance(body.get("customer"), dict):
        body = body["customer"]
    if not isinstance(body, dict):
        return []
    value = body.get("id", body.get("customer_id"))
    return identity_names([{"type": "external", "source": source, "value": value}])


def order_customer_names(body: Any, source: str) -> list[str]:
    """Whom an order body that cannot be read is about: its customer (under ``order`` in a
    single-resource response)."""
    if isinstance(body, dict) and isinstance(body.get("order"), dict):
        body = body["order"]
    return customer_names(body.get("customer") if isinstance(body, dict) else None, source)


def _customer_body(value: Any, source: str, region: str) -> list[CanonicalRecord]:
    """A customer body's records, read by what the body is (see the module's docstring)."""
    body = as_object(value, "customer")
    if "orders_to_redact" in body:
        raise Ignore(
            "a customers/redact request: erasing a customer is not done by an import; the "
            "records already stored are kept (sent to /webhooks/shopify, it becomes an erasure "
            "request)"
        )
    if "data_request" in body or "orders_requested" in body:
        # Its ``customer`` is whom the request is about, not a customer resource to read.
        raise Ignore(
            "a customers/data_request: giving a customer their data is not done by an import; "
            "nothing of the request is read (sent to /webhooks/shopify, it becomes an access "
            "request)"
        )
    if isinstance(body.get("customer"), dict):  # a single-resource response
        body = body["customer"]
    if "customer_id" in body and "id" not in body:  # customers_email_marketing_consent/update
        customer_id = required_id(body.get("customer_id"), "customer_id")
        consent = body.get("email_marketing_consent")
        if consent is None:
            raise Ignore(f"an e-mail consent update of customer {customer_id} stating no consent")
        email = Identifiers(region).email(body.get("email_address"), "email_address")
        contact = Contact(customer_id, source, region, email=email, phone=None)
        changes = list(
            consent_changes(consent, "email_marketing_consent", ContactChannel.EMAIL, contact)
        )
        if not changes:
            raise Ignore(
                f"an e-mail consent update of customer {customer_id} without consent_updated_at "
                "(never asked): it changes nothing"
            )
        return changes
    customer_id = required_id(body.get("id"), "id")
    if set(body) <= DELETED_KEYS:
        raise Ignore(
            f"a customers/delete body names only customer {customer_id}: the records already "
            "stored are kept"
        )
    records: list[CanonicalRecord] = []
    created_at = optional_time(body.get("created_at"), "created_at") or optional_time(
        body.get("updated_at"), "updated_at"
    )
    if created_at is not None:  # a whole Customer (a consent update carries no times)
        records.append(customer_person(body, customer_id, created_at, source, region))
        records.extend(verified_email(body, customer_id, created_at, source, region))
    records.extend(customer_consents(body, customer_id, source, region))
    if not records:
        raise Ignore(f"customer {customer_id}: nothing c360 reads (no times, no timed consent)")
    return records


def customer_times(
    customer: Json, order_created_at: dt.datetime
) -> tuple[dt.datetime, dt.datetime | None]:
    """When the customer was created (else the order), and its revision if not earlier."""
    occurred_at = optional_time(customer.get("created_at"), "customer.created_at")
    occurred_at = occurred_at or order_created_at
    updated_at = optional_time(customer.get("updated_at"), "customer.updated_at")
    return occurred_at, updated_at if updated_at and updated_at >= occurred_at else None


def customer_person(
    customer: Json, customer_id: str, order_created_at: dt.datetime, source: str, region: str
) -> CanonicalRecord:
    occurred_at, updated_at = customer_times(customer, order_created_at)
    identifiers = Identifiers(region)
    identifiers.external(source, customer_id)
    identifiers.email(customer.get("email"), "customer.email")
    identifiers.phone(customer.get("phone"), "customer.phone")
    address = address_of(customer.get("default_address"), "customer.default_address")
    data: Json = {
        "kind": RecordKind.PERSON,
        "source": source,
        "external_id": customer_id,
        "occurred_at": occurred_at,
        "updated_at": updated_at,
        "identifiers": identifiers.items,
        "given_name": text_of(customer.get("first_name"), "customer.first_name"),
        "family_name": text_of(customer.get("last_name"), "customer.last_name"),
        "addresses": [address] if address else [],
    }
    return validate(data, region, "customer")


def address_of(value: Any, path: str) -> Json | None:
    """The default address, when it has a street and a real country; else none."""
    address = optional_object(value, path)
    if address is None:
        return None
    line1 = text_of(address.get("address1"), f"{path}.address1")
    country = (text_of(address.get("country_code"), f"{path}.country_code") or "").upper()
    if line1 is None or len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
        return None
    return {
        "line1": line1,
        "line2": text_of(address.get("address2"), f"{path}.address2"),
        "city": text_of(address.get("city"), f"{path}.city"),
        "region": text_of(address.get("province"), f"{path}.province"),
        "postal_code": text_of(address.get("zip"), f"{path}.zip"),
        "country": country,
    }


def verified_email(
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
    addresses = Identifiers(region)
    email = addresses.email(customer.get("email"), "customer.email")
    if email is None:  # an invalid address is no contact point
        return
    identifiers = Identifiers(region)
    identifiers.external(source, customer_id)
    identifiers.add(IdentifierType.EMAIL, email)
    occurred_at, updated_at = customer_times(customer, order_created_at)
    digest = stable_id(email)  # an id of fixed length, whatever the address
    data: Json = {
        "kind": RecordKind.CONTACT_POINT_STATUS,
        "source": source,
        "external_id": f"{customer_id}:email:{digest}",
        "occurred_at": occurred_at,
        "updated_at": updated_at,
        "identifiers": identifiers.items,
        "origin": ChangeOrigin.IMPORT,
        "evidence": f"{source} verified_email=true",
        "channel": ContactChannel.EMAIL,
        "contact_point": email,
        "status": ContactPointState.VERIFIED,
    }
    yield validate(data, region, "customer")
