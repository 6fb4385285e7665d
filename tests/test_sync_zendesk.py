"""``c360 sync zendesk-tickets`` against a local fake Zendesk: paging, cursors, retries, resume."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from pymongo import MongoClient

from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from c360.sync.repository import ConnectorStateRepository
from c360.sync.zendesk import (
    CONNECTOR,
    RetryPolicy,
    SyncFailed,
    SyncNotConfigured,
    SyncResult,
    ZendeskSync,
    sync_zendesk,
)
from tests.fake_zendesk import FakeZendesk, export_pages, serve
from tests.helpers import DEFAULTS, parse_options, record, timelines
from tests.state import canonical_state


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with serve(FakeZendesk(pages=export_pages(3))) as fake:
        yield fake


async def cases(services: Services, store: Store) -> list[str]:
    """The ids of the service cases on the profiles' timelines."""
    found = await timelines(services, store)
    return sorted(r.id for records in found.values() for r in records if r.kind == "service_case")


def sync_settings(settings: Settings, fake: FakeZendesk) -> Settings:
    return settings.model_copy(
        update={
            "zendesk_base_url": fake.url,
            "zendesk_email": "agent@example.com",
            "zendesk_api_token": SecretStr("secret-token"),
            "sync_backoff_base_s": 0.0,
        }
    )


class Delays:
    """Records the waits the sync asks for instead of sleeping through them."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


async def run_sync(
    services: Services,
    store: Store,
    fake: FakeZendesk,
    *,
    retry: RetryPolicy | None = None,
    delays: Delays | None = None,
    state: ConnectorStateRepository | None = None,
) -> SyncResult:
    auth = ("agent@example.com/token", "secret-token")  # what the fake expects by default
    async with httpx.AsyncClient(base_url=fake.url, auth=auth, timeout=10) as client:
        sync = ZendeskSync(
            services.ingest,
            state or ConnectorStateRepository(store.db),
            client,
            parse_options(default_region="ES"),
            start_time=DEFAULTS.zendesk_start_time,
            retry=retry or RetryPolicy(max_retries=3, base_delay=1, max_delay=8),
            sleep=delays or Delays(),
        )
        return await sync.run()


class TestPaging:
    async def test_follows_cursors_to_the_end_and_saves_the_last(
        self, services: Services, store: Store, settings: Settings, zendesk: FakeZendesk
    ) -> None:
        result = await sync_zendesk(services, store, sync_settings(settings, zendesk))
        assert result.pages == 3
        assert [r["cursor"] for r in zendesk.requests] == [None, "cursor-1", "cursor-2"]
        assert zendesk.requests[0]["query"]["start_time"] == ["0"]
        assert zendesk.requests[0]["query"]["include"] == ["users,metric_sets"]
        assert await ConnectorStateRepository(store.db).cursor(CONNECTOR) == "cursor-3"
        # Ticket 100 arrives twice: the second time as a newer revision.
        assert len(await cases(services, store)) == 9
        ticket = await record(store, "zendesk:service_case:100")
        assert ticket.payload["status"] == "solved"
        assert result.summary.updated == 1

    async def test_next_run_starts_from_the_saved_cursor(
        self, services: Services, store: Store, settings: Settings, zendesk: FakeZendesk
    ) -> None:
        await sync_zendesk(services, store, sync_settings(settings, zendesk))
        zendesk.requests.clear()
        again = await sync_zendesk(services, store, sync_settings(settings, zendesk))
        assert [r["cursor"] for r in zendesk.requests] == ["cursor-3"]
        assert again.summary.read == 0

    async def test_unconfigured_sync_says_what_to_set(
        self, services: Services, store: Store, settings: Settings
    ) -> None:
        with pytest.raises(SyncNotConfigured, match="C360_ZENDESK_SUBDOMAIN"):
            await sync_zendesk(services, store, settings)


class TestRetries:
    async def test_rate_limit_waits_retry_after(
        self, services: Services, store: Store, zendesk: FakeZendesk
    ) -> None:
        zendesk.failures["cursor-1"] = [429]
        delays = Delays()
        result = await run_sync(services, store, zendesk, delays=delays)
        assert result.pages == 3
        assert delays.asked == [0.0]  # the fake's Retry-After: 0

    async def test_transient_errors_back_off_exponentially(
        self, services: Services, store: Store, zendesk: FakeZendesk
    ) -> None:
        zendesk.failures[None] = [503, 502, 500]
        delays = Delays()
        await run_sync(services, store, zendesk, delays=delays)
        assert delays.asked == [1.0, 2.0, 4.0]

    async def test_client_errors_are_not_retried(
        self, services: Services, store: Store, zendesk: FakeZendesk
    ) -> None:
        zendesk.credentials = ("someone-else@example.com/token", "another-token")
        with pytest.raises(SyncFailed, match="HTTP 401"):
            await run_sync(services, store, zendesk)
        assert len(zendesk.requests) == 1


class TestCrashMidSync:
    async def test_failure_on_a_page_resumes_there_and_converges(
        self, services: Services, store: Store, settings: Settings, mongo_uri: str
    ) -> None:
        with serve(FakeZendesk(pages=export_pages(3))) as clean:
            reference = settings.model_copy(update={"database": f"ref_{uuid.uuid4().hex[:8]}"})
            ref_store = await Store.open(reference)
            try:
                await run_sync(Services.build(ref_store.db, reference), ref_store, clean)
            finally:
                await ref_store.close()

        with serve(FakeZendesk(pages=export_pages(3))) as flaky:
            flaky.failures["cursor-2"] = [500] * 10  # down for longer than the retries last
            with pytest.raises(SyncFailed, match="resume from the last saved cursor"):
                await run_sync(services, store, flaky)
            assert await ConnectorStateRepository(store.db).cursor(CONNECTOR) == "cursor-2"
            flaky.failures.clear()  # Zendesk is back
            flaky.requests.clear()
            await run_sync(services, store, flaky)
            assert [r["cursor"] for r in flaky.requests] == ["cursor-2"]

        try:
            assert canonical_state(mongo_uri, settings.database) == canonical_state(
                mongo_uri, reference.database
            )
        finally:
            client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
            client.drop_database(reference.database)
            client.close()

    async def test_crash_between_writing_a_page_and_saving_its_cursor_rereads_it(
        self, services: Services, store: Store, zendesk: FakeZendesk
    ) -> None:
        class CrashOnSecondSave(ConnectorStateRepository):
            saves = 0

            async def save_cursor(self, connector: str, cursor: str, now: dt.datetime) -> None:
                CrashOnSecondSave.saves += 1
                if CrashOnSecondSave.saves == 2:
                    raise RuntimeError("process died")
                await super().save_cursor(connector, cursor, now)

        with pytest.raises(RuntimeError, match="process died"):
            await run_sync(services, store, zendesk, state=CrashOnSecondSave(store.db))
        zendesk.requests.clear()
        result = await run_sync(services, store, zendesk)
        # Page 2 was written but its cursor not saved: it is read again, as duplicates.
        assert [r["cursor"] for r in zendesk.requests] == ["cursor-1", "cursor-2"]
        # Page 2 again: its 3 tickets and 3 requesters are duplicates; page 3 is new.
        counts = result.summary.counts()
        assert (counts["inserted"], counts["updated"], counts["duplicates"]) == (3, 1, 9)
        assert len(await cases(services, store)) == 9
