"""Delivering the outbox: each due entry claimed, signed, POSTed, and its attempt logged.

At least once: an entry is marked delivered only after its webhook answered 2xx, so a worker
that dies mid-attempt leaves it to be sent again (the receiver deduplicates by
``Idempotency-Key``). A failure (no answer, a timeout, any other status) waits
``base · 2^(attempts-1)`` seconds, capped, or the ``Retry-After`` a 429 or 503 asked for,
whichever is longer; after ``max_attempts`` the entry is dead, listed for an admin to retry.
Nothing is ever sent unsigned: an entry whose team has no secret fails its attempt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from c360.notifications.repository import (
    Attempt,
    DeliveryStatus,
    Notification,
    OutboxRepository,
)
from c360.notifications.signing import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

USER_AGENT = "c360-notifications/1"
RETRY_AFTER_CAP_S = 24 * 3600.0


@dataclass(frozen=True)
class DeliveryConfig:
    """The settings' ``notify_*`` (their defaults are there)."""

    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    timeout_s: float
    concurrency: int
    batch: int = 200  # entries claimed a pass: not a setting


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0  # to be tried again
    dead: int = 0
    withheld: int = 0  # removed unsent (see ``Deliverer``'s ``withheld``)

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed + self.dead


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return min(cap, base * 2 ** max(attempts - 1, 0))


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


Withheld = Callable[[Sequence[Notification]], Awaitable[set[str]]]
"""Which of these entries must never be sent (their ids): what they are about is gone."""


async def _none_withheld(entries: Sequence[Notification]) -> set[str]:
    return set()


class Deliverer:
    """Sends due outbox entries. ``secret_of(team)``: the team's webhook secret (None: not
    configured); ``withheld``: asked before each pass, for the entries to remove unsent (the
    follow-ups domain's: those of a person being erased)."""

    def __init__(
        self,
        outbox: OutboxRepository,
        secret_of: Callable[[str], str | None],
        config: DeliveryConfig,
        client: httpx.AsyncClient | None = None,
        withheld: Withheld = _none_withheld,
    ) -> None:
        self._outbox = outbox
        self._secret_of = secret_of
        self._config = config
        self._client = client
        self._withheld = withheld
        self._worker = secrets.token_hex(6)

    async def deliver_due(self, now: dt.datetime) -> DeliveryReport:
        """One pass over the entries due at ``now`` (at most a batch of them)."""
        report = DeliveryReport()
        due = await self._outbox.due(now, self._config.batch)
        if not due:
            return report
        if withheld := await self._withheld(due):
            report.withheld = await self._outbox.remove(withheld)
            due = [entry for entry in due if entry.id not in withheld]
        # The HTTP client is imported once there is something to send: every command builds the
        # services, few deliver.
        import httpx

        gate = asyncio.Semaphore(self._config.concurrency)
        client = self._client or httpx.AsyncClient(timeout=self._config.timeout_s)
        try:

            async def one(entry: Notification) -> None:
                async with gate:
                    status = await self._deliver(client, entry, now)
                if status is DeliveryStatus.DELIVERED:
                    report.delivered += 1
                elif status is DeliveryStatus.DEAD:
                    report.dead += 1
                elif status is DeliveryStatus.PENDING:
                    report.failed += 1

            await asyncio.gather(*(one(entry) for entry in due))
        finally:
            if self._client is None:
                await client.aclose()
        return report

    async def _deliver(
        self, client: httpx.AsyncClient, entry: Notification, now: dt.datetime
    ) -> DeliveryStatus | None:
        """One attempt at one entry; None when another worker had claimed it."""
        token = f"{self._worker}:{secrets.token_hex(4)}"
        # Held long enough for the attempt to end; a worker that dies lets it lapse.
        held = now + dt.timedelta(seconds=self._config.timeout_s * 3 + 30)
        if not await self._outbox.claim(entry, token, held):
            return None
        attempt, wait = await self._attempt(client, entry)
        done = entry.attempts + 1
        if attempt.status_code is not None and 200 <= attempt.status_code < 300:
            status = DeliveryStatus.DELIVERED
            next_at = attempt.at
        elif done >= self._config.max_attempts:
            status, next_at = DeliveryStatus.DEAD, attempt.at
            log.warning(
                "notification dead after its last attempt",
                extra={"notification": entry.id, "attempts": done, "error": attempt.error},
            )
        else:
            status = DeliveryStatus.PENDING
            delay = backoff(done, self._config.backoff_base_s, self._config.backoff_max_s)
            next_at = max(now, attempt.at) + dt.timedelta(seconds=max(delay, wait or 0.0))
        await self._outbox.record(entry.id, token, attempt, status, next_at)
        return status

    async def _attempt(
        self, client: httpx.AsyncClient, entry: Notification
    ) -> tuple[Attempt, float | None]:
        import httpx  # see deliver_due

        started = time.perf_counter()
        at = dt.datetime.now(dt.UTC)
        secret = self._secret_of(entry.team)
        if secret is None:
            error = f"team {entry.team!r} has no webhook secret: not sent unsigned"
            return Attempt(at, None, error, 0.0), None
        body = entry.body.encode()
        sent_at = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: entry.id,
            EVENT_HEADER: entry.type,
            TIMESTAMP_HEADER: str(sent_at),
            SIGNATURE_HEADER: signature(secret, sent_at, body),
        }
        try:
            response = await client.post(
                entry.url, content=body, headers=headers, timeout=self._config.timeout_s
            )
        except httpx.TimeoutException:
            seconds = time.perf_counter() - started
            return Attempt(
                at, None, f"no answer within {self._config.timeout_s:g} s", seconds
            ), None
        except httpx.HTTPError as exc:
            seconds = time.perf_counter() - started
            return Attempt(at, None, f"{type(exc).__name__}: {exc}", seconds), None
        seconds = time.perf_counter() - started
        failed = None if response.is_success else f"HTTP {response.status_code}"
        return Attempt(at, response.status_code, failed, seconds), _retry_after(response)


def body_of(payload: dict[str, object]) -> str:
    """A notification's body: compact JSON with sorted keys (the bytes signed, every attempt)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
