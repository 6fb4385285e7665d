"""Segment's ``alias {previousId, userId}``: both user ids are one person, whatever arrived first.

The two ids' profiles merge (rule ``alias``) through the merge ledger, reversible like every
merge and completed by the next run when a crash cuts it short; an id not yet known joins the
other's profile. Other customer ids still tell two people apart, an unmerge keeps them apart,
and merging never widens consent.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.auth.service import Role
from c360.identity.merge import MERGE_STEPS
from c360.identity.types import MergeStatus
from c360.ingest.files import import_file
from c360.ingest.summary import IngestSummary
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.factories import api_key as key
from tests.helpers import (
    UNMERGE,
    Crash,
    all_merges,
    all_suggestions,
    crash_at,
    gql,
    identity_keys,
    live_profiles,
    parse_options,
    record,
    timelines,
)
from tests.state import assert_aggregates_equal_recomputation, other_database
from tests.state import merges_state as state

OLD, NEW = "legacy-7", "cust-1"
ANON = "507f191e-810c-419a-8a4b-1c1f6a1d8e3b"
Event = dict[str, Any]


def event(kind: str, message_id: str, at: str, **fields: Any) -> Event:
    return {"type": kind, "messageId": message_id, "timestamp": at, **fields}


HISTORIES: dict[str, list[Event]] = {
    # The id the customer had before (an old CRM id), then the one they have now.
    "old": [
        event(
            "identify",
            "old-1",
            "2024-01-05T10:00:00Z",
            userId=OLD,
            traits={"email": "ana.old@example.com", "firstName": "Ana", "lastName": "García"},
        ),
        event("track", "old-2", "2024-01-06T10:00:00Z", userId=OLD, event="Order Completed"),
    ],
    "new": [
        event(
            "identify",
            "new-1",
            "2024-03-01T10:00:00Z",
            userId=NEW,
            traits={"email": "ana@example.com"},
        ),
        event("page", "new-2", "2024-03-02T10:00:00Z", userId=NEW, name="Home"),
    ],
    "alias": [event("alias", "alias-1", "2024-03-01T09:00:00Z", previousId=OLD, userId=NEW)],
}
RECORDS = {
    "segment:site_event:old-1",
    "segment:site_event:old-2",
    "segment:person:legacy-7",
    "segment:site_event:new-1",
    "segment:site_event:new-2",
    "segment:person:cust-1",
    "segment:site_event:alias-1",
}


async def ingest(
    services: Services, tmp_path: Path, name: str, items: list[Event], connector: str = "segment"
) -> IngestSummary:
    path = f.write_jsonl(tmp_path / f"{name}.jsonl", list(items))
    summary = await import_file(
        services.ingest, connector, str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors
    return summary


async def profile_of(services: Services, user_id: str) -> str:
    found = await services.profiles.by_identifier(IdentifierType.EXTERNAL, user_id, "segment")
    return str(found.id)


async def records_by_profile(services: Services, store: Store) -> dict[str, set[str]]:
    """Live profile → the records on its timeline; those of :data:`RECORDS` that no profile
    holds under "-"."""
    found = {
        p: {r.id for r in records} for p, records in (await timelines(services, store)).items()
    }
    for record_id in sorted(RECORDS):
        if (await record(store, record_id)).profile_id is None:
            found.setdefault("-", set()).add(record_id)
    return found


class TestAliasJoinsTwoUserIds:
    async def test_after_both_histories_the_profiles_merge(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await ingest(services, tmp_path, "old", HISTORIES["old"])
        await ingest(services, tmp_path, "new", HISTORIES["new"])
        old, new = await profile_of(services, OLD), await profile_of(services, NEW)
        assert old != new

        await ingest(services, tmp_path, "alias", HISTORIES["alias"])

        assert await profile_of(services, NEW) == await profile_of(services, OLD) == old
        [entry] = await services.merges.history(old)
        assert (entry.rule, entry.status, entry.survivor, entry.absorbed) == (
            "alias",
            "done",
            old,  # the older profile survives
            new,
        )
        assert sorted(entry.moved_identities) == [
            "email:ana@example.com",
            f"ext:segment:{NEW}",
        ]
        assert await records_by_profile(services, store) == {old: RECORDS}
        assert (await services.profiles.get(new)).id == old  # the absorbed id resolves
        assert await all_suggestions(services, store) == []
        await assert_aggregates_equal_recomputation(services, store)

        # Either id, with something new, keeps coming to the one profile that holds both.
        later = event(
            "identify",
            "old-3",
            "2024-05-01T10:00:00Z",
            userId=OLD,
            traits={"email": "ana.work@example.com"},
        )
        await ingest(services, tmp_path, "later", [later])
        email = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana.work@example.com")
        assert email.id == old
        assert await live_profiles(store) == [old]

    @pytest.mark.parametrize(
        "arrivals", list(itertools.permutations(HISTORIES)), ids=lambda a: ", ".join(a)
    )
    async def test_in_every_arrival_order_one_profile_holds_both(
        self, arrivals: tuple[str, ...], services: Services, store: Store, tmp_path: Path
    ) -> None:
        for name in arrivals:
            await ingest(services, tmp_path, name, HISTORIES[name])
        survivor = await profile_of(services, OLD)
        assert await profile_of(services, NEW) == survivor
        assert await records_by_profile(services, store) == {survivor: RECORDS}
        assert await identity_keys(services, survivor) == [
            "email:ana.old@example.com",
            "email:ana@example.com",
            f"ext:segment:{NEW}",
            f"ext:segment:{OLD}",
        ]
        rules = [m.rule for m in await all_merges(services, store)]
        assert rules in ([], ["alias"])  # a merge only when both ids had a profile first
        assert await all_suggestions(services, store) == []
        await assert_aggregates_equal_recomputation(services, store)

    async def test_importing_everything_again_changes_nothing(
        self, services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        for name in ("old", "new", "alias"):
            await ingest(services, tmp_path, name, HISTORIES[name])
        before = state(mongo_uri, settings.database)
        for name in ("alias", "old", "new"):
            summary = await ingest(services, tmp_path, f"again-{name}", HISTORIES[name])
            assert summary.duplicates == summary.read
        assert state(mongo_uri, settings.database) == before

    async def test_a_previous_id_that_is_an_anonymous_id_joins_as_before(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        browsing = [event("page", "p-1", "2024-03-01T08:00:00Z", anonymousId=ANON, name="Home")]
        await ingest(services, tmp_path, "browsing", browsing)
        await ingest(services, tmp_path, "new", HISTORIES["new"])
        alias = event("alias", "alias-anon", "2024-03-01T09:00:00Z", previousId=ANON, userId=NEW)
        await ingest(services, tmp_path, "alias", [alias])
        survivor = await profile_of(services, NEW)
        anonymous = await services.profiles.by_identifier(IdentifierType.ANONYMOUS, ANON)
        assert anonymous.id == survivor
        [entry] = await services.merges.history(survivor)
        assert (entry.rule, entry.survivor) == ("anonymous-identified", survivor)


class TestRefusals:
    async def test_profiles_of_two_shop_customers_are_a_suggestion_not_a_merge(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        """The alias joins the Segment ids; it cannot make two Shopify customers one."""
        orders = [
            f.order(
                external_id="1",
                source="shopify",
                identifiers=[f.external("shopify", "101"), f.external("segment", OLD)],
            ),
            f.order(
                external_id="2",
                source="shopify",
                identifiers=[f.external("shopify", "202"), f.external("segment", NEW)],
            ),
        ]
        await ingest(services, tmp_path, "orders", orders, connector="canonical")
        await ingest(services, tmp_path, "alias", HISTORIES["alias"])
        old, new = await profile_of(services, OLD), await profile_of(services, NEW)
        assert old != new
        assert await all_merges(services, store) == []
        [suggestion] = await all_suggestions(services, store)
        assert sorted(suggestion.profiles) == sorted([old, new])
        assert suggestion.reasons == ("share identifiers but hold different shopify customer ids",)

    async def test_an_undone_alias_merge_stays_undone(
        self, client: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        for name in ("old", "new", "alias"):
            await ingest(services, tmp_path, name, HISTORIES[name])
        [entry] = [m for m in await all_merges(services, store) if m.rule == "alias"]
        admin = await key(services, Role.ADMIN)
        undone = await gql(client, UNMERGE, admin, id=entry.id)
        assert undone["unmergeProfile"]["status"] == "undone"

        old, new = await profile_of(services, OLD), await profile_of(services, NEW)
        assert (old, new) == (entry.survivor, entry.absorbed)
        by_profile = await records_by_profile(services, store)
        # The alias goes with the user id it names first, where it would be unmerged.
        assert by_profile[new] == {
            "segment:site_event:new-1",
            "segment:site_event:new-2",
            "segment:person:cust-1",
            "segment:site_event:alias-1",
        }
        assert by_profile[old] == RECORDS - by_profile[new]
        await assert_aggregates_equal_recomputation(services, store)

        # The same alias again (a re-sent batch) does not undo the unmerge.
        await ingest(services, tmp_path, "alias-again", HISTORIES["alias"])
        await ingest(
            services, tmp_path, "alias-resent", [{**HISTORIES["alias"][0], "messageId": "r"}]
        )
        assert (await profile_of(services, OLD), await profile_of(services, NEW)) == (old, new)
        merges = await all_merges(services, store)
        assert [m for m in merges if m.status is MergeStatus.DONE] == []


class TestConsentNeverWidens:
    async def test_a_newer_opt_out_on_either_side_holds_after_the_merge(
        self, client: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        def consent(external_id: str, user_id: str, status: str, at: str) -> f.Record:
            return {
                "kind": "consent_change",
                "source": "segment",
                "external_id": external_id,
                "occurred_at": at,
                "identifiers": [f.external("segment", user_id)],
                "channel": "email",
                "purpose": "marketing",
                "status": status,
            }

        await ingest(services, tmp_path, "old", HISTORIES["old"])
        await ingest(services, tmp_path, "new", HISTORIES["new"])
        consents = [
            consent("c-new", NEW, "opted_in", "2024-03-01T11:00:00Z"),
            consent("c-old", OLD, "opted_out", "2024-04-01T11:00:00Z"),
        ]
        await ingest(services, tmp_path, "consents", consents, connector="canonical")
        marketing = await key(services, Role.MARKETING)
        query = """query($id: ID!) { contactDecision(profileId: $id, channel: EMAIL,
          purpose: "marketing") { ... on ContactDecision { allowed } } }"""

        async def allowed(profile_id: str) -> bool:
            found = await gql(client, query, marketing, id=profile_id)
            return bool(found["contactDecision"]["allowed"])

        assert await allowed(await profile_of(services, NEW))
        assert not await allowed(await profile_of(services, OLD))

        await ingest(services, tmp_path, "alias", HISTORIES["alias"])
        assert not await allowed(await profile_of(services, NEW))


@pytest.mark.parametrize("step", MERGE_STEPS)
async def test_an_alias_merge_crashed_at_any_step_is_completed_by_the_next_run(
    step: str,
    services: Services,
    store: Store,
    settings: Settings,
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    async with other_database(settings, mongo_uri) as other:
        reference = Services.build(other.db, settings)
        for name in ("old", "new", "alias"):
            await ingest(reference, tmp_path / "reference", name, HISTORIES[name])
        expected = state(mongo_uri, other.db.name)

    await ingest(services, tmp_path, "old", HISTORIES["old"])
    await ingest(services, tmp_path, "new", HISTORIES["new"])
    services.merges.before_step = crash_at(step)
    with pytest.raises(Crash):
        await ingest(services, tmp_path, "alias", HISTORIES["alias"])
    assert [m[1] for m in state(mongo_uri, settings.database)["merges"]] == ["started"]

    restarted = Services.build(store.db, settings)
    await ingest(restarted, tmp_path, "alias-again", HISTORIES["alias"])
    assert state(mongo_uri, settings.database) == expected
