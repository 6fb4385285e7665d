"""Identity resolution over GraphQL: merge history, suggestions, and the admin mutations."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from c360.auth.service import Role
from c360.identity.types import SuggestionStatus
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.factories import api_key as key
from tests.helpers import NOW, UNMERGE, all_merges, gql, history, run


@pytest.fixture
def client(agent_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Reads carry a support agent's key; the mutations send an admin's where they need it."""
    return agent_client


async def two_people(services: Services, tmp_path: Path) -> tuple[str, str]:
    await run(
        services,
        tmp_path,
        [
            [f.order(external_id="1", identifiers=[f.email("a@example.com")])],
            [f.order(external_id="2", identifiers=[f.phone("+34 611 22 33 44")])],
        ],
    )
    first = await services.profiles.by_identifier(IdentifierType.EMAIL, "a@example.com")
    second = await services.profiles.by_identifier(IdentifierType.PHONE, "+34611223344")
    return str(first.id), str(second.id)


MERGE = """mutation($s: ID!, $a: ID!, $dry: Boolean!) {
  mergeProfiles(survivorId: $s, absorbedId: $a, reason: "same person", dryRun: $dry) {
    __typename ... on MergePreview { identifiers records }
    ... on Merge { id rule actor status movedIdentifiers } ... on Error { code message } } }"""
PROFILE = """query($id: ID!) { profile(id: $id) { ... on Profile { id
  merges { id rule status survivorId absorbedId } matchSuggestions { id reasons status } } } }"""
RESOLVE = """mutation($id: ID!, $accept: Boolean!) {
  resolveMatchSuggestion(id: $id, accept: $accept) { ... on MatchSuggestion { status } } }"""


class TestAdminMutations:
    async def test_dry_run_previews_and_moves_nothing(
        self, client: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        older, newer = await two_people(services, tmp_path)
        admin = await key(services, Role.ADMIN)
        data = await gql(client, MERGE, admin, s=older, a=newer, dry=True)
        assert data["mergeProfiles"] == {
            "__typename": "MergePreview",
            "identifiers": ["phone:+34611223344"],
            "records": 1,
        }
        assert await all_merges(services, store) == []

    async def test_merge_then_unmerge(
        self, client: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        older, newer = await two_people(services, tmp_path)
        admin = await key(services, Role.ADMIN)
        merged = (await gql(client, MERGE, admin, s=older, a=newer, dry=False))["mergeProfiles"]
        assert merged["__typename"] == "Merge"
        assert (merged["rule"], merged["status"]) == ("manual", "done")
        assert merged["movedIdentifiers"] == ["phone:+34611223344"]
        assert merged["actor"].startswith("key:")
        profile = (await gql(client, PROFILE, id=newer))["profile"]
        assert profile["id"] == older  # the absorbed id resolves to the survivor
        assert [m["status"] for m in profile["merges"]] == ["done"]

        undone = await gql(client, UNMERGE, admin, id=merged["id"])
        assert undone["unmergeProfile"]["status"] == "undone"
        assert undone["unmergeProfile"]["undoneAt"] is not None
        assert (await gql(client, PROFILE, id=newer))["profile"]["id"] == newer

    async def test_two_customers_of_one_source_merge_only_by_a_persons_decision(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        # Two Shopify customers sharing an e-mail: linking keeps them apart and suggests the
        # pair; an admin who knows it is one person with two accounts accepts it.
        email = f.email("dup@example.com")
        await run(
            services,
            tmp_path,
            [
                [f.order(external_id="1", identifiers=[f.external("shopify", "1"), email])],
                [f.order(external_id="2", identifiers=[f.external("shopify", "2"), email])],
            ],
        )
        a = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "1", "shopify")
        b = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "2", "shopify")
        assert a.id != b.id
        admin = await key(services, Role.ADMIN)
        [suggestion] = (await gql(client, PROFILE, admin, id=a.id))["profile"]["matchSuggestions"]
        assert "different shopify customer ids" in " ".join(suggestion["reasons"])

        accepted = await gql(client, RESOLVE, admin, id=suggestion["id"], accept=True)

        assert accepted["resolveMatchSuggestion"] == {"status": "accepted"}
        survivor = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "2", "shopify")
        assert survivor.id == (await services.profiles.get(a.id)).id
        [merge] = (await gql(client, PROFILE, admin, id=survivor.id))["profile"]["merges"]
        assert merge["rule"] == "manual"
        # An unmerge gives each customer back their own profile.
        undone = await gql(client, UNMERGE, admin, id=merge["id"])
        assert undone["unmergeProfile"]["status"] == "undone"
        again = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "2", "shopify")
        assert again.id != (await services.profiles.get(a.id)).id

    @pytest.mark.parametrize("role", [Role.AGENT, Role.MARKETING])
    async def test_only_admins_merge(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path, role: Role
    ) -> None:
        older, newer = await two_people(services, tmp_path)
        data = await gql(client, MERGE, await key(services, role), s=older, a=newer, dry=False)
        assert data["mergeProfiles"]["__typename"] == "ForbiddenError"

    async def test_an_unknown_key_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"authorization": "Bearer c360_nope_nope"},
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "Unauthenticated"


class TestSuggestions:
    async def test_a_rejected_pair_is_never_suggested_again(
        self, client: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        shared = f.email("family@example.com")
        await run(
            services,
            tmp_path,
            [
                [f.order(external_id="1", identifiers=[f.external("shopify", "1"), shared])],
                [f.order(external_id="2", identifiers=[f.external("shopify", "2"), shared])],
            ],
        )
        first = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "1", "shopify")
        (suggestion,) = (await gql(client, PROFILE, id=first.id))["profile"]["matchSuggestions"]
        admin = await key(services, Role.ADMIN)
        rejected = await gql(client, RESOLVE, admin, id=suggestion["id"], accept=False)
        assert rejected["resolveMatchSuggestion"] == {"status": "rejected"}
        await run(
            services,
            tmp_path / "again",
            [
                [f.order(external_id="3", identifiers=[f.external("shopify", "2"), shared])],
            ],
        )
        [stored] = await services.merges.suggestions(first.id)
        assert (stored.id, stored.status) == (suggestion["id"], SuggestionStatus.REJECTED)
        assert (await gql(client, PROFILE, id=first.id))["profile"]["matchSuggestions"] == []

    async def test_accepting_merges_the_pair(
        self, client: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [f.order(external_id="1", identifiers=[f.email("a@example.com")])],
                [f.order(external_id="2", identifiers=[f.phone("+34 611 22 33 44")])],
            ],
        )
        a = await services.profiles.by_identifier(IdentifierType.EMAIL, "a@example.com")
        b = await services.profiles.by_identifier(IdentifierType.PHONE, "+34611223344")
        first, second = sorted((a.id, b.id))
        await store.db.match_suggestions.insert_one(
            {
                "_id": f"{first}|{second}",
                "profiles": [first, second],
                "status": "open",
                "reasons": ["similar names"],
                "created": {"at": NOW},
            }
        )
        admin = await key(services, Role.ADMIN)
        accepted = await gql(client, RESOLVE, admin, id=f"{first}|{second}", accept=True)
        assert accepted["resolveMatchSuggestion"] == {"status": "accepted"}
        assert (await gql(client, PROFILE, id=second))["profile"]["id"] == first


class TestHistoryInTheProfile:
    async def test_merges_show_on_the_survivor(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, history(bridge=True))
        survivor = await services.profiles.by_identifier(IdentifierType.EMAIL, "a@example.com")
        merges = (await gql(client, PROFILE, id=survivor.id))["profile"]["merges"]
        assert [(m["rule"], m["status"], m["survivorId"]) for m in merges] == [
            ("shared-identifier", "done", survivor.id)
        ]
