"""Evaluation converges: an import killed between any two steps of the rules' stage and run again
ends with the same follow-ups and outbox as a clean import; and on a generated population with
known answers, imported in shuffled files and then again, exactly the customers whose latest NPS
answer is a detractor's have one ``nps-detractor`` follow-up."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from c360.followups.evaluation import EVALUATION_STEPS
from c360.followups.model import Outcome, Status
from c360.followups.repository import FollowUpRepository, QueueFilter, Stored
from c360.followups.states import Action
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType
from c360.privacy.rules import Status as RequestStatus
from c360.services import Services
from c360.settings import Settings, TeamSettings
from c360.store import Database, Store
from schemas.identifiers import IdentifierType
from tests import factories as f
from tests.followups.helpers import SECRET, ingest, nps, raw, snapshot
from tests.helpers import Crash, crash_at, reviewed

_DAY1 = "2024-04-01T12:00:00Z"
VISIBLE = {Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED}


def configured(settings: Settings) -> Settings:
    care = TeamSettings.model_validate(
        {
            "members": ["ana.agent", "luis.agent"],
            "webhook_url": "http://127.0.0.1:9/care",
            "webhook_secret": SECRET,
        }
    )
    return settings.model_copy(update={"followup_teams": {"customer-care": care}})


def mixed_batch() -> list[f.Record]:
    return [
        nps("S-1", "ana@example.com", 3, "2024-05-03T12:00:00Z"),
        nps("S-2", "tom@example.com", 9, "2024-05-04T12:00:00Z", contact_requested=True),
        nps("S-3", "eva@example.com", 5, "2024-05-01T12:00:00Z"),
        nps("S-4", "eva@example.com", 10, "2024-05-06T12:00:00Z"),
        f.service_case(external_id="T-1", identifiers=[f.email("ana@example.com")], complaint=True),
    ]


async def labelled(db: Database) -> Any:
    """The follow-ups and outbox with profile and follow-up ids replaced by the customer's
    e-mail (profile ids are drawn at random: two stores differ there, and only there)."""
    labels: dict[str, str] = {}
    for identity in await raw(db, "identities"):
        if identity["_id"].startswith("email:"):
            labels[identity["profile_id"]] = identity["_id"]
    for doc in await raw(db, "follow_ups"):
        labels[doc["_id"]] = f"{labels[doc['profile_id']]}/{doc['rule_id']}/{doc['episode']['n']}"
    text = json.dumps(await snapshot(db), sort_keys=True, default=str)
    for raw_id in sorted(labels, key=len, reverse=True):
        text = text.replace(raw_id, labels[raw_id])
    found = json.loads(text)
    return {name: sorted(docs, key=lambda d: d["_id"]) for name, docs in found.items()}


class TestCrashBetweenSteps:
    @pytest.mark.parametrize("step", EVALUATION_STEPS)
    async def test_a_killed_import_run_again_ends_as_a_clean_one(
        self, store: Store, settings: Settings, tmp_path: Path, step: str
    ) -> None:
        clean_db = store.client[f"{settings.database}_clean"]
        try:
            clean = Services.build(clean_db, configured(settings))
            await ingest(clean, tmp_path / "clean.jsonl", mixed_batch())
            expected = await labelled(clean_db)

            crashing = Services.build(store.db, configured(settings))
            crashing.followups.service.before_step = crash_at(step)
            with pytest.raises(Crash):
                await ingest(crashing, tmp_path / "a.jsonl", mixed_batch())

            again = Services.build(store.db, configured(settings))
            await ingest(again, tmp_path / "a.jsonl", mixed_batch())
            # What the re-run did not reach, the worker's next round relays (before delivering).
            await again.followups.service.relay.forward_waiting(dt.datetime.now(dt.UTC))

            assert await labelled(store.db) == expected
        finally:
            await store.client.drop_database(f"{settings.database}_clean")


class TestChangedBetweenRelayAndClear:
    async def test_each_follow_up_is_cleared_of_what_was_relayed_keeping_the_other_write(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """The relay clears the follow-ups' unsent lists together, each only if unchanged since
        it was read: one another writer changed meanwhile is read again and cleared too."""
        services = Services.build(store.db, configured(settings))
        follow_ups = store.db["follow_ups"]
        changed: list[str] = []

        async def another_writer(step: str) -> None:
            if step == "clear relayed" and not changed:
                first = await follow_ups.find_one({"unsent": {"$ne": []}}, sort=[("_id", 1)])
                assert first is not None
                await follow_ups.update_one(
                    {"_id": first["_id"]}, {"$set": {"reason": "meanwhile"}, "$inc": {"version": 1}}
                )
                changed.append(first["_id"])

        services.followups.service.before_step = another_writer
        await ingest(services, tmp_path / "a.jsonl", mixed_batch())

        stored = await raw(store, "follow_ups")
        assert changed
        assert len(stored) > 1  # others cleared beside the changed one
        assert all(fu["unsent"] == [] and not fu.get("has_unsent") for fu in stored)
        [other] = [fu for fu in stored if fu["_id"] in changed]
        assert other["reason"] == "meanwhile"
        sent = {(e["follow_up_id"], e["event"]) for e in await raw(store, "outbox")}
        assert {fu["_id"] for fu in stored} <= {follow_up for follow_up, _ in sent}

    async def test_of_two_writers_from_one_version_the_second_is_told_it_lost(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings))
        await ingest(services, tmp_path / "a.jsonl", mixed_batch())
        [read_id, *_] = [fu["_id"] for fu in await raw(store, "follow_ups")]
        repository = FollowUpRepository(store.db)
        read = await repository.get(read_id)
        assert read is not None
        fu = read.follow_up
        first = Stored(replace(fu, version=fu.version + 1, reason="first"), read.unsent)
        second = Stored(replace(fu, version=fu.version + 1, reason="second"), read.unsent)

        assert await repository.replace_many([(first, fu.version)]) == set()
        assert await repository.replace_many([(second, fu.version)]) == {read_id}
        now = await repository.get(read_id)
        assert now is not None
        assert now.follow_up.reason == "first"


class TestErasedWhileRelaying:
    async def test_what_is_relayed_for_a_person_erased_meanwhile_is_taken_back(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """The relay read Ana's follow-ups, then an erasure of her ran whole (her follow-ups
        gone, and the notifications it found through them) before the relay wrote hers: what
        it wrote is taken back, where nothing could find it any more; the others' notifications
        are those of an import without the erasure."""
        clean_db = store.client[f"{settings.database}_clean"]
        try:
            clean = Services.build(clean_db, configured(settings))
            await ingest(clean, tmp_path / "clean.jsonl", mixed_batch())
            ana = "email:ana@example.com/"
            expected = await labelled(clean_db)
            expected["follow_ups"] = [d for d in expected["follow_ups"] if ana not in d["_id"]]
            expected["outbox"] = [e for e in expected["outbox"] if ana not in e["follow_up_id"]]

            services = Services.build(store.db, configured(settings))
            privacy = services.privacy
            hers: list[str] = []

            async def erasure_meanwhile(step: str) -> None:
                if step == "relay notifications" and not hers:
                    [identity] = [d for d in await raw(store, "identities") if d["_id"] == ana[:-1]]
                    hers.extend(
                        fu["_id"]
                        for fu in await raw(store, "follow_ups")
                        if fu["profile_id"] == identity["profile_id"]
                    )
                    now = dt.datetime.now(dt.UTC)
                    given = [GivenIdentifier(IdentifierType.EMAIL, "ana@example.com")]
                    request = await privacy.create(RequestType.ERASURE, given, actor="dpo", now=now)
                    await privacy.verify(request.id, actor="dpo", now=now)
                    done = await privacy.run(
                        request.id,
                        actor="dpo",
                        now=now,
                        acknowledged=await reviewed(services, request.id),
                    )
                    assert done.status is RequestStatus.COMPLETED

            services.followups.service.before_step = erasure_meanwhile
            await ingest(services, tmp_path / "a.jsonl", mixed_batch())

            assert hers  # she had follow-ups, relayed after her erasure
            outbox = await raw(store, "outbox")
            assert not [e for e in outbox if e["follow_up_id"] in hers]
            assert await labelled(store.db) == expected
        finally:
            await store.client.drop_database(f"{settings.database}_clean")


class TestCrashWhileTheBuyersChange:
    """The value tier that raises a detractor's priority is the one the stored records give when
    the batch is evaluated: a process that kept the buyers' percentiles from an earlier batch
    and a new process completing a batch cut short open the same follow-up."""

    def first(self) -> list[f.Record]:
        # Tom the only buyer (so the top of the tiers), and a detractor who buys nothing: her
        # follow-up reads the tiers' cutoffs.
        return [
            f.order(external_id="O-tom", identifiers=[f.email("tom@example.com")], amount=4000),
            nps("S-ana", "ana@example.com", 3, "2024-05-03T12:00:00Z"),
        ]

    def second(self) -> list[f.Record]:
        # Four bigger buyers put Tom below the median; then his detractor answer.
        return [
            *(
                f.order(
                    external_id=f"O-{n}",
                    identifiers=[f.email(f"buyer{n}@example.com")],
                    amount=10_000 * n,
                )
                for n in range(1, 5)
            ),
            nps("S-tom", "tom@example.com", 2, "2024-05-08T12:00:00Z"),
        ]

    @pytest.mark.parametrize("step", EVALUATION_STEPS)
    async def test_a_new_process_completing_the_batch_opens_what_one_process_did(
        self, store: Store, settings: Settings, tmp_path: Path, step: str
    ) -> None:
        clean_db = store.client[f"{settings.database}_clean"]
        try:
            clean = Services.build(clean_db, configured(settings))
            await ingest(clean, tmp_path / "clean1.jsonl", self.first())
            await ingest(clean, tmp_path / "clean2.jsonl", self.second())
            expected = await labelled(clean_db)

            crashing = Services.build(store.db, configured(settings))
            await ingest(crashing, tmp_path / "a1.jsonl", self.first())
            crashing.followups.service.before_step = crash_at(step)
            with pytest.raises(Crash):
                await ingest(crashing, tmp_path / "a2.jsonl", self.second())
            again = Services.build(store.db, configured(settings))
            await ingest(again, tmp_path / "a2.jsonl", self.second())
            await again.followups.service.relay.forward_waiting(dt.datetime.now(dt.UTC))

            assert await labelled(store.db) == expected
            [tom] = [
                fu
                for fu in expected["follow_ups"]
                if fu["_id"] == "email:tom@example.com/nps-detractor/1"
            ]
            assert tom["priority"] == "normal"  # a low-value buyer now: not raised
        finally:
            await store.client.drop_database(f"{settings.database}_clean")


class TestCrashWhileAssigning:
    """Owners are the team's members with the fewest open follow-ups, ties to the one assigned
    least recently: a store that kept only some of a batch's new follow-ups when it died, and
    the batch run again, leave the owners an uninterrupted import gives."""

    @staticmethod
    async def worked_on(services: Services, tmp_path: Path, name: str) -> None:
        """Ana and Luis hold one follow-up each, Luis's the older assignment."""
        now = dt.datetime.now(dt.UTC)
        await ingest(services, tmp_path / f"{name}1.jsonl", [nps("A", "a@example.com", 1, _DAY1)])
        await ingest(services, tmp_path / f"{name}2.jsonl", [nps("B", "b@example.com", 2, _DAY1)])
        service = services.followups.service
        [anas], _ = await service.queue(QueueFilter(owners=("ana.agent",)), 5, None)
        await service.act(
            anas.id,
            Action.RESOLVE,
            "ana.agent",
            now,
            outcome=Outcome.CONTACTED_RESOLVED,
            root_cause="other",
        )
        await ingest(services, tmp_path / f"{name}3.jsonl", [nps("C", "c@example.com", 3, _DAY1)])

    @staticmethod
    def batch() -> list[f.Record]:
        return [nps(f"D{n}", f"d{n}@example.com", n, f"2024-05-0{n}T12:00:00Z") for n in (1, 2, 3)]

    @pytest.mark.parametrize("kept", [(1,), (2,), (3,), (1, 2), (1, 3), (2, 3)])
    async def test_the_batch_run_again_assigns_as_an_uninterrupted_import(
        self, store: Store, settings: Settings, tmp_path: Path, kept: tuple[int, ...]
    ) -> None:
        clean_db = store.client[f"{settings.database}_clean"]
        try:
            clean = Services.build(clean_db, configured(settings))
            await self.worked_on(clean, tmp_path, "clean")
            await ingest(clean, tmp_path / "clean.jsonl", self.batch())
            expected = await labelled(clean_db)
            owners = [
                fu["owner"] for fu in expected["follow_ups"] if fu["_id"].startswith("email:d")
            ]
            assert owners == ["luis.agent", "ana.agent", "ana.agent"]

            crashing = Services.build(store.db, configured(settings))
            await self.worked_on(crashing, tmp_path, "a")
            crashing.followups.service.before_step = crash_at("relay notifications")
            with pytest.raises(Crash):
                await ingest(crashing, tmp_path / "a.jsonl", self.batch())
            lost = [f"d{n}@example.com" for n in (1, 2, 3) if n not in kept]
            for identity in await raw(store.db, "identities"):
                if identity["_id"].removeprefix("email:") in lost:
                    await store.db["follow_ups"].delete_many({"profile_id": identity["profile_id"]})
            again = Services.build(store.db, configured(settings))
            await ingest(again, tmp_path / "a.jsonl", self.batch())
            await again.followups.service.relay.forward_waiting(dt.datetime.now(dt.UTC))

            assert await labelled(store.db) == expected
        finally:
            await store.client.drop_database(f"{settings.database}_clean")


class TestGroundTruth:
    async def test_latest_nps_detractors_have_exactly_one_and_a_second_import_changes_nothing(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        rng = random.Random(1607)
        answers: list[f.Record] = []
        latest: dict[str, int] = {}
        for person in range(120):
            email = f"person{person}@example.com"
            count = rng.randint(0, 4)
            days = sorted(rng.sample(range(1, 28), count))
            for n, day in enumerate(days):
                score = rng.choice([0, 2, 4, 6, 7, 8, 9, 10])
                answers.append(nps(f"N-{person}-{n}", email, score, f"2024-03-{day:02d}T10:00:00Z"))
                latest[email] = score
            if rng.random() < 0.2:  # other kinds of record, which this rule does not read
                answers.append(f.order(external_id=f"O-{person}", identifiers=[f.email(email)]))
        rng.shuffle(answers)  # late earlier answers: files in no order of time
        files = [answers[i::3] for i in range(3)]

        services = Services.build(store.db, configured(settings))
        for number, part in enumerate(files):
            await ingest(services, tmp_path / f"first{number}.jsonl", part)
        first = await raw(store, "follow_ups"), await raw(store, "outbox")
        for number, part in enumerate(reversed(files)):
            again = Services.build(store.db, configured(settings))
            await ingest(again, tmp_path / f"again{number}.jsonl", part)

        assert (await raw(store, "follow_ups"), await raw(store, "outbox")) == first
        detractors = {email for email, score in latest.items() if score <= 6}
        assert detractors  # the population has both
        assert set(latest) - detractors
        for email in latest:
            profile = await services.profiles.by_identifier(IdentifierType.EMAIL, email)
            [found] = await services.followups.service.of_profiles([profile.id])
            mine = [
                fu
                for fu in found
                if fu.rule_id == "nps-detractor" and fu.status in VISIBLE | {Status.HELD_OUT}
            ]
            assert len(mine) == (1 if email in detractors else 0), (email, latest[email])
