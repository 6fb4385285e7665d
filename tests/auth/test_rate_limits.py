"""Rate limits per API key over HTTP: the request bucket (REST and GraphQL shapes, 429 with
Retry-After), the lookup bucket, one bucket shared by two app instances on one store, and the
search oracle closed for keys that read contact points masked."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from c360.auth.ratelimit import Bucket, Limit, OverBurst, RateLimited, RateLimiter
from c360.auth.repository import RateLimitRepository
from c360.auth.service import Caller, Role
from c360.ingest.files import import_file
from c360.services import Services, rate_limits
from c360.settings import RateLimit, Settings
from c360.store import Store
from tests import factories as f
from tests.helpers import app_for, asgi_client, dead_letters, parse_options

# A token a minute: a bucket emptied in a test stays empty for the rest of it.
SLOW = RateLimit(per_minute=1, burst=3)
UNLIMITED: dict[str, RateLimit | None] = {role.value: None for role in Role}
SEARCH = (
    """query($text: String!) { searchProfiles(text: $text) { edges { node { id phones } } } }"""
)
LOOKUP = """query($value: String!) {
  profileByIdentifier(type: EMAIL, value: $value) { __typename ... on Profile { id } } }"""
PHONE = "+34 633 44 55 66"  # the number the attack below tries to recover from its mask
STILL_US = 1_800_000_000_000_000  # epoch microseconds


def on_a_still_clock(app: FastAPI) -> FastAPI:
    """The app's rate limiter, built as the app builds it, on a clock that does not move: a
    bucket refills only where a test moves the clock (``TestTheBucket``), however slowly a
    loaded machine sends the requests (marketing's lookups refill one a second)."""
    limiter = RateLimiter(
        RateLimitRepository(app.state.store.db),
        rate_limits(app.state.settings),
        clock=lambda: STILL_US,
    )
    app.state.services = dataclasses.replace(app.state.services, limits=limiter)
    return app


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    return on_a_still_clock(app)


async def graphql(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def assert_graphql_429(response: httpx.Response) -> int:
    """A 429 in the GraphQL-over-HTTP shape with its code; returns the Retry-After seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    body = response.json()
    assert "data" not in body or body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RateLimited"
    retry_after = int(response.headers["retry-after"])
    assert error["extensions"]["retryAfter"] == retry_after
    assert 1 <= retry_after <= 60
    return retry_after


@pytest.fixture
async def people(services: Services, tmp_path: Path) -> None:
    records: list[f.Record | str] = [
        f.person(
            external_id="C-1",
            identifiers=[f.external("crm", "C-1"), f.email("thomas.becker@example.com")],
            given_name="Thomas",
            family_name="Becker",
        ),
        f.order(identifiers=[f.email("thomas.becker@example.com"), f.phone(PHONE)]),
    ]
    path = f.write_jsonl(tmp_path / "people.jsonl", records)
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors


class TestRequestBucket:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={"rate_limits": {**settings.rate_limits, "agent": SLOW, "connector": SLOW}}
        )

    async def test_graphql_past_the_burst_is_429_in_the_graphql_shape(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        for _ in range(SLOW.burst):
            response = await graphql(client, "{ __typename }", headers)
            assert response.status_code == 200, response.text
        assert_graphql_429(await graphql(client, "{ __typename }", headers))

    async def test_rest_past_the_burst_is_429_in_the_rest_shape(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.CONNECTOR)
        body = b'{"kind": "unknown"}'
        for _ in range(SLOW.burst):
            response = await client.post("/ingest/canonical", content=body, headers=headers)
            assert response.status_code == 200, response.text
        refused = await client.post("/ingest/canonical", content=body, headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error"] == "RateLimited"
        assert "connector keys may make 1 requests a minute" in refused.json()["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Refused before reading the body: the three accepted requests' rejections only.
        [letter] = await dead_letters(services)
        assert letter.attempts == SLOW.burst

    async def test_each_key_has_its_own_bucket_and_other_roles_their_limits(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        first, second = await f.api_key(services, Role.AGENT), await f.api_key(services, Role.AGENT)
        for _ in range(SLOW.burst):
            await graphql(client, "{ __typename }", first)
        assert_graphql_429(await graphql(client, "{ __typename }", first))
        assert (await graphql(client, "{ __typename }", second)).status_code == 200
        marketing = await f.api_key(services, Role.MARKETING)  # the default: a burst of 100
        for _ in range(SLOW.burst + 2):
            assert (await graphql(client, "{ __typename }", marketing)).status_code == 200

    async def test_a_refused_key_is_answered_before_the_bucket(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = {"authorization": "Bearer c360_nope_nope"}
        for _ in range(SLOW.burst + 1):
            assert (await graphql(client, "{ __typename }", headers)).status_code == 401


class TestSharedByTwoInstances:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"rate_limits": {**settings.rate_limits, "agent": SLOW}})

    @pytest.fixture
    async def other_app(self, settings: Settings, store: Store) -> AsyncIterator[FastAPI]:
        """A second API instance (its own services, client and memory) on the same store."""
        app = app_for(settings)
        async with app.router.lifespan_context(app):
            yield on_a_still_clock(app)

    async def test_tokens_taken_through_one_are_gone_for_the_other(
        self, app: FastAPI, other_app: FastAPI, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        async with asgi_client(app, headers) as one, asgi_client(other_app, headers) as two:
            answers = []
            for client in (one, two, one, two):
                answers.append(await client.post("/graphql", json={"query": "{ __typename }"}))
            assert [r.status_code for r in answers[:3]] == [200, 200, 200]
            assert_graphql_429(answers[3])
            assert_graphql_429(await one.post("/graphql", json={"query": "{ __typename }"}))

    async def test_concurrent_requests_through_both_take_exactly_the_burst(
        self, app: FastAPI, other_app: FastAPI, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        async with asgi_client(app, headers) as one, asgi_client(other_app, headers) as two:
            answers = await asyncio.gather(
                *(c.post("/graphql", json={"query": "{ __typename }"}) for c in [one, two] * 5)
            )
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200] * SLOW.burst + [429] * (10 - SLOW.burst)


@pytest.mark.usefixtures("people")
class TestLookups:
    async def test_marketing_finds_an_address_whole_and_never_by_its_beginning(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.MARKETING)
        whole = (await graphql(client, SEARCH, headers, text="Thomas.Becker@Example.com")).json()
        assert len(whole["data"]["searchProfiles"]["edges"]) == 1
        for guess in ("tom.becker@", "thomas.becker@", "thomas.becker@example"):
            body = (await graphql(client, SEARCH, headers, text=guess)).json()
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == "InvalidInput"
            assert "whole email address" in body["errors"][0]["message"]
        names = (await graphql(client, SEARCH, headers, text="thom beck")).json()
        assert len(names["data"]["searchProfiles"]["edges"]) == 1  # names: by their beginning

    async def test_marketing_finds_a_number_whole_in_any_writing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.MARKETING)
        for text in ("0034633445566", "633 44 55 66"):
            body = (await graphql(client, SEARCH, headers, text=text)).json()
            assert body["data"]["searchProfiles"]["edges"][0]["node"]["phones"] == ["+34•••••••66"]

    async def test_agents_keep_prefix_search(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        for text in ("+34 633 4", "thomas.becker@ex"):
            body = (await graphql(client, SEARCH, headers, text=text)).json()
            assert len(body["data"]["searchProfiles"]["edges"]) == 1, text

    async def test_lookups_take_their_own_tighter_bucket(
        self, client: httpx.AsyncClient, services: Services, settings: Settings
    ) -> None:
        limit = settings.lookup_rate_limits[Role.MARKETING]
        assert limit is not None
        headers = await f.api_key(services, Role.MARKETING)
        for _ in range(limit.burst):
            response = await graphql(client, LOOKUP, headers, value="thomas.becker@example.com")
            assert response.json()["data"]["profileByIdentifier"]["__typename"] == "Profile"
        assert_graphql_429(
            await graphql(client, LOOKUP, headers, value="thomas.becker@example.com")
        )
        # Other queries still pass: the request bucket is another one.
        assert (await graphql(client, "{ __typename }", headers)).status_code == 200

    async def test_aliases_count_one_lookup_each(
        self, client: httpx.AsyncClient, services: Services, settings: Settings
    ) -> None:
        limit = settings.lookup_rate_limits[Role.MARKETING]
        assert limit is not None
        headers = await f.api_key(services, Role.MARKETING)
        aliases = " ".join(
            f'a{i}: searchProfiles(text: "Thomas") {{ edges {{ node {{ id }} }} }}'
            for i in range(limit.burst + 1)
        )
        response = await graphql(client, f"{{ {aliases} }}", headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "OverBurst"
        half = " ".join(
            f'a{i}: searchProfiles(text: "Thomas") {{ edges {{ node {{ id }} }} }}'
            for i in range(limit.burst // 2 + 1)
        )
        assert (await graphql(client, f"{{ {half} }}", headers)).status_code == 200
        assert_graphql_429(await graphql(client, f"{{ {half} }}", headers))


async def prefix_attack(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, int]:
    """Recover a number from its mask (+34•••••••66) by extending a prefix one digit at a
    time, as a search by prefix would allow: 9 national digits, at most 10 tries each. Returns
    the digits it recovered and the status of the last answer."""
    known = "+34"
    status = 200
    for _ in range(9):
        for digit in "0123456789":
            response = await graphql(client, SEARCH, headers, text=f"{known}{digit}")
            status = response.status_code
            if status == 429:
                return known, status
            data = response.json().get("data") or {}
            if (data.get("searchProfiles") or {}).get("edges"):
                known += digit
                break
        else:
            return known, status
    return known, status


@pytest.mark.usefixtures("people")
class TestThePrefixAttack:
    async def test_fails_for_marketing_and_runs_into_the_lookup_limit(
        self, client: httpx.AsyncClient, services: Services, settings: Settings
    ) -> None:
        headers = await f.api_key(services, Role.MARKETING)
        recovered, status = await prefix_attack(client, headers)
        assert (recovered, status) == ("+34", 200)  # ten prefixes, none a whole number
        # Guessing whole numbers instead: a handful before the lookup bucket is spent.
        limit = settings.lookup_rate_limits[Role.MARKETING]
        assert limit is not None
        for guess in range(limit.burst):
            response = await graphql(client, SEARCH, headers, text=f"+34 600 000 {guess:03d}")
            if response.status_code == 429:
                assert_graphql_429(response)
                assert guess == limit.burst - 10  # the ten prefixes took theirs
                return
            assert response.json()["data"]["searchProfiles"]["edges"] == []
        raise AssertionError("the lookups were never limited")


class TestThePrefixAttackWithoutLimits:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={"lookup_rate_limits": UNLIMITED, "rate_limits": UNLIMITED}
        )

    @pytest.mark.usefixtures("people")
    async def test_recovers_the_number_with_a_key_that_reads_it_anyway(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        # What the attack did to marketing keys before: an agent's search still works so.
        recovered, status = await prefix_attack(client, await f.api_key(services, Role.AGENT))
        assert (recovered, status) == ("+34633445566", 200)

    @pytest.mark.usefixtures("people")
    async def test_whole_value_matching_alone_defeats_it(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        recovered, status = await prefix_attack(client, await f.api_key(services, Role.MARKETING))
        assert (recovered, status) == ("+34", 200)


class TestTheBucket:
    """The GCRA bucket on the store with a clock the test moves: refill, Retry-After, costs."""

    @pytest.fixture
    def clock(self) -> list[int]:
        return [1_800_000_000_000_000]  # epoch microseconds

    @pytest.fixture
    def limiter(self, store: Store, clock: list[int]) -> RateLimiter:
        limits = {Bucket.REQUESTS: {Role.AGENT: Limit(per_minute=60, burst=3)}}
        return RateLimiter(RateLimitRepository(store.db), limits, clock=lambda: clock[0])

    async def test_refills_one_token_per_interval(
        self, limiter: RateLimiter, clock: list[int]
    ) -> None:
        caller = Caller(key_id="k", name="test", role=Role.AGENT)
        for _ in range(3):
            await limiter.take(caller, Bucket.REQUESTS)
        with pytest.raises(RateLimited) as refused:
            await limiter.take(caller, Bucket.REQUESTS)
        assert refused.value.retry_after_s == 1
        clock[0] += 999_999
        with pytest.raises(RateLimited):
            await limiter.take(caller, Bucket.REQUESTS)
        clock[0] += 1
        await limiter.take(caller, Bucket.REQUESTS)  # one token back after one second
        clock[0] += 10 * 1_000_000  # idle long: a full bucket, never more than the burst
        for _ in range(3):
            await limiter.take(caller, Bucket.REQUESTS)
        with pytest.raises(RateLimited):
            await limiter.take(caller, Bucket.REQUESTS)

    async def test_several_tokens_at_once_and_never_more_than_the_burst(
        self, limiter: RateLimiter, clock: list[int]
    ) -> None:
        caller = Caller(key_id="k2", name="test", role=Role.AGENT)
        await limiter.take(caller, Bucket.REQUESTS, 2)
        with pytest.raises(RateLimited) as refused:
            await limiter.take(caller, Bucket.REQUESTS, 2)
        assert refused.value.retry_after_s == 1
        await limiter.take(caller, Bucket.REQUESTS, 1)
        with pytest.raises(OverBurst):
            await limiter.take(caller, Bucket.REQUESTS, 4)

    async def test_roles_without_a_limit_touch_nothing(
        self, limiter: RateLimiter, store: Store
    ) -> None:
        for _ in range(10):
            await limiter.take(Caller(key_id="m", name="t", role=Role.MARKETING), Bucket.REQUESTS)
        assert await store.db.rate_limits.count_documents({}) == 0
