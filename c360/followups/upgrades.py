"""What a follow-up an earlier version of c360 stored lacks, given it by this one.

Due-soon times are fixed when a follow-up opens (:func:`c360.followups.sla.due_soon_times`):
those opened before they were kept get them from the setting, by the first round of a worker
after an upgrade. Each write is conditional on the version read, as every follow-up write is.
"""

from __future__ import annotations

import dataclasses

from c360.followups import sla
from c360.followups.repository import FollowUpRepository, Stored

BATCH = 200


async def keep_due_soon_times(follow_ups: FollowUpRepository, due_soon: float) -> int:
    """Give the follow-ups stored before due-soon times were kept, with a target still to
    meet, the times ``due_soon`` (the setting's share) gives, so that the worker warns of their
    targets and the queue's due-soon filter finds them; returns how many were given. Once done,
    a read that finds nothing."""
    given = 0
    while stored := await follow_ups.without_due_soon_times(BATCH):
        writes = []
        for item in stored:
            fu = item.follow_up
            times = sla.due_soon_times(fu.opened_at, fu.due, due_soon)
            upgraded = dataclasses.replace(fu, due_soon_at=times, version=fu.version + 1)
            writes.append((Stored(upgraded, item.unsent), fu.version))
        lost = await follow_ups.replace_many(writes)
        given += len(writes) - len(lost)
        if len(stored) < BATCH or len(lost) == len(writes):
            break  # the rest changed meanwhile: written since, with their times
    return given
