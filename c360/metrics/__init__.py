"""Profile metrics: each record's facts folded into one aggregate per profile at ingest
(``aggregate``, pure), kept equal to a recomputation (``service``, through ``repository``), and
read as figures and the lifecycle rules' verdicts (``figures``, pure)."""
