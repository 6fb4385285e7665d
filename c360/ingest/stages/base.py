"""What every ingest stage is: a name, whether it writes what the batch journal must cover, and
one step over a batch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextvars import ContextVar
from typing import ClassVar

from c360.ingest.batch import Batch

current_stage: ContextVar[str | None] = ContextVar("current_stage", default=None)
"""The stage the loop is running (``journal`` while it enters or leaves a batch in the journal;
None outside the loop): what sent a store command, for whoever watches them
(``python -m bench.ingest --commands``)."""


class Stage(ABC):
    """One step of the pipeline over a batch (see :mod:`c360.ingest.stages`).

    ``journalled``: the stage writes what derives from the batch's records (profiles, records,
    merges, metrics, name search, matching); the loop enters the batch in ``ingest_batches``
    before the first such stage runs, so a run cut short anywhere after is found again. Stages
    before it read, or write only what a re-run does again identically (identity claims, dead
    letters). A journalled stage runs only for a batch with records to store; the others run
    for every batch.
    """

    name: ClassVar[str]
    journalled: ClassVar[bool] = False

    @abstractmethod
    async def run(self, batch: Batch) -> None:
        """Do this stage's work for the batch: read what earlier stages set on it, set what
        this one decides. Idempotent for a re-run of the same batch."""
