"""What ``c360`` imports to start, run as a user runs it (``-X importtime`` names every module a
process imports): a command imports what it uses, so that ``--version``, ``--help`` and a
command's ``--help`` answer without the domains, the store's driver or the server's stack, and a
command that works on the store without the server's stack, the HTTP client or the terminal's
live display. No timing: which modules, not how long."""

from __future__ import annotations

import re
import sys

import pytest

from tests.served import environment, free_port, run_c360

IMPORTING = (sys.executable, "-X", "importtime", "-m", "c360.cli.main")
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)

SERVER = {"fastapi", "strawberry", "graphql", "uvicorn", "starlette.applications"}
"""The API's stack: ``c360 serve`` and ``c360 schemas export`` only."""
NOT_ON_THE_COMMAND_LINE = SERVER | {"httpx", "rich"}
"""What a command that works on the store and prints lines has no use for: the HTTP client
(webhooks, the Zendesk pull) and the live display (an import's progress bar on a terminal, the
KPI table)."""
DOMAINS = NOT_ON_THE_COMMAND_LINE | {
    "pydantic",
    "pymongo",
    "cryptography",
    "phonenumbers",
    "schemas",
    "connectors",
    "asyncio",
    "c360.settings",
    "c360.services",
    "c360.store",
}
"""What reading the command line's arguments needs none of: the settings, the records' schemas,
the connectors, the store and its driver, the services."""


def imported(*args: str, env: dict[str, str]) -> set[str]:
    """The modules ``c360 args`` imported, and each package they are in."""
    ran = run_c360(*args, env=env, command=IMPORTING)
    names = IMPORTED.findall(ran.stderr)
    assert names, ran.stderr
    return {
        ".".join(name.split(".")[: i + 1]) for name in names for i in range(name.count(".") + 1)
    }


@pytest.mark.parametrize(
    "args",
    [("--version",), ("--help",), ("privacy", "status", "--help"), ("audit", "--help")],
)
def test_the_version_and_the_help_import_no_domain(args: tuple[str, ...]) -> None:
    modules = imported(*args, env=environment())
    assert "c360.cli.arguments" in modules
    assert not modules & DOMAINS


def test_a_command_on_the_store_imports_no_server_no_http_client_no_live_display() -> None:
    # A store nobody answers at: the command imports all it needs to run (the settings, the
    # services, the store) and stops there, exit 75.
    env = environment(
        C360_MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/", C360_STORE_TIMEOUT_MS="200"
    )
    modules = imported("keys", "list", env=env)
    assert {"c360.services", "c360.store", "pymongo"} <= modules
    assert not modules & NOT_ON_THE_COMMAND_LINE
