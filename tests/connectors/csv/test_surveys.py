"""``surveys-csv``: survey responses."""

from __future__ import annotations

from connectors.csv import SurveysCsvConnector
from schemas import SurveyResponse
from schemas.records import SurveyType
from tests.connectors.csv.helpers import (
    csv_bytes,
    email,
    errors,
    external,
    keys,
    phone,
    records,
    run,
    utc,
)
from tests.helpers import parse_options


class TestSurveysCsv:
    def test_messy_survey_export(self) -> None:
        results = run(
            SurveysCsvConnector(), "surveys_messy.csv", parse_options(default_region="ES")
        )

        found = records(results)
        assert found == {
            "line 2": SurveyResponse(
                source="surveys",
                external_id="S-1",
                occurred_at=utc(2024, 9, 15, 8, 0),
                identifiers=[email("ana.garcia@example.com")],
                survey_type=SurveyType.NPS,
                score=9,
                comment="Great service, fast checkout",
                touchpoint="store",
            ),
            "line 7": SurveyResponse(
                source="typeform",
                external_id="S-6",
                occurred_at=utc(2024, 9, 15, 8, 25),
                identifiers=[external("C-4410", "typeform")],
                survey_type=SurveyType.CSAT,
                score=5,
                touchpoint="delivery",
            ),
            "line 9": SurveyResponse(
                source="surveys",
                external_id="S-8",
                occurred_at=utc(2024, 9, 15, 8, 35),
                identifiers=[phone("+34612345678")],
                survey_type=SurveyType.CES,
                score=2,
            ),
        }
        assert keys(found["line 7"]) == ["ext:typeform:C-4410"]
        assert errors(results) == [
            ("line 3", "no email, phone or customer_id"),
            ("line 4", "score: 11 is outside 0..10 for nps"),
            ("line 5", "responded_at: timestamp 'yesterday' is not ISO 8601"),
            ("line 6", "type: unknown value 'foo'; expected one of nps, csat, ces"),
            ("line 8", "score: not a whole number: '8.5'"),
        ]

    def test_source_option_is_the_default_source(self) -> None:
        data = csv_bytes(
            "response_id,responded_at,email,source,type,score",
            "S-1,2024-09-15T08:00:00Z,a@b.es,,nps,10",
            "S-2,2024-09-15T08:00:00Z,a@b.es,Medallia,nps,0",
        )
        options = parse_options(settings={"source": "delighted"})

        found = records(run(SurveysCsvConnector(), data, options))

        assert [r.source for r in found.values()] == ["delighted", "medallia"]

    def test_every_bad_field_of_a_row_is_named(self) -> None:
        data = csv_bytes(
            "response_id,responded_at,email,type,score",
            "S-1,,a@b.es,,ten",
        )

        assert errors(run(SurveysCsvConnector(), data, parse_options())) == [
            ("line 2", "type: missing; score: not a whole number: 'ten'; responded_at: missing")
        ]
