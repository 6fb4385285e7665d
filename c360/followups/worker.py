"""The follow-up worker: escalation, the relay to the outbox, and deliveries, in rounds.

``c360 alerts tick`` runs one round; ``c360 serve`` runs one every ``C360_ALERTS_TICK_S`` in
the background. Each round takes the store lease ``followups-worker`` first, so of several API
processes one works at a time (another takes over within ``C360_ALERTS_LEASE_S`` if it dies).
The lease saves work, it is not what makes escalation happen once: that is the conditional
write of each escalation (see :meth:`FollowUpService.escalate_due`), which holds without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.errors import PyMongoError

from c360.errors import C360Error
from c360.followups.service import FollowUpService
from c360.notifications.delivery import Deliverer, DeliveryReport
from c360.observability.metrics import count_deliveries
from c360.store import store_error
from c360.store.leases import LeaseRepository

log = logging.getLogger(__name__)

LEASE = "followups-worker"
RELEASE_WITHIN_S = 1.0
"""How long a shutdown waits for the store to take the lease back (a store gone by then would
hold the shutdown up for its whole server selection timeout)."""


@dataclass
class TickReport:
    ran: bool  # False: another process holds the lease
    escalated: int = 0
    relayed: int = 0
    delivery: DeliveryReport | None = None
    holder: str | None = None
    warned: int = 0  # SLA targets due soon, their owners (or teams) told


class FollowUpWorker:
    def __init__(
        self,
        followups: FollowUpService,
        deliverer: Deliverer,
        leases: LeaseRepository,
        lease_for: dt.timedelta,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._followups = followups
        self._deliverer = deliverer
        self._leases = leases
        self._lease_for = lease_for
        self._clock = clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._times_kept = False  # the follow-ups of older versions given due-soon times

    async def tick(self, *, now: dt.datetime | None = None, lease: bool = True) -> TickReport:
        """One round: escalate what is overdue, warn of what is due soon, relay what waits,
        deliver what is due."""
        now = now or self._clock()
        if lease and not await self._leases.take(LEASE, self.holder, now, self._lease_for):
            return TickReport(False, holder=await self._leases.holder(LEASE, now))
        if not self._times_kept:  # once a process: after an upgrade, what older ones stored
            if given := await self._followups.keep_due_soon_times():
                log.info("follow-ups given their due-soon times", extra={"follow_ups": given})
            self._times_kept = True
        alarms = await self._followups.escalate_due(now)
        relayed = await self._followups.relay.forward_waiting(now)
        # Without the teams' secrets nothing can be signed: a process that has them delivers
        # (attempting here would spend the entries' attempts).
        delivery = (
            await self._deliverer.deliver_due(now)
            if self._followups.teams.configured
            else DeliveryReport()
        )
        count_deliveries(delivery.delivered, delivery.failed, delivery.dead)
        return TickReport(
            True, alarms.escalated, relayed, delivery, self.holder, warned=alarms.warned
        )

    async def once(self) -> TickReport:
        """One round, the lease given back after it (``c360 alerts tick``, run by cron: the
        next run, a minute later, must not find it held by a process that has ended)."""
        try:
            return await self.tick()
        finally:
            await self._release()

    async def run(self, every_s: float, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set (a background task of ``c360 serve``); a failed round is
        logged and the next one tries again. Stopping lets the round under way finish (a store
        operation cut by a cancellation can leave the client unable to close), then gives the
        lease up."""
        try:
            while not stop.is_set():
                try:
                    report = await self.tick()
                    if report.ran and (
                        report.escalated
                        or report.warned
                        or (
                            report.delivery
                            and (report.delivery.attempted or report.delivery.withheld)
                        )
                    ):
                        log.info(
                            "follow-up worker round",
                            extra={
                                "escalated": report.escalated,
                                "warned": report.warned,
                                "relayed": report.relayed,
                                "delivered": report.delivery.delivered if report.delivery else 0,
                                "withheld": report.delivery.withheld if report.delivery else 0,
                            },
                        )
                except C360Error as exc:
                    log.warning("follow-up worker round failed", extra={"reason": exc.detail})
                except PyMongoError as exc:  # the store gone or refusing: its reason, in a line
                    reason = store_error(exc).detail
                    log.warning("follow-up worker round failed", extra={"reason": reason})
                except Exception:
                    log.exception("follow-up worker round failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every_s)
        finally:
            await self._release()

    async def _release(self) -> None:
        try:
            await asyncio.shield(
                self._leases.release(LEASE, self.holder, within_s=RELEASE_WITHIN_S)
            )
        except Exception:  # the store is gone at shutdown: the lease lapses by itself
            log.debug("follow-up worker lease not released", exc_info=True)
