"""The alert rules as an ingest stage: after ``fold metrics``, the records a batch wrote (and
those a cut-short run of it wrote) are evaluated by the enabled rules (see
:meth:`~c360.followups.evaluation.Evaluation.evaluate_batch`). Idempotent: evaluating the same
records again opens nothing more."""

from __future__ import annotations

from c360.followups.evaluation import Evaluation
from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage


class EvaluateAlertRules(Stage):
    name = "evaluate alert rules"
    journalled = True

    def __init__(self, evaluation: Evaluation) -> None:
        self._evaluation = evaluation

    async def run(self, batch: Batch) -> None:
        report = await self._evaluation.evaluate_batch(
            batch.written_records(), batch.now, batch.key or None
        )
        batch.effects["follow-ups opened"] += report.opened
