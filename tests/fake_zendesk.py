"""A local stand-in for Zendesk's Incremental Ticket Export API, served over real HTTP.

Zendesk is outside our reach in tests; this server speaks the same protocol on loopback:
pages keyed by cursor (``None`` for the first request, made with ``start_time``), optional
scripted failures per cursor (429 with ``Retry-After``, 5xx), and a log of requests.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"


@dataclass
class FakeZendesk:
    pages: dict[str | None, dict[str, Any]]
    failures: dict[str | None, list[int]] = field(default_factory=dict)
    credentials: tuple[str, str] = ("agent@example.com/token", "secret-token")
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def respond(
        self, path: str, query: dict[str, list[str]], auth: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        cursor = query.get("cursor", [None])[0]
        self.requests.append({"path": path, "cursor": cursor, "query": query})
        expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        if auth != expected:
            return 401, {}, b'{"error": "Couldn\'t authenticate you"}'
        if path != EXPORT_PATH:
            return 404, {}, b'{"error": "InvalidEndpoint"}'
        scripted = self.failures.get(cursor)
        if scripted:
            status = scripted.pop(0)
            headers = {"Retry-After": "0"} if status == 429 else {}
            return status, headers, b'{"error": "scripted failure"}'
        if cursor not in self.pages:
            return 400, {}, b'{"error": "InvalidCursor"}'
        return 200, {"Content-Type": "application/json"}, json.dumps(self.pages[cursor]).encode()


@contextmanager
def serve(fake: FakeZendesk) -> Iterator[FakeZendesk]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            status, headers, body = fake.respond(
                url.path, parse_qs(url.query), self.headers.get("Authorization")
            )
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def ticket(
    ticket_id: int,
    requester_id: int,
    *,
    updated_at: str,
    status: str = "open",
    channel: str = "email",
    subject: str = "Help",
) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "created_at": "2024-03-01T09:00:00Z",
        "updated_at": updated_at,
        "subject": subject,
        "description": f"{subject} — details",
        "status": status,
        "priority": "normal",
        "type": "question",
        "via": {"channel": channel},
        "requester_id": requester_id,
        "tags": [],
        "satisfaction_rating": None,
    }


def user(user_id: int, email: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": f"Customer {user_id}",
        "email": email,
        "phone": None,
        "role": "end-user",
        "created_at": "2023-01-01T00:00:00Z",
        "updated_at": "2023-01-01T00:00:00Z",
    }


def export_pages(count: int, per_page: int = 3) -> dict[str | None, dict[str, Any]]:
    """``count`` pages of ``per_page`` tickets, chained by cursor, the last one ending the stream.

    The last page also carries a newer revision of the first ticket, as the export does when a
    ticket changes again.
    """
    pages: dict[str | None, dict[str, Any]] = {}
    cursor: str | None = None
    for number in range(count):
        tickets = [
            ticket(
                100 + number * per_page + i, 900 + i, updated_at=f"2024-03-0{number + 2}T10:00:00Z"
            )
            for i in range(per_page)
        ]
        if number == count - 1:
            tickets.append(ticket(100, 900, updated_at="2024-03-09T10:00:00Z", status="solved"))
        after = f"cursor-{number + 1}"
        pages[cursor] = {
            "tickets": tickets,
            "users": [user(900 + i, f"customer{i}@example.com") for i in range(per_page)],
            "after_cursor": after,
            "before_cursor": cursor,
            "end_of_stream": number == count - 1,
        }
        cursor = after
    pages[cursor] = {"tickets": [], "users": [], "after_cursor": cursor, "end_of_stream": True}
    return pages
