"""The command line's environments: the test's store, and a store nobody answers at."""

from __future__ import annotations

import pytest

from c360.settings import Settings
from c360.store import Store
from tests.served import environment, free_port


@pytest.fixture
def env(settings: Settings, store: Store) -> dict[str, str]:
    """``c360`` on the test's database (dropped after the test with ``store``)."""
    return environment(
        C360_MONGODB_URI=settings.mongodb_uri or "",
        C360_DATABASE=settings.database,
        C360_DATA_DIR=str(settings.data_dir),
    )


@pytest.fixture
def nowhere() -> dict[str, str]:
    """``c360`` on a store nobody answers at, given up on quickly: a command that got past its
    arguments and settings fails there (exit 75) rather than start an embedded store."""
    return environment(
        C360_MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/",
        C360_STORE_TIMEOUT_MS="200",
    )
