"""Mapping files and CSV options."""

from __future__ import annotations

import re

import pytest

from connectors.csv import parse_mapping
from tests.connectors.csv.helpers import POS_COLUMNS, POS_OPTIONS


class TestParseMapping:
    def test_reads_columns_and_options_of_the_pos_mapping(self) -> None:
        assert POS_COLUMNS == {
            "order_id": "ticket",
            "ordered_at": "fecha",
            "store_id": "tienda",
            "sku": "referencia",
            "title": "descripcion",
            "category": "familia",
            "quantity": "unidades",
            "unit_price": "precio",
            "email": "correo",
            "phone": "telefono",
            "loyalty_id": "tarjeta_socio",
        }
        assert POS_OPTIONS == {
            "source": "pos",
            "delimiter": ";",
            "decimal_separator": ",",
            "currency": "EUR",
            "time_zone": "Europe/Madrid",
            "timestamp_format": "%d/%m/%Y %H:%M",
        }

    def test_both_tables_are_optional(self) -> None:
        assert parse_mapping("") == ({}, {})
        assert parse_mapping('[options]\nencoding = "latin-1"\n') == ({}, {"encoding": "latin-1"})

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                '[options]\ntimezone = "Europe/Madrid"\n',
                "unknown option 'timezone' in [options]; known: source, time_zone, "
                "timestamp_format, date_format, currency, decimal_separator, delimiter, encoding",
            ),
            ("[options]\ndelimiter = 59\n", "options.delimiter must be a string, not int"),
            ("[columns]\nquantity = 3\n", "columns.quantity must be a string, not int"),
            ('[columns]\nsku = " "\n', "columns.sku is empty"),
            ('columns = "ticket"\n', "columns must be a table ([columns]), not a str"),
            (
                '[colums]\norder_id = "ticket"\n',
                "mapping file has unknown keys 'colums'; expected [columns] and [options]",
            ),
            (
                '[options]\ntime_zone = "Europe/Madird"\ndecimal_separator = ";"\n',
                "invalid [options]: time_zone: unknown IANA time zone 'Europe/Madird'; "
                "decimal_separator: ';' is neither '.' nor ','",
            ),
            ('[options]\nencoding = "base64"\n', "encoding: unknown text encoding 'base64'"),
            ('[options]\ncurrency = "EUROS"\n', "unknown ISO 4217 currency code 'EUROS'"),
            ('[options]\nsource = "Loyalty App"\n', "'Loyalty App' is not a lower-case source"),
            ('[options]\ndelimiter = ";;"\n', "delimiter: ';;' is not one character or 'auto'"),
        ],
    )
    def test_refuses_what_it_does_not_understand(self, text: str, message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_mapping(text)

    def test_refuses_invalid_toml(self) -> None:
        with pytest.raises(ValueError, match=r"^mapping file is not valid TOML: "):
            parse_mapping("[columns\n")
