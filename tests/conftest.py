"""Fixtures: one real store per test session, a fresh database per test, the app over ASGI."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings

from c360.auth.service import Role
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from c360.store.embedded import EmbeddedServer
from tests import factories as f
from tests.helpers import DEFAULTS, asgi_client, shared_app
from tests.scheduling import SharedSetups
from tests.served import TESTS_MAX_TRIGGER_AGE_DAYS, environment

# Property tests: the same examples every run (CI does not flake on a new find), no example
# database in the work tree, no per-example deadline (the store's latency is not under test).
# `pytest --hypothesis-profile=explore` searches with fresh random examples, many more.
hypothesis_settings.register_profile(
    "c360", max_examples=150, deadline=None, derandomize=True, database=None
)
hypothesis_settings.register_profile(
    "explore", hypothesis_settings.get_profile("c360"), max_examples=1000, derandomize=False
)
hypothesis_settings.load_profile("c360")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> SharedSetups | None:
    """``pytest -n``: the tests that share a served app go to one worker (tests/scheduling.py);
    another ``--dist`` than the default is left to xdist."""
    return SharedSetups(config, log) if config.getoption("dist") == "load" else None


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``C360_TEST_MONGODB_URI`` when given (real MongoDB), else a private embedded server
    holding its databases in memory: none outlives its test, so none is written to disk (the
    tests of durability start stores of their own, on disk)."""
    external = os.environ.get("C360_TEST_MONGODB_URI")
    if external:
        yield external
        return
    server = EmbeddedServer.ensure(
        tmp_path_factory.mktemp("store"), DEFAULTS.embedded_start_timeout, in_memory=True
    )
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture(scope="session")
def session_settings(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tests' settings, read and checked once (a test's own copy names its database)."""
    return Settings(
        _env_file=None,  # ignore any local .env
        mongodb_uri=mongo_uri,
        database="c360_test",
        data_dir=tmp_path_factory.mktemp("unused"),
        default_region="ES",
        ingest_batch_size=50,
        # The fixtures' records happened in 2022-2024: old enough for the alert rules' default
        # age limit to open nothing. Tests of that limit set it (tests/followups/test_backfill).
        followup_max_trigger_age_days=TESTS_MAX_TRIGGER_AGE_DAYS,
    )


@pytest.fixture
def settings(session_settings: Settings) -> Settings:
    return session_settings.model_copy(update={"database": f"c360_test_{uuid.uuid4().hex[:12]}"})


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    store = await Store.open(settings)
    try:
        yield store
    finally:
        await store.client.drop_database(settings.database)
        await store.close()


@pytest.fixture
def env(settings: Settings, store: Store) -> dict[str, str]:
    """The environment of ``c360`` run as a process on the test's database (dropped after the
    test with ``store``)."""
    return environment(
        C360_MONGODB_URI=settings.mongodb_uri or "",
        C360_DATABASE=settings.database,
        C360_DATA_DIR=str(settings.data_dir),
    )


@pytest.fixture
def services(store: Store, settings: Settings) -> Services:
    return Services.build(store.db, settings)


@pytest.fixture
async def app(settings: Settings, store: Store) -> AsyncIterator[FastAPI]:
    """The app with its lifespan run, on the same database as ``store``."""
    app = shared_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Without an API key: health, webhooks, and what must refuse anonymous callers."""
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def agent_client(app: FastAPI, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """Sends a support agent's API key: GraphQL reads with nothing masked or refused."""
    async with asgi_client(app, await f.api_key(services, Role.AGENT)) as client:
        yield client


@pytest.fixture
async def marketing_client(app: FastAPI, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """Sends a marketing tool's API key: masked contact points, no case text."""
    async with asgi_client(app, await f.api_key(services, Role.MARKETING)) as client:
        yield client


@pytest.fixture
async def connector_client(app: FastAPI, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """Sends a connector's API key: what a source pushing to /ingest uses."""
    async with asgi_client(app, await f.api_key(services, Role.CONNECTOR)) as client:
        yield client
