"""Stages ``suppress`` and ``suppress again`` alone: records naming an erased identifier,
records of an erased order and rejected items an erasure removed leave the batch, counted; the
rest stay; what the second question finds is handed over, each item by all its names."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from c360.ingest.repository import dead_letter_id
from c360.ingest.stages.parse import Parse
from c360.ingest.stages.storable import CheckStorable
from c360.ingest.stages.suppress import Suppress, SuppressAgain
from c360.privacy.hashing import SuppressionList
from c360.privacy.repository import SuppressionRepository
from c360.privacy.types import Suppression, SuppressionKind
from c360.services import Services
from c360.store import Store
from tests import factories as f
from tests.helpers import NOW
from tests.ingest.stages.helpers import batch_of, item_error, parsed, return_of


async def test_leaves_out_what_the_suppression_list_knows_and_counts_it(
    services: Services, store: Store
) -> None:
    hasher = services.privacy.hasher
    erased = [
        "email:gone@example.com",
        "record:shop:order:9",
        f"dead_letter:{dead_letter_id('canonical', '{')}",
    ]
    repository = SuppressionRepository(store.db)
    await repository.add(
        [Suppression(hasher.suppression(t), SuppressionKind.RECORD, "r", NOW) for t in erased]
    )
    batch = batch_of(
        parsed(f.order(external_id="1", identifiers=[f.email("Gone@Example.com")]), "line 1"),
        parsed(return_of("9"), "line 2"),
        parsed(f.order(external_id="2", identifiers=[f.email("kept@example.com")]), "line 3"),
        item_error("line 4"),
    )
    await Parse().run(batch)
    await CheckStorable().run(batch)

    await Suppress(SuppressionList(repository, hasher)).run(batch)

    assert [e.record_id for e in batch.entries] == ["shop:order:2"]
    assert batch.errors == []
    assert batch.suppressed == 3


async def test_without_a_list_or_a_match_it_changes_nothing(
    services: Services, store: Store
) -> None:
    batch = batch_of(parsed(f.order(external_id="1"), "line 1"), item_error("line 2"))
    await Parse().run(batch)
    await CheckStorable().run(batch)
    check = SuppressionList(SuppressionRepository(store.db), services.privacy.hasher)

    await Suppress(None).run(batch)
    await Suppress(check).run(batch)

    assert [e.record_id for e in batch.entries] == ["shop:order:1"]
    assert len(batch.errors) == 1
    assert batch.suppressed == 0


async def test_asked_again_after_writing_it_leaves_out_and_hands_over_what_became_suppressed(
    services: Services, store: Store
) -> None:
    repository = SuppressionRepository(store.db)
    check = SuppressionList(repository, services.privacy.hasher)
    met: list[tuple[list[list[str]], bool]] = []

    async def record(items: Sequence[Collection[str]], written: bool) -> None:
        met.append(([sorted(i) for i in items], written))

    check.when_met = record
    batch = batch_of(
        parsed(return_of("9"), "line 1"),
        parsed(f.order(external_id="2", identifiers=[f.email("kept@example.com")]), "line 2"),
    )
    await Parse().run(batch)
    await CheckStorable().run(batch)
    await Suppress(check).run(batch)
    assert (len(batch.entries), batch.suppressed, met) == (2, 0, [])
    # An erasure suppresses the order the return names after the batch asked.
    suppression = Suppression(
        services.privacy.hasher.suppression("record:shop:order:9"), SuppressionKind.RECORD, "r", NOW
    )
    await repository.add([suppression])

    await SuppressAgain(check).run(batch)

    assert [e.record_id for e in batch.entries] == ["shop:order:2"]
    assert batch.suppressed == 1
    # The return, by all its names (its own id too), after writing.
    assert met == [([sorted(["record:shop:return:r-1", "record:shop:order:9"])], True)]
