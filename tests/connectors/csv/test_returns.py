"""``returns-csv``: returns, one row each."""

from __future__ import annotations

from connectors.csv import ReturnsCsvConnector
from schemas import Money, Return
from schemas.records import ReturnItem
from tests.connectors.csv.helpers import (
    csv_bytes,
    email,
    errors,
    eur,
    external,
    keys,
    records,
    refusal,
    run,
    utc,
)
from tests.helpers import parse_options


class TestReturnsCsv:
    def test_returns_file(self) -> None:
        options = parse_options(default_region="ES", settings={"time_zone": "Europe/Madrid"})

        results = run(ReturnsCsvConnector(), "returns.csv", options)

        found = records(results)
        assert found == {
            "line 2": Return(
                source="pos",
                external_id="R-501",
                occurred_at=utc(2024, 9, 20, 8, 15),
                order_external_id="T-1001",
                items=[ReturnItem(sku="CAM-001", quantity=1)],
                amount=eur(1250),
                reason="Wrong size",
            ),
            "line 3": Return(
                source="pos",
                external_id="R-502",
                occurred_at=utc(2024, 9, 21, 9, 0),
                identifiers=[email("kenji@example.com"), external("C-4410", "pos")],
                order_external_id="W-88001",
                amount=Money(amount=1500, currency="JPY"),
                reason="Damaged in transit",
            ),
        }
        assert keys(found["line 2"]) == []
        assert keys(found["line 3"]) == ["email:kenji@example.com", "ext:pos:C-4410"]
        assert errors(results) == [
            ("line 4", "order_id: missing"),
            ("line 5", "amount: '104.999' has more decimals than EUR allows"),
            ("line 6", "quantity: not a whole number: 'two'"),
        ]

    def test_currency_from_the_option(self) -> None:
        data = csv_bytes(
            "return_id,returned_at,order_id,amount",
            'R-1,2024-09-20T10:15:00Z,T-1,"1.049,50"',
        )
        options = parse_options(settings={"currency": "EUR", "decimal_separator": ","})

        found = records(run(ReturnsCsvConnector(), data, options))

        assert isinstance(found["line 2"], Return)
        assert found["line 2"].amount == eur(104950)

    def test_returned_quantity_must_be_positive(self) -> None:
        data = csv_bytes(
            "return_id,returned_at,order_id,quantity,amount,currency",
            "R-1,2024-09-20T10:15:00Z,T-1,0,5.00,EUR",
            "R-2,2024-09-20T10:15:00Z,T-1,2,5.00,EUR",
        )

        results = run(ReturnsCsvConnector(), data, parse_options())

        assert errors(results) == [("line 2", "items.0.quantity: Input should be greater than 0")]
        returned = records(results)["line 3"]
        assert isinstance(returned, Return)
        assert returned.items == [ReturnItem(quantity=2)]

    def test_without_currency_the_file_is_refused(self) -> None:
        data = csv_bytes("return_id,returned_at,order_id,amount", "R-1,2024-09-20,T-1,5.00")

        assert refusal(ReturnsCsvConnector(), data, parse_options()) == (
            "line 1",
            "no currency column and no currency option",
        )
