"""What an import meets of an erased person, and the erasures c360 makes to remove it.

An erasure looks again after its steps for anything of the person an import stored meanwhile;
the import, after writing, asks the suppression list again and tells what it met
(:meth:`Completions.erase_met`). Of a batch that wrote after the erasure's last look, that
second question sees the suppressions (they were written before the look), and what the batch
stored is erased by a request of its own, made and run here, that completes the first
(``completes``). One such request whose process stopped before it ran, or whose run failed, is
run again by the maintenance round (:meth:`Completions.resume`).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Collection, Sequence
from typing import Protocol

from c360.privacy import rules
from c360.privacy.erasing import Eraser, is_identity_key
from c360.privacy.given import identifier_of
from c360.privacy.hashing import Hasher
from c360.privacy.repository import RequestRepository, SuppressionRepository
from c360.privacy.rules import RequestType, Status
from c360.privacy.types import Event, Journal, PrivacyRequest

log = logging.getLogger(__name__)

SYSTEM = "c360"
"""The actor of what c360 does by itself (erasing what an import stored after an erasure)."""
COMPLETION_GRACE = dt.timedelta(hours=1)
"""How old a request c360 made to complete an erasure must be before the maintenance round runs
it again (the process that made it runs it at once; an erasure's run takes seconds)."""


class Runs(Protocol):
    """:meth:`~c360.privacy.service.PrivacyService.run`."""

    def __call__(
        self, request_id: str, *, actor: str, now: dt.datetime
    ) -> Awaitable[PrivacyRequest]: ...


class Completions:
    def __init__(
        self,
        requests: RequestRepository,
        suppressions: SuppressionRepository,
        eraser: Eraser,
        hasher: Hasher,
        deadline_months: int,
        run: Runs,
    ) -> None:
        self._requests = requests
        self._suppressions = suppressions
        self._eraser = eraser
        self._hasher = hasher
        self._deadline_months = deadline_months
        self._run = run

    async def erase_met(self, items: Sequence[Collection[str]], written: bool) -> None:
        """Items an import left out for names the suppression list holds, each by all its
        names (identity keys, ``record:…``, ``dead_letter:…``): whatever is stored under them
        is erased again, by a request that completes the erasure they came from (an item's
        names go with the erasure any of them came from: a return named only by its order
        goes with the order's).

        ``written``: the batch asks after writing its records. Then it acts whatever the state
        of that erasure (which may have looked for the last time before the batch wrote).
        Before writing, a batch leaves it to an erasure still running, which looks again
        after its steps; what it meets then was stored by an import cut short between writing
        and asking again, or restored from an older copy of the store."""
        by_hash = {self._hasher.suppression(n): n for item in items for n in item}
        erasures = {
            by_hash[digest]: suppression.request
            for digest, suppression in (await self._suppressions.found(by_hash)).items()
            if suppression.request is not None
        }
        met: dict[str, set[str]] = {}
        for item in items:
            # Its records and dead letter, and only the identity keys an erasure suppressed: an
            # item that names the person may name others too (a household's landline, an
            # address in a note), and what is stored under theirs is not his to erase.
            own = [n for n in item if n in erasures or not is_identity_key(n)]
            for original in {erasures[n] for n in item if n in erasures}:
                met.setdefault(original, set()).update(own)
        for original, found in sorted(met.items()):
            if not written:
                earlier = await self._requests.get(original)
                if earlier is not None and earlier.status in rules.OPEN:
                    continue
            try:
                await self._erase_again(original, sorted(found))
            except Exception:
                log.warning(
                    "erasing what an import stored again failed; the request shows it",
                    extra={"completes": original},
                    exc_info=True,
                )

    async def resume(self, now: dt.datetime) -> int:
        """Run the requests c360 made to complete an erasure and that nobody carried out: the
        process that made one stopped before running it, or its run failed (the store gone) or
        was cut short. Only those made more than ``COMPLETION_GRACE`` ago, which no run still
        under way is working on. Returns how many completed."""
        left = await self._requests.left_completions(
            (Status.VERIFIED, Status.IN_PROGRESS, Status.FAILED), now - COMPLETION_GRACE, 100
        )
        completed = 0
        for request in left:
            try:
                done = await self._run(request.id, actor=SYSTEM, now=now)
            except Exception:
                log.warning(
                    "a completing erasure failed again; the request shows it",
                    extra={"request": request.id, "completes": request.completes},
                    exc_info=True,
                )
                continue
            completed += done.status is Status.COMPLETED
        return completed

    async def _erase_again(self, original: str, names: Sequence[str]) -> None:
        scope = await self._eraser.stored_under(names)
        if scope is None:
            return
        keys = [n for n in scope.keys if n in names]  # the ones the import met
        now = dt.datetime.now(dt.UTC)
        note = f"an import stored again what erasure {original} erased"
        request = PrivacyRequest(
            id=secrets.token_hex(12),
            type=RequestType.ERASURE,
            status=Status.VERIFIED,
            received_at=now,
            deadline=rules.deadline(now, self._deadline_months, 0),
            identifiers=tuple(identifier_of(k) for k in keys),
            events=(
                Event(now, SYSTEM, Status.RECEIVED, note=note),
                Event(now, SYSTEM, Status.VERIFIED, Status.RECEIVED),
            ),
            journal=Journal(scope),
            completes=original,
        )
        await self._requests.insert(request)
        log.info("erasing what an import stored again", extra={"completes": original})
        await self._run(request.id, actor=SYSTEM, now=now)
