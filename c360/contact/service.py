"""Reading consent: each profile's effective state, folded from its consent-change records."""

from __future__ import annotations

from collections.abc import Sequence

from c360.contact.consent import ConsentState, fold_consent
from c360.records.repository import RecordRepository


class ConsentService:
    def __init__(self, records: RecordRepository) -> None:
        self._records = records

    async def states(self, profile_ids: Sequence[str]) -> list[list[ConsentState]]:
        """Each profile's consent, in the order asked (a DataLoader's batch function)."""
        changes = await self._records.of_kind(profile_ids, "consent_change")
        return [fold_consent(changes[p]) for p in profile_ids]
