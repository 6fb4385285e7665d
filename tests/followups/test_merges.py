"""Follow-ups at merges a batch makes together: each survivor keeps one open follow-up of a rule
and lists the others it absorbed, whether the batch merged several pairs (their follow-ups moved
and folded together) or several profiles into one (folded one merge after another); each
unmerge hands back what its merge folded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from c360.followups.model import EventType, FollowUp, Status
from c360.followups.repository import QueueFilter
from c360.services import Services
from c360.settings import Settings, TeamSettings
from c360.steps import StepHook
from c360.store import Store
from tests import factories as f
from tests.followups.helpers import SECRET, ingest, nps, raw
from tests.helpers import Crash, crash_at

_RULE = "nps-detractor"
ANA, TOM = "ana@example.com", "tom@example.com"
_AT = "2024-05-03T12:00:00Z"
_OPEN = (Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS)


def configured(settings: Settings) -> Settings:
    """With a team that is notified (its webhook is never called here)."""
    care = TeamSettings.model_validate(
        {
            "members": ["ana.agent"],
            "webhook_url": "http://127.0.0.1:9/care",
            "webhook_secret": SECRET,
        }
    )
    return settings.model_copy(update={"followup_teams": {"customer-care": care}})


def order(external_id: str, email: str) -> f.Record:
    return f.order(external_id=external_id, identifiers=[f.email(email)])


def by_phone(external_id: str, phone: str, score: int, at: str) -> f.Record:
    return f.survey(
        external_id=external_id, identifiers=[f.phone(phone)], score=score, occurred_at=at
    )


async def answered(
    store: Store, settings: Settings, tmp_path: Path, *answers: f.Record
) -> Services:
    """The services, with these survey answers imported."""
    services = Services.build(store.db, settings)
    await ingest(services, tmp_path / "answers.jsonl", list(answers))
    return services


async def detractor_follow_ups(services: Services) -> list[FollowUp]:
    found, _ = await services.followups.service.queue(QueueFilter(rules=(_RULE,)), 100, None)
    merged, _ = await services.followups.service.queue(
        QueueFilter(rules=(_RULE,), statuses=(Status.MERGED,)), 100, None
    )
    return [*found, *(fu for fu in merged if fu.id not in {x.id for x in found})]


def open_ones(follow_ups: list[FollowUp]) -> list[FollowUp]:
    return [fu for fu in follow_ups if fu.status in _OPEN]


class TestMergesTogether:
    async def test_two_pairs_merged_by_one_batch_each_keep_one_and_unmerge_apart(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = await answered(
            store,
            settings,
            tmp_path,
            nps("S-1", "ana@example.com", 3, "2024-05-03T12:00:00Z"),
            by_phone("S-2", "+34 611 22 33 44", 4, "2024-05-04T12:00:00Z"),
            nps("S-3", "tom@example.com", 2, "2024-05-05T12:00:00Z"),
            by_phone("S-4", "+34 622 33 44 55", 1, "2024-05-06T12:00:00Z"),
        )
        assert len(open_ones(await detractor_follow_ups(services))) == 4

        bridges = [
            f.order(
                external_id="B-1",
                identifiers=[f.email("ana@example.com"), f.phone("+34 611 22 33 44")],
            ),
            f.order(
                external_id="B-2",
                identifiers=[f.email("tom@example.com"), f.phone("+34 622 33 44 55")],
            ),
        ]
        await ingest(services, tmp_path / "bridges.jsonl", bridges)

        after = await detractor_follow_ups(services)
        kept = open_ones(after)
        folded = [fu for fu in after if fu.status is Status.MERGED]
        assert len({fu.profile_id for fu in kept}) == len(kept) == 2
        assert {fu.merged_into for fu in folded} == {fu.id for fu in kept}
        merge_ids = {fu.merged.merge_id for fu in folded if fu.merged is not None}
        assert len(merge_ids) == 2  # each folded by its own merge

        now = dt.datetime.now(dt.UTC)
        for merge_id in sorted(merge_ids):
            await services.merges.unmerge(merge_id, now, actor="admin")
        assert len(open_ones(await detractor_follow_ups(services))) == 4

    async def test_three_profiles_into_one_keep_the_oldest_and_lead_to_it(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = await answered(
            store,
            settings,
            tmp_path,
            nps("S-1", "ana@example.com", 3, "2024-05-03T12:00:00Z"),
            by_phone("S-2", "+34 611 22 33 44", 4, "2024-05-04T12:00:00Z"),
            by_phone("S-3", "+34 622 33 44 55", 1, "2024-05-05T12:00:00Z"),
        )
        opened = {fu.profile_id: fu for fu in await detractor_follow_ups(services)}
        assert len(opened) == 3

        bridge = f.order(
            external_id="B-1",
            identifiers=[
                f.email("ana@example.com"),
                f.phone("+34 611 22 33 44"),
                f.phone("+34 622 33 44 55"),
            ],
        )
        await ingest(services, tmp_path / "bridge.jsonl", [bridge])

        after = await detractor_follow_ups(services)
        [kept] = open_ones(after)
        folded = [fu for fu in after if fu.status is Status.MERGED]
        oldest = min(opened.values(), key=lambda fu: (fu.opened_at, fu.id))
        assert kept.id == oldest.id
        assert len(folded) == 2
        # One merge after the other: the second may fold the first one's keeper in turn, so
        # each folded follow-up leads to the one kept, directly or through the other.
        into = {fu.id: fu.merged_into for fu in folded if fu.merged_into is not None}
        assert len(into) == 2
        for fu in folded:
            step = fu.id
            while step in into:
                step = into[step]
            assert step == kept.id
        listed = {
            e.other for fu in [kept, *folded] for e in fu.events if e.type.value == "absorbed"
        }
        assert listed == {fu.id for fu in folded}


class TestMovedWithWhatWaits:
    async def test_notifications_waiting_for_the_relay_move_and_fold_with_their_follow_ups(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """Imports that died after writing their follow-ups and before relaying them left the
        notifications waiting on the follow-ups; a merge that moves one and folds the other
        keeps them waiting, and the relay then sends both."""
        services = Services.build(store.db, configured(settings))
        for name, email in (("tom", TOM), ("ana", ANA)):
            crashing = Services.build(store.db, configured(settings))
            crashing.followups.service.before_step = crash_at("relay notifications")
            with pytest.raises(Crash):
                await ingest(crashing, tmp_path / f"{name}.jsonl", [nps(name, email, 2, _AT)])
        waiting = await detractor_follow_ups(services)
        assert len(waiting) == 2
        for fu in waiting:
            assert await services.followups.outbox.of_follow_up(fu.id) == []

        bridge = f.order(external_id="B-1", identifiers=[f.email(TOM), f.email(ANA)])
        await ingest(services, tmp_path / "bridge.jsonl", [bridge])
        await services.followups.service.relay.forward_waiting(dt.datetime.now(dt.UTC))

        after = await detractor_follow_ups(services)
        assert len({fu.profile_id for fu in after}) == 1  # one moved by the merge
        assert sorted(fu.status for fu in after) == sorted([Status.OPEN, Status.MERGED])
        for fu in waiting:
            sent = await services.followups.outbox.of_follow_up(fu.id)
            assert [n.type for n in sent] == ["follow_up.opened"]


class TestAnotherWriterDuringAMerge:
    """Another writer (an agent's action, an evaluation) changes a follow-up between the merge's
    read and its write: the write is made again from what is stored, keeping that change."""

    @staticmethod
    def changing(store: Store, step: str, changed: list[str]) -> StepHook:
        async def hook(at: str) -> None:
            if at == step and not changed:
                for doc in await raw(store, "follow_ups"):
                    if doc["status"] in {s.value for s in _OPEN}:
                        await store.db["follow_ups"].update_one(
                            {"_id": doc["_id"]},
                            {"$set": {"reason": "meanwhile"}, "$inc": {"version": 1}},
                        )
                        changed.append(doc["_id"])

        return hook

    @pytest.mark.parametrize("step", ["move follow-ups", "fold follow-ups", "list absorbed"])
    async def test_the_merge_ends_as_without_it_and_keeps_the_change(
        self, store: Store, settings: Settings, tmp_path: Path, step: str
    ) -> None:
        services = await answered(
            store,
            settings,
            tmp_path,
            nps("S-1", ANA, 3, "2024-05-03T12:00:00Z"),
            by_phone("S-2", "+34 611 22 33 44", 4, "2024-05-04T12:00:00Z"),
        )
        changed: list[str] = []
        services.followups.service.before_step = self.changing(store, step, changed)
        bridge = f.order(external_id="B-1", identifiers=[f.email(ANA), f.phone("+34 611 22 33 44")])
        await ingest(services, tmp_path / "bridge.jsonl", [bridge])

        after = await detractor_follow_ups(services)
        [kept] = open_ones(after)
        [folded] = [fu for fu in after if fu.status is Status.MERGED]
        assert changed
        assert folded.profile_id == kept.profile_id
        assert folded.merged_into == kept.id
        assert [e.other for e in kept.events if e.type is EventType.ABSORBED] == [folded.id]
        assert {fu.reason for fu in after if fu.id in changed} == {"meanwhile"}


class TestCutShortBetweenFoldAndList:
    async def test_the_merge_run_again_lists_the_fold_once(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = await answered(
            store,
            settings,
            tmp_path,
            nps("S-1", ANA, 3, "2024-05-03T12:00:00Z"),
            by_phone("S-2", "+34 611 22 33 44", 4, "2024-05-04T12:00:00Z"),
        )
        services.followups.service.before_step = crash_at("list absorbed")
        bridge = f.order(external_id="B-1", identifiers=[f.email(ANA), f.phone("+34 611 22 33 44")])
        with pytest.raises(Crash):
            await ingest(services, tmp_path / "bridge.jsonl", [bridge])

        again = Services.build(store.db, settings)
        assert await again.merges.resume_unfinished(dt.datetime.now(dt.UTC)) == 1
        await again.merges.resume_unfinished(dt.datetime.now(dt.UTC))  # nothing left: no-op

        after = await detractor_follow_ups(again)
        [kept] = open_ones(after)
        [folded] = [fu for fu in after if fu.status is Status.MERGED]
        assert [e.other for e in kept.events if e.type is EventType.ABSORBED] == [folded.id]
