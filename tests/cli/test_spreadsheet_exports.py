"""CSV files as spreadsheets and tills export them, imported with ``c360 import`` as a user
runs it: what lands in the store and what is rejected, with its line and reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

from c360.services import Services
from c360.store import Store
from tests.helpers import dead_letters, find_record, record
from tests.served import run_c360

EUROPEAN_TILLS = """\
[columns]
order_id = "Ticket"
ordered_at = "Fecha"
quantity = "Unidades"
unit_price = "Precio"
email = "Correo"

[options]
delimiter = ";"
decimal_separator = ","
currency = "EUR"
time_zone = "Europe/Madrid"
timestamp_format = "%d/%m/%Y %H:%M"
"""


def _write(path: Path, lines: list[str], *, bom: bool = True) -> Path:
    """A file as Excel saves it: a BOM, CRLF line ends."""
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "\r\n".join(lines).encode())
    return path


def _import(
    env: dict[str, str],
    path: Path,
    connector: str,
    lines: list[str],
    *options: str,
    bom: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``lines`` saved as Excel saves them at ``path``, then ``c360 import connector`` of it."""
    _write(path, lines, bom=bom)
    return run_c360("import", connector, str(path), *options, env=env)


class TestAmounts:
    async def test_a_point_is_no_decimal_in_a_file_of_decimal_commas(
        self, env: dict[str, str], tmp_path: Path, store: Store, services: Services
    ) -> None:
        tills = _write(
            tmp_path / "tills.csv",
            [
                "Ticket;Fecha;Unidades;Precio;Correo",
                "T-1;06/12/2026 10:00;1;12,50;ana@example.com",
                "T-2;06/12/2026 10:01;1;1.234,56;ana@example.com",
                "T-3;06/12/2026 10:02;1;12.50;ana@example.com",
                "T-4;06/12/2026 10:03;1;1\u00a0234,56;ana@example.com",
                "",
            ],
        )
        mapping = tmp_path / "tills.toml"
        mapping.write_text(EUROPEAN_TILLS)

        imported = run_c360("import", "pos-csv", str(tills), "--mapping", str(mapping), env=env)

        assert imported.returncode == 1, imported.stderr
        assert "items read: 4, records: 4 (inserted: 3," in imported.stdout
        assert (
            "  rejected line 4: unit_price (column 'Precio'): not an amount: '12.50' "
            "(the decimal separator is ',')"
        ) in imported.stderr
        totals = {
            order: (await record(store, f"pos:order:{order}")).payload["total"]["amount"]
            for order in ("T-1", "T-2", "T-4")
        }
        assert totals == {"T-1": 1250, "T-2": 123456, "T-4": 123456}
        assert await find_record(store, "pos:order:T-3") is None
        [letter] = await dead_letters(services)
        assert letter.last_rejection.position == "line 4"
        assert letter.raw.endswith("\nT-3;06/12/2026 10:02;1;12.50;ana@example.com")

    async def test_thousands_grouped_with_commas_in_a_file_of_decimal_points(
        self, env: dict[str, str], tmp_path: Path, store: Store
    ) -> None:
        imported = _import(
            env,
            tmp_path / "tills.csv",
            "pos-csv",
            [
                "order_id,ordered_at,quantity,unit_price,currency,email",
                'T-1,2026-12-06T10:00:00Z,1,"1,234.56",USD,bob@example.com',
                "T-2,2026-12-06T10:01:00Z,1,12.5,USD,bob@example.com",
            ],
        )

        assert imported.returncode == 0, imported.stderr
        assert (await record(store, "pos:order:T-1")).payload["total"]["amount"] == 123456
        assert (await record(store, "pos:order:T-2")).payload["total"]["amount"] == 1250

    async def test_amounts_written_with_their_currencys_symbol(
        self, env: dict[str, str], tmp_path: Path, store: Store
    ) -> None:
        tills = _write(
            tmp_path / "tills.csv",
            [
                "Ticket;Fecha;Unidades;Precio;Correo",
                "T-1;06/12/2026 10:00;1;€12;ana@example.com",
                "T-2;06/12/2026 10:01;1;1.234,56\u00a0€;ana@example.com",
                "T-3;06/12/2026 10:02;1;12,50 EUR;ana@example.com",
                "T-4;06/12/2026 10:03;1;$12,50;ana@example.com",
            ],
        )
        mapping = tmp_path / "tills.toml"
        mapping.write_text(EUROPEAN_TILLS)

        imported = run_c360("import", "pos-csv", str(tills), "--mapping", str(mapping), env=env)

        assert imported.returncode == 1, imported.stderr
        assert "items read: 4, records: 4 (inserted: 3," in imported.stdout
        assert "  rejected line 5: unit_price (column 'Precio'): not an amount: '$12,50'" in (
            imported.stderr
        )
        totals = {
            order: (await record(store, f"pos:order:{order}")).payload["total"]["amount"]
            for order in ("T-1", "T-2", "T-3")
        }
        assert totals == {"T-1": 1200, "T-2": 123456, "T-3": 1250}


class TestHeaders:
    async def test_column_names_in_another_case_and_with_spaces_are_the_fields(
        self, env: dict[str, str], tmp_path: Path, store: Store
    ) -> None:
        crm = _write(
            tmp_path / "crm.csv",
            [
                "Customer ID, Email ,First Name,LAST_NAME,Created At,Loyalty Points",
                "C-1,ana@example.com,Ana,López,2024-01-05,120",
            ],
        )

        imported = run_c360("import", "customers-csv", str(crm), env=env)

        assert imported.returncode == 0, imported.stderr
        person = await record(store, "crm:person:C-1")
        assert person.payload["given_name"] == "Ana"
        assert person.payload["family_name"] == "López"
        assert [i.value for i in person.identifiers if i.type == "email"] == ["ana@example.com"]

    def test_columns_that_could_each_be_a_field_stop_the_file(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        crm = _write(
            tmp_path / "crm.csv",
            ["customer_id,EMAIL,Email,created_at", "C-1,a@example.com,b@example.com,2024-01-05"],
        )

        imported = run_c360("import", "customers-csv", str(crm), env=env)

        assert imported.returncode == 2
        assert "columns 'EMAIL', 'Email' could each be 'email'" in imported.stderr

    def test_a_file_split_by_another_delimiter_is_refused_with_the_one_it_has(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        crm = _write(
            tmp_path / "crm.csv",
            ["customer_id;email;created_at", "C-1;ana@example.com;2024-01-05"],
        )

        imported = run_c360("import", "customers-csv", str(crm), env=env)

        assert imported.returncode == 2
        assert (
            "the header is one column when split at ',': is the delimiter ';'? "
            "([options] delimiter = ';', or \"auto\"); nothing of it was read"
        ) in imported.stderr


class TestEncodings:
    def test_a_windows_1252_file_says_how_to_read_it(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        crm = tmp_path / "crm.csv"
        crm.write_bytes(
            "customer_id,first_name,last_name,created_at\r\n"
            "C-1,José,Muñoz,2024-01-05\r\nC-2,Ann,Lee,2024-01-05\r\n".encode("cp1252")
        )
        mapping = tmp_path / "crm.toml"
        mapping.write_text('[options]\nencoding = "cp1252"\n')

        imported = run_c360("import", "customers-csv", str(crm), env=env)
        again = run_c360("import", "customers-csv", str(crm), "--mapping", str(mapping), env=env)

        assert imported.returncode == 1
        assert (
            "items read: 2, records: 2 (inserted: 1, updated: 0, duplicates: 0, rejected: 1,"
            in (imported.stdout)
        )
        assert (
            "  rejected line 2: not utf-8: undecodable bytes in columns 'first_name', "
            "'last_name'; import the file again with its encoding "
            '([options] encoding = "cp1252"'
        ) in imported.stderr
        assert again.returncode == 0, again.stderr
        assert "(inserted: 1, updated: 0, duplicates: 1, rejected: 0," in again.stdout


class TestPhoneNumbers:
    async def test_a_crm_national_number_is_read_in_the_customers_country(
        self, env: dict[str, str], tmp_path: Path, store: Store
    ) -> None:
        crm = _write(
            tmp_path / "crm.csv",
            [
                "customer_id,email,phone,country,created_at",
                "C-1,ana@example.com,612 345 678,ES,2024-01-05",
                "C-2,jean@example.com,06 12 34 56 78,fr,2024-01-05",
                "C-3,bob@example.com,(415) 555-0100,,2024-01-05",
            ],
        )

        imported = run_c360("import", "customers-csv", str(crm), env=env)

        assert imported.returncode == 0, imported.stderr
        phones = {
            customer: [
                i.value
                for i in (await record(store, f"crm:person:{customer}")).identifiers
                if i.type == "phone"
            ]
            for customer in ("C-1", "C-2", "C-3")
        }
        assert phones == {
            "C-1": ["+34612345678"],
            "C-2": ["+33612345678"],
            "C-3": ["+14155550100"],  # no country: the default region's (US)
        }


class TestReturns:
    async def test_a_return_written_negative_as_tills_write_it(
        self, env: dict[str, str], tmp_path: Path, store: Store
    ) -> None:
        imported = _import(
            env,
            tmp_path / "returns.csv",
            "returns-csv",
            [
                "return_id,returned_at,order_id,sku,quantity,amount,currency,email",
                "RT-1,2026-12-06T10:00:00Z,T-1,A1,-1,-12.50,EUR,ana@example.com",
                "RT-2,2026-12-06T10:00:00Z,T-1,A2,2,25.00,EUR,ana@example.com",
            ],
        )

        assert imported.returncode == 0, imported.stderr
        first = (await record(store, "pos:return:RT-1")).payload
        assert first["amount"] == {"amount": 1250, "currency": "EUR"}
        assert [item["quantity"] for item in first["items"]] == [1]
        second = (await record(store, "pos:return:RT-2")).payload
        assert second["amount"] == {"amount": 2500, "currency": "EUR"}


class TestSurveys:
    async def test_a_source_written_as_people_write_it(
        self, env: dict[str, str], tmp_path: Path, store: Store
    ) -> None:
        imported = _import(
            env,
            tmp_path / "surveys.csv",
            "surveys-csv",
            [
                "response_id,responded_at,email,type,score,source",
                "R-1,2026-12-06T10:00:00Z,ana@example.com,NPS,10,Medallia  Web",
                "R-2,2026-12-06T10:00:00Z,ana@example.com,nps,9,In Store (EU)",
            ],
        )

        assert imported.returncode == 1
        assert "(inserted: 1, updated: 0, duplicates: 0, rejected: 1," in imported.stdout
        assert "  rejected line 3: source: 'In Store (EU)' is not a lower-case source name" in (
            imported.stderr
        )
        answer = await record(store, "medallia-web:survey_response:R-1")
        assert answer.payload["score"] == 10


class TestTills:
    async def test_an_anonymous_sale_is_ignored_not_rejected(
        self, env: dict[str, str], tmp_path: Path, store: Store, services: Services
    ) -> None:
        imported = _import(
            env,
            tmp_path / "tills.csv",
            "pos-csv",
            [
                "order_id,ordered_at,sku,quantity,unit_price,currency,email,loyalty_id",
                "T-1,2026-12-06T10:00:00Z,A,1,10.00,EUR,,",
                "T-1,2026-12-06T10:00:00Z,B,1,5.00,EUR,,",
                "T-2,2026-12-06T10:05:00Z,A,1,10.00,EUR,ana@example.com,",
                "T-3,2026-12-06T10:06:00Z,A,1,10.00,EUR,not-an-email,",
            ],
        )

        assert imported.returncode == 1
        assert imported.stdout.startswith(
            "items read: 3, records: 3 (inserted: 1, updated: 0, duplicates: 0, rejected: 1, "
            "ignored: 1, suppressed: 0)"
        )
        assert (
            "  ignored lines 2-3: an anonymous sale: no email, phone, customer_id or loyalty_id "
            "on any line"
        ) in imported.stderr
        assert "  rejected line 5: no valid email, phone, customer_id or loyalty_id" in (
            imported.stderr
        )
        assert await find_record(store, "pos:order:T-1") is None
        [letter] = await dead_letters(services)
        assert letter.last_rejection.position == "line 5"
