"""A crash between any two steps of a merge or an unmerge is completed by the next run.

The crash is injected through ``MergeService.before_step``: the step's exception stops the
import (or the unmerge) exactly where a killed process would; a fresh set of services then runs
as the next process would, and the store must equal that of a run that never crashed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.identity.merge import MERGE_STEPS, UNMERGE_STEPS
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from tests.helpers import NOW, Crash, crash_at, history, run
from tests.state import merges_state as state
from tests.state import other_database


async def only_merge(store: Store) -> str:
    (entry,) = await store.db.merges.find().to_list()
    return str(entry["_id"])


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
    async with other_database(settings, mongo_uri) as other:
        await run(Services.build(other.db, settings), tmp_path / "reference", steps)
        expected = state(mongo_uri, other.db.name)

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
    async with other_database(settings, mongo_uri) as other:
        reference = Services.build(other.db, settings)
        await run(reference, tmp_path / "reference", steps)
        await reference.merges.unmerge(await only_merge(other), NOW, actor="admin@test")
        expected = state(mongo_uri, other.db.name)

    await run(services, tmp_path / "merged", steps)
    merge_id = await only_merge(store)
    services.merges.before_step = crash_at(step)
    with pytest.raises(Crash):
        await services.merges.unmerge(merge_id, NOW, actor="admin@test")
    assert [m[1] for m in state(mongo_uri, settings.database)["merges"]] == ["undoing"]

    restarted = Services.build(store.db, settings)
    assert await restarted.merges.resume_unfinished(NOW) == 1
    assert state(mongo_uri, settings.database) == expected
