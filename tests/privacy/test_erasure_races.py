"""An erasure while an import of the same person runs: a batch that asked the suppression list
just before the erasure wrote it stores the person again afterwards. Whether it writes before
the erasure's last look (found by looking again: another pass) or after it (found by the
batch's second question, and erased by a request that completes the first), nothing of the
person remains, and importing their files again reports them suppressed.

The interleavings are made deterministic by stages that hold the racing import where it
matters (after its first question, after its look-up, before its second question) until the
erasure reaches a chosen step; an importer that dies before its second question is one whose
stage raises there. The last test runs the two side by side, unheld."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from c360.ingest.batch import Batch
from c360.ingest.files import import_file
from c360.ingest.service import IngestSummary
from c360.ingest.stages.base import Stage
from c360.privacy.erasure import MAX_PASSES
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType, Status, TransitionRefused
from c360.privacy.service import ErasureUnsettled
from c360.privacy.types import PrivacyRequest
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import Crash, crash_at, parse_options, reviewed
from tests.privacy.population import (
    ADMIN,
    X_CRM,
    X_EMAIL,
    X_PHONE,
    assert_none_of_his_identifiers_is_found,
    files,
    his_strings,
    kept_state,
    load,
    with_fixed_secrets,
)
from tests.state import uninterrupted

AGAIN_STRINGS = ("Xavier calls again", "kettle")
"""What the racing import brings that the first import did not."""


def his_new_records(tmp_path: Path, *, tag: str = "3") -> Path:
    """His records as a source exports them while he is being erased: a newer revision of his
    person record, an order, a case with free text, and a return that names only his order."""
    email, phone = f.email(X_EMAIL), f.phone(X_PHONE)
    return f.write_jsonl(
        tmp_path / f"again-{tag}.jsonl",
        [
            f.person(
                external_id=X_CRM,
                occurred_at="2024-09-01T10:00:00Z",
                identifiers=[f.external("crm", X_CRM), email, phone],
                given_name="Xavier",
                family_name="Erasmo",
            ),
            f.order(external_id=f"X-{tag}", identifiers=[email], amount=990),
            f.service_case(
                external_id=f"T-X{tag}", identifiers=[phone], subject="Xavier calls again: kettle"
            ),
            {
                "kind": "return",
                "source": "shop",
                "external_id": f"R-X{tag}",
                "occurred_at": "2024-06-09T10:00:00Z",
                "order_external_id": "X-2",
                "amount": {"amount": 1200, "currency": "EUR"},
            },
        ],
    )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_fixed_secrets(settings)


class Hold(Stage):
    """Holds the first batch that reaches it until told to go on (or to die there)."""

    name: ClassVar[str] = "hold"

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go = asyncio.Event()
        self.die = False
        self._armed = True

    async def run(self, batch: Batch) -> None:
        if not self._armed or not batch.entries:
            return
        self._armed = False
        self.reached.set()
        await self.go.wait()
        if self.die:
            raise Crash(self.name)

    async def release(self, *, die: bool = False) -> None:
        self.die = die
        self.go.set()
        await asyncio.sleep(0)


class HoldAfterAsking(Hold):
    name = "hold after asking"


class HoldAfterLookingUp(Hold):
    name = "hold after looking up"


class DieBeforeAskingAgain(Hold):
    """Before ``suppress again``: after every stage that writes."""

    name = "die before asking again"

    def __init__(self) -> None:
        super().__init__()
        self.go.set()
        self.die = True


def importer(store: Store, settings: Settings, *stages: tuple[Stage, str]) -> Services:
    """Another process importing into the same store, its stages held where the test says."""
    other = Services.build(store.db, settings)
    for stage, after in stages:
        other.ingest.add_stage(stage, after=after)
    return other


async def import_(services: Services, path: Path) -> IngestSummary:
    options = parse_options(default_region="ES")
    return await import_file(services.ingest, "canonical", str(path), options)


async def start_erasure(services: Services) -> PrivacyRequest:
    now = dt.datetime.now(dt.UTC)
    given = [GivenIdentifier(IdentifierType.EMAIL, X_EMAIL)]
    request = await services.privacy.create(RequestType.ERASURE, given, actor=ADMIN, now=now)
    return await services.privacy.verify(request.id, actor=ADMIN, now=now)


async def run(services: Services, request: PrivacyRequest) -> PrivacyRequest:
    now, acknowledged = dt.datetime.now(dt.UTC), await reviewed(services, request.id)
    return await services.privacy.run(request.id, actor=ADMIN, now=now, acknowledged=acknowledged)


def at_step(step: str, work: Callable[[], Awaitable[None]]) -> Callable[[str], Awaitable[None]]:
    """An erasure step hook that does ``work`` once, before ``step``."""
    pending = [True]

    async def hook(name: str) -> None:
        if name == step and pending.pop():
            await work()

    return hook


async def assert_nothing_of_him_remains(
    services: Services, settings: Settings, mongo_uri: str, tmp_path: Path
) -> None:
    assert his_strings(mongo_uri, settings.database, AGAIN_STRINGS) == []
    await assert_none_of_his_identifiers_is_found(services)
    # Importing everything of his again, twice, stores nothing and says why.
    erased = kept_state(mongo_uri, settings.database)
    paths = [*files(tmp_path / "originals"), his_new_records(tmp_path / "originals")]
    for _ in range(2):
        summaries = await load(services, paths)
        assert sum(s.inserted + s.updated for s in summaries) == 0
        assert summaries[-1].suppressed == summaries[-1].read == 4
        assert kept_state(mongo_uri, settings.database) == erased


def settled_state(uri: str, database: str) -> dict[str, Any]:
    """:func:`kept_state`, less when the dead importer's batch began (its entry stays open in
    the batch journal: repaired once it is old, as any importer's that died)."""
    state = kept_state(uri, database)
    state["ingest_batches"] = [
        {k: v for k, v in doc.items() if k != "started_ms"}
        for doc in state.get("ingest_batches", [])
    ]
    return state


async def completing(services: Services, original: PrivacyRequest) -> list[PrivacyRequest]:
    """The requests c360 made to erase what an import stored after ``original``."""
    requests = await services.privacy.page(None, None, dt.datetime.now(dt.UTC))
    return [r for r in requests if r.completes == original.id]


class TestABatchThatWritesAfterTheErasureAsksAgain:
    """It asked before the suppressions were written and writes after the erasure is over:
    its second question finds them; what it wrote is erased and reported suppressed."""

    @pytest.mark.parametrize(
        ("hold", "after"),
        [(HoldAfterAsking, "suppress"), (HoldAfterLookingUp, "look up")],
        ids=["a new profile of his", "his erased profile again"],
    )
    async def test_what_it_wrote_is_erased_by_a_request_that_completes_the_erasure(
        self,
        hold: type[Hold],
        after: str,
        services: Services,
        store: Store,
        settings: Settings,
        mongo_uri: str,
        tmp_path: Path,
    ) -> None:
        await load(services, files(tmp_path))
        held = hold()
        racing = importer(store, settings, (held, after))
        racing_import = asyncio.create_task(import_(racing, his_new_records(tmp_path)))
        await held.reached.wait()

        done = await run(services, await start_erasure(services))
        assert done.status is Status.COMPLETED
        await held.release()
        summary = await racing_import

        assert (summary.read, summary.inserted, summary.suppressed) == (4, 0, 4)
        (completed,) = await completing(services, done)
        assert completed.status is Status.COMPLETED, completed
        assert completed.events[0].actor == "c360"
        assert (completed.journal.count("records") or 0) >= 3
        receipt = await services.privacy.receipt(completed.id)
        assert receipt is not None
        assert receipt.body["completes"] == done.id
        await assert_nothing_of_him_remains(services, settings, mongo_uri, tmp_path)

    async def test_a_completing_erasure_whose_run_failed_is_carried_out_an_hour_later(
        self, services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        held = HoldAfterAsking()
        racing = importer(store, settings, (held, "suppress"))
        racing.privacy.before_step = crash_at("records")  # its completing run fails there
        racing_import = asyncio.create_task(import_(racing, his_new_records(tmp_path)))
        await held.reached.wait()
        done = await run(services, await start_erasure(services))
        await held.release()
        await racing_import
        (left,) = await completing(services, done)
        assert left.status is Status.FAILED  # and nobody runs what c360 started itself
        now = dt.datetime.now(dt.UTC)

        assert await services.privacy.completions.resume(now) == 0  # its run may be under way
        # Lifting the erasure now would let the completion erase him once he is back.
        with pytest.raises(TransitionRefused, match=f"still being completed by {left.id}"):
            await services.privacy.lift_erasure(done.id)
        with pytest.raises(TransitionRefused, match=f"completes erasure {done.id}"):
            await services.privacy.lift_erasure(left.id)
        # Nor one identifier at a time.
        with pytest.raises(TransitionRefused, match=f"still being completed by {left.id}"):
            await services.privacy.lift_suppression(GivenIdentifier(IdentifierType.EMAIL, X_EMAIL))
        assert await services.privacy.completions.resume(now + dt.timedelta(hours=2)) == 1

        (completed,) = await completing(services, done)
        assert completed.status is Status.COMPLETED
        assert [e.actor for e in completed.events] == ["c360"] * len(completed.events)
        await assert_nothing_of_him_remains(services, settings, mongo_uri, tmp_path)

    async def test_an_importer_that_died_before_asking_again_is_caught_by_the_next_import(
        self, services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        held, dies = HoldAfterAsking(), DieBeforeAskingAgain()
        racing = importer(store, settings, (held, "suppress"), (dies, "match"))
        racing_import = asyncio.create_task(import_(racing, his_new_records(tmp_path)))
        await held.reached.wait()
        done = await run(services, await start_erasure(services))
        await held.release()
        with pytest.raises(Crash):
            await racing_import
        # He is back, in part: what the dead importer stored.
        back = await services.profiles.by_identifier(IdentifierType.EMAIL, X_EMAIL)
        assert back.id

        # The next import that meets his names (his original files, here) erases it.
        summaries = await load(services, files(tmp_path / "again"))

        assert sum(s.inserted + s.updated for s in summaries) == 0
        (completed,) = await completing(services, done)
        assert completed.status is Status.COMPLETED
        await assert_nothing_of_him_remains(services, settings, mongo_uri, tmp_path)


class TestABatchThatWritesBetweenTheStepsIsFoundByLookingAgain:
    """It writes while the steps run and dies before asking again: the erasure's look after
    its steps finds what it wrote, and runs them again over it."""

    async def race(
        self, services: Services, store: Store, settings: Settings, tmp_path: Path
    ) -> PrivacyRequest:
        """The erasure, with the racing import let through before its last step."""
        await load(services, files(tmp_path))
        held, dies = HoldAfterAsking(), DieBeforeAskingAgain()
        racing = importer(store, settings, (held, "suppress"), (dies, "match"))
        racing_import = asyncio.create_task(import_(racing, his_new_records(tmp_path)))
        await held.reached.wait()

        async def let_it_write() -> None:
            await held.release()
            with pytest.raises(Crash):
                await racing_import

        request = await start_erasure(services)
        services.privacy.before_step = at_step("profiles", let_it_write)
        return request

    async def test_a_second_pass_erases_it(
        self, services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        request = await self.race(services, store, settings, tmp_path)

        done = await run(services, request)

        assert done.status is Status.COMPLETED, done
        assert done.journal.current == 2
        # His new profile's records; the return that names only his erased order.
        second = done.journal.passes[1].counts
        assert (second["records"], second["unlinked records"], second["identities"]) == (3, 1, 3)
        receipt = await services.privacy.receipt(done.id)
        assert receipt is not None
        assert receipt.body["passes"] == 2
        assert await completing(services, done) == []
        await assert_nothing_of_him_remains(services, settings, mongo_uri, tmp_path)

    async def uninterrupted(
        self, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> dict[str, Any]:
        """What the uninterrupted erasure of the race keeps (made once a run)."""

        async def make(other: Store) -> dict[str, Any]:
            reference = Services.build(other.db, settings)
            request = await self.race(reference, other, settings, tmp_path / "reference")
            assert (await run(reference, request)).journal.current == 2
            return settled_state(mongo_uri, other.db.name)

        return await uninterrupted("erasure race", settings, mongo_uri, make)

    @pytest.mark.parametrize(
        "step",
        [
            "look again",
            "suppress identifiers (pass 2)",
            "records (pass 2)",
            "profiles (pass 2)",
            "look again (pass 2)",
        ],
    )
    async def test_a_crash_in_the_second_pass_ends_as_an_uninterrupted_one_once_run_again(
        self,
        step: str,
        services: Services,
        store: Store,
        settings: Settings,
        mongo_uri: str,
        tmp_path: Path,
    ) -> None:
        expected = await self.uninterrupted(settings, mongo_uri, tmp_path)
        request = await self.race(services, store, settings, tmp_path / "crash")
        racing_hook = services.privacy.before_step
        crash = crash_at(step)

        async def hook(name: str) -> None:
            await racing_hook(name)
            await crash(name)

        services.privacy.before_step = hook

        failed = await run(services, request)

        assert (failed.status, failed.error) == (Status.FAILED, Crash.__name__)
        restarted = Services.build(store.db, settings)
        done = await run(restarted, failed)
        assert done.status is Status.COMPLETED
        assert done.journal.current == 2
        assert settled_state(mongo_uri, settings.database) == expected

    async def test_a_person_stored_again_after_every_pass_fails_the_run_until_it_stops(
        self, services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        # One import per pass, each past its first question before the erasure begins.
        racing: list[tuple[Hold, asyncio.Task[IngestSummary]]] = []
        for n in range(MAX_PASSES):
            held = HoldAfterAsking()
            other = importer(store, settings, (held, "suppress"), (DieBeforeAskingAgain(), "match"))
            path = his_new_records(tmp_path, tag=str(10 + n))
            racing.append((held, asyncio.create_task(import_(other, path))))
            await held.reached.wait()

        async def store_him_again(name: str) -> None:
            if name.startswith("look again"):
                held, task = racing.pop(0)
                await held.release()
                with pytest.raises(Crash):
                    await task

        request = await start_erasure(services)
        services.privacy.before_step = store_him_again

        failed = await run(services, request)

        assert (failed.status, failed.error) == (Status.FAILED, ErasureUnsettled.__name__)
        assert failed.journal.current == MAX_PASSES
        services.privacy.before_step = crash_at("nothing")
        done = await run(services, failed)
        assert done.status is Status.COMPLETED
        assert his_strings(mongo_uri, settings.database, AGAIN_STRINGS) == []


async def test_an_import_running_all_along_leaves_nothing_of_him(
    services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
) -> None:
    """No holding: his records imported in batches of one while the erasure runs."""
    await load(services, files(tmp_path))
    one_by_one = settings.model_copy(update={"ingest_batch_size": 1})
    racing = Services.build(store.db, one_by_one)
    many = [his_new_records(tmp_path / "many", tag=str(n)) for n in range(20, 26)]

    async def keep_importing() -> list[IngestSummary]:
        return [await import_(racing, path) for path in many]

    request = await start_erasure(services)
    summaries, done = await asyncio.gather(keep_importing(), run(services, request))

    assert done.status is Status.COMPLETED, done
    assert all(s.read == s.inserted + s.updated + s.duplicates + s.suppressed for s in summaries)
    await assert_nothing_of_him_remains(services, settings, mongo_uri, tmp_path)
