"""The relay: a follow-up's notifications, listed on it (``unsent``) in the same write as their
events, are copied to the outbox (entries keyed by follow-up and event: writing one twice adds
nothing), then the list is cleared. A crash between the two leaves the list, which the next
relay (the worker's every round) finishes.

Webhooks are configured per process (``C360_FOLLOWUP_TEAMS``). A process without that
configuration (an import from a shell beside ``c360 serve``) cannot know a team's webhook, nor
its members unless an admin stored them: it leaves the notifications on their follow-ups and
the owner unset, and the worker of a process that has the configuration completes both
(:meth:`Relay.forward_waiting`): it assigns the follow-ups opened unassigned in the meantime,
then relays. Both are conditional writes of the version read, so completing twice changes
nothing. Nothing is relayed or delivered about a person once
their erasure has begun (:meth:`Relay.withheld`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from c360.followups import sla
from c360.followups.model import SYSTEM, Event, EventType, FollowUp
from c360.followups.repository import FollowUpRepository, Stored
from c360.followups.teams import Teams
from c360.followups.writes import MAX_ROUNDS, NOTIFIED, new_event, next_version
from c360.notifications.delivery import body_of
from c360.notifications.repository import DeliveryStatus, Notification, OutboxRepository
from c360.steps import StepHook, no_hook

log = logging.getLogger(__name__)

RELAY_STEP = "clear relayed"
_RELAY_BATCH = 500


class Erasures(Protocol):
    """The privacy domain's answer to which profiles are erased (it sits below follow-ups)."""

    async def erased_profiles(self, profile_ids: Iterable[str]) -> set[str]: ...


async def _nobody(fu: FollowUp) -> str | None:
    return None


class _NoErasures:
    async def erased_profiles(self, profile_ids: Iterable[str]) -> set[str]:
        return set()


class Relay:
    def __init__(
        self,
        follow_ups: FollowUpRepository,
        outbox: OutboxRepository,
        teams: Teams,
        due_soon: float,
    ) -> None:
        self._follow_ups = follow_ups
        self._outbox = outbox
        self._teams = teams
        self._due_soon = due_soon
        self.before_step: StepHook = no_hook
        # Who is erased (set by the wiring: privacy's suppression list): their notifications
        # are taken back when relayed meanwhile, and never delivered (``withheld``).
        self.erasures: Erasures = _NoErasures()
        # Who gets a follow-up opened unassigned elsewhere (set by the service: the
        # customer's account owner, else the team's member with the fewest).
        self.assign_owner: Callable[[FollowUp], Awaitable[str | None]] = _nobody

    async def forward(self, stored: Sequence[Stored], now: dt.datetime) -> int:
        """Copy the follow-ups' unsent notifications to the outbox, then clear their lists.
        Returns how many entries were written."""
        if not self._teams.configured:
            return 0  # left for a process that knows the teams' webhooks
        pending = [s for s in stored if s.unsent]
        if not pending:
            return 0
        entries: list[Notification] = []
        for item in pending:
            entries += await self._entries(item, now)
        await self._outbox.add(entries)
        await self._unless_erased(entries)
        await self.before_step(RELAY_STEP)
        await self._clear_unsent(pending, now)
        return len(entries)

    async def _unless_erased(self, entries: Sequence[Notification]) -> None:
        """Take back what was just written about a person an erasure began on meanwhile (a
        fence, as ingest's ``suppress again``): the erasure suppresses their profiles before it
        removes anything, and their notifications, found through their follow-ups, before the
        follow-ups. So either this question finds the follow-up gone or its customer erased, or
        the entries were written before the erasure began, and it finds them. An entry a crash
        left between the write and this question is withheld by the delivery instead."""
        if not entries:
            return
        if withheld := await self.withheld(entries):
            taken = await self._outbox.remove(withheld)
            log.info("took back the notifications of an erased person", extra={"entries": taken})

    async def withheld(self, entries: Sequence[Notification]) -> set[str]:
        """The entries never to send: their follow-up is gone (only an erasure removes one) or
        belongs now to a customer an erasure began on — asked of the follow-up as it is now,
        since a merge or an unmerge may have moved it."""
        owners = await self._follow_ups.owners(e.follow_up_id for e in entries)
        erased = await self.erasures.erased_profiles(set(owners.values()))
        return {
            e.id
            for e in entries
            if (owner := owners.get(e.follow_up_id)) is None or owner in erased
        }

    async def forward_waiting(self, now: dt.datetime) -> int:
        """The relay for what a crash left between a follow-up's write and its copy, or a
        process without the teams' configuration left: those it opened unassigned are given
        owners first (their opening notification then names them)."""
        if not self._teams.configured:
            return 0  # nothing this process can complete
        total = 0
        while waiting := await self._follow_ups.with_unsent(_RELAY_BATCH):
            waiting = [await self._assigned(item, now) for item in waiting]
            total += await self.forward(waiting, now)
            if len(waiting) < _RELAY_BATCH:
                break
        return total

    async def _assigned(self, item: Stored, now: dt.datetime) -> Stored:
        """A follow-up whose opening is still unrelayed, opened without an owner by a process
        that did not know its team, assigned now if its team has members here (an ``assigned``
        event, by c360); as it was if not, or if someone changed it meanwhile."""
        fu = item.follow_up
        opening = [
            fu.events[n - 1]
            for n in item.unsent
            if 0 < n <= len(fu.events)
            and fu.events[n - 1].type in (EventType.OPENED, EventType.REOPENED)
        ]
        if not opening or fu.owner is not None or fu.touched or not fu.active or fu.held_out:
            return item
        owner = await self.assign_owner(fu)
        if owner is None:
            return item
        event = new_event(fu.events, EventType.ASSIGNED, now, SYSTEM, fu.status, owner=owner)
        new = Stored(next_version(fu, now, owner=owner, events=(*fu.events, event)), item.unsent)
        if await self._follow_ups.replace(new, fu.version):
            return new
        return (await self._follow_ups.get(fu.id)) or item

    async def _entries(self, item: Stored, now: dt.datetime) -> list[Notification]:
        fu = item.follow_up
        entries = []
        for n in item.unsent:
            if not 0 < n <= len(fu.events):
                continue
            event = fu.events[n - 1]
            if event.type not in NOTIFIED or fu.held_out:
                continue
            team = event.team or fu.team
            url = self._teams.webhook_of(team)
            if url is None:
                continue
            if event.type is EventType.WITHDRAWN:
                _, attempted = await self._outbox.cancel_unattempted(fu.id)
                if not attempted:
                    continue  # nobody was told of it: nothing to take back
            key = notification_id(fu.id, n)
            payload = notification_payload(key, fu, event, self._due_soon, now)
            entries.append(
                Notification(
                    id=key,
                    follow_up_id=fu.id,
                    event=n,
                    type=f"follow_up.{event.type.value}",
                    team=team,
                    url=url,
                    body=body_of(payload),
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_at=now,
                    created_at=now,
                )
            )
        return entries

    async def _clear_unsent(self, relayed: Sequence[Stored], now: dt.datetime) -> None:
        """Take the relayed entries off these follow-ups' unsent lists, each only if still at
        the version read, all in one round trip; those another writer changed meanwhile are
        read again and cleared of what was relayed and is still listed."""
        done = {item.follow_up.id: set(item.unsent) for item in relayed}
        current = list(relayed)
        for _ in range(MAX_ROUNDS):
            writes = []
            for item in current:
                fu = item.follow_up
                remaining = tuple(n for n in item.unsent if n not in done[fu.id])
                if remaining != item.unsent:
                    writes.append((Stored(next_version(fu, now), remaining), fu.version))
            if not writes:
                return
            lost = await self._follow_ups.replace_many(writes)
            if not lost:
                return
            current = list((await self._follow_ups.get_many(lost)).values())


def notification_id(follow_up_id: str, event: int) -> str:
    """The outbox entry (and idempotency key) of a follow-up's event."""
    return f"{follow_up_id}.{event}"


def notification_payload(
    key: str, fu: FollowUp, event: Event, soon: float, now: dt.datetime
) -> dict[str, object]:
    """What a team's webhook receives: the event and the follow-up as it stands. Ids, states
    and the rule's reason (made by c360 from scores and counts); never customer text."""
    return {
        "id": key,
        "type": f"follow_up.{event.type.value}",
        "occurredAt": event.at.isoformat(),
        "event": {
            "n": event.n,
            "type": event.type.value,
            "actor": event.actor,
            **({"target": event.target.value} if event.target else {}),
            # A warning is for the follow-up's owner, or its team while nobody owns it.
            **(
                {"for": {"owner": event.owner} if event.owner else {"team": fu.team}}
                if event.type is EventType.DUE_SOON
                else {}
            ),
        },
        "followUp": {
            "id": fu.id,
            "profileId": fu.profile_id,
            "rule": {"id": fu.rule_id, "name": fu.rule_name, "version": fu.rule_version},
            "status": fu.status.value,
            "priority": fu.priority.value,
            "team": fu.team,
            "owner": fu.owner,
            "reason": fu.reason,
            "openedAt": fu.opened_at.isoformat(),
            "sla": [
                {
                    "target": c.target.value,
                    "due": c.due.isoformat(),
                    "state": sla.state(c, now, soon).value,
                }
                for c in sla.clocks(fu)
            ],
        },
    }
