"""The embedded MongoDB-wire server (nx-27017) for development, demos and CI.

One server serves one data directory. The first process that needs it starts it as a child and
owns it; other processes on the same machine that point at the same directory (``c360 import``
while ``make run`` is up) find it through ``server.json`` and borrow it. The owner stops it on
shutdown; if the owner dies, the child notices its standard input closing and stops by itself.
A ``c360 serve`` that borrowed it then starts it again on the same port, and owns it.

A server started ``in_memory`` keeps its databases in memory, not in the data directory (which
then holds only its state, lock and log): for stores nobody needs after they stop, such as a
test run's, where writing every database to disk is work for nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from c360.errors import StoreUnavailable

log = logging.getLogger(__name__)

_STATE_FILE = "server.json"
_LOCK_FILE = "server.lock"
_LOG_FILE = "server.log"
_DB_DIR = "db"
_LAUNCHER = "c360.store._launcher"
_START_ATTEMPTS = 3
_STOP_TIMEOUT = 10.0


class EmbeddedServerError(StoreUnavailable):
    """The embedded server did not start or answer."""


@dataclass
class EmbeddedServer:
    data_dir: Path
    port: int
    pid: int
    process: subprocess.Popen[bytes] | None = None  # set when this process owns the server
    in_memory: bool = False

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @property
    def owned(self) -> bool:
        return self.process is not None

    @classmethod
    def ensure(
        cls, data_dir: Path, start_timeout: float, *, in_memory: bool = False
    ) -> EmbeddedServer:
        """Borrow the server already running for ``data_dir``, or start and own a new one
        (``in_memory``: one whose databases are lost when it stops)."""
        data_dir = data_dir.resolve()
        try:
            (data_dir / _DB_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot use {data_dir} for the embedded store: {exc}"
            ) from exc
        with _locked(data_dir):
            running = _read_running(data_dir)
            if running is not None:
                log.info("reusing the embedded store", extra={"pid": running.pid})
                return running
            server = _start(data_dir, start_timeout, in_memory=in_memory)
            _write_state(data_dir, server)
            return server

    @property
    def exited(self) -> int | None:
        """The exit status of the server this process owns, once it has exited (None while it
        runs, and for a borrowed server)."""
        return None if self.process is None else self.process.poll()

    def restart(self, start_timeout: float) -> None:
        """Start the owned server again, on the same port, after it exited: the clients
        connected to it reconnect by themselves. A process that borrowed it may have started it
        again first (:meth:`take_over`): then this one borrows that server, as a second server
        on the same data directory would corrupt it. Raises :class:`EmbeddedServerError` when
        it cannot (the port was taken meanwhile, the server does not start)."""
        if self.process is None:
            raise EmbeddedServerError(
                "only the process that started the embedded store restarts it"
            )
        with _locked(self.data_dir):
            _terminate(self.process)  # reaped, its pipe closed
            self._start_or_borrow(start_timeout, in_memory=self.in_memory)

    @property
    def gone(self) -> bool:
        """A borrowed server whose process has ended (its owner stopped it, or died)."""
        return self.process is None and not _is_our_server(self.pid)

    def take_over(self, start_timeout: float) -> None:
        """Start the borrowed server again, on the same port, after its owner stopped it, and
        own it from then on: the clients connected to it reconnect by themselves. Another
        process that shared it may have been first: then borrow its server, on the same port.
        Raises :class:`EmbeddedServerError` when neither can be (a server on another port, the
        port taken meanwhile, a server that does not start)."""
        with _locked(self.data_dir):
            self._start_or_borrow(start_timeout, in_memory=False)

    def _start_or_borrow(self, start_timeout: float, *, in_memory: bool) -> None:
        """Under the data directory's lock: borrow the server another process started again
        on this port, else start one there and own it (a second server on one data directory
        would corrupt it). Raises :class:`EmbeddedServerError` for a server on another port,
        or one that does not start."""
        running = _read_running(self.data_dir)
        if running is None:
            started = _start(
                self.data_dir, start_timeout, port=self.port, attempts=1, in_memory=in_memory
            )
            self.process, self.pid = started.process, started.pid
            _write_state(self.data_dir, self)
        elif running.port == self.port:
            self.process, self.pid = None, running.pid
        else:
            raise EmbeddedServerError(
                f"the embedded store for {self.data_dir} runs on port {running.port} now, "
                f"not on {self.port}"
            )

    def stop(self) -> None:
        """Stop the server if this process owns it; a borrowed server is left to its owner."""
        if self.process is None:
            return
        with _locked(self.data_dir):
            state = _load_state(self.data_dir)
            if state and state.get("pid") == self.pid:
                (self.data_dir / _STATE_FILE).unlink(missing_ok=True)
            _terminate(self.process)
        self.process = None


# --- internals ------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise start/stop decisions between processes sharing one data directory."""
    with open(data_dir / _LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_state(data_dir: Path) -> dict[str, int] | None:
    try:
        state = json.loads((data_dir / _STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _write_state(data_dir: Path, server: EmbeddedServer) -> None:
    state = {
        "pid": server.pid,
        "port": server.port,
        "started_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    tmp = data_dir / (_STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(data_dir / _STATE_FILE)


def _read_running(data_dir: Path) -> EmbeddedServer | None:
    state = _load_state(data_dir)
    if not state:
        return None
    pid, port = int(state.get("pid", 0)), int(state.get("port", 0))
    server = EmbeddedServer(data_dir=data_dir, port=port, pid=pid)
    if pid > 0 and _is_our_server(pid) and _answers_ping(server.uri, timeout_ms=1000):
        return server
    (data_dir / _STATE_FILE).unlink(missing_ok=True)  # stale: its process is gone
    return None


def _is_our_server(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # guard against a recycled pid on Linux
        return _LAUNCHER.encode() in cmdline.read_bytes()
    return True


def _answers_ping(uri: str, timeout_ms: int) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(
    data_dir: Path,
    start_timeout: float,
    *,
    port: int | None = None,
    attempts: int = _START_ATTEMPTS,
    in_memory: bool = False,
) -> EmbeddedServer:
    log_path = data_dir / _LOG_FILE
    last_error = ""
    wanted = port
    for _ in range(attempts):  # another program may take the free port before we bind it
        port = wanted or _free_port()
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    _LAUNCHER,
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir / _DB_DIR),
                    "--log-file",
                    str(log_path),
                    *(["--in-memory"] if in_memory else []),
                ],
                stdin=subprocess.PIPE,  # held open for the child's lifetime; see _launcher
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
            )
        server = EmbeddedServer(data_dir, port, process.pid, process, in_memory)
        deadline = time.monotonic() + start_timeout
        while (remaining := deadline - time.monotonic()) > 0 and process.poll() is None:
            if _answers_ping(server.uri, timeout_ms=max(1, int(min(remaining, 0.25) * 1000))):
                return server
            time.sleep(0.05)
        last_error = (
            f"exited with status {process.returncode}"
            if process.poll() is not None
            else f"did not answer ping within {start_timeout:g}s"
        )
        _terminate(process)
    raise EmbeddedServerError(
        f"the embedded MongoDB server for {data_dir} {last_error}. "
        f"Last lines of {log_path}:\n{_tail(log_path)}"
    )


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()  # the child's cue to stop
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"
