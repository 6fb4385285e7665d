"""Shopify's marketing consent: the customer's states, the older ``accepts_marketing``, the
checkout's box."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Parsed
from schemas import ConsentChange
from tests.connectors.shopify.helpers import (
    ORDERS,
    a_customer,
    an_order,
    email_consent,
    errors,
    parse_file,
    parse_values,
    records,
    summary,
    utc,
)


class TestConsents:
    @pytest.mark.parametrize(
        ("state", "status"),
        [
            ("subscribed", "opted_in"),
            ("unsubscribed", "opted_out"),
            ("redacted", "opted_out"),
            ("invalid", "opted_out"),
        ],
    )
    def test_state_maps_to_status(self, state: str, status: str) -> None:
        customer = a_customer(email_marketing_consent=email_consent(state))
        consents = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)
        assert [(c.status, c.evidence) for c in consents] == [
            (status, f"shopify email_marketing_consent state={state} opt_in_level=single_opt_in")
        ]

    def test_pending_is_not_subscribed_until_confirmed(self) -> None:
        """A "no" from then on (an earlier subscription is over), and the pending confirmation
        as a record of its own that the fold applies after it."""
        customer = a_customer(email_marketing_consent=email_consent("pending"))
        consents = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)
        evidence = "shopify email_marketing_consent state=pending opt_in_level=single_opt_in"
        assert [(c.external_id, c.status, c.evidence) for c in consents] == [
            ("42:email:marketing:2024-03-01T13:00:00Z", "opted_out", evidence),
            ("42:email:marketing:2024-03-01T13:00:00Z:pending", "pending", evidence),
        ]
        assert consents[0].record_id < consents[1].record_id  # same instant: no, then pending

    def test_not_subscribed_with_a_time_is_the_latest_no(self) -> None:
        customer = a_customer(email_marketing_consent=email_consent("not_subscribed"))
        results = parse_values(ORDERS, [an_order(customer=customer)])
        [consent] = records(results, ConsentChange)
        assert (consent.status, consent.occurred_at) == ("opted_out", utc(2024, 3, 1, 13))
        assert consent.evidence == "shopify email_marketing_consent state=not_subscribed" + (
            " opt_in_level=single_opt_in"
        )

    def test_never_asked_yields_no_consent(self) -> None:
        customer = a_customer(email_marketing_consent=email_consent("not_subscribed", None))
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert records(results, ConsentChange) == []

    def test_consent_without_a_time_yields_no_consent(self) -> None:
        customer = a_customer(
            email_marketing_consent=email_consent("subscribed", None),
            sms_marketing_consent={
                "state": "subscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": None,
                "consent_collected_from": "OTHER",
            },
        )
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert summary(results) == [("line 1", "order"), ("line 1", "person")]

    def test_sms_consent_without_a_phone_has_no_contact_point(self) -> None:
        customer = a_customer(
            sms_marketing_consent={
                "state": "unsubscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": "2024-03-02T10:00:00Z",
                "consent_collected_from": "OTHER",
            }
        )
        consent = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)[0]
        assert consent.external_id == "42:sms:marketing:2024-03-02T10:00:00Z"
        assert consent.status == "opted_out"
        assert consent.contact_point is None
        assert [i.key for i in consent.identifiers] == ["ext:shopify:42"]

    def test_legacy_accepts_marketing(self) -> None:
        consent = records(parse_file(ORDERS, "orders.jsonl"), ConsentChange)[0]
        assert consent.external_id == "6000000002:email:marketing:2019-06-01T11:00:00Z"
        assert consent.channel == "email"
        assert consent.status == "opted_in"
        assert consent.occurred_at == utc(2019, 6, 1, 11)
        assert consent.contact_point == "old.timer@example.co.uk"
        assert consent.evidence == "shopify accepts_marketing=true opt_in_level=single_opt_in"

    def test_legacy_refusal_is_opted_out(self) -> None:
        customer = a_customer(
            accepts_marketing=False, accepts_marketing_updated_at="2020-01-01T00:00:00Z"
        )
        consent = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)[0]
        assert (consent.status, consent.evidence) == (
            "opted_out",
            "shopify accepts_marketing=false",
        )

    def test_legacy_field_is_ignored_next_to_email_marketing_consent(self) -> None:
        customer = a_customer(
            accepts_marketing=True,
            accepts_marketing_updated_at="2020-01-01T00:00:00Z",
            email_marketing_consent=email_consent("not_subscribed"),
        )
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert [c.status for c in records(results, ConsentChange)] == ["opted_out"]

    def test_unknown_state_rejects_the_order(self) -> None:
        results = parse_file(ORDERS, "orders_messy.jsonl")
        assert (
            "line 12",
            "customer.email_marketing_consent.state: unknown consent state 'maybe'",
        ) in errors(results)
        assert not [r for r in results if r.position == "line 12" and isinstance(r, Parsed)]


class TestCheckoutConsent:
    """``buyer_accepts_marketing``: the checkout's box, for orders whose customer carries no
    consent of its own."""

    def consents(self, order: dict[str, Any]) -> list[ConsentChange]:
        return records(parse_values(ORDERS, [order]), ConsentChange)

    def test_a_ticked_box_is_an_opt_in_when_the_order_was_processed(self) -> None:
        order = an_order(
            buyer_accepts_marketing=True,
            processed_at="2024-05-01T12:05:00+02:00",
            customer=a_customer(),
        )
        [consent] = self.consents(order)
        assert (consent.external_id, consent.status, consent.occurred_at) == (
            "order:1:email:marketing",
            "opted_in",
            utc(2024, 5, 1, 10, 5),
        )
        assert (consent.channel, consent.purpose, consent.contact_point) == (
            "email",
            "marketing",
            "ana@example.com",
        )
        assert consent.evidence == "shopify order 1 buyer_accepts_marketing=true"
        assert [i.key for i in consent.identifiers] == ["email:ana@example.com", "ext:shopify:42"]

    def test_a_guest_checkout_is_dated_by_the_order_without_processed_at(self) -> None:
        [consent] = self.consents(an_order(buyer_accepts_marketing=True))
        assert (consent.occurred_at, [i.key for i in consent.identifiers]) == (
            utc(2024, 5, 1, 10),
            ["email:ana@example.com"],
        )

    @pytest.mark.parametrize("ticked", [False, None, "true"])
    def test_only_a_ticked_box_says_anything(self, ticked: Any) -> None:
        assert self.consents(an_order(buyer_accepts_marketing=ticked)) == []

    def test_without_an_email_address_there_is_nothing_to_consent_for(self) -> None:
        order = an_order(email=None, phone="+34 611 22 33 44", buyer_accepts_marketing=True)
        assert self.consents(order) == []

    @pytest.mark.parametrize(
        ("own", "statuses"),
        [
            ({"email_marketing_consent": email_consent("not_subscribed")}, ["opted_out"]),
            ({"email_marketing_consent": email_consent("subscribed", None)}, []),
            ({"accepts_marketing": False, "accepts_marketing_updated_at": None}, []),
        ],
    )
    def test_the_customers_own_state_wins_over_the_box(
        self, own: dict[str, Any], statuses: list[str]
    ) -> None:
        order = an_order(buyer_accepts_marketing=True, customer=a_customer(**own))
        assert [c.status for c in self.consents(order)] == statuses

    def test_a_null_consent_field_is_no_state_of_the_customers(self) -> None:
        customer = a_customer(email_marketing_consent=None, accepts_marketing=None)
        [consent] = self.consents(an_order(buyer_accepts_marketing=True, customer=customer))
        assert (consent.external_id, consent.status) == ("order:1:email:marketing", "opted_in")
