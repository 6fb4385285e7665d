"""The HTTP/1.1 protocol ``c360 serve`` speaks: uvicorn's C parser, with the request's head
bounded in size and in time.

httptools buffers a request line and headers until they end, however long that takes: one
connection sending a header that never ends grew the process by each megabyte it sent, and a
few of them took it past its memory. Here the bytes of a head are counted as they arrive; past
:data:`MAX_HEAD_BYTES` the request is answered ``431`` and the connection closed, before the
parser holds more. Bodies are not counted: their bounds are the routes' own (``413``).

Nor did uvicorn close a connection that sent nothing, or a head a byte now and then: each held
a file descriptor for ever, and enough of them (no key needed) left none for the next client
or the store. A head not whole within ``C360_HTTP_HEAD_TIMEOUT_S`` of its first byte (of the
connection, for its first request) is answered ``408`` and the connection closed; one that
sent nothing is closed. Between requests, uvicorn's keep-alive timeout closes an idle one.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
"""The request line and headers of one request, in bytes: eight times the 8 KiB of a header
line most proxies take, so no request a proxy passes is refused here."""


LINGER_S = 1.0
"""How long a refused connection's further bytes are read and dropped before it is closed."""


def _answer(status: bytes, error: str, detail: str) -> bytes:
    body = json.dumps({"error": error, "detail": detail}).encode()
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


REFUSAL = _answer(
    b"431 Request Header Fields Too Large",
    "RequestHeaderFieldsTooLarge",
    f"the request line and headers exceed {MAX_HEAD_BYTES:,} bytes",
)
TIMED_OUT = _answer(
    b"408 Request Timeout", "RequestTimeout", "the request line and headers took too long"
)


class BoundedHeadHttpProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that refuses a head (request line and headers) longer than
    :data:`MAX_HEAD_BYTES`.

    A connection is reading a head from its start and from the end of each request's body (the
    next request's head, on a kept-alive connection) until the parser has every header. What
    arrives meanwhile is counted before the parser sees it, so the parser never holds more
    than the bound.
    """

    head_timeout_s = 30.0
    _in_head = True
    _head_bytes = 0
    _refused = False
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(  # type: ignore[override]  # uvicorn's own narrows it so
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def _start_head_clock(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _stop_head_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self._refused or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # The next request's head, pipelined while this one is answered: its clock
            # starts again; the answer is not cut short.
            self._start_head_clock()
            return
        self._refused = True
        if self._head_bytes:
            self.transport.write(TIMED_OUT)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_head and data:
            self._start_head_clock()
        # A read may hold the end of a head and a body after it: the parser is given no more
        # than the head's room at a time while it reads a head, and the rest once it is done.
        while self._in_head and data and not self._refused:
            room = MAX_HEAD_BYTES - self._head_bytes
            if room <= 0:
                self._refused = True
                self.logger.warning("a request's head passed %s bytes: refused", MAX_HEAD_BYTES)
                self._refuse()
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if data and not self._refused:
            super().data_received(data)

    def _refuse(self) -> None:
        """Answer ``431`` and close, as a lingering close does: what the client is still
        sending is read and dropped for a moment first, since closing a socket with unread
        bytes resets the connection, and a reset can discard the answer before the client
        reads it."""
        self.transport.write(REFUSAL)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)

    def on_headers_complete(self) -> None:
        self._stop_head_clock()
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()


def bounded_http_protocol(head_timeout_s: float) -> type[BoundedHeadHttpProtocol]:
    """:class:`BoundedHeadHttpProtocol` with its heads' time bound, for uvicorn's ``http``."""
    return type(
        "BoundedHeadHttpProtocol", (BoundedHeadHttpProtocol,), {"head_timeout_s": head_timeout_s}
    )
