"""Estimating the m and u probabilities of the matching score from the profiles themselves.

No labelled pairs are needed; this is the unsupervised procedure record-linkage tools use
(Splink's ``estimate_u_using_random_sampling`` then ``estimate_parameters_using_expectation_
maximisation`` per blocking rule):

- **u** (how often two different people compare at a level) from random pairs of profiles:
  two profiles drawn at random are almost never one person, so the levels their features
  compare at are those of non-matches.
- **m** (how often one person's two profiles compare at a level) by expectation-maximisation
  over the candidate pairs the blocking keys find, with u fixed: each pair is weighed by the
  probability that it is a match under the current m, and m is re-estimated from those
  weights until it settles. Within one kind of block the fields of its key always agree, so
  they say nothing there: each kind of block is a separate session that estimates m only for
  the fields outside its key, and a field's m is the mean over the sessions that estimated it.
  Only blocks that single out a person are sessions (``SESSIONS``: the same birth date, the
  same names): within blocks of a postcode and family name, or of a phone, most pairs are
  households, and the class EM would find there is "lives together", not "is one person".
  A field seen in too few likely matches keeps its prior m.
- Random pairs include a few true matches (many, in a small store with many duplicates):
  u is corrected for them once m and the share of matches are known.

Estimate from person records, not profiles: once profiles are merged their duplicates no longer
show as pairs. The result is a :class:`Weights` table to put in ``C360_IDENTITY_MATCH_WEIGHTS``
(``c360 identity calibrate`` prints it). Pure: features in, estimates out.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from c360.identity.matching import (
    BLOCKED_FIELDS,
    FIELDS,
    MAX_BLOCK,
    Features,
    Weights,
    blocking_keys,
    compare,
)

Levels = dict[str, dict[str, float]]
"""Field → level → probability."""

SMOOTHING = 0.5
"""Added to every level's count, so a level never seen is rare rather than impossible."""
SESSIONS = ("dob", "name")
"""Kinds of blocking key whose blocks the m estimates come from (see the module docstring)."""
MIN_COMPARED = 1000
"""Random pairs that must compare a field for its u to be estimated (else the prior stays)."""
MIN_MATCHES = 20.0
"""Likely matches (expected count) a field must be compared in for its m to be estimated."""


@dataclass
class Calibration:
    weights: Weights
    sessions: dict[str, int] = field(default_factory=dict)
    """Blocking kind → candidate pairs it contributed to the m estimates."""
    match_rates: dict[str, float] = field(default_factory=dict)
    """Blocking kind → the share of its candidate pairs estimated to be matches."""
    random_match: float = 0.0
    """The estimated share of matches among all pairs of records: the prior of the score."""

    @property
    def even_odds(self) -> float | None:
        """The score at which a pair is as likely one person as two, given that prior: a
        threshold ``t`` above it merges pairs whose odds are 2^t-to-1 after the prior."""
        if not 0 < self.random_match < 1:
            return None
        return -math.log2(self.random_match / (1 - self.random_match))

    def to_setting(self) -> dict[str, dict[str, list[float]]]:
        """The table as ``C360_IDENTITY_MATCH_WEIGHTS`` takes it (m and u rounded)."""
        return {
            name: {level: [_round(m), _round(u)] for level, (m, u) in levels.items()}
            for name, levels in self.weights.table.items()
        }


def calibrate(
    records: Sequence[Features],
    *,
    u_pairs: int = 200_000,
    iterations: int = 25,
    seed: int = 0,
    start: Weights | None = None,
) -> Calibration:
    """m and u for every field and level, estimated from the features of person records."""
    start = start or Weights()
    u, compared = estimate_u(records, u_pairs, seed)
    sessions: dict[str, int] = {}
    rates: dict[str, float] = {}
    estimates: dict[str, list[dict[str, float]]] = defaultdict(list)
    expected_matches = 0.0
    for kind, pairs in candidate_pairs(records).items():
        if kind not in SESSIONS:
            continue
        free = [name for name in FIELDS if name not in BLOCKED_FIELDS.get(kind, ())]
        vectors = [{n: lv for n, lv in compare(a, b).items() if n in free} for a, b in pairs]
        vectors = [v for v in vectors if v]
        if not vectors:
            continue
        m, rate, evidence = estimate_m(vectors, u, _m_of(start), iterations)
        sessions[kind], rates[kind] = len(vectors), rate
        expected_matches = max(expected_matches, rate * len(vectors))
        for name in free:
            if evidence.get(name, 0.0) >= MIN_MATCHES:
                estimates[name].append(m[name])
    m_all = _m_of(start)
    for name, found in estimates.items():
        levels = FIELDS[name][1]
        m_all[name] = {level: sum(e[level] for e in found) / len(found) for level in levels}
    n = len(records)
    random_match = expected_matches / (n * (n - 1) / 2) if n > 1 else 0.0
    for name, count in compared.items():
        if count >= MIN_COMPARED:
            u[name] = _without_matches(u[name], m_all[name], random_match, count)
        else:  # too few records state the field to tell: its prior stays
            u[name] = {level: prior for level, (_, prior) in start.table[name].items()}
    table = {
        name: {level: (m_all[name][level], u[name][level]) for level in levels}
        for name, (_, levels) in FIELDS.items()
    }
    return Calibration(Weights(table), sessions, rates, random_match)


def estimate_u(
    records: Sequence[Features], pairs: int, seed: int = 0
) -> tuple[Levels, dict[str, int]]:
    """Level frequencies over random pairs of distinct records, and per field how many of the
    pairs compared it (both records state it)."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in FIELDS}
    if len(records) >= 2:
        rng = random.Random(seed)
        for _ in range(pairs):
            a, b = rng.sample(range(len(records)), 2)
            for name, level in compare(records[a], records[b]).items():
                counts[name][level] += 1
    levels = {name: _frequencies(counts[name], lv) for name, (_, lv) in FIELDS.items()}
    return levels, {name: sum(c.values()) for name, c in counts.items()}


def candidate_pairs(profiles: Sequence[Features]) -> dict[str, list[tuple[Features, Features]]]:
    """Pairs sharing a blocking key, by the key's kind (``dob``, ``name``…): each pair once
    per kind, and under every kind that finds it, as each kind is its own session. Blocks
    larger than ``MAX_BLOCK`` are skipped as the matcher skips them."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, profile in enumerate(profiles):
        for key in blocking_keys(profile):
            blocks[key].append(index)
    pairs: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for key, members in blocks.items():
        if len(members) <= MAX_BLOCK:
            pairs[key.partition(":")[0]].update(combinations(members, 2))
    return {
        kind: [(profiles[a], profiles[b]) for a, b in sorted(found)]
        for kind, found in sorted(pairs.items())
    }


def estimate_m(
    vectors: Sequence[Mapping[str, str]],
    u: Levels,
    start: Levels,
    iterations: int = 25,
    match_rate: float = 0.1,
) -> tuple[Levels, float, dict[str, float]]:
    """Expectation-maximisation of m (u fixed) over comparison vectors; returns m, the
    estimated share of matches among the vectors, and per field the expected number of
    matches it was compared in (how much its m rests on)."""
    m = {name: dict(levels) for name, levels in start.items()}
    evidence: dict[str, float] = {}
    for _ in range(iterations):
        weighted: dict[str, dict[str, float]] = {name: defaultdict(float) for name in FIELDS}
        expected = 0.0
        for vector in vectors:
            p = _match_probability(vector, m, u, match_rate)
            expected += p
            for name, level in vector.items():
                weighted[name][level] += p
        match_rate = min(max(expected / len(vectors), 1e-6), 1 - 1e-6)
        for name, (_, levels) in FIELDS.items():
            if weighted[name]:
                m[name] = _frequencies(weighted[name], levels)
        evidence = {name: sum(counts.values()) for name, counts in weighted.items()}
    return m, match_rate, evidence


def _match_probability(vector: Mapping[str, str], m: Levels, u: Levels, match_rate: float) -> float:
    log_odds = math.log(match_rate / (1 - match_rate))
    for name, level in vector.items():
        log_odds += math.log(m[name][level] / u[name][level])
    if log_odds > 700:
        return 1.0
    return 1.0 / (1.0 + math.exp(-log_odds))


def _without_matches(
    u: dict[str, float], m: dict[str, float], random_match: float, compared: int
) -> dict[str, float]:
    """A field's u without the share ``random_match`` of true matches among random pairs."""
    floor = SMOOTHING / compared  # as rare as a level never seen
    raw = {level: max(p - random_match * m[level], floor) for level, p in u.items()}
    total = sum(raw.values())
    return {level: p / total for level, p in raw.items()}


def _frequencies(counts: Mapping[str, float], levels: Iterable[str]) -> dict[str, float]:
    names = list(levels)
    total = sum(counts.get(level, 0.0) for level in names) + SMOOTHING * len(names)
    return {level: (counts.get(level, 0.0) + SMOOTHING) / total for level in names}


def _m_of(weights: Weights) -> Levels:
    return {
        name: {level: m for level, (m, _) in levels.items()}
        for name, levels in weights.table.items()
    }


def _round(value: float) -> float:
    """Three significant digits of the value, or of its distance to 1 when that is smaller:
    0.99987 stays 0.99987, not 1.0 (no probability here is 0 or 1)."""
    if value > 0.5:
        return 1 - float(f"{1 - value:.3g}")
    return float(f"{value:.3g}")
