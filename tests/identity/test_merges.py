"""Merges of known people at ingest, and unmerge back to the state as if they never happened."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from c360.identity.merge import MergeNotFound, MergeNotUndoable
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import (
    EMAIL_A,
    EMAIL_B,
    NOW,
    PHONE,
    all_profiles,
    history,
    live_profiles,
    merge_of,
    owner,
    profile_of,
    record,
    run,
)
from tests.state import canonical_state, other_database


class TestMergeAtIngest:
    async def test_a_record_tying_two_people_merges_them_into_the_older(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, history(bridge=True))
        survivor = await profile_of(services, IdentifierType.EMAIL, EMAIL_A)
        assert await profile_of(services, IdentifierType.PHONE, PHONE) == survivor
        [entry] = await services.merges.history(survivor)
        assert (entry.survivor, entry.rule, entry.status, entry.moved_identities) == (
            survivor,
            "shared-identifier",
            "done",
            ("phone:+34611223344",),
        )
        # The absorbed id resolves to the survivor; every record is on it.
        assert (await services.profiles.get(entry.absorbed)).id == survivor
        owners = {(await record(store, f"shop:order:{n}")).profile_id for n in range(1, 7)}
        assert owners == {survivor}


class TestUnmerge:
    async def test_unmerge_equals_never_having_merged(
        self,
        services: Services,
        store: Store,
        settings: Settings,
        mongo_uri: str,
        tmp_path: Path,
    ) -> None:
        await run(services, tmp_path / "merged", history(bridge=True))
        entry = await merge_of(services, IdentifierType.EMAIL, EMAIL_A, "shared-identifier")
        undone = await services.merges.unmerge(
            entry.id, NOW, actor="admin@test", reason="different people"
        )
        assert undone.status == "undone"
        [stored] = await services.merges.history(entry.survivor)
        assert (stored.id, stored.status, stored.undone_at) == (entry.id, "undone", NOW)

        # Records that came after the merge through the absorbed side went back with it.
        absorbed = entry.absorbed
        for record_id in ("shop:order:2", "shop:order:4", "shop:order:5", "shop:order:6"):
            assert (await record(store, record_id)).profile_id == absorbed, record_id
        assert await profile_of(services, IdentifierType.EMAIL, EMAIL_B) == absorbed
        assert (await services.profiles.get(absorbed)).id == absorbed

        # Against a store that never saw the record that tied them:
        async with other_database(settings, mongo_uri) as other:
            await run(Services.build(other.db, settings), tmp_path / "never", history(bridge=False))
            never = canonical_state(mongo_uri, other.db.name)
        after = canonical_state(mongo_uri, settings.database)
        after["records"] = [r for r in after["records"] if r["_id"] != "shop:order:3"]
        assert after == never

    async def test_unmerged_profiles_are_not_merged_again_by_the_same_evidence(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, history(bridge=True))
        entry = await merge_of(services, IdentifierType.EMAIL, EMAIL_A, "shared-identifier")
        await services.merges.unmerge(entry.id, NOW, actor="admin@test")
        again = [[f.order(external_id="7", identifiers=[f.email(EMAIL_A), f.phone(PHONE)])]]
        await run(services, tmp_path / "again", again)
        merges = await services.merges.history(entry.survivor)
        assert [(m.id, m.status) for m in merges] == [(entry.id, "undone")]
        [suggestion] = await services.merges.suggestions(entry.survivor)
        assert sorted(suggestion.profiles) == sorted([entry.absorbed, entry.survivor])

    async def test_an_interrupted_unmerge_is_completed_by_the_next_run(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, history(bridge=True))
        entry = await merge_of(services, IdentifierType.EMAIL, EMAIL_A, "shared-identifier")
        # The state a crash right after journalling the unmerge leaves.
        await store.db.merges.update_one(
            {"_id": entry.id},
            {"$set": {"status": "undoing", "undo": {"actor": "admin@test", "at": NOW}}},
        )
        await run(services, tmp_path / "later", [[f.survey()]])
        [stored] = await services.merges.history(entry.survivor)
        assert (stored.id, stored.status) == (entry.id, "undone")
        assert await profile_of(services, IdentifierType.PHONE, PHONE) == entry.absorbed

    async def test_unknown_or_undone_merges_cannot_be_undone(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        with pytest.raises(MergeNotFound):
            await services.merges.unmerge("nope", NOW, actor="admin@test")
        await run(services, tmp_path, history(bridge=True))
        entry = await merge_of(services, IdentifierType.EMAIL, EMAIL_A, "shared-identifier")
        await services.merges.unmerge(entry.id, NOW, actor="admin@test")
        with pytest.raises(MergeNotUndoable):
            await services.merges.unmerge(entry.id, NOW, actor="admin@test")


class TestConcurrentBridging:
    async def test_parallel_workers_leave_nothing_on_an_absorbed_profile(
        self, services: Services, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        people = range(30)

        def email(i: int) -> f.Record:
            return f.email(f"p{i}@example.com")

        def phone(i: int) -> f.Record:
            return f.phone(f"+3462{i:07d}")

        await run(
            services,
            tmp_path / "before",
            [
                [f.order(external_id=f"e{i}", identifiers=[email(i)]) for i in people],
                [f.order(external_id=f"p{i}", identifiers=[phone(i)]) for i in people],
            ],
        )
        bridges = [f.order(external_id=f"b{i}", identifiers=[email(i), phone(i)]) for i in people]
        more = [
            f.service_case(external_id=f"c{i}-{n}", identifiers=[phone(i)])
            for n in range(3)
            for i in people
        ]
        small = settings.model_copy(update={"ingest_batch_size": 7})
        workers = [Services.build(store.db, small) for _ in range(2)]
        await asyncio.gather(
            run(workers[0], tmp_path / "w1", [bridges]),
            run(workers[1], tmp_path / "w2", [more]),
        )

        absorbed = sorted(
            set(await all_profiles(services, store)) - set(await live_profiles(store))
        )
        assert len(absorbed) == 30
        for profile in await services.profiles.get_many(absorbed):
            assert profile is not None
            assert profile.id not in absorbed  # resolves to its survivor
        for profile_id in absorbed:
            assert (await services.profiles.timeline(profile_id)).items == []
        assert await services.profiles.identifiers(absorbed) == [[] for _ in absorbed]
        for i in people:
            holder = await profile_of(services, IdentifierType.EMAIL, f"p{i}@example.com")
            timeline = await services.profiles.timeline(holder)
            assert {r.id for _, r in timeline.items} == {
                f"shop:order:e{i}",
                f"shop:order:p{i}",
                f"shop:order:b{i}",
            } | {f"helpdesk:service_case:c{i}-{n}" for n in range(3)}

    async def test_writes_that_land_after_a_merge_are_moved_to_the_survivor(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        """What a worker holding stale owners writes after another worker merged is settled."""
        await run(services, tmp_path, history(bridge=True))
        entry = await merge_of(services, IdentifierType.EMAIL, EMAIL_A, "shared-identifier")
        absorbed, survivor = entry.absorbed, entry.survivor
        late = {**(await store.db.records.find_one({"_id": "shop:order:4"}) or {})}
        late.update(_id="shop:order:late", profile_id=absorbed)
        await store.db.records.insert_one(late)
        await store.db.identities.insert_one(
            {
                "_id": "email:late@example.com",
                "profile_id": absorbed,
                "type": "email",
                "value": "late@example.com",
                "created_at": NOW,
            }
        )

        await services.merges.settle([absorbed], NOW)

        late_record = await record(store, "shop:order:late")
        late_identity = await owner(store, "email:late@example.com")
        assert (late_record.profile_id, late_identity) == (survivor, survivor)
