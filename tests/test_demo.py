"""The bundled demo: its customers' times moved on to the week before its first load, and
loading it again (a later start) changes nothing."""

from __future__ import annotations

import datetime as dt
import json

from c360.demo import DEMO_FILE, load_demo_data, moved_on, weeks_on
from c360.services import Services
from c360.settings import Settings
from schemas import IdentifierType

NOW = dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.UTC)  # a Monday
LATEST = dt.datetime(2024, 9, 14, 11, 32, tzinfo=dt.UTC)  # the demo's latest instant


def test_whole_weeks_bring_the_latest_instant_into_the_week_before() -> None:
    shift = weeks_on(LATEST, NOW)
    assert shift.days % 7 == 0
    assert shift.seconds == 0
    assert NOW - dt.timedelta(weeks=1) < LATEST + shift <= NOW
    assert (LATEST + shift).weekday() == LATEST.weekday()  # a Saturday stays a Saturday
    assert weeks_on(NOW, NOW) == dt.timedelta(0)
    assert weeks_on(NOW + dt.timedelta(days=30), NOW) == dt.timedelta(0)  # never back


def test_instants_move_and_birth_dates_do_not() -> None:
    record = {
        "occurred_at": "2024-05-03T08:40:00Z",
        "birth_date": "1988-06-02",
        "solved_at": "2024-05-04T16:00:00+02:00",
        "lines": [{"at": "2024-05-03T08:41:00Z", "sku": "2024-05-03"}],
    }
    moved = moved_on(record, dt.timedelta(weeks=2))
    assert moved == {
        "occurred_at": "2024-05-17T08:40:00Z",
        "birth_date": "1988-06-02",
        "solved_at": "2024-05-18T16:00:00+02:00",
        "lines": [{"at": "2024-05-17T08:41:00Z", "sku": "2024-05-03"}],
    }


async def test_the_first_load_moves_the_customers_on_and_a_later_one_changes_nothing(
    services: Services, settings: Settings
) -> None:
    records = [json.loads(line) for line in DEMO_FILE.read_text("utf-8").splitlines() if line]
    latest = max(
        dt.datetime.fromisoformat(v)
        for r in records
        for k, v in r.items()
        if k.endswith("_at") and isinstance(v, str)
    )
    assert latest == LATEST  # the stories as written

    await load_demo_data(services, settings, NOW)
    ana = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana.garcia@example.com")
    assert NOW - dt.timedelta(weeks=1) < (ana.last_seen_at or LATEST) <= NOW
    # A start months later: the same times (every record a duplicate), not moved again.
    later = NOW + dt.timedelta(days=90)
    await load_demo_data(services, settings, later)
    again = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana.garcia@example.com")
    assert again.last_seen_at == ana.last_seen_at
    page = await services.profiles.timeline(ana.id, first=50)
    assert len(page.items) == 11
    assert all(NOW - dt.timedelta(days=700) < r.occurred_at <= NOW for _, r in page.items)
