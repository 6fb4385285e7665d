"""``c360 sync zendesk-tickets``: Zendesk's cursor-based Incremental Ticket Export, pulled.

Each page is written before its cursor is saved, so a crash re-reads at most one page (and the
records it re-reads are duplicates) and never skips one. Rate limits (429 with Retry-After) are
waited out; transient failures (5xx, network) are retried with bounded exponential backoff.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from c360.errors import C360Error
from c360.ingest.service import IngestService, IngestSummary
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from c360.sync.repository import ConnectorStateRepository
from connectors import ParseOptions
from connectors.zendesk import ZendeskTicketsConnector

log = logging.getLogger(__name__)

CONNECTOR = "zendesk-tickets"
EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
SIDE_LOADS = "users,metric_sets"


class SyncFailed(C360Error):
    status_code = 502


class SyncNotConfigured(C360Error):
    status_code = 400


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a failed page is asked for again (``C360_SYNC_*``)."""

    max_retries: int
    base_delay: float
    max_delay: float

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2**attempt))


@dataclass
class SyncResult:
    pages: int = 0
    cursor: str | None = None
    summary: IngestSummary = field(default_factory=IngestSummary)


Sleep = Callable[[float], Awaitable[None]]


class ZendeskSync:
    def __init__(
        self,
        ingest: IngestService,
        state: ConnectorStateRepository,
        client: httpx.AsyncClient,
        options: ParseOptions,
        *,
        start_time: int,
        retry: RetryPolicy,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._ingest = ingest
        self._state = state
        self._client = client
        self._options = options
        self._start_time = start_time
        self._retry = retry
        self._sleep = sleep
        self._connector = ZendeskTicketsConnector()

    async def run(self, max_pages: int | None = None) -> SyncResult:
        """Pull pages from the saved cursor (or ``start_time``) until the end of the stream."""
        result = SyncResult(cursor=await self._state.cursor(CONNECTOR))
        while max_pages is None or result.pages < max_pages:
            params: dict[str, Any] = {"include": SIDE_LOADS}
            if result.cursor:
                params["cursor"] = result.cursor
            else:
                params["start_time"] = self._start_time
            page = await self._fetch(params)
            result.pages += 1
            records, after_cursor, end_of_stream = self._connector.parse_page(
                page, self._options, position=f"page {result.pages}"
            )
            origin = f"zendesk sync cursor={result.cursor or f'start_time={self._start_time}'}"
            result.summary.absorb(await self._ingest.ingest(CONNECTOR, records, origin=origin))
            if after_cursor:  # only now that the page is written
                await self._state.save_cursor(CONNECTOR, after_cursor, dt.datetime.now(dt.UTC))
                result.cursor = after_cursor
            if end_of_stream or not after_cursor:
                break
        log.info("zendesk sync done", extra={"pages": result.pages, **result.summary.counts()})
        return result

    async def _fetch(self, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self._retry.max_retries + 1):
            try:
                response = await self._client.get(EXPORT_PATH, params=params)
            except httpx.TransportError as exc:
                problem = f"network error: {exc!r}"
                delay = self._retry.backoff(attempt)
            else:
                if response.status_code == 200:
                    page: dict[str, Any] = response.json()
                    return page
                problem = f"HTTP {response.status_code}"
                if response.status_code == 429:
                    delay = _retry_after(response, self._retry.backoff(attempt))
                    delay = min(delay, self._retry.max_delay)
                elif response.status_code >= 500:
                    delay = self._retry.backoff(attempt)
                else:  # 4xx other than 429: retrying will not help
                    raise SyncFailed(f"Zendesk answered {problem}: {response.text[:500]}")
            if attempt == self._retry.max_retries:
                break
            log.warning("zendesk export retry", extra={"problem": problem, "delay_s": delay})
            await self._sleep(delay)
        raise SyncFailed(
            f"Zendesk export failed after {self._retry.max_retries} retries ({problem}); "
            "run the sync again to resume from the last saved cursor"
        )


def _retry_after(response: httpx.Response, fallback: float) -> float:
    """Seconds to wait per ``Retry-After``: a number of seconds or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return fallback
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


async def sync_zendesk(
    services: Services, store: Store, settings: Settings, *, max_pages: int | None = None
) -> SyncResult:
    """Run the Zendesk sync configured in ``settings`` (subdomain or base URL, e-mail, token)."""
    base_url = settings.zendesk_base_url or (
        f"https://{settings.zendesk_subdomain}.zendesk.com" if settings.zendesk_subdomain else None
    )
    if base_url is None or not settings.zendesk_email or settings.zendesk_api_token is None:
        raise SyncNotConfigured(
            "set C360_ZENDESK_SUBDOMAIN, C360_ZENDESK_EMAIL and C360_ZENDESK_API_TOKEN"
        )
    auth = (f"{settings.zendesk_email}/token", settings.zendesk_api_token.get_secret_value())
    retry = RetryPolicy(
        max_retries=settings.sync_max_retries,
        base_delay=settings.sync_backoff_base_s,
        max_delay=settings.sync_backoff_max_s,
    )
    async with httpx.AsyncClient(base_url=base_url, auth=auth, timeout=60) as client:
        sync = ZendeskSync(
            services.ingest,
            ConnectorStateRepository(store.db),
            client,
            settings.parse_options(),
            start_time=settings.zendesk_start_time,
            retry=retry,
        )
        return await sync.run(max_pages)
