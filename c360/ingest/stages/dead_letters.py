"""Stage ``dead letter``: every item error of the batch kept with its raw input and reason (one
round trip; the same item rejected again is the same dead letter, one more attempt)."""

from __future__ import annotations

from c360.ingest.batch import Batch
from c360.ingest.repository import DeadLetterRepository
from c360.ingest.stages.base import Stage


class DeadLetter(Stage):
    name = "dead letter"

    def __init__(self, dead_letters: DeadLetterRepository) -> None:
        self._dead_letters = dead_letters

    async def run(self, batch: Batch) -> None:
        await self._dead_letters.add(batch.connector, batch.origin, batch.errors, batch.now)
