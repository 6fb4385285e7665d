"""The ingest pipeline's stages, in the order they run over each batch.

Each stage is a small unit (a module here) with one job; :class:`~c360.ingest.batch.Batch`
carries what the stages read and decide. The loop in :mod:`c360.ingest.service` cuts the input
into batches, runs every stage below over each batch in order, enters the batch in the journal
before the first ``journalled`` stage, and adds the batch to the summary. So the order is::

    parse → read again in order currency → check storable → suppress → dead letter → look up
      → link
      → decide | journal | merge → read aggregates → write → link waiting returns
      → fold metrics → settle merges → index names → match → suppress again

The store is read once for a batch (``look up``: the owners of its identifiers, the stored
revisions of its records, the profiles of its returns' orders; ``read aggregates``: what the
fold adds to), and written once per collection where it can be (identities, journal,
profiles, records, metrics: one round trip each for the whole batch). A stage's reads that do
not depend on each other are in flight together, and so are its writes that nothing orders
(a batch's profiles beside its records; its record inserts beside its replaces): a round
trip's wait for all of them. The merges a batch makes run step by step together
(:meth:`~c360.identity.merge.MergeService.absorb_all`). ``python -m bench.ingest --commands``
prints the store commands each stage sends a batch.

Adding a stage
--------------
1. Write a module here with a :class:`~c360.ingest.stages.base.Stage` subclass: its ``name``,
   ``journalled = True`` if it writes anything derived from the batch's records, and
   ``run(batch)``, which reads what earlier stages set on the batch and sets what it decides
   (add the fields it needs to ``Batch``, saying which stage sets them). It must be idempotent:
   a run cut short anywhere is finished by running the same input again.
2. Put it in :func:`stages` below, where it belongs, and its name in the diagram above and in
   the README's list of stages (a test compares both with the stages that run); if it needs a
   service or repository not in :class:`Collaborators`, add it there and in
   ``c360/services.py``. A stage of a domain above ingest is added by the wiring instead
   (``IngestService.add_stage``), as the alert rules' is after ``fold metrics`` (they read the
   new aggregates).
3. Test it alone (``tests/ingest/stages/``) and through an import.

A stage sees only records the canonical schemas accepted: a check they make (a time more than
a day ahead) is not a stage's. ``suppress again`` stays last: it asks, after every stage that
writes, whether an erasure began meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from c360.identity.match_service import Matcher
from c360.identity.merge import MergeService
from c360.identity.repository import IdentityRepository, SuggestionRepository
from c360.identity.service import IdentityService
from c360.ingest.repository import DeadLetterRepository
from c360.ingest.stages.base import Stage
from c360.ingest.stages.currency import ReadInOrderCurrency
from c360.ingest.stages.dead_letters import DeadLetter
from c360.ingest.stages.decide import Decide
from c360.ingest.stages.fold import FoldMetrics, ReadAggregates
from c360.ingest.stages.link import Link
from c360.ingest.stages.look_up import LookUp
from c360.ingest.stages.match import Match
from c360.ingest.stages.merge import Merge
from c360.ingest.stages.names import IndexNames
from c360.ingest.stages.parse import Parse
from c360.ingest.stages.returns import LinkWaitingReturns
from c360.ingest.stages.settle import SettleMerges
from c360.ingest.stages.storable import CheckStorable
from c360.ingest.stages.suppress import Suppress, SuppressAgain, SuppressionCheck
from c360.ingest.stages.write import Write
from c360.metrics.service import MetricsService
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository

__all__ = ["Collaborators", "Stage", "stages"]


@dataclass(frozen=True)
class Collaborators:
    """The services and repositories the stages work through."""

    identity: IdentityService
    identities: IdentityRepository
    merges: MergeService
    profiles: ProfileService
    metrics: MetricsService
    records: RecordRepository
    dead_letters: DeadLetterRepository
    suggestions: SuggestionRepository
    matcher: Matcher
    suppressions: SuppressionCheck | None = None  # erased people (c360.privacy)


def stages(c: Collaborators) -> tuple[Stage, ...]:
    """Every stage, in the order it runs over a batch."""
    return (
        Parse(),
        ReadInOrderCurrency(c.records),
        CheckStorable(),
        Suppress(c.suppressions),
        DeadLetter(c.dead_letters),
        LookUp(c.identities, c.records),
        Link(c.identity),
        Decide(),
        Merge(c.merges, c.suggestions),
        ReadAggregates(c.metrics),
        Write(c.profiles, c.records),
        LinkWaitingReturns(c.profiles, c.records),
        FoldMetrics(c.metrics),
        SettleMerges(c.merges),
        IndexNames(c.profiles),
        Match(c.matcher),
        SuppressAgain(c.suppressions),  # last: after every stage that writes
    )
