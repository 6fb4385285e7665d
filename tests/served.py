"""The ``c360`` command as a user runs it: real processes on free ports, each with its own store.

Shared by the process tests, the runtime-install check and the browser suite.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from c360.followups.rules import MAX_TRIGGER_AGE_DAYS

START_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 60.0

C360 = (sys.executable, "-m", "c360.cli.main")
"""The command line of this checkout, in the interpreter running the tests."""


def c360(*args: str, command: Sequence[str] = C360) -> list[str]:
    return [*command, *args]


def run_c360(
    *args: str,
    env: dict[str, str],
    stdin: str | None = None,
    command: Sequence[str] = C360,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a ``c360`` command to completion, capturing its output as text."""
    return subprocess.run(
        c360(*args, command=command),
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        cwd=cwd,
    )


TESTS_MAX_TRIGGER_AGE_DAYS = MAX_TRIGGER_AGE_DAYS
"""The fixtures' records happened in 2022-2024: too old for the alert rules' default age limit
to open follow-ups for them (tests of the limit set it themselves)."""


def environment(**values: str) -> dict[str, str]:
    """This process's environment without any ``C360_`` setting, plus ``values`` (the alert
    rules' age limit as :data:`TESTS_MAX_TRIGGER_AGE_DAYS` unless given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    env["C360_FOLLOWUP_MAX_TRIGGER_AGE_DAYS"] = str(TESTS_MAX_TRIGGER_AGE_DAYS)
    env.update(values)
    return env


@dataclass(frozen=True)
class Ran:
    """What a ``c360`` command run in this process did (the ``in_process`` fixture of
    ``tests/cli``): its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


InProcess = Callable[..., Ran]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not running either.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


HTTP = httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0))
"""The client for every request a test sends a served process. ``httpx.get`` makes a client a
call, and with it a TLS context (its CA bundle read and parsed: milliseconds of CPU), and a
server's start is polled ten times a second. No connection is kept: a test stops servers."""


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


DEMO_KEY_LINE = re.compile(r"^\s+(admin|agent|marketing|connector)\s+(c360_\S+)$")


class Server:
    """``c360 serve --demo`` on a free port with its own data directory (``demo=False``: no
    demo data and no demo keys, for servers sharing a store whose keys are made apart)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        command: Sequence[str] = C360,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        demo: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.demo = demo
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Links it builds (unsubscribe, confirmation) point at where it really listens.
        self.env = {
            **environment(C360_DATA_DIR=str(data_dir), C360_PUBLIC_URL=self.base),
            **(env or {}),
        }
        self.process = subprocess.Popen(
            c360("serve", *(["--demo"] if demo else []), "--port", str(self.port), command=command),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
        )
        self.output: list[str] = []  # read as it comes, so the pipe never fills up
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not wait_until(self._ready, START_TIMEOUT_S):
            self.stop()
            raise AssertionError("c360 serve did not start:\n" + "".join(self.output))
        if self.process.poll() is not None:
            raise AssertionError("c360 serve exited:\n" + "".join(self.output))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def _ready(self) -> bool:
        """Healthy, and its banner with the demo keys printed (when it has demo data)."""
        if not self._healthy():
            return False
        return not self.demo or self.process.poll() is not None or "agent" in self.demo_keys

    @property
    def demo_keys(self) -> dict[str, str]:
        """The keys the banner printed, by role."""
        found = (DEMO_KEY_LINE.match(line.rstrip("\n")) for line in list(self.output))
        return {m[1]: m[2] for m in found if m}

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            return True  # exited: let the caller see why
        try:
            return HTTP.get(f"{self.base}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def store_pid(self) -> int:
        state: dict[str, int] = json.loads((self.data_dir / "server.json").read_text())
        return state["pid"]

    @property
    def store_pid_now(self) -> int | None:
        """The store's pid, or None while a restart has no state written yet (a stale one is
        removed under the lock before the new server is started)."""
        try:
            return self.store_pid
        except FileNotFoundError:
            return None

    def graphql(
        self, query: str, role: str = "agent", variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.demo_keys[role]}"}
        response = HTTP.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=10,
        )
        body: dict[str, Any] = response.json()
        assert body.get("errors") is None, body
        data: dict[str, Any] = body["data"]
        return data

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=10)


def push_lines(base: str, connector: str, lines: str, key: str) -> httpx.Response:
    """JSON lines pushed with an API key to a served API's ``POST /ingest/{connector}``."""
    return HTTP.post(
        f"{base}/ingest/{connector}",
        content=lines.encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/x-ndjson"},
        timeout=120,
    )


@contextmanager
def serving(data_dir: Path, **options: Any) -> Iterator[Server]:
    """A :class:`Server` for the length of a ``with`` block (a fixture's life)."""
    server = Server(data_dir, **options)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def serving_each(data_dirs: Sequence[Path], **options: Any) -> Iterator[list[Server]]:
    """A :class:`Server` per data directory, started side by side, for a ``with`` block."""
    with ThreadPoolExecutor(max_workers=len(data_dirs)) as pool:
        starting = [pool.submit(Server, data_dir, **options) for data_dir in data_dirs]
        wait(starting)
    started = [future.result() for future in starting if future.exception() is None]
    try:
        if len(started) < len(starting):  # one failed: say why, after stopping the others
            next(future.result() for future in starting if future.exception() is not None)
        yield started
    finally:
        for server in started:
            server.stop()
