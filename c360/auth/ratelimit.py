"""Rate limits per API key: a token bucket per key and bucket (``requests``, ``lookups``),
limits per role from the settings, kept in the store so that every API process on it shares
them.

The bucket is the generic cell rate algorithm (GCRA), which is a token bucket stated as one
number: the theoretical arrival time ``tat``. With ``T`` the time one token takes to come back
(a minute over ``per_minute``) and ``tau = burst * T``, a request for ``n`` tokens at ``now``
passes when ``max(tat, now) + n*T - now <= tau`` and sets ``tat`` to that. The two cases of the
``max`` are two conditional updates (``RateLimitRepository``), each atomic on one document:
a busy bucket is advanced by ``$inc`` only while its ``tat`` is within reach, an idle one is
restarted from now only while its ``tat`` is past. When neither matches, the bucket is read:
either it is full (429, with how long until the tokens are back) or another process changed it
between the two, and the next attempt sees the new state.

Each process remembers whether a key's bucket was busy, so a busy client costs one store round
trip per request and an occasional one two. Clocks: processes compare their own wall clocks
with the ``tat`` others wrote, so hosts that serve one store need NTP (as MongoDB does).
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pymongo.errors import PyMongoError

from c360.auth.repository import RateLimitRepository
from c360.auth.service import Caller, Role
from c360.errors import C360Error, StoreUnavailable
from c360.observability.metrics import RATE_LIMITED
from c360.store import store_error

MICROS = 1_000_000
ATTEMPTS = 5  # conditional updates lost to other processes before giving up (each is progress)
REMEMBERED = 4096  # keys whose last known state a process keeps


class Bucket(enum.StrEnum):
    REQUESTS = "requests"
    LOOKUPS = "lookups"


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int

    @property
    def interval_us(self) -> int:
        """Microseconds one token takes to come back."""
        return max(1, round(60 * MICROS / self.per_minute))

    @property
    def tolerance_us(self) -> int:
        return self.burst * self.interval_us


class RateLimited(C360Error):
    status_code = 429

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def response_headers(self) -> dict[str, str]:
        return {**super().response_headers(), "Retry-After": str(self.retry_after_s)}


class OverBurst(C360Error):
    """More tokens asked for at once than the bucket ever holds: waiting would not help."""

    status_code = 400


def _now_us() -> int:
    return time.time_ns() // 1000


class RateLimiter:
    def __init__(
        self,
        buckets: RateLimitRepository,
        limits: Mapping[Bucket, Mapping[Role, Limit | None]],
        clock: Callable[[], int] = _now_us,
    ) -> None:
        self._buckets = buckets
        self._limits = limits
        self._clock = clock
        self._busy_until: dict[str, int] = {}  # bucket id → a tat it was known to have

    def limit(self, caller: Caller, bucket: Bucket) -> Limit | None:
        return self._limits.get(bucket, {}).get(caller.role)

    async def take(self, caller: Caller, bucket: Bucket, tokens: int = 1) -> None:
        """Takes ``tokens`` from the caller's bucket, or raises ``RateLimited`` (nothing
        taken). Roles without a limit pass untouched."""
        limit = self.limit(caller, bucket)
        if limit is None or tokens <= 0:
            return
        if tokens > limit.burst:
            raise OverBurst(
                f"one request may ask for at most {limit.burst} {bucket} for {caller.role} "
                f"keys, not {tokens}"
            )
        try:
            await self._take(caller, bucket, limit, tokens)
        except PyMongoError as exc:  # no bucket to check: refused, as the store is what is down
            # The store's reason alone: the driver's text names every server and timeout.
            reason = store_error(exc).detail
            raise StoreUnavailable(f"the rate limit cannot be checked: {reason}") from exc

    async def _take(self, caller: Caller, bucket: Bucket, limit: Limit, tokens: int) -> None:
        name = f"{bucket}:{caller.key_id}"
        cost = tokens * limit.interval_us
        for _ in range(ATTEMPTS):
            now = self._clock()
            latest = now + limit.tolerance_us - cost
            if self._busy_until.get(name, 0) >= now:
                steps = (self._advance, self._restart)
            else:
                steps = (self._restart, self._advance)
            for step in steps:
                if await step(name, now, cost, latest):
                    return
            tat = await self._buckets.tat(name)
            if tat is not None and tat > latest:
                self._remember(name, tat)
                wait = math.ceil((tat - latest) / MICROS)
                RATE_LIMITED.labels(bucket.value, caller.role.value).inc()
                raise RateLimited(
                    f"{caller.role} keys may make {limit.per_minute:g} {bucket} a minute "
                    f"(bursts of {limit.burst}); key {caller.key_id} is over it: retry in "
                    f"{wait} s",
                    retry_after_s=max(1, wait),
                )
            # Another process changed the bucket between the two updates: try again.
        raise RateLimited(f"the {bucket} bucket of key {caller.key_id} is contended", 1)

    async def _advance(self, name: str, now: int, cost: int, latest: int) -> bool:
        if await self._buckets.advance(name, now, cost, latest):
            self._remember(name, now)
            return True
        return False

    async def _restart(self, name: str, now: int, cost: int, latest: int) -> bool:
        if await self._buckets.restart(name, now, cost):
            self._remember(name, now + cost)
            return True
        return False

    def _remember(self, name: str, tat: int) -> None:
        self._busy_until.pop(name, None)
        self._busy_until[name] = tat
        if len(self._busy_until) > REMEMBERED:
            del self._busy_until[next(iter(self._busy_until))]
