"""The command line's environments: a store nobody answers at, and ``c360`` run in this
process (``env``, the test's store, is the suite's)."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping

import pytest

import c360.logging
from c360.cli import main as cli
from c360.settings import get_settings
from tests.served import InProcess, Ran, environment, free_port


@pytest.fixture
def nowhere() -> dict[str, str]:
    """``c360`` on a store nobody answers at, given up on quickly: a command that got past its
    arguments and settings fails there (exit 75) rather than start an embedded store."""
    return environment(
        C360_MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/",
        C360_STORE_TIMEOUT_MS="200",
    )


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> InProcess:
    """``c360`` run by its ``main`` in this process, with the ``C360_`` variables of ``env`` as
    its only ones: for the refusals it makes before it starts anything (its arguments', its
    settings'), many of which a second of interpreter start-up each would make slow. The
    process tests beside them show the installed command refuses the same way."""

    def run(*args: str, env: Mapping[str, str]) -> Ran:
        for name in [name for name in os.environ if name.startswith("C360_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            if name.startswith("C360_"):
                monkeypatch.setenv(name, value)
        # A command that got past its refusals would configure this process's logging.
        monkeypatch.setattr(c360.logging, "configure_logging", _started)
        get_settings.cache_clear()
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = cli.main(list(args))
                except SystemExit as exc:  # argparse's refusals
                    code = exc.code if isinstance(exc.code, int) else 1
        finally:
            get_settings.cache_clear()
        return Ran(code, out.getvalue(), err.getvalue())

    return run


def _started(*args: object) -> None:
    raise AssertionError("the command was not refused: it started")
