"""What the roles' grants promise beyond each permission alone."""

from __future__ import annotations

from c360.auth.service import Permission, roles_with


def test_every_role_reading_kpis_reads_the_profiles_too() -> None:
    # Small-group suppression cannot stop two overlapping KPI spans from differing by one
    # person's order; the README says this reveals nothing, because whoever reads KPIs reads the
    # profiles themselves. A KPI-only role would make that untrue.
    readers = roles_with(Permission.READ_KPIS)
    assert readers
    assert set(readers) <= set(roles_with(Permission.READ_PROFILES))
