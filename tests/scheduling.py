"""How ``pytest -n`` spreads the suite over its workers (``make test`` runs one a core).

Tests go one at a time to whichever worker is free, so that the workers end together, except
those that share what a module (or a worker) starts once: they go to one worker together, and it
is started once. Each worker has its own embedded store, and each test its own database there.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

SHARED_SETUPS = (
    "tests/browser/",  # one served demo and one Chromium for the browser suite
    "tests/test_readme.py",  # the README's examples against one served demo
    "tests/test_install.py",  # one runtime install, then used as an operator would
    "tests/test_processes.py::TestARunningServer",  # one served demo
)
"""Beginnings of test ids (folders, modules, classes) whose tests run on one worker. Tests that
share a process a fixture of module or class scope starts belong here: elsewhere it is started
by each worker that runs one of them."""


LONG_FIRST = (
    "tests/ingest/test_store_crashes.py",  # kills and restarts stores under an import: ~20 s
    "tests/test_processes.py::TestInterruptedImport",  # a killed import run again
)
"""Tests long enough that, handed out last, they would keep one worker busy after the others
end: grouped, so that they go out with the groups, first."""


class SharedSetups(LoadScopeScheduling):
    """xdist's scope scheduler with a test as the scope, or a beginning in ``SHARED_SETUPS``. The
    scheduler hands out the largest scopes first (``--loadscope-reorder``, xdist's default):
    these groups, then the tests one by one in the order they were collected."""

    def _split_scope(self, nodeid: str) -> str:
        for shared in (*SHARED_SETUPS, *LONG_FIRST):
            if nodeid.startswith(shared):
                return shared
        return nodeid
