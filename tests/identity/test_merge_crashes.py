"""A crash between any two steps of a merge or an unmerge is completed by the next run.

The crash is injected through ``MergeService.before_step``: the step's exception stops the
import (or the unmerge) exactly where a killed process would; a fresh set of services then runs
as the next process would, and the store must equal that of a run that never crashed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from c360.identity.merge import MERGE_STEPS, UNMERGE_STEPS
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import DAY_1, NOW, Crash, all_merges, crash_at, history, profile_of, run
from tests.state import merges_state as state
from tests.state import other_database, uninterrupted


async def only_merge(services: Services, store: Store) -> str:
    (entry,) = await all_merges(services, store)
    return entry.id


@pytest.mark.parametrize("step", MERGE_STEPS)
async def test_a_merge_crashed_at_any_step_is_completed_by_the_next_run(
    step: str,
    services: Services,
    store: Store,
    settings: Settings,
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    steps = history(bridge=True)

    async def merged(other: Store) -> dict[str, Any]:
        await run(Services.build(other.db, settings), tmp_path / "reference", steps)
        return state(mongo_uri, other.db.name)

    expected = await uninterrupted("merge", settings, mongo_uri, merged)

    await run(services, tmp_path / "before", steps[:2])
    services.merges.before_step = crash_at(step)
    with pytest.raises(Crash):
        await run(services, tmp_path / "crash", steps[2:3])
    half_done = state(mongo_uri, settings.database)
    assert [m[1] for m in half_done["merges"]] == ["started"]

    restarted = Services.build(store.db, settings)
    await run(restarted, tmp_path / "after", steps[2:])
    assert state(mongo_uri, settings.database) == expected


@pytest.mark.parametrize("step", UNMERGE_STEPS)
async def test_an_unmerge_crashed_at_any_step_is_completed_by_the_next_run(
    step: str,
    services: Services,
    store: Store,
    settings: Settings,
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    steps = history(bridge=True)

    async def unmerged(other: Store) -> dict[str, Any]:
        reference = Services.build(other.db, settings)
        await run(reference, tmp_path / "reference", steps)
        await reference.merges.unmerge(await only_merge(reference, other), NOW, actor="admin@test")
        return state(mongo_uri, other.db.name)

    expected = await uninterrupted("unmerge", settings, mongo_uri, unmerged)

    await run(services, tmp_path / "merged", steps)
    merge_id = await only_merge(services, store)
    services.merges.before_step = crash_at(step)
    with pytest.raises(Crash):
        await services.merges.unmerge(merge_id, NOW, actor="admin@test")
    assert [m[1] for m in state(mongo_uri, settings.database)["merges"]] == ["undoing"]

    restarted = Services.build(store.db, settings)
    assert await restarted.merges.resume_unfinished(NOW) == 1
    assert state(mongo_uri, settings.database) == expected


PEOPLE = ("a", "b", "c", "d", "e")


def several_merges() -> list[list[f.Record]]:
    """Five people, then one batch whose records tie three of them and the other two: three
    merges (two into one survivor) made together."""

    def mail(person: str) -> f.Record:
        return f.email(f"{person}@example.com")

    people = [
        f.order(external_id=f"p-{p}", occurred_at=DAY_1, identifiers=[mail(p)]) for p in PEOPLE
    ]
    ties = [
        f.order(external_id="abc", occurred_at=DAY_1, identifiers=[mail(p) for p in "abc"]),
        f.order(external_id="de", occurred_at=DAY_1, identifiers=[mail(p) for p in "de"]),
    ]
    return [people, ties]


@pytest.mark.parametrize("step", MERGE_STEPS)
async def test_a_batch_s_merges_crashed_at_any_step_are_completed_by_the_next_run(
    step: str,
    services: Services,
    store: Store,
    settings: Settings,
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    steps = several_merges()

    async def merged(other: Store) -> dict[str, Any]:
        await run(Services.build(other.db, settings), tmp_path / "reference", steps)
        return state(mongo_uri, other.db.name)

    expected = await uninterrupted("several merges", settings, mongo_uri, merged)
    assert [m[1] for m in expected["merges"]] == ["done"] * 3

    await run(services, tmp_path / "before", steps[:1])
    services.merges.before_step = crash_at(step)
    with pytest.raises(Crash):
        await run(services, tmp_path / "crash", steps[1:])
    assert [m[1] for m in state(mongo_uri, settings.database)["merges"]] == ["started"] * 3

    restarted = Services.build(store.db, settings)
    await run(restarted, tmp_path / "after", steps[1:])
    assert state(mongo_uri, settings.database) == expected


async def test_merges_made_together_leave_what_merging_them_one_by_one_leaves(
    services: Services,
    settings: Settings,
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    async def pairs(of: Services) -> dict[str, tuple[str, str]]:
        ids = {p: await profile_of(of, IdentifierType.EMAIL, f"{p}@example.com") for p in PEOPLE}
        return {ids[p]: (ids[s], "manual") for p, s in (("b", "a"), ("c", "a"), ("e", "d"))}

    async with other_database(settings, mongo_uri) as other:
        one_by_one = Services.build(other.db, settings)
        await run(one_by_one, tmp_path / "one", several_merges()[:1])
        for absorbed, (survivor, rule) in (await pairs(one_by_one)).items():
            await one_by_one.merges.absorb(absorbed, survivor, rule, NOW)
        expected = state(mongo_uri, other.db.name)

    await run(services, tmp_path / "together", several_merges()[:1])
    await services.merges.absorb_all(await pairs(services), NOW)
    assert state(mongo_uri, settings.database) == expected
    assert [m[1] for m in expected["merges"]] == ["done"] * 3


async def test_merges_made_together_refuse_a_survivor_that_is_absorbed_too(
    services: Services, tmp_path: Path
) -> None:
    await run(services, tmp_path, several_merges()[:1])
    a, b, c = [await profile_of(services, IdentifierType.EMAIL, f"{p}@example.com") for p in "abc"]
    with pytest.raises(ValueError, match="both absorbed and surviving"):
        await services.merges.absorb_all({b: (a, "manual"), a: (c, "manual")}, NOW)
