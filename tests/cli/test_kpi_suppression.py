"""``c360 kpis`` suppresses a figure resting on fewer than ``C360_KPI_MIN_GROUP_SIZE`` people
counted among those behind that very figure: a currency's return rate by the customers who
bought or were refunded in that currency, first-contact resolution by the customers whose
cases' reply counts are known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.served import run_c360

SPAN = ("--from", "2024-06-01", "--to", "2024-07-01", "--interval", "month", "--format", "json")


def kpi_rows(env: dict[str, str], kpi: str) -> list[dict[str, Any]]:
    answer = run_c360("kpis", *SPAN, "--kpi", kpi, env=env)
    assert answer.returncode == 0, answer.stderr
    return [json.loads(line) for line in answer.stdout.splitlines()]


def imported(env: dict[str, str], connector: str, path: Path) -> None:
    done = run_c360("import", connector, str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert "rejected: 0" in done.stdout, done.stdout


def order(n: int, currency: str, amount: int) -> dict[str, Any]:
    return {
        "kind": "order",
        "source": "web",
        "external_id": f"{currency}-{n}",
        "occurred_at": f"2024-06-{10 + n}T12:00:00Z",
        "identifiers": [{"type": "email", "value": f"buyer{n}@example.com"}],
        "channel": "online",
        "total": {"amount": amount, "currency": currency},
    }


class TestSuppressionCountsThePeopleBehindTheFigure:
    def test_a_currency_bought_by_one_customer_has_its_return_rate_suppressed(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        records = [order(n, "EUR", 1000 * (n + 1)) for n in range(6)]
        records.append(order(0, "CHF", 14_100))  # the only customer paying in francs
        records.append(
            {
                "kind": "return",
                "source": "web",
                "external_id": "refund-chf",
                "occurred_at": "2024-06-20T12:00:00Z",
                "order_external_id": "CHF-0",
                "amount": {"amount": 7_050, "currency": "CHF"},
            }
        )
        path = tmp_path / "orders.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        imported(env, "canonical", path)

        rows = {row["currency"]: row for row in kpi_rows(env, "return_rate")}
        revenue = {row["currency"]: row for row in kpi_rows(env, "revenue")}

        assert revenue["CHF"]["suppressed"] is True  # one customer's francs, hidden here…
        chf = rows["CHF"]  # …and in the return rate's denominator too
        assert chf["suppressed"] is True
        assert (chf["value"], chf["numerator"], chf["denominator"]) == (None, None, None)
        assert rows["EUR"]["suppressed"] is False
        assert rows[None]["suppressed"] is False
        assert (rows["EUR"]["sample_size"], rows[None]["sample_size"]) == (6, 8)  # own, group

    def test_first_contact_resolution_known_for_one_customer_is_suppressed(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        lines = ["case_id,opened_at,channel,status,solved_at,replies,email"]
        for n in range(5):  # solved, but the log does not say how many replies they took
            lines.append(
                f"K{n},2024-06-1{n}T09:00:00Z,phone,solved,2024-06-1{n}T10:00:00Z,,c{n}@example.com"
            )
        lines.append("K9,2024-06-20T09:00:00Z,chat,solved,2024-06-20T09:30:00Z,1,c9@example.com")
        path = tmp_path / "service.csv"
        path.write_text("\n".join(lines) + "\n")
        imported(env, "service-csv", path)

        (fcr,) = kpi_rows(env, "first_contact_resolution")

        assert fcr["suppressed"] is True  # the one known case is one customer's
        assert (fcr["value"], fcr["numerator"], fcr["denominator"]) == (None, None, None)


class TestTheTable:
    def test_a_rate_per_currency_names_its_currency(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """The return rate comes by count and by amount per currency: in the table each row
        says which, as the dashboard does, not two rows of one name."""
        path = tmp_path / "orders.jsonl"
        path.write_text("".join(json.dumps(order(n, "EUR", 1000)) + "\n" for n in range(6)))
        imported(env, "canonical", path)

        table = run_c360(
            "kpis", "--from", "2024-06-01", "--to", "2024-07-01", "--kpi", "return_rate", env=env
        )

        assert table.returncode == 0, table.stderr
        names = [
            line.split("│")[1].strip() for line in table.stdout.splitlines() if "Return" in line
        ]
        assert names == ["Return rate", "Return rate (EUR)"]
