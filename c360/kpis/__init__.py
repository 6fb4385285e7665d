"""The loyalty scorecard: KPIs by period and segment, computed from the records of the period.

``definitions`` (what each KPI is, in words), ``periods`` (periods in the reporting time zone),
``facts`` (what a record contributes), ``compute`` (figures from facts: pure), ``repository``
(every store query), ``service`` (reads, segments, suppression).
"""
