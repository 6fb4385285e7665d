"""``surveys-csv``: survey responses (NPS, CSAT, CES), one row per response."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from connectors.csv._base import RowConnector, choice
from connectors.csv._options import SOURCE_NAME
from connectors.csv._rows import CsvSpec, Row
from connectors.csv._values import PERSON_IDENTIFIERS, Values
from schemas import RecordKind, SurveyResponse
from schemas.quoting import shown
from schemas.records import SCORE_RANGES, SurveyType


class SurveysCsvConnector(RowConnector):
    """Survey responses (NPS, CSAT, CES), one row per response.

    Columns: ``response_id, responded_at, email, phone, customer_id, source, type, score,
    comment, touchpoint, contact_requested``. The record's source (which also scopes
    ``customer_id``) is the row's ``source`` (lower-cased, spaces as ``-``: ``Medallia Web`` is
    ``medallia-web``), else the ``source`` option, else ``surveys``. ``score`` is a whole
    number in the type's range; at least one identifier is needed. ``contact_requested``
    (true/false, yes/no, 1/0; empty: no) says the customer asked to be contacted.
    """

    name: ClassVar[str] = "surveys-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.SURVEY_RESPONSE,)
    default_source: ClassVar[str] = "surveys"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "response_id",
            "responded_at",
            *PERSON_IDENTIFIERS,
            "source",
            "type",
            "score",
            "comment",
            "touchpoint",
            "contact_requested",
        ),
        required=("response_id", "responded_at", "type", "score"),
        any_of=(PERSON_IDENTIFIERS,),
    )

    model: ClassVar[type[SurveyResponse]] = SurveyResponse

    def row_source(self, row: Row, fallback: str) -> str:
        # Survey tools write it as people do ("Medallia Web", "In Store"): a run of spaces is
        # a "-" of a source name.
        return re.sub(r"\s+", "-", (row.get("source") or fallback).strip().lower())

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        source = values.source
        if not SOURCE_NAME.match(source):
            values.fail("source", f"{shown(row.get('source'))} is not a lower-case source name")
        survey_type = choice(values, "type", SurveyType, {}, required=True)
        score = values.whole("score", required=True)
        if survey_type is not None and score is not None:
            low, high = SCORE_RANGES[SurveyType(survey_type)]
            if not low <= score <= high:
                values.fail("score", f"{score} is outside {low}..{high} for {survey_type}")
        data = {
            "source": source,
            "external_id": values.text("response_id", required=True),
            "occurred_at": values.timestamp("responded_at", required=True),
            "identifiers": values.identifiers(PERSON_IDENTIFIERS),
            "survey_type": survey_type,
            "score": score,
            "comment": values.text("comment"),
            "touchpoint": values.text("touchpoint"),
            "contact_requested": bool(values.flag("contact_requested")),
        }
        return data
