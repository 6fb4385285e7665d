"""Reading CSV rows whatever the source: encodings, delimiters, the header checked against the
mapping, streaming."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import ItemError, Parsed
from connectors.csv import (
    CustomersCsvConnector,
    PosCsvConnector,
    ReturnsCsvConnector,
    ServiceCsvConnector,
    SurveysCsvConnector,
)
from connectors.csv._rows import ENCODING_HINT
from schemas import Order, Person, ServiceCase
from schemas.records import CaseStatus
from tests.connectors.csv.helpers import (
    POS_COLUMNS,
    POS_HEADER,
    POS_OPTIONS,
    csv_bytes,
    errors,
    pos_options,
    records,
    refusal,
    run,
)
from tests.helpers import parse_options


class TestEncoding:
    def test_wrong_encoding_rejects_only_the_rows_it_garbles(self) -> None:
        results = run(CustomersCsvConnector(), "customers_latin1.csv", parse_options())

        assert errors(results) == [
            (
                "line 2",
                "not utf-8: undecodable bytes in columns 'first_name', 'last_name'; "
                + ENCODING_HINT,
            )
        ]
        rejected = results[0]
        assert isinstance(rejected, ItemError)
        assert (
            rejected.raw == "customer_id,first_name,last_name,email,country,created_at\n"
            "CRM-2001,Jos\ufffd,Mu\ufffdoz,jose@example.com,ES,2024-01-02T10:00:00Z"
        )
        assert list(records(results)) == ["line 3"]

    def test_encoding_option(self) -> None:
        options = parse_options(settings={"encoding": "latin-1"})

        found = records(run(CustomersCsvConnector(), "customers_latin1.csv", options))

        assert [(p.given_name, p.family_name) for p in found.values() if isinstance(p, Person)] == [
            ("José", "Muñoz"),
            ("John", "Smith"),
        ]

    def test_undecodable_bytes_in_an_order_reject_the_order(self) -> None:
        data = csv_bytes(POS_HEADER, "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,a@b.es")
        data += "A-1,2024-09-14T09:00:00Z,S1,Café,1,5.00,EUR,a@b.es\n".encode("cp1252")

        assert errors(run(PosCsvConnector(), data, parse_options())) == [
            ("lines 2-3", "line 3: not utf-8: undecodable bytes in column 'sku'; " + ENCODING_HINT)
        ]

    def test_other_encodings_are_named(self) -> None:
        data = csv_bytes("customer_id,created_at", "C-\u00e9,2020-01-01T00:00:00Z")
        data = data.replace("\u00e9".encode(), b"\x80")
        options = parse_options(settings={"encoding": "ascii"})

        assert errors(run(CustomersCsvConnector(), data, options)) == [
            ("line 2", "not ascii: undecodable bytes in column 'customer_id'; " + ENCODING_HINT)
        ]


class TestDelimiter:
    def test_sniffs_the_delimiter_from_the_header(self) -> None:
        results = run(PosCsvConnector(), "pos_madrid.csv", pos_options(delimiter="auto"))

        assert list(records(results)) == ["lines 2-3", "line 4", "line 9"]

    def test_sniffs_tabs(self) -> None:
        data = csv_bytes(
            "case_id\topened_at\tchannel\temail", "C-1\t2024-09-14T09:00Z\tcall\ta@b.es"
        )

        found = records(
            run(ServiceCsvConnector(), data, parse_options(settings={"delimiter": "auto"}))
        )

        assert list(found) == ["line 2"]

    def test_a_row_split_differently_from_the_header_is_refused(self) -> None:
        data = csv_bytes(
            "return_id,returned_at,order_id,amount,currency",
            "R-1,2024-09-20T10:15:00Z,T-1,12,50,EUR",
            "R-2,2024-09-20T10:15:00Z,T-1",
            "R-3,2024-09-20T10:15:00Z,T-1,12.50,EUR,,",
        )

        results = run(ReturnsCsvConnector(), data, parse_options())

        assert errors(results) == [
            ("line 2", "6 fields where the header has 5"),
            ("line 3", "3 fields where the header has 5"),
        ]
        assert list(records(results)) == ["line 4"]  # trailing empty fields are harmless

    def test_wrong_delimiter_leaves_the_header_unusable(self) -> None:
        options = parse_options(mapping=POS_COLUMNS, settings={"currency": "EUR"})

        assert refusal(PosCsvConnector(), "pos_madrid.csv", options) == (
            "line 1",
            "missing columns: 'ticket' (order_id), 'fecha' (ordered_at), 'tienda' (store_id), "
            "'referencia' (sku), 'descripcion' (title), 'familia' (category), "
            "'unidades' (quantity), 'precio' (unit_price), 'correo' (email), "
            "'telefono' (phone), 'tarjeta_socio' (loyalty_id); "
            "no column for any of email, phone, customer_id, loyalty_id; "
            "the header is one column when split at ',': is the delimiter ';'? "
            "([options] delimiter = ';', or \"auto\")",
        )


@pytest.fixture
def small_fields() -> Iterator[None]:
    """The csv module's limit on a field's length, small: a stray quote passes it soon."""
    before = csv.field_size_limit(60)
    try:
        yield
    finally:
        csv.field_size_limit(before)


class TestHeaderAndMapping:
    def test_mapped_column_missing_from_the_header_stops_the_file(self) -> None:
        options = parse_options(
            mapping={**POS_COLUMNS, "store_id": "sucursal", "customer_id": "cliente"},
            settings=POS_OPTIONS,
        )

        assert refusal(PosCsvConnector(), "pos_madrid.csv", options) == (
            "line 1",
            "missing columns: 'sucursal' (store_id), 'cliente' (customer_id)",
        )

    def test_required_columns_are_checked_without_a_mapping(self) -> None:
        data = csv_bytes("id,date,score", "1,2024-01-01,9")

        assert refusal(SurveysCsvConnector(), data, parse_options()) == (
            "line 1",
            "missing columns: 'response_id', 'responded_at', 'type'; "
            "no column for any of email, phone, customer_id",
        )

    def test_mapping_naming_an_unknown_field_stops_the_file(self) -> None:
        options = parse_options(mapping={"emial": "correo"})

        assert refusal(SurveysCsvConnector(), "surveys_messy.csv", options) == (
            "mapping",
            "the mapping names unknown fields 'emial'; known: response_id, responded_at, "
            "email, phone, customer_id, source, type, score, comment, touchpoint, "
            "contact_requested",
        )

    def test_invalid_options_stop_the_file(self) -> None:
        options = parse_options(settings={"time_zone": "Mars/Olympus", "encoding": "klingon"})

        assert refusal(ReturnsCsvConnector(), "returns.csv", options) == (
            "options",
            "invalid options: time_zone: unknown IANA time zone 'Mars/Olympus'; "
            "encoding: unknown text encoding 'klingon'",
        )

    def test_an_empty_file_has_nothing_to_read(self) -> None:
        assert run(ReturnsCsvConnector(), b"", parse_options()) == []
        assert run(ReturnsCsvConnector(), b"\n\n", parse_options()) == []

    def test_a_header_the_csv_module_cannot_split_stops_the_file_at_line_1(
        self, small_fields: None
    ) -> None:
        rows = [f"R-{n},2024-09-14T10:00:00Z,a{n}@b.es,nps,9" for n in range(20)]
        data = csv_bytes('"response_id,responded_at,email,type,score', *rows)  # a stray quote

        position, reason = refusal(SurveysCsvConnector(), data, parse_options())

        assert position == "line 1"
        assert reason.startswith("the header cannot be read: unreadable CSV: field larger")

    def test_rows_the_csv_module_cannot_split_keep_what_was_read_of_them(
        self, small_fields: None
    ) -> None:
        good = [f"R-{n},2024-09-14T10:00:00Z,a{n}@b.es,nps,9" for n in range(6)]
        data = csv_bytes(
            "response_id,responded_at,email,type,score",
            'R-x,"2024-09-14T10:00:00Z,x@b.es,nps,9',  # a stray quote: it runs on
            *good,
        )

        results = run(SurveysCsvConnector(), data, parse_options())

        (failed,) = [r for r in results if isinstance(r, ItemError)]
        assert failed.position == "line 2"
        assert failed.reason.startswith("unreadable CSV: field larger")
        # What it read of it, under the header, is its raw input: a CSV file of its own that
        # names its dead letter (it was empty for every such row: all of them one dead letter)
        # and reads again once mended.
        header, row = failed.raw.split("\n", 1)
        assert header == "response_id,responded_at,email,type,score"
        assert row.startswith('R-x,"2024-09-14T10:00:00Z,x@b.es')
        mended = failed.raw.replace('R-x,"2024', "R-x,2024", 1).encode()
        reread = run(SurveysCsvConnector(), mended, parse_options())
        assert (type(reread[0]), reread[0].position) == (Parsed, "line 2")

    def test_a_quote_left_open_to_the_end_rejects_its_row_and_keeps_what_follows_in_it(
        self,
    ) -> None:
        data = csv_bytes(
            "response_id,responded_at,email,type,score,comment",
            "R-1,2024-09-14T10:00:00Z,a@b.es,nps,9,fine",
            'R-2,2024-09-14T10:00:00Z,b@b.es,nps,9,"left open',
            "R-3,2024-09-14T10:00:00Z,c@b.es,nps,9,folded in",
        )

        results = run(SurveysCsvConnector(), data, parse_options())

        # Not R-2 with R-3 as its comment: R-2 is refused, R-3 kept in its dead letter.
        assert list(records(results)) == ["line 2"]
        (failed,) = [r for r in results if isinstance(r, ItemError)]
        assert failed.position == "line 3"
        assert failed.reason.startswith("unreadable CSV: unexpected end of data")
        assert "R-3,2024-09-14T10:00:00Z,c@b.es" in failed.raw

    def test_header_only(self) -> None:
        assert (
            run(
                ServiceCsvConnector(), csv_bytes("case_id,opened_at,channel,phone"), parse_options()
            )
            == []
        )

    def test_blank_rows_are_skipped_and_counted(self) -> None:
        data = (
            b"case_id,opened_at,channel,email\r\n"
            b"\r\n"
            b",,,\r\n"
            b"C-1,2024-09-14T09:00Z,chat,a@b.es\r\n"
            b"\r\n"
        )

        assert list(records(run(ServiceCsvConnector(), data, parse_options()))) == ["line 4"]

    def test_empty_cells_count_as_missing(self) -> None:
        data = csv_bytes(
            "case_id,opened_at,channel,status,email", "C-1,2024-09-14T09:00Z,chat,  ,a@b.es"
        )

        case = records(run(ServiceCsvConnector(), data, parse_options()))["line 2"]

        assert isinstance(case, ServiceCase)
        assert case.status is CaseStatus.OPEN


class TestStreaming:
    class _Counting(io.RawIOBase):
        """A byte stream that tells how much has been read from it."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)
            self.read_bytes = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            self.read_bytes += len(chunk)
            return len(chunk)

    def test_first_order_comes_before_the_file_is_read(self) -> None:
        lines = [
            f"A-{n // 3},2024-09-14T09:00:00Z,S1,SKU-{n},1,5.00,EUR,a@b.es" for n in range(30_000)
        ]
        data = csv_bytes(POS_HEADER, *lines)
        raw = self._Counting(data)

        results = PosCsvConnector().parse(io.BufferedReader(raw), parse_options())
        first = next(results)

        assert isinstance(first, Parsed)
        assert isinstance(first.record, Order)
        assert len(first.record.line_items) == 3
        assert raw.read_bytes < len(data) // 10
        assert sum(1 for _ in results) == 9_999

    def test_an_overlong_line_is_cut_and_its_row_rejected(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("connectors.csv._rows.MAX_LINE_CHARS", 60)
        data = csv_bytes(
            "case_id,opened_at,channel,subject,email",
            "C-1,2024-09-14T09:00Z,chat," + "x" * 200 + ",a@b.es",
            "C-2,2024-09-14T09:00Z,chat,short,a@b.es",
        )

        results = run(ServiceCsvConnector(), data, parse_options())

        assert errors(results) == [
            ("line 2", "4 fields where the header has 5; a line longer than 60 characters")
        ]
        assert list(records(results)) == ["line 3"]

    def test_a_field_over_the_csv_limit_is_an_error_and_reading_goes_on(self) -> None:
        data = csv_bytes(
            "case_id,opened_at,channel,description,email",
            'C-1,2024-09-14T09:00Z,chat,"' + "y" * 200_000 + '",a@b.es',
            "C-2,2024-09-14T09:00Z,chat,short,a@b.es",
        )

        results = run(ServiceCsvConnector(), data, parse_options())

        assert errors(results) == [
            ("line 2", "unreadable CSV: field larger than field limit (131072)")
        ]
        assert list(records(results)) == ["line 3"]

    def test_the_callers_stream_stays_open(self) -> None:
        stream = io.BytesIO(csv_bytes("case_id,opened_at,channel,email"))

        list(ServiceCsvConnector().parse(stream, parse_options()))

        assert not stream.closed
