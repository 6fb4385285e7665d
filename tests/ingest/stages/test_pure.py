"""The stages that read nothing of the store, each alone over a batch: parse, check storable,
decide, and the linking of returns through their orders."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from c360.ingest.batch import Entry, batch_key, spans
from c360.ingest.stages.decide import Decide, decide_writes
from c360.ingest.stages.link import link_returns_through_orders
from c360.ingest.stages.parse import Parse
from c360.ingest.stages.storable import CheckStorable
from c360.records.types import StoredRevision
from connectors import Ignored
from tests import factories as f
from tests.ingest.stages.helpers import batch_of, item_error, parsed, return_of


async def entries(*records: dict[str, object]) -> list[Entry]:
    """The entries the stages before ``look up`` make of these records."""
    batch = batch_of(*(parsed(r, str(n)) for n, r in enumerate(records)))
    await Parse().run(batch)
    await CheckStorable().run(batch)
    return batch.entries


class TestParse:
    async def test_sorts_results_and_counts_each_item_once(self) -> None:
        order = parsed(f.order(external_id="1"), "line 1")
        # One item giving two records shares its position: it is one item read.
        person = parsed(f.person(external_id="P1"), "line 2")
        customer = parsed(f.order(external_id="2"), "line 2")
        batch = batch_of(order, person, customer, item_error("line 3"), Ignored("line 4", "test"))

        await Parse().run(batch)

        assert batch.items_read == 4
        assert batch.parsed == [order, person, customer]
        assert [e.position for e in batch.errors] == ["line 3"]
        assert [i.reason for i in batch.ignored] == ["test"]


class TestCheckStorable:
    async def test_refuses_an_item_the_store_cannot_hold_and_keeps_the_others(self) -> None:
        big = f.site_event(external_id="e1", properties={"n": 2**70})
        batch = batch_of(parsed(big, "line 1"), parsed(f.order(), "line 2"))
        await Parse().run(batch)

        await CheckStorable().run(batch)

        assert [e.record_id for e in batch.entries] == ["shop:order:1001"]
        assert [e.position for e in batch.errors] == ["line 1"]
        assert "properties" in batch.errors[0].reason


class TestDecide:
    async def test_new_records_are_inserted(self) -> None:
        batch = batch_of(parsed(f.order(external_id="1")), parsed(f.order(external_id="2")))
        await Parse().run(batch)
        await CheckStorable().run(batch)

        await Decide().run(batch)

        assert batch.outcomes == ["inserted", "inserted"]
        assert [e.record_id for e in batch.inserts] == ["shop:order:1", "shop:order:2"]
        assert batch.replaces == []

    async def test_the_stored_revision_again_is_a_duplicate_and_a_newer_one_replaces_it(
        self,
    ) -> None:
        same, newer = await entries(f.order(external_id="1"), f.order(external_id="2"))
        same.seen = replace(same.revision, profile_id="p1")
        older = StoredRevision(newer.revision.revision - dt.timedelta(days=1), "x", "p1")
        newer.seen = older

        inserts, replaces = decide_writes([same, newer])

        assert [same.outcome, newer.outcome] == ["duplicate", "updated"]
        assert inserts == []
        assert replaces == [(newer, older)]

    async def test_an_older_revision_than_the_stored_one_changes_nothing(self) -> None:
        (entry,) = await entries(f.order())
        entry.seen = StoredRevision(entry.revision.revision + dt.timedelta(days=1), "x", "p1")

        assert decide_writes([entry]) == ([], [])
        assert entry.outcome == "duplicate"

    def test_at_one_time_the_copy_stating_more_is_the_newer_and_a_count_not_kept_defers(
        self,
    ) -> None:
        at = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        full, sparse = StoredRevision(at, "a", stated=9), StoredRevision(at, "b", stated=4)
        legacy = StoredRevision(at, "c")  # stored before the count was kept

        assert sparse.older_than(full)
        assert not full.older_than(sparse)
        assert full.older_than(legacy)  # by hash alone: "a" < "c"
        assert not legacy.older_than(sparse)  # "c" > "b"
        assert not full.older_than(full)

    async def test_two_revisions_of_one_record_in_a_batch_are_one_write_of_the_newer(
        self,
    ) -> None:
        first, second = await entries(
            f.order(amount=100, updated_at="2024-05-01T10:00:00Z"),
            f.order(amount=200, updated_at="2024-05-02T10:00:00Z"),
        )

        inserts, replaces = decide_writes([first, second])

        assert [first.outcome, second.outcome] == ["inserted", "updated"]
        assert inserts == [second]
        assert replaces == []


class TestLinkReturnsThroughOrders:
    async def test_a_return_joins_whoever_placed_its_order_in_the_batch(self) -> None:
        order, ret = await entries(f.order(external_id="o1"), return_of("o1"))
        order.profile_id = "p1"

        link_returns_through_orders([order, ret], {})

        assert (ret.profile_id, ret.linked_by) == ("p1", "record:shop:order:o1")

    async def test_or_in_the_store(self) -> None:
        (ret,) = await entries(return_of("o9"))

        link_returns_through_orders([ret], {"shop:order:o9": "p2"})

        assert (ret.profile_id, ret.linked_by) == ("p2", "record:shop:order:o9")

    async def test_a_return_whose_order_is_nowhere_waits_unlinked(self) -> None:
        (ret,) = await entries(return_of("o404"))

        link_returns_through_orders([ret], {})

        assert ret.profile_id is None


class TestBatch:
    async def test_the_same_records_in_the_same_order_are_the_same_batch(self) -> None:
        a = await entries(f.order(external_id="1"), f.order(external_id="2"))
        b = await entries(f.order(external_id="1"), f.order(external_id="2"))
        amended = await entries(f.order(external_id="1"), f.order(external_id="2", amount=1))

        assert batch_key(a) == batch_key(b)
        assert batch_key(a) != batch_key(reversed(b))
        assert batch_key(a) != batch_key(amended)

    def test_spans_are_each_profiles_earliest_and_latest_moment(self) -> None:
        day = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        moments = [("p1", day), ("p2", day), ("p1", day + dt.timedelta(days=3))]

        assert spans(moments) == {"p1": (day, day + dt.timedelta(days=3)), "p2": (day, day)}
