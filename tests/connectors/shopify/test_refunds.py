"""``shopify-refunds``: refunds as returns, in the currency they were paid in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.base import ItemError
from schemas import Money, Return
from schemas.records import ReturnItem
from tests.connectors.shopify.helpers import (
    REFUNDS,
    a_refund,
    errors,
    parse_file,
    parse_values,
    records,
    summary,
    utc,
)
from tests.helpers import parse_options


class TestRefunds:
    """``refunds.json``: a ``{"refunds": [...]}`` REST response."""

    def test_refund_with_a_line_item(self) -> None:
        refund = records(parse_file(REFUNDS, "refunds.json"), Return)[0]
        assert refund.record_id == "shopify:return:509562969"
        assert refund.order_external_id == "450789469"
        assert refund.occurred_at == utc(2024, 3, 16, 14)
        assert refund.updated_at is None
        assert refund.reason == "it broke during shipping"
        assert refund.identifiers == []  # linked through its order
        assert refund.items == [
            ReturnItem(
                line_id="466157049",
                sku="IPOD2008GREEN",
                quantity=1,
                amount=Money(amount=19567, currency="USD"),  # "subtotal": 195.67, a number
            )
        ]
        # The successful refund transaction counts, the failed retry does not.
        assert refund.amount == Money(amount=19965, currency="USD")

    def test_shipping_refund_counts_only_successful_refund_transactions(self) -> None:
        refund = records(parse_file(REFUNDS, "refunds.json"), Return)[1]
        assert refund.order_external_id == "450789470"
        assert refund.items == []
        assert refund.reason is None  # "note": ""
        assert refund.amount == Money(amount=450, currency="EUR")

    def test_positions(self) -> None:
        assert summary(parse_file(REFUNDS, "refunds.json")) == [
            ("item 1", "return"),
            ("item 2", "return"),
        ]

    def test_without_transactions_the_items_are_summed(self) -> None:
        results = parse_file(
            REFUNDS, "refunds_messy.jsonl", parse_options(settings={"currency": "EUR"})
        )
        refund = records(results, Return)[0]
        assert refund.external_id == "8001"
        assert refund.amount == Money(amount=2500, currency="EUR")

    def test_transaction_currency_wins_over_settings(self) -> None:
        results = parse_values(
            REFUNDS, [a_refund(refund_line_items=[])], parse_options(settings={"currency": "USD"})
        )
        assert records(results, Return)[0].amount == Money(amount=2500, currency="EUR")

    def test_transaction_without_status_counts(self) -> None:
        transactions = [{"kind": "refund", "status": None, "currency": "EUR", "amount": "7.50"}]
        results = parse_values(REFUNDS, [a_refund(transactions=transactions)])
        assert records(results, Return)[0].amount == Money(amount=750, currency="EUR")

    def test_only_failed_transactions_refund_nothing(self) -> None:
        transactions = [{"kind": "refund", "status": "failure", "currency": "EUR", "amount": "7"}]
        results = parse_values(REFUNDS, [a_refund(transactions=transactions)])
        assert records(results, Return)[0].amount == Money(amount=0, currency="EUR")

    def test_source_from_settings(self) -> None:
        results = parse_values(REFUNDS, [a_refund()], parse_options(settings={"source": "shop-eu"}))
        assert records(results, Return)[0].record_id == "shop-eu:return:9"


class TestMessyRefunds:
    def test_error_reasons(self) -> None:
        assert errors(parse_file(REFUNDS, "refunds_messy.jsonl")) == [
            (
                "line 1",
                "currency: unknown (no currency on the transactions or amounts, and its order "
                "is not known yet: import the order, then replay the dead letters, or set the "
                "source's currency)",
            ),
            ("line 2", "transactions.0.amount: '1.005' has more decimals than USD allows"),
            ("line 3", "invalid JSON: Unterminated string starting at column 46"),
            ("line 4", "order_id: missing"),
            ("line 5", "transactions: refunded in several currencies: EUR, USD"),
            ("line 6", "items.0.quantity: Input should be greater than 0"),
        ]

    def test_a_refund_stating_no_currency_names_the_order_whose_currency_it_needs(
        self,
    ) -> None:
        [error, *others] = [
            r for r in parse_file(REFUNDS, "refunds_messy.jsonl") if isinstance(r, ItemError)
        ]
        assert (error.position, error.currency_of) == ("line 1", "shopify:order:7001")
        assert [e.currency_of for e in others] == [None] * len(others)
        settings = {"currency": "EUR"}
        again = parse_values(REFUNDS, [json.loads(error.raw)], parse_options(settings=settings))
        assert records(again, Return)[0].amount == Money(amount=2500, currency="EUR")

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"id": None}, "id: missing"),
            ({"created_at": None}, "created_at: missing"),
            ({"transactions": "none"}, "transactions: expected a list, got a string"),
            (
                {"transactions": [{"kind": "refund", "currency": "ABC", "amount": "1"}]},
                "transactions.currency: unknown ISO 4217 currency code 'ABC'",
            ),
            (
                {"transactions": [{"kind": "refund", "currency": "EUR", "amount": None}]},
                "transactions.0.amount: missing",
            ),
        ],
    )
    def test_broken_refund(self, overrides: dict[str, Any], reason: str) -> None:
        assert errors(parse_values(REFUNDS, [a_refund(**overrides)])) == [("line 1", reason)]
