"""Probabilistic matching: scores, blocking keys, and merges or suggestions at ingest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from c360.identity.matching import Features, blocking_keys, features_of, score
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.test_merges import run

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
AUTO, REVIEW = 22.0, 12.0  # the default thresholds

ANA = Features("ana", "garcia", "1988-06-02", "28013", ("+34600123456",))


class TestScore:
    def test_a_typo_and_the_same_birth_date_is_a_match(self) -> None:
        other = Features("ana", "garzia", "1988-06-02", "28013", ())
        assert score(ANA, other).total >= AUTO

    def test_a_moved_address_does_not_veto_a_match(self) -> None:
        moved = Features("ana", "garcia", "1988-06-02", "08001", ())
        result = score(ANA, moved)
        assert result.total >= AUTO
        assert ("postal code", "differs (moved?)", -1.0) in result.fields

    def test_swapped_first_and_last_names_match(self) -> None:
        swapped = Features("garcia", "ana", "1988-06-02", None, ())
        assert score(ANA, swapped).total >= AUTO
        assert blocking_keys(ANA) & blocking_keys(swapped)

    def test_a_nickname_and_a_phone_written_locally_match(self) -> None:
        bob = Features("bob", "smith", None, None, ("+34611223344",))
        robert = Features("robert", "smyth", None, None, ("+34611223344",))
        assert score(bob, robert).total >= AUTO

    def test_a_common_name_alone_is_for_review_not_a_merge(self) -> None:
        result = score(Features("john", "smith"), Features("john", "smith"))
        assert REVIEW <= result.total < AUTO

    def test_a_different_birth_date_is_no_match(self) -> None:
        other = Features("ana", "garcia", "1990-01-01", "08001", ())
        assert score(ANA, other).total < REVIEW

    def test_same_name_and_address_but_another_birth_date_is_for_review(self) -> None:
        """A parent and a child of one name at one address: a person decides."""
        junior = Features("ana", "garcia", "2012-03-04", "28013", ())
        assert REVIEW <= score(ANA, junior).total < AUTO

    def test_the_explanation_names_every_field(self) -> None:
        text = score(ANA, Features("ana", "garcía", "1988-06-02", None, ())).explain()
        assert text.startswith("probabilistic score ")
        for part in ("family name agrees", "given name agrees", "birth date equal"):
            assert part in text

    def test_features_take_the_latest_values_without_accents(self) -> None:
        people: list[dict[str, Any]] = [
            {"given_name": "Ana", "family_name": "García", "addresses": [{"postal_code": "1"}]},
            {"full_name": "Ana María García", "birth_date": "1988-06-02"},
        ]
        assert features_of(people, ["+34600123456"]) == Features(
            "ana", "maria garcia", "1988-06-02", "1", ("+34600123456",)
        )


def crm_person(external_id: str, **fields: Any) -> f.Record:
    fields.setdefault("identifiers", [f.external("crm", external_id)])
    return f.person(external_id=external_id, **fields)


class TestAtIngest:
    async def test_likely_twins_merge_and_can_be_unmerged(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [
                    crm_person(
                        "C-1",
                        given_name="Ana",
                        family_name="García",
                        birth_date="1988-06-02",
                        identifiers=[f.external("crm", "C-1"), f.email("ana@example.com")],
                    )
                ],
                [
                    {
                        **crm_person(
                            "L-9", given_name="Ana", family_name="Garzia", birth_date="1988-06-02"
                        ),
                        "source": "loyalty",
                        "identifiers": [f.external("loyalty", "L-9")],
                    }
                ],
            ],
        )
        first = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "C-1", "crm")
        second = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "L-9", "loyalty")
        assert first["_id"] == second["_id"]
        entry = await store.db.merges.find_one({"rule": "probabilistic"})
        assert entry is not None
        assert entry["reason"].startswith("probabilistic score")
        assert entry["actor"] == "matcher"

        await services.merges.unmerge(entry["_id"], NOW, actor="admin@test")
        apart = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "L-9", "loyalty")
        assert apart["_id"] != first["_id"]
        # New evidence about either does not merge them again.
        await run(
            services,
            tmp_path / "again",
            [
                [
                    crm_person(
                        "C-1",
                        given_name="Ana",
                        family_name="García",
                        birth_date="1988-06-02",
                        occurred_at="2024-02-01T00:00:00Z",
                        identifiers=[f.external("crm", "C-1"), f.email("ana@example.com")],
                    )
                ]
            ],
        )
        assert await store.db.merges.count_documents({"status": "done"}) == 0

    async def test_a_possible_match_becomes_a_suggestion_with_its_reasons(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [crm_person("C-1", given_name="Robert", family_name="Smith")],
                [crm_person("C-2", given_name="Bob", family_name="Smyth")],
            ],
        )
        suggestion = await store.db.match_suggestions.find_one()
        assert suggestion is not None
        (reason,) = suggestion["reasons"]
        assert "family name agrees" in reason
        assert "given name agrees" in reason
        assert await store.db.merges.count_documents({}) == 0

    async def test_different_people_are_left_alone(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [
                    crm_person(
                        "C-1", given_name="Ana", family_name="García", birth_date="1988-06-02"
                    )
                ],
                [
                    crm_person(
                        "C-2", given_name="Ana", family_name="García", birth_date="1961-11-30"
                    )
                ],
            ],
        )
        assert await store.db.merges.count_documents({}) == 0
        assert await store.db.match_suggestions.count_documents({}) == 0
