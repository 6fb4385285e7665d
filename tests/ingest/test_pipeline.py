"""The ingest pipeline on a real store: linking, idempotency, revisions, rejects, races."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from c360.ingest.files import import_file
from c360.records.documents import content_hash
from c360.records.repository import RecordRepository
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from connectors import get_connector
from schemas import IdentifierType, parse_record
from tests import factories as f
from tests.helpers import (
    all_identifiers,
    all_profiles,
    dead_letters,
    live_profiles,
    parse_options,
    record,
    stored_aggregate,
)
from tests.state import assert_aggregates_equal_recomputation


async def _import(services: Services, path: Path, region: str = "ES") -> Any:
    return await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region=region)
    )


async def _snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection, for before/after comparisons."""
    names = sorted(await store.db.list_collection_names())
    return {name: await store.db[name].find().sort("_id", 1).to_list() for name in names}


class TestLinking:
    async def test_shared_identifier_in_any_spelling_joins_one_profile(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        path = f.write_jsonl(
            tmp_path / "in.jsonl",
            [
                f.person(identifiers=[f.email("Ana@Example.com "), f.phone("600 12 34 56")]),
                f.order(identifiers=[f.email("ana@example.com")]),
                f.service_case(identifiers=[f.phone("0034 600-123-456")]),
            ],
        )
        await _import(services, path)

        [profile_id] = await all_profiles(services, store)
        timeline = await services.profiles.timeline(profile_id)
        assert len(timeline.items) == 3  # every record is the one profile's
        assert [i.key for i in await all_identifiers(services, store)] == [
            "email:ana@example.com",
            "phone:+34600123456",
        ]

    async def test_unrelated_people_get_separate_profiles(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        path = f.write_jsonl(
            tmp_path / "in.jsonl",
            [
                f.order(external_id="1", identifiers=[f.email("ana@example.com")]),
                f.order(external_id="2", identifiers=[f.email("tom@example.com")]),
            ],
        )
        await _import(services, path)
        assert len(await all_profiles(services, store)) == 2

    async def test_external_ids_are_scoped_by_source(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        path = f.write_jsonl(
            tmp_path / "in.jsonl",
            [
                f.order(external_id="1", identifiers=[f.external("shopify", "123")]),
                f.order(external_id="2", identifiers=[f.external("zendesk", "123")]),
            ],
        )
        await _import(services, path)
        assert len(await all_profiles(services, store)) == 2

    async def test_profile_spans_first_and_last_activity(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        # Separate imports, so the stored span is widened in place, not just created.
        for number, when in enumerate(("2024-03-01", "2023-01-01", "2024-07-01", "2024-05-01")):
            record = f.order(external_id=str(number), occurred_at=f"{when}T00:00:00Z")
            await _import(services, f.write_jsonl(tmp_path / f"{number}.jsonl", [record]))
        [profile_id] = await all_profiles(services, store)
        profile = await services.profiles.get(profile_id)
        assert profile.first_seen_at == dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
        assert profile.last_seen_at == dt.datetime(2024, 7, 1, tzinfo=dt.UTC)

    async def test_return_without_identifiers_joins_its_orders_profile(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        refund = {
            "kind": "return",
            "source": "shop",
            "external_id": "R-1",
            "occurred_at": "2024-05-10T00:00:00Z",
            "order_external_id": "1001",
            "amount": {"amount": 2500, "currency": "EUR"},
        }
        await _import(services, f.write_jsonl(tmp_path / "a.jsonl", [f.order()]))
        await _import(services, f.write_jsonl(tmp_path / "b.jsonl", [refund]))
        order = await record(store, "shop:order:1001")
        returned = await record(store, "shop:return:R-1")
        assert order.profile_id is not None
        assert returned.profile_id == order.profile_id

    async def test_return_before_its_order_is_linked_when_the_order_arrives(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        refund = {
            "kind": "return",
            "source": "shop",
            "external_id": "R-7",
            "occurred_at": "2024-04-01T00:00:00Z",
            "order_external_id": "1001",
            "amount": {"amount": 2500, "currency": "EUR"},
        }
        await _import(services, f.write_jsonl(tmp_path / "r.jsonl", [refund]))
        await _import(services, f.write_jsonl(tmp_path / "o.jsonl", [f.order()]))
        order = await record(store, "shop:order:1001")
        returned = await record(store, "shop:return:R-7")
        assert order.profile_id is not None
        assert returned.profile_id == order.profile_id
        profile = await services.profiles.get(order.profile_id)
        assert profile.id == order.profile_id
        # The earlier refund widened the profile's span too.
        assert profile.first_seen_at == dt.datetime(2024, 4, 1, tzinfo=dt.UTC)

    async def test_return_for_an_unseen_order_is_kept_unlinked(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        refund = {
            "kind": "return",
            "source": "shop",
            "external_id": "R-9",
            "occurred_at": "2024-05-10T00:00:00Z",
            "order_external_id": "9999",
            "amount": {"amount": 100, "currency": "EUR"},
        }
        summary = await _import(services, f.write_jsonl(tmp_path / "r.jsonl", [refund]))
        assert summary.inserted == 1
        stored = await store.db.records.find_one({"_id": "shop:return:R-9"})
        assert stored is not None
        assert "profile_id" not in stored  # no explicit null is written


class TestIdempotency:
    async def test_importing_the_same_file_twice_changes_nothing(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        path = f.write_jsonl(
            tmp_path / "in.jsonl",
            [f.person(), f.order(), f.service_case(), f.survey(), "{broken"],
        )
        first = await _import(services, path)
        before = await _snapshot(store)
        second = await _import(services, path)
        after = await _snapshot(store)

        assert first.counts() == {
            "items_read": 5,
            "records": 5,
            "inserted": 4,
            "updated": 0,
            "duplicates": 0,
            "rejected": 1,
            "ignored": 0,
            "suppressed": 0,
            "conflicts": 0,
        }
        assert second.counts() == {
            "items_read": 5,
            "records": 5,
            "inserted": 0,
            "updated": 0,
            "duplicates": 4,
            "rejected": 1,
            "ignored": 0,
            "suppressed": 0,
            "conflicts": 0,
        }
        # Dead letters count attempts; every other collection is untouched.
        for letter in before.pop("dead_letters") + after.pop("dead_letters"):
            letter.pop("attempts"), letter.pop("last_rejection")
        assert before == after

    async def test_duplicate_lines_in_one_file_store_one_record(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        path = f.write_jsonl(tmp_path / "in.jsonl", [f.order(), f.order(), f.order()])
        summary = await _import(services, path)
        assert (summary.inserted, summary.duplicates) == (1, 2)
        [profile_id] = await all_profiles(services, store)
        timeline = await services.profiles.timeline(profile_id)
        assert [r.id for _, r in timeline.items] == ["shop:order:1001"]

    async def test_summary_always_adds_up(self, services: Services, tmp_path: Path) -> None:
        items: list[f.Record | str] = [f.order(external_id=str(i)) for i in range(120)]
        items += ["not json", f.order(external_id="x", quantity=-1), f.order(external_id="5")]
        summary = await _import(services, f.write_jsonl(tmp_path / "in.jsonl", items))
        counts = summary.counts()
        parts = ("inserted", "updated", "duplicates", "rejected")
        assert counts["records"] == sum(counts[p] for p in parts) == 123


class TestRevisions:
    async def test_newer_revision_replaces_and_older_is_ignored(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        v1 = f.order(updated_at="2024-05-01T10:00:00Z", amount=1000)
        v2 = f.order(updated_at="2024-05-02T10:00:00Z", amount=2000)
        await _import(services, f.write_jsonl(tmp_path / "1.jsonl", [v1]))
        newer = await _import(services, f.write_jsonl(tmp_path / "2.jsonl", [v2]))
        older = await _import(services, f.write_jsonl(tmp_path / "3.jsonl", [v1]))

        assert (newer.updated, older.duplicates) == (1, 1)
        stored = await record(store, "shop:order:1001")
        assert stored.payload["total"]["amount"] == 2000

    async def test_revisions_arriving_out_of_order_converge(
        self, settings: Settings, services: Services, store: Store, tmp_path: Path
    ) -> None:
        revisions = [
            f.order(updated_at=f"2024-05-0{day}T10:00:00Z", amount=day * 100) for day in (1, 2, 3)
        ]
        # Two equal timestamps with different content: the tie-break must not depend on order.
        revisions.append(f.order(updated_at="2024-05-03T10:00:00Z", amount=999))
        results = []
        for order in (revisions, revisions[::-1], [revisions[2], revisions[0], *revisions[3:]]):
            await store.db.records.delete_many({})
            await _import(services, f.write_jsonl(tmp_path / "in.jsonl", list(order)))
            stored = await record(store, "shop:order:1001")
            results.append((stored.revision, stored.payload))
        assert results[1:] == results[:-1]

    async def test_a_sparser_copy_of_the_stored_revision_never_replaces_it(
        self, services: Services, tmp_path: Path
    ) -> None:
        """A webhook may carry a few of a user's fields with the same ``updated_at`` as the
        export that gave them all: in either order, the fuller copy stays (whichever content
        hash is the greater, which decided alone before)."""

        numbers = sparse_greater()[:2]
        assert len(numbers) == 2
        names = []
        for number, first_full in zip(numbers, (True, False), strict=True):
            full, sparse = copies(number)
            first, second = (full, sparse) if first_full else (sparse, full)
            await _import(services, f.write_jsonl(tmp_path / f"{number}a.jsonl", [first]))
            again = await _import(services, f.write_jsonl(tmp_path / f"{number}b.jsonl", [second]))
            assert (again.updated, again.duplicates) == ((0, 1) if first_full else (1, 0))
            profile = await services.profiles.by_identifier(
                IdentifierType.EXTERNAL, f"C-{number}", "crm"
            )
            [traits] = await services.profiles.traits([profile.id])
            names.append((traits.display_name, traits.value("language")))

        assert names == [("Ana García", "es-ES"), ("Ana García", "es-ES")]

    async def test_a_copy_stored_before_counts_were_kept_is_counted_as_it_stands(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        """A store upgraded with a full copy kept without its count: a sparser copy of the same
        revision does not replace it either (by hash alone it did, when its hash was greater,
        and which copy stayed then depended on the order later copies came in)."""

        number = sparse_greater()[0]
        full, sparse = copies(number)
        records = store.db["records"]
        await _import(services, f.write_jsonl(tmp_path / "full.jsonl", [full]))
        await records.update_many({}, {"$unset": {"stated": ""}})
        again = await _import(services, f.write_jsonl(tmp_path / "sparse.jsonl", [sparse]))

        assert (again.updated, again.duplicates) == (0, 1)
        profile = await services.profiles.by_identifier(
            IdentifierType.EXTERNAL, f"C-{number}", "crm"
        )
        [traits] = await services.profiles.traits([profile.id])
        assert (traits.display_name, traits.value("language")) == ("Ana García", "es-ES")


def copies(number: int) -> tuple[f.Record, f.Record]:
    """Customer C-{number}'s person record in full, and a sparser copy of the same revision."""
    full = f.person(
        external_id=f"C-{number}",
        identifiers=[f.external("crm", f"C-{number}")],
        given_name="Ana",
        family_name="García",
        birth_date="1988-06-02",
        language="es-ES",
        updated_at="2024-05-01T10:00:00Z",
    )
    return full, {**full, "given_name": None, "family_name": None, "language": None}


def sparse_greater() -> list[int]:
    """Customers whose sparse copy's content hash is the greater: the tie-break the count of
    values overrides."""

    def hash_of(data: f.Record) -> str:
        return content_hash(parse_record(data, default_region="ES"))

    return [n for n in range(20) if hash_of(copies(n)[1]) > hash_of(copies(n)[0])]


class TestBadInput:
    async def test_bad_lines_are_reported_by_line_and_dead_lettered(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        path = tmp_path / "in.jsonl"
        good = json.dumps(f.order(external_id="1"))
        path.write_bytes(
            b"\n".join(
                [
                    good.encode(),
                    b'{"kind": "order", "source": "shop"',  # truncated JSON
                    json.dumps(f.order(external_id="2", currency="XXZ")).encode(),
                    b"\xff\xfe not utf-8",
                    b"",  # blank lines are not items
                    json.dumps(f.survey(score=42)).encode(),
                    json.dumps(f.order(external_id="3")).encode(),
                ]
            )
        )
        summary = await _import(services, path)

        assert (summary.inserted, summary.rejected) == (2, 4)
        by_line = {e.position: e.reason for e in summary.errors}
        assert set(by_line) == {"line 2", "line 3", "line 4", "line 6"}
        assert "invalid JSON" in by_line["line 2"]
        assert "unknown ISO 4217 currency code 'XXZ'" in by_line["line 3"]
        assert "not UTF-8" in by_line["line 4"]
        assert "score 42 is outside 0..10" in by_line["line 6"]

        letters = await dead_letters(services)
        assert sorted(d.last_rejection.position for d in letters) == sorted(by_line)
        assert all(d.connector == "canonical" and d.raw for d in letters)
        assert {d.last_rejection.origin for d in letters} == {str(path)}

    async def test_rejected_revision_does_not_touch_the_stored_one(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await _import(services, f.write_jsonl(tmp_path / "1.jsonl", [f.order(amount=1000)]))
        before = await _snapshot(store)
        bad = f.order(updated_at="2024-06-01T00:00:00Z", quantity=-3)
        summary = await _import(services, f.write_jsonl(tmp_path / "2.jsonl", [bad]))
        after = await _snapshot(store)
        assert summary.rejected == 1
        before.pop("dead_letters", None)  # made with its index at start, empty until now
        after.pop("dead_letters")
        assert before == after


class TestConcurrency:
    async def test_parallel_imports_of_overlapping_data_converge(
        self, settings: Settings, store: Store, tmp_path: Path
    ) -> None:
        """Two workers that see the same people at once make one profile per person."""
        people = [f"p{i}@example.com" for i in range(40)]
        first = [
            f.order(external_id=f"a{i}", identifiers=[f.email(e), f.phone(f"+3461000{i:04d}")])
            for i, e in enumerate(people)
        ]
        second = [
            f.service_case(external_id=f"b{i}", identifiers=[f.phone(f"+3461000{i:04d}")])
            for i in range(40)
        ] + first  # the same orders again, as a re-delivery would bring them
        workers = [Services.build(store.db, settings) for _ in range(2)]
        connector = get_connector("canonical")
        paths = [
            f.write_jsonl(tmp_path / "1.jsonl", list(first)),
            f.write_jsonl(tmp_path / "2.jsonl", list(second)),
        ]

        summaries = await asyncio.gather(
            *(
                w.ingest.ingest(
                    "canonical",
                    connector.parse(p.open("rb"), parse_options(default_region="ES")),
                    origin=str(p),
                )
                for w, p in zip(workers, paths, strict=True)
            )
        )

        assert sum(s.inserted for s in summaries) == 80  # 40 orders + 40 cases, once each
        assert sum(s.duplicates for s in summaries) == 40
        assert len(await all_identifiers(workers[0], store)) == 80
        owners = set()
        for i in range(40):
            case = await record(store, f"helpdesk:service_case:b{i}")
            order = await record(store, f"shop:order:a{i}")
            assert case.profile_id is not None
            assert case.profile_id == order.profile_id
            owners.add(case.profile_id)
        assert len(owners) == 40
        assert await live_profiles(store) == sorted(owners)

    async def test_a_return_and_its_order_stored_at_once_by_two_workers_still_join(
        self, settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One worker looks for a return's order and does not find it; meanwhile another stores
        the order and looks for returns waiting for it, before the first has written the
        return. Whichever writes second must see the other's record."""
        refund = {
            "kind": "return",
            "source": "shop",
            "external_id": "R-8",
            "occurred_at": "2024-05-03T00:00:00Z",
            "order_external_id": "1001",
            "amount": {"amount": 2500, "currency": "EUR"},
        }
        looked, order_stored = asyncio.Event(), asyncio.Event()
        find_orders = RecordRepository.profile_of

        async def slow_to_write(self: RecordRepository, ids: Iterable[str]) -> dict[str, str]:
            found = await find_orders(self, ids)
            if not looked.is_set():  # the first look: the order is not there yet
                assert found == {}
                looked.set()
                await order_stored.wait()
            return found

        monkeypatch.setattr(RecordRepository, "profile_of", slow_to_write)

        async def store_order() -> None:
            await looked.wait()
            await _import(
                Services.build(store.db, settings), f.write_jsonl(tmp_path / "o.jsonl", [f.order()])
            )
            order_stored.set()

        refunds = Services.build(store.db, settings)
        await asyncio.gather(
            _import(refunds, f.write_jsonl(tmp_path / "r.jsonl", [refund])), store_order()
        )

        order = await record(store, "shop:order:1001")
        returned = await record(store, "shop:return:R-8")
        assert order.profile_id is not None
        assert returned.profile_id == order.profile_id
        metrics = await stored_aggregate(refunds, order.profile_id)
        assert metrics.standing_refunds().returns == 1
        assert await assert_aggregates_equal_recomputation(refunds, store) == 1
