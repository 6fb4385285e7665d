"""A profile's ledger keeps when they visited bounded by time, not by page views, and finds the
same visitors in a report's spans as every visit would."""

from __future__ import annotations

import bisect
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from c360.metrics.ledger import VISIT_SLOT_MS, Ledger, compact_visits, epoch_ms
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import profile_of, run, stored_aggregate
from tests.state import assert_aggregates_equal_recomputation

DAY = dt.datetime(2024, 9, 14, tzinfo=dt.UTC)
DAY_MS = epoch_ms(DAY)
HOUR_MS = 3_600_000
ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Madrid", "Asia/Kolkata", "Asia/Kathmandu")]

visits = st.lists(st.integers(DAY_MS, DAY_MS + 48 * HOUR_MS), max_size=300)


def visited(kept: list[int], start: int, end: int) -> bool:
    """Whether a visit falls in ``[start, end)``, as a report bisects the ledger for it."""
    return bisect.bisect_left(kept, start) < bisect.bisect_left(kept, end)


@given(visits, st.integers(DAY_MS, DAY_MS + 48 * HOUR_MS), st.integers(VISIT_SLOT_MS, 50 * HOUR_MS))
def test_a_span_of_a_quarter_hour_or_more_finds_a_visit_as_every_visit_would(
    every: list[int], start: int, length: int
) -> None:
    kept = compact_visits(every)
    assert visited(kept, start, start + length) == visited(sorted(every), start, start + length)


@given(visits, st.sampled_from(ZONES), st.integers(0, 2), st.integers(-HOUR_MS, 30 * HOUR_MS))
def test_a_span_cut_at_a_local_midnight_finds_a_visit_as_every_visit_would(
    every: list[int], zone: ZoneInfo, day: int, start: int
) -> None:
    midnight = epoch_ms(dt.datetime.combine(DAY.date() + dt.timedelta(days=day), dt.time(), zone))
    kept = compact_visits(every)
    for span in ((DAY_MS + start, midnight), (midnight, DAY_MS + start)):
        if span[0] < span[1]:
            assert visited(kept, *span) == visited(sorted(every), *span), span


@given(visits, visits)
def test_folding_in_any_order_keeps_what_compacting_all_at_once_keeps(
    first: list[int], second: list[int]
) -> None:
    folded = Ledger(visits=list(first)).fold(Ledger(visits=list(second)))
    assert folded == Ledger(visits=[*second, *first])
    assert folded.in_order()[4] == compact_visits([*first, *second])


def test_a_million_page_views_keep_two_a_quarter_hour() -> None:
    ledger = Ledger()
    for view in range(1_000_000):  # a bot: a page view every 86 ms for a day
        ledger.fold(Ledger(visits=[DAY_MS + view * 86]))
    kept = ledger.in_order()[4]
    assert len(kept) == 2 * 96  # the first and the last of each quarter hour of the day
    assert (kept[0], kept[-1]) == (DAY_MS, DAY_MS + 999_999 * 86)


def test_a_stored_ledger_is_compacted_again_only_once_a_batch_has_doubled_it() -> None:
    stored = compact_visits(DAY_MS + n * VISIT_SLOT_MS // 2 for n in range(6_000))  # 3 000 slots
    ledger = Ledger(visits=list(stored))  # as read from the store: 6 000 visits, compacted

    ledger.fold(Ledger(visits=[stored[-1] + 1]))  # a batch's one visit, within a kept slot
    assert len(ledger.visits) == len(stored) + 1  # not compacted at every batch

    ledger.fold(Ledger(visits=[stored[-1] + 1] * len(stored)))
    assert len(ledger.visits) == len(stored)  # doubled: compacted (the same slots, no more)


async def test_an_import_of_many_page_views_stores_a_bounded_ledger_equal_to_a_recomputation(
    services: Services, store: Store, tmp_path: Path
) -> None:
    views = [
        f.site_event(
            external_id=f"E-{n}",
            occurred_at=(DAY + dt.timedelta(seconds=9 * n)).isoformat(),
            identifiers=[f.email("bot@example.com")],
        )
        for n in range(1_200)  # three hours: twelve quarter hours
    ]

    await run(services, tmp_path, [views])

    profile = await profile_of(services, IdentifierType.EMAIL, "bot@example.com")
    stored = (await stored_aggregate(services, profile)).ledger.visits
    assert stored == compact_visits(epoch_ms(DAY) + 9_000 * n for n in range(1_200))
    assert len(stored) == 24
    assert await assert_aggregates_equal_recomputation(services, store) == 1
