"""The loyalty scorecard: KPIs by period and segment, computed from the facts of the period as
the customers' ledgers keep them (:mod:`c360.metrics.ledger`, folded at ingest).

``definitions`` (what each KPI is, in words), ``periods`` (periods in the reporting time zone),
``facts`` (what a record contributes, from its ledger entry), ``compute`` (figures from facts:
pure), ``repository`` (the store queries beyond the ledgers), ``service`` (reads, segments,
suppression).
"""
