"""Shopify's marketing consent as consent changes: a customer's e-mail and SMS consent states,
the older ``accepts_marketing``, and the checkout's ``buyer_accepts_marketing``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.base import Rejected
from connectors.shopify._values import (
    Identifiers,
    Json,
    as_object,
    iso_time,
    optional_time,
    required_time,
    text_of,
    validate,
)
from schemas import CanonicalRecord, RecordKind
from schemas.identifiers import IdentifierType
from schemas.quoting import shown
from schemas.records import ConsentStatus, ContactChannel

# Shopify's marketing consent on a customer is the *current* state, timed by
# ``consent_updated_at``; each state says what holds from then on. ``not_subscribed`` with a
# time is a "no" that replaces an earlier subscription (a customer set back to not subscribed
# must not stay opted in); with no time the customer was never asked, and nothing changes.
# ``pending`` (double opt-in sent, not confirmed) is not subscribed yet: a "no" from then on (an
# earlier subscription is over) with the pending confirmation next to it;
# ``redacted`` (erased) and ``invalid`` (the address cannot receive marketing) are a "no".
_CONSENT_STATUS: dict[str, ConsentStatus] = {
    "subscribed": ConsentStatus.OPTED_IN,
    "not_subscribed": ConsentStatus.OPTED_OUT,
    "unsubscribed": ConsentStatus.OPTED_OUT,
    "pending": ConsentStatus.OPTED_OUT,
    "redacted": ConsentStatus.OPTED_OUT,
    "invalid": ConsentStatus.OPTED_OUT,
}
_PENDING = "pending"
MARKETING = "marketing"
"""The purpose Shopify's marketing consent is for."""

# A customer's own e-mail consent, newest field first; the order's checkbox counts without them.
EMAIL_CONSENT_FIELDS = frozenset({"email_marketing_consent", "accepts_marketing"})


@dataclass(frozen=True)
class Contact:
    """Who a customer's consents belong to, and the addresses they apply to."""

    customer_id: str
    source: str
    region: str
    email: str | None
    phone: str | None


def customer_consents(
    customer: Json, customer_id: str, source: str, region: str
) -> Iterator[CanonicalRecord]:
    """One record per consent the customer was asked for, identified by when it changed."""
    # An invalid address is left out of the consent, as it is left out of the identifiers.
    addresses = Identifiers(region)
    contact = Contact(
        customer_id=customer_id,
        source=source,
        region=region,
        email=addresses.email(customer.get("email"), "customer.email"),
        phone=addresses.phone(customer.get("phone"), "customer.phone"),
    )
    email_consent = customer.get("email_marketing_consent")
    if email_consent is not None:
        yield from consent_changes(
            email_consent, "email_marketing_consent", ContactChannel.EMAIL, contact
        )
    elif isinstance(customer.get("accepts_marketing"), bool):
        yield from _legacy_consent(customer, contact)
    sms_consent = customer.get("sms_marketing_consent")
    if sms_consent is not None:
        yield from consent_changes(
            sms_consent, "sms_marketing_consent", ContactChannel.SMS, contact
        )


def consent_changes(
    value: Any, key: str, channel: ContactChannel, contact: Contact
) -> Iterator[CanonicalRecord]:
    path = f"customer.{key}"
    consent = as_object(value, path)
    changed_at = optional_time(consent.get("consent_updated_at"), f"{path}.consent_updated_at")
    if changed_at is None:  # never asked, or asked before Shopify kept the time
        return
    state = text_of(consent.get("state"), f"{path}.state")
    if state is None:
        raise Rejected(f"{path}.state: missing")
    if state.lower() not in _CONSENT_STATUS:
        raise Rejected(f"{path}.state: unknown consent state {shown(state)}")
    status = _CONSENT_STATUS[state.lower()]
    evidence = [f"{contact.source} {key} state={state}"]
    for field, label in (
        ("opt_in_level", "opt_in_level"),
        ("consent_collected_from", "collected_from"),
    ):
        text = text_of(consent.get(field), f"{path}.{field}")
        if text is not None:
            evidence.append(f"{label}={text}")
    yield _consent_record(channel, status, changed_at, " ".join(evidence), contact, path)
    if state.lower() == _PENDING:  # a record of its own, after the "no" at the same instant
        yield _consent_record(
            channel,
            ConsentStatus.PENDING,
            changed_at,
            " ".join(evidence),
            contact,
            path,
            suffix=":pending",
        )


def _legacy_consent(customer: Json, contact: Contact) -> Iterator[CanonicalRecord]:
    """Before ``email_marketing_consent``: ``accepts_marketing`` and when it last changed."""
    path = "customer.accepts_marketing"
    changed_at = optional_time(customer.get("accepts_marketing_updated_at"), f"{path}_updated_at")
    if changed_at is None:
        return
    accepts = bool(customer.get("accepts_marketing"))
    evidence = f"{contact.source} accepts_marketing={'true' if accepts else 'false'}"
    level = text_of(customer.get("marketing_opt_in_level"), "customer.marketing_opt_in_level")
    if level is not None:
        evidence += f" opt_in_level={level}"
    status = ConsentStatus.OPTED_IN if accepts else ConsentStatus.OPTED_OUT
    yield _consent_record(ContactChannel.EMAIL, status, changed_at, evidence, contact, path)


def checkout_consent(
    order: Json, order_id: str, identifiers: Identifiers, source: str, region: str
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
    changed_at = optional_time(order.get("processed_at"), "processed_at") or required_time(
        order.get("created_at"), "created_at"
    )
    consent_ids = Identifiers(region)
    for item in identifiers.items:
        if item["type"] in ("external", "email"):
            consent_ids.add(IdentifierType(item["type"]), item["value"], item.get("source"))
    data: Json = {
        "kind": RecordKind.CONSENT_CHANGE,
        "source": source,
        "external_id": f"order:{order_id}:email:marketing",
        "occurred_at": changed_at,
        "identifiers": consent_ids.items,
        "channel": ContactChannel.EMAIL,
        "purpose": MARKETING,
        "status": ConsentStatus.OPTED_IN,
        "contact_point": email,
        "evidence": f"{source} order {order_id} buyer_accepts_marketing=true",
    }
    yield validate(data, region, "buyer_accepts_marketing")


def _consent_record(
    channel: ContactChannel,
    status: ConsentStatus,
    changed_at: dt.datetime,
    evidence: str,
    contact: Contact,
    path: str,
    suffix: str = "",
) -> CanonicalRecord:
    identifiers = Identifiers(contact.region)
    identifiers.external(contact.source, contact.customer_id)
    email = channel is ContactChannel.EMAIL
    contact_point = contact.email if email else contact.phone
    if contact_point is not None:
        kind = IdentifierType.EMAIL if email else IdentifierType.PHONE
        identifiers.add(kind, contact_point)
    # Each change is a record of its own; importing the same change again is a duplicate.
    external_id = f"{contact.customer_id}:{channel}:{MARKETING}:{iso_time(changed_at)}{suffix}"
    data: Json = {
        "kind": RecordKind.CONSENT_CHANGE,
        "source": contact.source,
        "external_id": external_id,
        "occurred_at": changed_at,
        "identifiers": identifiers.items,
        "channel": channel,
        "purpose": MARKETING,
        "status": status,
        "contact_point": contact_point,
        "evidence": evidence,
    }
    return validate(data, contact.region, path)
