"""GraphQL documents built to cost the server more than their size: each check's work is
bounded by the document, and the event loop keeps serving others meanwhile.

Both are shown by counting, not by timing (``bench/hostile.py`` measures the time, from
another process): what a check does on the event loop is counted in Python calls, and the long
document's parse and validation are held until ``/health`` has answered meanwhile, which it
could not do were they on the event loop."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import httpx
import pytest
from graphql import DocumentNode, GraphQLError

from c360.api.graphql import limits
from c360.settings import Settings
from tests.hostile import FAN_OUT_LEVELS, fan_out, fragment_chain, nested

# What one request may cost the event loop, in Python function calls: a request the checks
# refuse takes a few thousand (some tens of thousands the first time a process runs one); a
# blocked loop is orders of magnitude more (the fan-out walked without remembering fragments:
# 2**30 calls; graphql-core's overlapping-fields rule over 450 same-named fields: 1.7 million).
LOOP_CALLS = 500_000
HEALTH_ANSWERS = 3  # what /health answers while a long document's check is held
HOLD_GUARD_S = 30.0  # a hold that sees no answer gives up then: the check held the loop


class TooMuchWork(AssertionError):
    pass


@contextmanager
def loop_calls(budget: int = LOOP_CALLS) -> Iterator[None]:
    """Counts the Python calls this thread (the event loop's) makes in the block; raises
    ``TooMuchWork`` at the first past ``budget``, so that unbounded work fails the test rather
    than hold it for an hour."""
    calls = [0]

    def count(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            calls[0] += 1
            if calls[0] > budget:
                raise TooMuchWork(f"over {budget:,} calls on the event loop")

    previous = sys.getprofile()
    sys.setprofile(count)
    try:
        yield
    finally:
        sys.setprofile(previous)
    # The app may have answered the TooMuchWork raised in its code as an error of its own.
    assert calls[0] <= budget, f"over {budget:,} calls on the event loop"


async def _health(
    client: httpx.AsyncClient, until: asyncio.Event, answered: Callable[[], None]
) -> int:
    """``/health`` asked again and again until ``until`` is set; ``answered()`` after each
    answer. Returns how many there were."""
    answers = 0
    while not until.is_set() or not answers:
        response = await client.get("/health")
        # Served by the app either way: what counts is that the loop answered. On a machine
        # loaded enough, the store's ping can outlast its 2 s and /health says so with a 503.
        assert response.status_code in (200, 503), response.text
        assert response.json()["store"]["reachable"] is (response.status_code == 200)
        answers += 1
        answered()
    return answers


class HeldChecks:
    """Holds each parse and validation of a document until ``/health`` has answered
    ``HEALTH_ANSWERS`` times since it began: done in a worker, the hold ends as soon as the
    event loop has served them; done on the loop, nothing is served while it waits, and it
    gives up after ``HOLD_GUARD_S``, noting that it did."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._answers = 0
        self._changed = threading.Condition()
        self.held: list[str] = []  # which checks were held until health had answered
        self.gave_up: list[str] = []
        parse, validate = limits.parse, limits.validate_document

        def held_parse(source: str, **options: Any) -> DocumentNode:
            self._hold("parse")
            return parse(source, **options)

        def held_validate(*args: Any) -> list[GraphQLError]:
            self._hold("validation")
            return validate(*args)

        monkeypatch.setattr(limits, "parse", held_parse)
        monkeypatch.setattr(limits, "validate_document", held_validate)

    def answered(self) -> None:
        with self._changed:
            self._answers += 1
            self._changed.notify_all()

    def _hold(self, check: str) -> None:
        with self._changed:
            wanted = self._answers + HEALTH_ANSWERS
            if self._changed.wait_for(lambda: self._answers >= wanted, HOLD_GUARD_S):
                self.held.append(check)
            else:
                self.gave_up.append(check)


class TestFanOut:
    async def test_is_refused_for_its_cost_in_work_bounded_by_the_document(
        self, agent_client: httpx.AsyncClient, client: httpx.AsyncClient
    ) -> None:
        with loop_calls():
            response = await agent_client.post("/graphql", json={"query": fan_out()})

        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "QueryTooComplex"
        assert error["extensions"]["cost"] > 2**FAN_OUT_LEVELS
        assert "data" not in response.json()
        assert (await client.get("/health")).status_code == 200

    async def test_is_refused_as_often_as_it_is_sent(self, agent_client: httpx.AsyncClient) -> None:
        for _ in range(3):  # a refused document is checked afresh each time, cheaply each time
            response = await agent_client.post("/graphql", json={"query": fan_out()})
            assert response.json()["errors"][0]["extensions"]["code"] == "QueryTooComplex"

    async def test_its_cost_is_counted_exactly_below_the_limit(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        levels = 8
        response = await agent_client.post("/graphql", json={"query": fan_out(levels)})
        # Each level: id, emails and twice the next; the last: id. Plus profile.
        expected = 1 + sum(2 * 2**i for i in range(levels)) + 2**levels
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"profile": {}}
        assert expected < 10_000
        # The same document over the limit says its exact cost.
        tight = await agent_client.post(
            "/graphql", json={"query": fan_out(levels), "variables": {}}
        )
        assert tight.status_code == 200


class TestDepth:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_depth": 3})

    async def test_counts_through_fragments_each_measured_once(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        query = (
            "{ ...A }\n"
            "fragment A on Query { ...B ...B ...B }\n"
            'fragment B on Query { profile(id: "x") { ... on Profile { timeline { ...C } } } }\n'
            "fragment C on TimelineConnection { edges { node { id } } }"
        )
        response = await agent_client.post("/graphql", json={"query": query})
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["message"] == "'anonymous' exceeds maximum operation depth of 3"
        assert error["extensions"] == {"code": "QueryTooDeep"}  # as the other limits are coded

    async def test_a_fragment_cycle_or_an_unknown_fragment_is_a_validation_error(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        cycle = "{ ...A }\nfragment A on Query { ...B }\nfragment B on Query { ...A }"
        for query in (cycle, "{ ...Missing }"):
            response = await agent_client.post("/graphql", json={"query": query})
            assert response.status_code == 400, response.text
            assert "data" not in response.json()
            assert response.json()["errors"][0]["message"]


class TestTokens:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_tokens": 100})

    async def test_a_document_over_the_token_limit_is_coded_as_the_other_limits(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        query = "{" + " __typename" * 100 + " }"
        response = await agent_client.post("/graphql", json={"query": query})
        assert response.status_code == 400
        assert "data" not in response.json()
        (error,) = response.json()["errors"]
        assert "Document contains more than 100 tokens" in error["message"]
        assert error["extensions"] == {"code": "QueryTooLarge"}


class TestNesting:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_tokens": 50_000})

    async def test_a_document_nested_past_the_parser_is_a_request_error(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        response = await agent_client.post("/graphql", json={"query": nested(5_000)})
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert "nested too deeply" in error["message"]

    async def test_fragments_chained_past_the_interpreter_stack_are_a_request_error(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        response = await agent_client.post("/graphql", json={"query": fragment_chain(3_000)})
        assert response.status_code == 400, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "QueryTooDeep"


class TestRepeatedNames:
    async def test_fields_validation_would_compare_pairwise_are_refused_before_it_runs(
        self,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # One response name 450 times with different arguments: graphql-core's overlapping-
        # fields rule would compare 100,000 pairs (over a second).
        query = "{" + "".join(f' a: profile(id: "{i}") {{ __typename }}' for i in range(450)) + "}"
        validated: list[int] = []
        validate = limits.validate_document

        def counted(*args: Any) -> list[GraphQLError]:
            validated.append(1)
            return validate(*args)

        monkeypatch.setattr(limits, "validate_document", counted)
        with loop_calls():
            response = await agent_client.post("/graphql", json={"query": query})

        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "QueryTooComplex"
        assert "101,025 pairs" in error["message"]
        assert validated == []  # refused before graphql-core's validation
        assert (await client.get("/health")).status_code == 200

    async def test_so_are_fragments_spread_by_the_hundred_in_one_selection(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        spreads = " ".join(f"...F{i}" for i in range(60))
        fragments = "\n".join(f"fragment F{i} on Query {{ __typename }}" for i in range(60))
        response = await agent_client.post(
            "/graphql", json={"query": f"{{ {spreads} }}\n{fragments}"}
        )
        assert response.status_code == 400
        assert "1,770 pairs" in response.json()["errors"][0]["message"]

    async def test_a_few_repeats_are_validated_as_usual(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        query = '{ a: profile(id: "1") { __typename } a: profile(id: "2") { __typename } }'
        response = await agent_client.post("/graphql", json={"query": query})
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"].startswith("Fields 'a' conflict")


class TestLongDocuments:
    async def test_are_parsed_and_validated_while_health_answers(
        self,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # A string of half a megabyte takes graphql-core's lexer about 100 ms: in a worker.
        # The field is skipped: only parsing and validation see it.
        query = '{ __typename profile(id: "' + "x" * 500_000 + '") @skip(if: true) { __typename } }'
        checks = HeldChecks(monkeypatch)

        done = asyncio.Event()
        health = asyncio.create_task(_health(client, done, checks.answered))
        await asyncio.sleep(0)  # the health loop is under way before the document is sent
        response = await agent_client.post("/graphql", json={"query": query})
        done.set()
        answers = await health

        assert response.status_code == 200, response.text[:300]
        assert response.json() == {"data": {"__typename": "Query"}}
        assert checks.gave_up == [], "checked on the event loop: /health was not served"
        assert checks.held == ["parse", "validation"]
        assert answers >= 2 * HEALTH_ANSWERS
