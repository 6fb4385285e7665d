"""What ``c360`` prints, run as a user runs it: a dead-letter replay's summary and the items'
origins, the audit as JSON, KPI and other choices in GraphQL's spelling."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from c360.audit.types import Action
from c360.auth.service import Caller, Role
from c360.services import Services
from tests.helpers import audit_entries, dead_letters
from tests.served import run_c360

SURVEYS = (
    "response_id,responded_at,email,phone,customer_id,source,type,score,comment,touchpoint\n"
    "R-1,14/09/2024 10:00,ana@example.com,,,,nps,9,Great,store\n"
    "R-2,15/09/2024 18:30,,+34 600 123 456,,,csat,4,,support\n"
    "R-3,16/09/2024 09:00,,not a phone,,,csat,2,,support\n"
)
DAY_FIRST = '[options]\ntimestamp_format = "%d/%m/%Y %H:%M"\ntime_zone = "Europe/Madrid"\n'


class TestImportSummary:
    def test_items_kept_out_on_purpose_are_counted_and_said(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        vendor = Path(__file__).parent.parent / "fixtures" / "vendor" / "shopify"
        order = json.loads((vendor / "order_get.json").read_text())["order"]
        orders = tmp_path / "orders.json"
        orders.write_text(json.dumps({"orders": [{**order, "test": True}]}))

        imported = run_c360("import", "shopify-orders", str(orders), env=env)

        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.startswith(
            "items read: 1, records: 1 (inserted: 0, updated: 0, duplicates: 0, rejected: 0, "
            "ignored: 1, suppressed: 0)"
        )
        assert f"  ignored line 1 item 1: test order {order['id']}: kept out" in imported.stderr

    def test_a_correction_at_the_same_revision_time_is_said_not_called_a_duplicate(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        # A survey export has no updated_at: a score corrected in the file comes again at the
        # answer's time, and which copy is kept cannot be the newer one by anything it says.
        mapping = tmp_path / "day-first.toml"
        mapping.write_text(DAY_FIRST)
        first = tmp_path / "surveys.csv"
        first.write_text(SURVEYS)
        corrected = tmp_path / "surveys-corrected.csv"
        corrected.write_text(SURVEYS.replace(",nps,9,Great,", ",nps,7,Great,"))

        imports = [
            run_c360("import", "surveys-csv", str(path), "--mapping", str(mapping), env=env)
            for path in (first, first, corrected)
        ]

        assert imports[1].stdout.startswith("items read: 3, records: 3 (inserted: 0, updated: 0")
        assert "revision time" not in imports[0].stderr + imports[1].stderr  # the same: duplicates
        said = imports[2].stderr
        assert "1 record(s) came with the revision time of the stored copy and other content" in (
            said
        )
        assert "a correction needs a later revision time (updated_at) to win" in said


class TestDeadLetterReplay:
    def test_the_summary_adds_up_and_items_keep_where_they_came_from(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        surveys = tmp_path / "surveys.csv"
        surveys.write_text(SURVEYS)
        fix = tmp_path / "fix.toml"
        fix.write_text(DAY_FIRST)
        imported = run_c360("import", "surveys-csv", str(surveys), env=env)
        assert "rejected: 3" in imported.stdout

        unchanged = run_c360("deadletters", "replay", "surveys-csv", env=env)
        after_unchanged = run_c360("deadletters", "list", env=env)
        fixed = run_c360("deadletters", "replay", "surveys-csv", "--mapping", str(fix), env=env)
        after_fixed = run_c360("deadletters", "list", env=env)

        assert unchanged.returncode == 1
        assert unchanged.stdout == "replayed: 3, recovered: 0, still failing: 3\n"
        failing = sorted(line for line in unchanged.stderr.splitlines() if "still failing" in line)
        assert [line.split(": ")[0] for line in failing] == [
            f"  still failing {surveys} line {n}" for n in (2, 3, 4)
        ]
        assert "is not ISO 8601" in failing[0]
        for n in (2, 3, 4):
            assert f"{surveys} line {n}  attempts=2" in after_unchanged.stdout
        assert "replay dead letter" not in after_unchanged.stdout

        assert fixed.returncode == 1
        assert fixed.stdout.splitlines() == [
            "replayed: 3, recovered: 2, still failing: 1",
            "records of the recovered items: 2 "
            "(inserted: 2, updated: 0, duplicates: 0, suppressed: 0)",
        ]
        (still,) = [line for line in fixed.stderr.splitlines() if "still failing" in line]
        assert still.startswith(f"  still failing {surveys} line 4: ")
        assert "unparseable phone number 'not a phone'" in still
        assert after_fixed.stdout.count("attempts=") == 1
        assert f"{surveys} line 4  attempts=3" in after_fixed.stdout

    async def test_a_letter_that_needs_nothing_more_is_discarded_with_its_reason_audited(
        self, env: dict[str, str], services: Services, tmp_path: Path
    ) -> None:
        surveys = tmp_path / "surveys.csv"
        surveys.write_text(SURVEYS)
        run_c360("import", "surveys-csv", str(surveys), env=env)
        letters = await dead_letters(services)
        assert len(letters) == 3
        gone, kept = letters[0], letters[1:]
        why = "stored since from the survey tool's webhook"

        discarded = run_c360("deadletters", "discard", gone.id, "--reason", why, env=env)
        unknown = run_c360("deadletters", "discard", "dl-nothing", "--reason", why, env=env)
        two_lines = run_c360("deadletters", "discard", kept[0].id, "--reason", "a\nb", env=env)

        assert discarded.returncode == 0, discarded.stderr
        place = f"{gone.last_rejection.origin} {gone.last_rejection.position}"
        assert discarded.stdout == f"discarded {gone.id}  surveys-csv  {place}\n"
        assert {d.id for d in await dead_letters(services)} == {k.id for k in kept}
        [audited] = await audit_entries(services, operation="c360 deadletters")
        assert audited.what == ("deadletters discard",)
        detail = json.loads(audited.detail or "{}")
        assert detail["reason"] == why
        assert [letter["id"] for letter in detail["letters"]] == [gone.id]
        assert (unknown.returncode, unknown.stdout) == (1, "")
        assert "no dead letter dl-nothing" in unknown.stderr
        assert two_lines.returncode == 2
        assert "a reason is one line of text" in two_lines.stderr
        assert len(await dead_letters(services)) == 2  # a refused command removes nothing


class TestAuditAsJson:
    async def test_times_are_iso_8601_and_details_json_values(
        self, env: dict[str, str], services: Services
    ) -> None:
        agent = Caller(key_id="k1", name="agent", role=Role.AGENT)
        await services.audit.record(
            agent, Action.LOOKUP, "findProfiles", operation="query Find", detail="{ana"
        )
        since = "2020-01-01T00:00:00+00:00"
        asked = run_c360("audit", "--since", since, "--action", "LOOKUP", env=env)
        assert asked.returncode == 0, asked.stderr

        listed = run_c360("audit", "--json", env=env)

        assert listed.returncode == 0, listed.stderr
        entries = [json.loads(line) for line in listed.stdout.splitlines()]
        for entry in entries:
            at = dt.datetime.strptime(entry["at"], "%Y-%m-%dT%H:%M:%S.%f%z")
            assert at.tzinfo == dt.UTC
            assert entry["at"].endswith("Z")
        by_operation = {e["operation"]: e for e in entries}
        assert by_operation["c360 audit"]["detail"] == {
            "action": "lookup",
            "since": "2020-01-01T00:00:00.000000Z",
        }
        assert by_operation["query Find"]["detail"] == "{ana"  # what was searched: text
        text = run_c360("audit", "--action", "lookup", env=env)  # the same time, as text
        assert text.stdout.startswith(f"{by_operation['query Find']['at']}  lookup ")


class TestChoicesInEitherCase:
    def test_kpis_take_graphql_spellings(self, env: dict[str, str]) -> None:
        span = ("--from", "2024-01-01", "--to", "2024-12-31", "--format", "csv")

        upper = run_c360("kpis", *span, "--kpi", "NPS", "--interval", "MONTH", env=env)
        lower = run_c360("kpis", *span, "--kpi", "nps", "--interval", "month", env=env)

        assert upper.returncode == 0, upper.stderr
        assert upper.stdout == lower.stdout
        rows = list(csv.DictReader(io.StringIO(upper.stdout)))
        assert len(rows) == 12
        assert {row["kpi"] for row in rows} == {"nps"}
