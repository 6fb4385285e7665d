"""``pos-csv``: in-store sales, lines grouped into orders."""

from __future__ import annotations

import pytest

from connectors.base import Ignored, ItemError
from connectors.csv import PosCsvConnector
from schemas import Order
from schemas.records import LineItem, OrderChannel
from tests.connectors.csv.helpers import (
    POS_HEADER,
    csv_bytes,
    email,
    errors,
    eur,
    keys,
    loyalty,
    phone,
    pos_options,
    records,
    run,
    utc,
)
from tests.helpers import parse_options


class TestPosCsv:
    def test_spanish_export_with_mapping(self) -> None:
        results = run(PosCsvConnector(), "pos_madrid.csv", pos_options())

        # An order of several lines is at all of them.
        assert [r.position for r in results] == [
            "lines 2-3",
            "line 4",
            "lines 6-7",
            "line 8",
            "line 9",
        ]
        found = records(results)
        assert found["lines 2-3"] == Order(
            source="pos",
            external_id="T-1001",
            occurred_at=utc(2024, 9, 14, 9, 32),  # 11:32 in Madrid (CEST)
            identifiers=[
                email("ana.garcia@example.com"),
                phone("+34600123456"),
                loyalty("SOC-77"),
            ],
            channel=OrderChannel.IN_STORE,
            store_id="MAD-01",
            line_items=[
                LineItem(
                    sku="CAM-001",
                    title="Camiseta básica",
                    category="Ropa",
                    quantity=2,
                    unit_price=eur(1250),
                ),
                LineItem(
                    sku="CAL-002",
                    title="Calcetines pack 3",
                    category="Ropa",
                    quantity=1,
                    unit_price=eur(499),
                ),
            ],
            total=eur(2999),
        )
        assert keys(found["lines 2-3"]) == [
            "email:ana.garcia@example.com",
            "phone:+34600123456",
            "loyalty:SOC-77",
        ]
        assert found["line 4"] == Order(
            source="pos",
            external_id="T-1002",
            occurred_at=utc(2024, 9, 14, 10, 5),
            identifiers=[phone("+34612345678")],
            channel=OrderChannel.IN_STORE,
            store_id="MAD-01",
            line_items=[
                LineItem(
                    sku="CAF-010",
                    title="Cafetera espresso",
                    category="Hogar",
                    quantity=1,
                    unit_price=eur(104900),  # "1.049,00"
                )
            ],
            total=eur(104900),
        )
        order = found["line 9"]
        assert isinstance(order, Order)
        assert keys(order) == ["loyalty:SOC-91"]  # the invalid e-mail is dropped
        assert order.occurred_at == utc(2024, 9, 15, 7, 15)
        assert errors(results) == [
            ("lines 6-7", "line 7: quantity (column 'unidades'): not a whole number: '1,5'"),
        ]
        assert [(r.position, r.reason) for r in results if isinstance(r, Ignored)] == [
            ("line 8", "an anonymous sale: no email, phone, customer_id or loyalty_id on any line")
        ]

    def test_rejected_order_keeps_all_its_lines_as_raw(self) -> None:
        results = run(PosCsvConnector(), "pos_madrid.csv", pos_options())

        rejected = next(r for r in results if isinstance(r, ItemError))
        # Under its header line, so that the dead letter can be replayed on its own.
        assert rejected.raw == (
            "ticket;fecha;tienda;referencia;descripcion;familia;unidades;precio;correo;telefono;"
            "tarjeta_socio\n"
            "T-1003;14/09/2024 12:40;MAD-02;TAZ-003;Taza;Hogar;2;3,50;luis@example.com;;\n"
            "T-1003;14/09/2024 12:40;MAD-02;PLA-004;Plato llano;Hogar;1,5;2,00;luis@example.com;;"
        )

    def test_canonical_headers_need_no_mapping(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T11:32:00+02:00,S1,SKU-1,1,9.99,EUR,ana@example.com",
            "A-1,,,SKU-2,3,1.00,,",
        )

        found = records(run(PosCsvConnector(), data, parse_options()))

        order = found["lines 2-3"]
        assert isinstance(order, Order)
        assert order.occurred_at == utc(2024, 9, 14, 9, 32)
        assert order.total == eur(1299)
        assert [(i.sku, i.quantity, i.unit_price.amount) for i in order.line_items] == [
            ("SKU-1", 1, 999),
            ("SKU-2", 3, 100),
        ]

    def test_only_adjacent_rows_make_one_order(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "B-2,2024-09-14T09:05:00Z,S1,SKU-2,1,7.00,EUR,bob@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-3,1,2.00,EUR,ana@example.com",
        )

        found = records(run(PosCsvConnector(), data, parse_options()))

        assert [(p, r.external_id) for p, r in found.items()] == [
            ("line 2", "A-1"),
            ("line 3", "B-2"),
            ("line 4", "A-1"),
        ]

    def test_total_column_wins_over_the_sum_of_lines(self) -> None:
        data = csv_bytes(
            POS_HEADER + ",total",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,2,5.00,EUR,ana@example.com,9.00",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-2,1,1.00,EUR,ana@example.com,9.00",
        )

        order = records(run(PosCsvConnector(), data, parse_options()))["lines 2-3"]

        assert isinstance(order, Order)
        assert order.total == eur(900)

    def test_a_line_of_negative_price_is_a_discount_taken_off_the_sum(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,2,19.99,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,PROMO-10,1,-4.00,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,COUPON,2,-0.50,EUR,ana@example.com",
        )

        order = records(run(PosCsvConnector(), data, parse_options()))["lines 2-4"]

        assert isinstance(order, Order)
        assert [i.sku for i in order.line_items] == ["SKU-1"]  # a discount is no item
        assert order.discount == eur(500)
        assert order.total == eur(3998 - 500)

    def test_a_discount_beside_a_total_column_leaves_the_total_as_written(self) -> None:
        data = csv_bytes(
            POS_HEADER + ",total",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,10.00,EUR,ana@example.com,9.50",
            "A-1,2024-09-14T09:00:00Z,S1,PROMO,1,-1.00,EUR,ana@example.com,9.50",
        )

        order = records(run(PosCsvConnector(), data, parse_options()))["lines 2-3"]

        assert isinstance(order, Order)
        assert (order.discount, order.total) == (eur(100), eur(950))

    def test_discounts_above_the_items_reject_the_order_with_both_sums(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,PROMO,1,-6.00,EUR,ana@example.com",
            "B-2,2024-09-14T09:05:00Z,S1,SKU-2,1,7.00,EUR,bob@example.com",
        )

        results = run(PosCsvConnector(), data, parse_options())

        assert errors(results) == [
            (
                "lines 2-3",
                "unit_price: the discount lines take off 6.00 EUR, more than the items' 5.00 EUR",
            )
        ]
        assert list(records(results)) == ["line 4"]  # the next order goes on

    def test_an_item_taken_back_rejects_the_sale_saying_where_returns_go(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,-1,19.99,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-2,1,25.00,EUR,ana@example.com",
        )

        results = run(PosCsvConnector(), data, parse_options())

        assert errors(results) == [
            (
                "lines 2-3",
                "line 2: quantity -1: an item taken back (an exchange or a refund); "
                "pos-csv reads sales, returns-csv reads returns",
            )
        ]

    def test_lines_contradicting_the_order_reject_it(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S2,SKU-2,1,5.00,USD,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-3,0,5.00,EUR,ana@example.com",
        )

        assert errors(run(PosCsvConnector(), data, parse_options())) == [
            (
                "lines 2-4",
                "line 3: store_id 'S2' differs from 'S1' on line 2; "
                "line 3: currency 'USD' differs from 'EUR' on line 2; "
                "line 4: quantity: Input should be greater than 0",
            )
        ]

    def test_row_without_order_id_is_rejected_alone(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            ",2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
        )

        results = run(PosCsvConnector(), data, parse_options())

        assert errors(results) == [("line 2", "order_id: missing")]
        assert list(records(results)) == ["line 3"]

    def test_bad_order_level_values_are_reported_once(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,14.09.2024,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "A-1,14.09.2024,S1,SKU-2,1,5.00,EUR,ana@example.com",
        )

        assert errors(run(PosCsvConnector(), data, parse_options())) == [
            ("lines 2-3", "ordered_at: timestamp '14.09.2024' is not ISO 8601")
        ]

    @pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00"])
    def test_a_time_before_year_1_in_utc_is_an_error(self, stamp: str) -> None:
        data = csv_bytes(POS_HEADER, f"A-1,{stamp},S1,SKU-1,1,5.00,EUR,ana@example.com")
        options = parse_options(settings={"time_zone": "Asia/Tokyo"})  # east: UTC is earlier

        assert errors(run(PosCsvConnector(), data, options)) == [
            ("line 2", f"ordered_at: timestamp {stamp!r} is outside years 1 to 9999 in UTC")
        ]

    def test_source_option_overrides_the_default(self) -> None:
        data = csv_bytes(POS_HEADER, "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,")
        data = data.replace(b",email\n", b",customer_id\n").replace(b"EUR,\n", b"EUR,C-7\n")

        order = records(run(PosCsvConnector(), data, parse_options(settings={"source": "tpv"})))

        assert order["line 2"].source == "tpv"
        assert keys(order["line 2"]) == ["ext:tpv:C-7"]
