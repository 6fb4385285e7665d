"""What a careless or hostile client sends, as hypothesis strategies, and a raw ASGI caller that
passes it on untouched (an HTTP client would refuse or repair much of it before sending).

Bodies: random bytes; JSON-like text with broken syntax, huge numbers, ``NaN``, lone
surrogates (escaped, or raw as invalid UTF-8), deep nesting; GraphQL requests with real,
broken and random documents and variables; vendors' real payloads with values swapped for
garbage; CSV with the connectors' own columns and garbage cells. Headers: wrong content types
and charsets, odd content lengths, bytes no header should hold, broken keys and signatures.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import dataclasses
import io
import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import FastAPI
from hypothesis import strategies as st

from connectors import CONNECTORS
from tests import factories as f
from tests.hostile import fan_out, nested

Headers = list[tuple[bytes, bytes]]
FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.decode("latin-1").lower() == name:
                return value.decode("latin-1")
        return None


async def call(
    app: FastAPI,
    method: str,
    raw_path: bytes,
    *,
    query: bytes = b"",
    headers: Headers = (),  # type: ignore[assignment]  # an immutable default, never mutated
    body: bytes = b"",
    chunks: int = 1,
) -> Answer:
    """One request through the app's ASGI interface, exactly as given. The path is
    percent-decoded the way uvicorn does it; the body arrives in ``chunks`` pieces. An
    exception escaping the app (a 500) propagates to the caller."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii", "replace")),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": [(k.lower(), v) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("c360.test", 80),
    }
    size = max(1, -(-len(body) // max(chunks, 1)))
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    done = asyncio.Event()
    status: list[int] = []
    answer_headers: Headers = []
    answer: list[bytes] = []

    async def receive() -> MutableMapping[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        await done.wait()  # the client stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            answer_headers.extend(message.get("headers", []))
        elif message["type"] == "http.response.body":
            answer.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    assert status, "the app answered nothing"
    return Answer(status[0], answer_headers, b"".join(answer))


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` three times in four, else ``odd``: garbage that still gets past the door.
    (Hypothesis favours small numbers, so the odd one is the largest.)"""
    return st.integers(min_value=0, max_value=3).flatmap(lambda n: odd if n == 3 else usual)


# --- Text and JSON ------------------------------------------------------------------------

ODD_CHARACTERS = ["\ud800", "\udfff", "\x00", "\u2028", "²", "\ufeff", "\U0010ffff", "é", '"', "\\"]
texts = st.lists(st.one_of(st.characters(), st.sampled_from(ODD_CHARACTERS)), max_size=30).map(
    "".join
)
"""Text with lone surrogates, NULs, separators, Unicode digits, byte-order marks."""


def encoded(text: str, encoding: str = "utf-8") -> bytes:
    """``text`` as bytes even where it cannot be: lone surrogates become invalid UTF-8."""
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=4000, max_value=20_000).map(lambda n: "9" * n),  # past int()'s limit
    st.sampled_from(
        ["NaN", "Infinity", "-Infinity", "1e999", "-0", "1.5e-400", "01", "0x10", "1_000", "+1"]
    ),
)
STRINGS = st.one_of(
    texts.map(lambda t: json.dumps(t)),  # escaped: \ud800 stays a lone surrogate when parsed
    texts.map(lambda t: json.dumps(t, ensure_ascii=False)),  # raw: invalid UTF-8 once encoded
    st.sampled_from(['"\\x41"', '"\\u12"', '"unterminated', '"\\ud800\\u0041"', '"a\tb"']),
)
JSON_SCALARS = st.one_of(st.sampled_from(["null", "true", "false"]), NUMBERS, STRINGS)


def _containers(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    items = st.lists(inner, max_size=5)
    return st.one_of(
        items.map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(STRINGS, inner), max_size=5).map(
            lambda kvs: "{" + ",".join(f"{k}:{v}" for k, v in kvs) + "}"
        ),
    )


json_texts = st.recursive(JSON_SCALARS, _containers, max_leaves=25)
"""JSON text, valid or nearly so: every token a parser has to decide about."""


@st.composite
def broken(draw: st.DrawFn, text: str) -> str:
    """``text`` cut short, or with a character dropped, doubled or swapped for another."""
    if not text:
        return text
    at = draw(st.integers(min_value=0, max_value=len(text) - 1))
    how = draw(st.sampled_from(["cut", "drop", "double", "swap"]))
    if how == "cut":
        return text[:at]
    if how == "drop":
        return text[:at] + text[at + 1 :]
    if how == "double":
        return text[:at] + text[at] + text[at:]
    return text[:at] + draw(st.characters()) + text[at + 1 :]


def deep(depth: int, kind: str) -> str:
    """JSON nested ``depth`` levels: arrays, objects, or an array that never closes."""
    if kind == "objects":
        return '{"a":' * depth + "1" + "}" * depth
    if kind == "open":
        return "[" * depth
    return "[" * depth + "]" * depth


deep_json = st.builds(
    deep,
    st.integers(min_value=500, max_value=100_000),
    st.sampled_from(["arrays", "objects", "open"]),
)


# --- GraphQL ------------------------------------------------------------------------------

DOCUMENTS = [
    "{ __typename }",
    "query Q($id: ID!) { profile(id: $id) { __typename ... on Profile { id emails } } }",
    "query($v: String!) { profileByIdentifier(type: EMAIL, value: $v) { __typename } }",
    "query($t: String!, $n: Int, $a: String) { searchProfiles(text: $t, first: $n, after: $a) "
    "{ edges { cursor node { id } } } }",
    'query($a: String) { audience(channel: EMAIL, purpose: "marketing", after: $a) '
    "{ edges { node { profileId } } } }",
    'mutation { setDoNotContact(profileId: "x", active: true) { __typename } }',
    "{ apiKeys { id } }",
    "subscription { x }",
    "query A { a: __typename } query B { b: __typename }",
    "{ __schema { types { name fields { name } } } }",
    nested(40),
    fan_out(12),
]
documents = st.one_of(
    st.sampled_from(DOCUMENTS),
    st.sampled_from(DOCUMENTS).flatmap(broken),
    texts,
)
VARIABLE_NAMES = st.sampled_from(["id", "v", "t", "n", "a", "x"])


@st.composite
def graphql_requests(draw: st.DrawFn) -> str:
    """A GraphQL request body: some of query, variables, operationName, extensions, each a
    fitting or a random value."""
    fields: dict[str, str] = {}
    if draw(st.integers(min_value=0, max_value=9)):  # mostly there
        fields["query"] = draw(st.one_of(documents.map(json.dumps), JSON_SCALARS))
    if draw(st.booleans()):
        fields["variables"] = draw(
            st.one_of(
                st.dictionaries(VARIABLE_NAMES, json_texts, max_size=4).map(
                    lambda vs: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in vs.items()) + "}"
                ),
                json_texts,
            )
        )
    if draw(st.booleans()):
        fields["operationName"] = draw(
            st.one_of(st.sampled_from(['"Q"', '"A"', '""']), JSON_SCALARS)
        )
    if draw(st.booleans()):
        fields["extensions"] = draw(json_texts)
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}"


# --- Vendors' payloads and records, with values swapped for garbage -----------------------


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


EDGE_VALUES = [
    2**63 - 1,
    2**63,  # one past what BSON holds
    -(2**63) - 1,
    2**64,
    10**30,
    -1,
    0,
    float("nan"),
    float("inf"),
    -0.0,
    1e308,
    "",
    " ",
    "\x00",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    "2024-02-30T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "x" * 10_000,
    "$where",
    "a.b",
    {"\x00": 1},  # a key BSON cannot hold
    {"$set": 1},
    {"a.b": 1},
    {"": 1},
    _nested(150),  # deeper than MongoDB stores
    [],
    [None] * 100,
]
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),  # NaN and infinities: Python's json writes and reads them
        texts,
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)
garbage_values = st.one_of(st.sampled_from(EDGE_VALUES), JSON_VALUES).map(copy.deepcopy)
"""Fresh copies: a mutation must never change the shared edge values."""


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.extend(_paths(item, (*prefix, index)))
    return paths


@st.composite
def mutated(draw: st.DrawFn, document: Any, changes: int = 3) -> Any:
    """``document`` with one or a few of its values (at any depth) replaced by garbage or
    edge values, removed, or joined by a new key: the rest stays valid, so the garbage
    gets as far in as it can."""
    document = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(min_value=1, max_value=changes))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if how == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.one_of(st.sampled_from(["$x", "a.b", "\x00", ""]), texts))] = draw(
                garbage_values
            )
        else:
            parent[path[-1]] = draw(garbage_values)
    return document


def _dumps(value: Any) -> bytes:
    return encoded(json.dumps(value, ensure_ascii=False))


def _fixture(*parts: str) -> Any:
    return json.loads((FIXTURES.joinpath(*parts)).read_text(encoding="utf-8"))


SHOPIFY_ORDER = _fixture("shopify", "order_webhook.json")
SHOPIFY_REFUNDS = _fixture("shopify", "refunds.json")
SHOPIFY_CUSTOMER = _fixture("vendor", "shopify", "customer_update.json")
ZENDESK_PAGE = _fixture("zendesk", "page1.json")
SEGMENT_BATCH = _fixture("segment", "batch.json")
SITE_EVENT = f.site_event(properties={"sku": "S-1", "tags": ["a"], "nested": {"n": 1.5}})
RECORDS = [f.order(), f.person(), f.survey(), f.service_case(), SITE_EVENT]

vendor_bodies = st.one_of(
    mutated(SHOPIFY_ORDER).map(_dumps),
    mutated(SHOPIFY_REFUNDS).map(_dumps),
    mutated(ZENDESK_PAGE).map(_dumps),
    mutated(SEGMENT_BATCH).map(_dumps),
)
record_lines = st.lists(
    st.one_of(st.sampled_from(RECORDS).flatmap(mutated).map(_dumps), json_texts.map(encoded)),
    min_size=1,
    max_size=4,
).map(b"\n".join)
"""NDJSON of canonical records with fields swapped for garbage, and lines of JSON-like text."""

CELLS = st.one_of(
    texts,
    st.sampled_from(
        [
            "",
            "2024-05-01T10:00:00Z",
            "01/02/2024",
            "ana@example.com",
            "+34 600 12 34 56",
            "12,50",
            "-3",
            "9" * 5000,
            "99999999999999999999.99",
            "1e400",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00",
            "31/12/9999 23:59",
            "NaN",
            "inf",
            "\x00",
            "EUR",
            "yes",
            '"quoted, with comma"',
            '"unterminated',
        ]
    ),
)


@st.composite
def csv_bodies(draw: st.DrawFn, columns: tuple[str, ...]) -> bytes:
    """A CSV of some of ``columns`` (and odd ones), rows of garbage cells, maybe a BOM and
    another delimiter or line ending."""
    header = draw(
        st.lists(st.one_of(st.sampled_from(columns or ("a",)), texts), min_size=1, max_size=8)
    )
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 2), max_size=5))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(delimiter.join(row) for row in [header, *rows])
    bom = "\ufeff" if draw(st.booleans()) else ""
    return encoded(bom + text, draw(st.sampled_from(["utf-8", "latin-1", "utf-16"])))


@st.composite
def csv_mutated(draw: st.DrawFn, text: str) -> bytes:
    """A real CSV export with one to three cells (the header's too) swapped for garbage."""
    rows = list(csv.reader(io.StringIO(text)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        row = draw(st.integers(min_value=0, max_value=len(rows) - 1))
        if rows[row]:
            column = draw(st.integers(min_value=0, max_value=len(rows[row]) - 1))
            rows[row][column] = draw(CELLS)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return encoded(out.getvalue())


POS_CSV = (
    "order_id,ordered_at,store_id,sku,title,quantity,unit_price,currency,email,phone\n"
    "A-1,2024-05-01T10:00:00Z,S1,SKU-1,Shoe,2,12.50,EUR,ana@example.com,+34600123456\n"
    "A-1,2024-05-01T10:00:00Z,S1,SKU-2,Sock,1,3.00,EUR,ana@example.com,+34600123456\n"
    "A-2,2024-05-02T10:00:00Z,S1,SKU-1,Shoe,1,12.50,EUR,,+34600123457\n"
)
CSV_EXPORTS = {
    "pos-csv": POS_CSV,
    "returns-csv": (FIXTURES / "csv" / "returns.csv").read_text(encoding="utf-8"),
    "service-csv": (FIXTURES / "csv" / "service_log.csv").read_text(encoding="utf-8"),
    "customers-csv": (FIXTURES / "csv" / "crm_customers.csv").read_text(encoding="utf-8-sig"),
    "surveys-csv": (FIXTURES / "csv" / "surveys_messy.csv").read_text(encoding="utf-8"),
    "consent-csv": (FIXTURES / "csv" / "consent_changes.csv").read_text(encoding="utf-8"),
    "contact-points-csv": (FIXTURES / "csv" / "bounces.csv").read_text(encoding="utf-8"),
}
SEGMENT_EVENTS = [
    json.loads(line)
    for line in (FIXTURES / "segment" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
JSON_DOCUMENTS = {
    "canonical": RECORDS,
    "segment": [SEGMENT_BATCH, *SEGMENT_EVENTS],
    "shopify-orders": [SHOPIFY_ORDER],
    "shopify-refunds": [SHOPIFY_REFUNDS],
    "shopify-customers": [SHOPIFY_CUSTOMER],
    "zendesk-tickets": [ZENDESK_PAGE],
}


def ingest_bodies(connector: str) -> st.SearchStrategy[bytes]:
    """What a source of ``connector``'s format sends, with a value or a few swapped for
    garbage (mostly), or anything at all."""
    if connector in CSV_EXPORTS:
        usual = csv_mutated(CSV_EXPORTS[connector])
        odd = csv_bodies(_columns(connector))
    else:
        one = st.sampled_from(JSON_DOCUMENTS[connector]).flatmap(mutated).map(_dumps)
        usual = st.lists(one, min_size=1, max_size=3).map(b"\n".join)
        odd = st.one_of(record_lines, vendor_bodies)
    return mostly(usual, st.one_of(odd, bodies))


def _columns(connector: str) -> tuple[str, ...]:
    spec = getattr(CONNECTORS[connector], "spec", None)
    return tuple(spec.fields) if spec is not None else ()


@st.composite
def multipart(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A multipart form (content type, body) with garbage parts, names and boundaries."""
    boundary = draw(st.one_of(st.just("b0undary"), texts))
    parts = draw(
        st.lists(
            st.tuples(
                st.one_of(st.just("List-Unsubscribe"), texts),
                st.one_of(st.just("One-Click"), texts),
                st.sampled_from(["", "Content-Transfer-Encoding: base64\r\n", "X: \xff\r\n"]),
            ),
            max_size=3,
        )
    )
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n{extra}\r\n{value}\r\n'
        for name, value, extra in parts
    )
    if draw(st.booleans()):
        body += f"--{boundary}--\r\n"
    content_type = f"multipart/form-data; boundary={boundary}"
    return encoded(content_type, "latin-1"), encoded(body)


# --- Whole bodies and headers -------------------------------------------------------------

bodies = st.one_of(
    st.binary(max_size=512),
    json_texts.map(encoded),
    json_texts.flatmap(broken).map(encoded),
    deep_json.map(encoded),
)
graphql_bodies = st.one_of(
    graphql_requests().map(encoded),
    graphql_requests().flatmap(broken).map(encoded),
    bodies,
)

MEDIA_TYPES = [
    "application/json",
    "application/x-ndjson",
    "text/csv",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=b",
    "application/octet-stream",
    "*/*",
    "",
]
CHARSETS = [
    "",
    "; charset=utf-8",
    "; charset=UTF8",
    "; charset=latin-1",
    "; charset=utf-16",
    '; charset="utf-8"',
    "; charset=",
    "; charset=é",
    ";;;",
    "; q=0",
]
header_values = st.one_of(
    texts.map(lambda t: encoded(t.replace("\r", "").replace("\n", ""))),
    st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b),
)
"""Header values with bytes no header should hold (Starlette reads them as Latin-1)."""
content_types = st.one_of(
    st.tuples(st.sampled_from(MEDIA_TYPES), st.sampled_from(CHARSETS)).map(
        lambda mc: (mc[0] + mc[1]).encode()
    ),
    header_values,
)
accepts = st.one_of(
    st.sampled_from(
        [
            b"*/*",
            b"application/json",
            b"application/graphql-response+json",
            b"text/html",
            b"application/json;q=0",
            b"application/*;q=abc",
            b"",
            b",,,",
        ]
    ),
    header_values,
)
content_lengths = st.one_of(
    st.sampled_from([b"0", b"-1", b"abc", b"\xb2", "²".encode(), "٣".encode(), b"99999999999"]),
    st.integers(min_value=0, max_value=2**64).map(lambda n: str(n).encode()),
)
ODD_NAMES = [
    b"x-forwarded-for",
    b"cookie",
    b"sec-gpc",
    b"user-agent",
    b"transfer-encoding",
    b"content-encoding",
    b"expect",
    b"origin",
    b"x-request-id",
    b"host",
    b"referer",
]
odd_headers = st.lists(st.tuples(st.sampled_from(ODD_NAMES), header_values), max_size=4)


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: bytes
    query: bytes
    headers: Headers
    body: bytes
    chunks: int

    def with_headers(self, *headers: tuple[bytes, bytes]) -> Request:
        return dataclasses.replace(self, headers=[*self.headers, *headers])

    def with_body(self, content_type: bytes, body: bytes) -> Request:
        """Another body and its content type (and length), the other headers kept."""
        kept = [(k, v) for k, v in self.headers if k not in (b"content-type", b"content-length")]
        headers = [*kept, (b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        return dataclasses.replace(self, headers=headers, body=body)

    def at(self, raw_path: bytes) -> Request:
        return dataclasses.replace(self, raw_path=raw_path)

    async def send(self, app: FastAPI) -> Answer:
        return await call(
            app,
            self.method,
            self.raw_path,
            query=self.query,
            headers=self.headers,
            body=self.body,
            chunks=self.chunks,
        )


@st.composite
def requests(
    draw: st.DrawFn,
    paths: st.SearchStrategy[bytes],
    body: st.SearchStrategy[bytes],
    *,
    methods: tuple[str, ...] = ("POST",),
    queries: st.SearchStrategy[bytes] | None = None,
    media: tuple[bytes, ...] = (b"application/json",),
) -> Request:
    """A request to one of ``paths``: its body, a content type (mostly one of ``media``, so
    that the body gets read), maybe an ``Accept``, a wrong ``Content-Length`` and odd
    headers; the method mostly the first of ``methods``."""
    content = draw(body)
    headers: Headers = [(b"content-type", draw(mostly(st.sampled_from(media), content_types)))]
    if draw(mostly(st.just(False), st.just(True))):
        headers.append((b"accept", draw(accepts)))
    length = str(len(content)).encode()
    if draw(mostly(st.just(False), st.just(True))):
        length = draw(content_lengths)
    headers.append((b"content-length", length))
    headers.extend(draw(odd_headers))
    method = draw(mostly(st.just(methods[0]), st.sampled_from(methods)))
    return Request(
        method=method,
        raw_path=draw(paths),
        query=draw(queries) if queries is not None else b"",
        headers=headers,
        body=content,
        chunks=draw(st.integers(min_value=1, max_value=4)),
    )


def path_segments(prefix: str, known: list[str]) -> st.SearchStrategy[bytes]:
    """``prefix`` and a segment: a known one or garbage, percent-encoded as a client would."""
    segment = mostly(st.sampled_from(known or ["x"]), texts)
    return segment.map(lambda s: (prefix + quote(encoded(s), safe="")).encode("ascii"))


@st.composite
def query_strings(draw: st.DrawFn) -> bytes:
    """A GraphQL GET query string: query, variables and operationName, fitting or garbage,
    percent-encoded or raw."""
    pairs = []
    if draw(st.integers(min_value=0, max_value=9)):  # mostly there
        pairs.append(("query", draw(documents)))
    if draw(st.booleans()):
        pairs.append(("variables", draw(st.one_of(json_texts, deep_json, texts))))
    if draw(st.booleans()):
        pairs.append(("operationName", draw(st.one_of(st.sampled_from(["Q", "A", ""]), texts))))
    pairs.extend(draw(st.lists(st.tuples(texts, texts), max_size=2)))
    raw = draw(st.booleans())
    parts = []
    for key, value in pairs:
        if raw:
            parts.append(encoded(key) + b"=" + encoded(value))
        else:
            parts.append(f"{quote(encoded(key))}={quote(encoded(value))}".encode())
    return b"&".join(parts)


@st.composite
def ingest_requests(draw: st.DrawFn) -> Request:
    """A push to ``/ingest/{connector}`` (mostly a real connector) of that connector's
    format with garbage in it, or of anything."""
    connector = draw(st.sampled_from(sorted(CONNECTORS)))
    path = mostly(st.just(f"/ingest/{connector}".encode()), path_segments("/ingest/", []))
    media = tuple(kind.encode() for kind in CONNECTORS[connector].media_types)
    methods = ("POST", "GET", "PUT")
    return draw(requests(path, ingest_bodies(connector), methods=methods, media=media))
