"""Requests written byte by byte at a served process: what its HTTP layer refuses before any
route reads them."""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import HTTP, Server, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("raw") / "data", demo=False) as served:
        yield served


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _answer(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _one_answer(sock: socket.socket) -> bytes:
    """One answer of a kept-alive connection: its head and the body its length says."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, body = received.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_headers_past_their_bound_are_refused_as_they_come(server: Server) -> None:
    """A header that never ends is refused once the head passes its bound: it is not
    buffered whole (each megabyte of it was a megabyte more of the process)."""
    before = _rss_kib(server.process.pid)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except OSError:  # closed after the answer: what the server read is dropped
            pass
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"error":"RequestHeaderFieldsTooLarge"' in answer.replace(b" ", b"")
    assert _rss_kib(server.process.pid) - before < 16 * 1024
    assert HTTP.get(f"{server.base}/health").status_code == 200


def test_many_headers_past_the_bound_are_refused(server: Server) -> None:
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(5000))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with contextlib.suppress(OSError):  # closed after the answer
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 431 ")


def test_ordinary_heads_and_bodies_of_keep_alive_requests_pass(server: Server) -> None:
    """Headers of a few KiB, and request after request on one connection whose bodies together
    are far past the bound: only each head counts."""
    cookie = "c=" + "x" * 8000
    assert HTTP.get(f"{server.base}/health", headers={"Cookie": cookie}).status_code == 200
    body = b'{"query": "{ __typename }", "x": "' + b"y" * 200_000 + b'"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body
            )
            answer = _one_answer(sock)
            assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(
        tmp_path_factory.mktemp("impatient") / "data",
        demo=False,
        env={"C360_HTTP_HEAD_TIMEOUT_S": "1.5"},
    ) as served:
        yield served


def test_a_connection_that_says_nothing_is_closed(impatient: Server) -> None:
    """Connections opened and left silent held a file descriptor each for ever: enough of them,
    and no key needed, left none for the next client."""
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=10) as sock:
        started = time.monotonic()
        assert _answer(sock) == b""
        assert 1.0 < time.monotonic() - started < 8


def test_a_head_sent_a_byte_at_a_time_is_408(impatient: Server) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):
            for _ in range(16):  # a byte every half second, past the bound
                sock.sendall(b"X")
                time.sleep(0.5)
        assert _answer(sock).startswith(b"HTTP/1.1 408 ")


def test_a_slow_answer_is_not_cut_short_nor_the_next_request(impatient: Server) -> None:
    """The clock is the head's: a request whose headers came in time is answered however long
    its body takes to arrive, and a kept-alive connection's next request has a clock of its own."""
    body = b'{"query": "{ __typename }"}'
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            time.sleep(2)
            sock.sendall(body)
            assert _one_answer(sock).startswith(b"HTTP/1.1 401 ")
            time.sleep(1)


def test_a_stop_waits_for_a_request_under_way_only_so_long(tmp_path: Path) -> None:
    """A client sending its body slowly kept ``c360 serve`` from stopping: SIGTERM waited for
    the request for ever. It waits ``C360_SHUTDOWN_TIMEOUT_S``."""
    with serving(tmp_path / "data", env={"C360_SHUTDOWN_TIMEOUT_S": "1"}) as served:
        key = served.demo_keys["connector"]
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(
                b"POST /ingest/canonical HTTP/1.1\r\nHost: x\r\n"
                b"Authorization: Bearer " + key.encode() + b"\r\n"
                b"Content-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n{"
            )
            time.sleep(0.5)  # the route is reading the body
            served.process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = served.process.wait(timeout=20)
            took = time.monotonic() - started

        assert code in (0, -signal.SIGTERM)  # uvicorn raises the signal again once stopped
        assert took < 10, f"stopped after {took:.1f} s"
