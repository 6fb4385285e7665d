"""Retention windows per record kind: old records go, the profiles that held them are
recomputed (their metrics equal a recomputation over what is left), identity and consent
evidence is never pruned."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from tests.privacy.population import files, load
from tests.served import run_c360
from tests.state import assert_aggregates_equal_recomputation

NOW = dt.datetime(2024, 5, 20, tzinfo=dt.UTC)


def with_windows(settings: Settings, **days: int) -> Settings:
    return Settings.model_validate({**settings.model_dump(), "retention_days": days})


async def kinds(store: Store) -> dict[str, int]:
    found: dict[str, int] = {}
    async for doc in store.db.records.find({}, {"kind": 1}):
        found[doc["kind"]] = found.get(doc["kind"], 0) + 1
    return found


class TestRetention:
    async def test_old_records_go_and_their_profiles_equal_a_recomputation(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        await load(Services.build(store.db, settings), files(tmp_path))
        before = await kinds(store)
        services = Services.build(
            store.db, with_windows(settings, order=10, site_event=10, dead_letters=400)
        )

        pruned = await services.retention.apply(NOW)

        after = await kinds(store)
        # The orders of 1 May (Xavier's first, Yolanda's, Zoe's) and the site events of that
        # day; Xavier's June order stays, as do people and consent.
        assert pruned.removed == {"order": 3, "site_event": 2, "dead_letters": 0}
        assert after["order"] == before["order"] - 3 == 1
        assert "site_event" not in after
        assert after["person"] == before["person"]
        assert after["consent_change"] == before["consent_change"]
        assert pruned.profiles >= 3
        assert await assert_aggregates_equal_recomputation(services, store) == 3
        again = await services.retention.apply(NOW)
        assert again.removed == {"order": 0, "site_event": 0, "dead_letters": 0}

    @pytest.mark.parametrize("cut_before", ["delete", "recompute"])
    async def test_a_run_cut_short_is_completed_by_the_next(
        self, cut_before: str, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        await load(Services.build(store.db, settings), files(tmp_path))
        services = Services.build(store.db, with_windows(settings, order=10, site_event=10))

        async def crash(step: str) -> None:
            if step == cut_before:
                raise RuntimeError(f"killed before {step}")

        services.retention.before_step = crash
        with pytest.raises(RuntimeError, match="killed"):
            await services.retention.apply(NOW)

        rerun = Services.build(store.db, with_windows(settings, order=10, site_event=10))
        pruned = await rerun.retention.apply(NOW)
        again = await rerun.retention.apply(NOW)

        after = await kinds(store)
        assert after["order"] == 1
        assert "site_event" not in after
        assert pruned.profiles >= 3  # the pending ones of the cut run among them
        assert again.removed == {"order": 0, "site_event": 0}
        assert again.profiles == 0
        assert await store.db.retention_pending.count_documents({}) == 0
        assert await assert_aggregates_equal_recomputation(rerun, store) == 3

    async def test_one_process_at_a_time_applies_the_windows_in_serve(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        await load(Services.build(store.db, settings), files(tmp_path))
        services = Services.build(store.db, with_windows(settings, order=10))
        hour = dt.timedelta(hours=1)

        first = await services.retention.apply_leased(NOW, "api-1", hour)
        second = await services.retention.apply_leased(NOW, "api-2", hour)
        later = await services.retention.apply_leased(NOW + 2 * hour, "api-2", hour)

        assert first is not None
        assert first.removed == {"order": 3}
        assert second is None  # api-1 holds the lease
        assert later is not None
        assert later.removed == {"order": 0}

    async def test_dead_letters_go_after_their_window_from_their_latest_rejection(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        await load(Services.build(store.db, settings), files(tmp_path))
        services = Services.build(store.db, with_windows(settings, dead_letters=30))

        kept = await services.retention.apply(dt.datetime.now(dt.UTC))
        gone = await services.retention.apply(dt.datetime.now(dt.UTC) + dt.timedelta(days=31))

        assert kept.removed == {"dead_letters": 0}
        assert gone.removed == {"dead_letters": 2}
        assert await store.db.dead_letters.count_documents({}) == 0

    @pytest.mark.parametrize("kind", ["person", "consent_change", "parcel"])
    def test_identity_and_consent_evidence_take_no_window(
        self, settings: Settings, kind: str
    ) -> None:
        with pytest.raises(ValidationError, match="no retention window"):
            with_windows(settings, **{kind: 30})

    async def test_the_command_applies_the_windows(
        self, store: Store, settings: Settings, env: dict[str, str], tmp_path: Path
    ) -> None:
        await load(Services.build(store.db, settings), files(tmp_path))
        env = {**env, "C360_RETENTION_DAYS": '{"outbound_contact": 1}'}

        done = run_c360("retention", "apply", env=env)

        assert done.returncode == 0, done.stderr
        assert "outbound_contact: 1 removed (older than 1 days)" in done.stdout
        assert await store.db.records.count_documents({"kind": "outbound_contact"}) == 0
