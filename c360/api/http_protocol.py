"""The HTTP/1.1 protocol ``c360 serve`` speaks: uvicorn's C parser, with the request's head
bounded.

httptools buffers a request line and headers until they end, however long that takes: one
connection sending a header that never ends grew the process by each megabyte it sent, and a
few of them took it past its memory. Here the bytes of a head are counted as they arrive; past
:data:`MAX_HEAD_BYTES` the request is answered ``431`` and the connection closed, before the
parser holds more. Bodies are not counted: their bounds are the routes' own (``413``).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
"""The request line and headers of one request, in bytes: eight times the 8 KiB of a header
line most proxies take, so no request a proxy passes is refused here."""


LINGER_S = 1.0
"""How long a refused connection's further bytes are read and dropped before it is closed."""


def _refusal() -> bytes:
    body = json.dumps(
        {
            "error": "RequestHeaderFieldsTooLarge",
            "detail": f"the request line and headers exceed {MAX_HEAD_BYTES:,} bytes",
        }
    ).encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


REFUSAL = _refusal()


class BoundedHeadHttpProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that refuses a head (request line and headers) longer than
    :data:`MAX_HEAD_BYTES`.

    A connection is reading a head from its start and from the end of each request's body (the
    next request's head, on a kept-alive connection) until the parser has every header. What
    arrives meanwhile is counted before the parser sees it, so the parser never holds more
    than the bound.
    """

    _in_head = True
    _head_bytes = 0
    _refused = False

    def data_received(self, data: bytes) -> None:
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
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()
