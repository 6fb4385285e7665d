"""The stages that read the store, each alone over a batch on a real store: ``look up`` (the one
read the later stages share), ``fold metrics`` (a fold another write overtook recomputes) and
``write`` (a record removed after the batch read it is written again)."""

from __future__ import annotations

from typing import Any

from c360.identity.repository import IdentityRepository
from c360.ingest.stages.decide import Decide
from c360.ingest.stages.fold import FoldMetrics
from c360.ingest.stages.look_up import LookUp
from c360.ingest.stages.parse import Parse
from c360.ingest.stages.storable import CheckStorable
from c360.ingest.stages.write import Write
from c360.metrics.aggregate import Aggregate, aggregate
from c360.metrics.documents import aggregate_doc
from c360.records.repository import RecordRepository
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import profile_of, record
from tests.ingest.stages.helpers import batch_of, parsed, return_of

ANA = "ana@example.com"


async def anas_profile(services: Services, *records: dict[str, Any]) -> str:
    """Import these records (Ana's) and return her profile."""
    items = [parsed(r, str(n)) for n, r in enumerate(records)]
    await services.ingest.ingest("canonical", items, origin="test")
    return await profile_of(services, IdentifierType.EMAIL, ANA)


class TestLookUp:
    async def test_reads_owners_stored_revisions_and_the_profiles_of_returns_orders(
        self, services: Services, store: Store
    ) -> None:
        profile_id = await anas_profile(services, f.order(external_id="o1"))
        batch = batch_of(
            parsed(f.order(external_id="o1"), "1"),
            parsed(f.order(external_id="o2", identifiers=[f.email(ANA), f.email("new@x.com")])),
            parsed(return_of("o1"), "3"),
        )
        await Parse().run(batch)
        await CheckStorable().run(batch)

        await LookUp(IdentityRepository(store.db), RecordRepository(store.db)).run(batch)

        assert batch.known is not None
        assert batch.known.owners == {f"email:{ANA}": profile_id}
        assert batch.known.shared == set()
        again, new, ret = batch.entries
        assert again.seen is not None
        assert again.seen.profile_id == profile_id
        assert again.seen.content_hash == again.revision.content_hash
        assert (new.seen, ret.seen) == (None, None)
        assert batch.order_profiles == {"shop:order:o1": profile_id}


class TestFoldMetrics:
    async def test_a_fold_another_write_overtook_recomputes_from_the_records(
        self, services: Services, store: Store
    ) -> None:
        profile_id = await anas_profile(services, f.order(external_id="o1", amount=100))
        unwritten = batch_of(parsed(f.order(external_id="zz", amount=999)))
        await Parse().run(unwritten)
        await CheckStorable().run(unwritten)
        read = await services.metrics.current([profile_id])
        # Another writer replaces the aggregate after the batch read it (a recomputation).
        await services.metrics.recompute([profile_id])
        # What the batch would add (an order it never wrote): folding it in would be wrong.
        bogus = aggregate([unwritten.entries[0].document(None)])

        await services.metrics.fold(read, {profile_id: bogus})

        (stored,) = await services.metrics.aggregates([profile_id])
        records = await RecordRepository(store.db).of_profiles([profile_id])
        assert aggregate_doc(stored) == aggregate_doc(aggregate(records[profile_id]))
        assert aggregate_doc(stored) != aggregate_doc(Aggregate())

    async def test_an_unovertaken_fold_adds_the_batchs_records(
        self, services: Services, store: Store
    ) -> None:
        profile_id = await anas_profile(services, f.order(external_id="o1", amount=100))
        batch = batch_of(parsed(f.order(external_id="o2", amount=300)))
        await Parse().run(batch)
        await CheckStorable().run(batch)
        (entry,) = batch.entries
        entry.profile_id, entry.outcome = profile_id, "inserted"
        entry.stored = entry.document(None)
        batch.aggregates = await services.metrics.current([profile_id])

        await FoldMetrics(services.metrics).run(batch)

        (stored,) = await services.metrics.aggregates([profile_id])
        records = await RecordRepository(store.db).of_profiles([profile_id])
        assert aggregate_doc(stored) == aggregate_doc(
            aggregate([*records[profile_id], entry.stored])
        )


class TestWrite:
    async def test_a_replace_of_a_record_removed_meanwhile_is_lost_and_written_again(
        self, services: Services, store: Store
    ) -> None:
        profile_id = await anas_profile(services, f.order(external_id="o1", amount=100))
        batch = batch_of(
            parsed(f.order(external_id="o1", amount=300, updated_at="2024-06-01T00:00:00Z"))
        )
        await Parse().run(batch)
        await CheckStorable().run(batch)
        await LookUp(IdentityRepository(store.db), RecordRepository(store.db)).run(batch)
        (entry,) = batch.entries
        entry.linked, entry.profile_id = True, profile_id
        await Decide().run(batch)
        assert [e.outcome for e in batch.entries] == ["updated"]
        # Removed after the batch read it (an erasure, retention): the replace finds nothing.
        await store.db.records.delete_one({"_id": "shop:order:o1"})

        await Write(services.profiles, RecordRepository(store.db)).run(batch)

        assert [e.outcome for e in batch.entries] == ["inserted"]
        stored = await record(store, "shop:order:o1")
        assert stored.payload["total"]["amount"] == 300
