"""Property: whatever a client sends to /graphql, /ingest/{connector}, the webhooks or the link
endpoints — generated garbage of every kind (``tests/garbage.py``) — the answer is never a 5xx,
and the server answers normally afterwards.

Examples are derandomised (the same ones every run, so CI does not flake on a new find); run
``pytest tests/api/test_garbage_requests.py --hypothesis-profile=explore`` to search further.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr

from c360.auth.service import Role
from c360.contact.types import Actor
from c360.services import Services
from c360.settings import Settings
from schemas import IdentifierType
from schemas.records import ChangeOrigin
from tests import factories as f
from tests import garbage as g
from tests.helpers import imported

SHOPIFY_SECRET = "shpss_garbage"
ZENDESK_SECRET = "zendesk-garbage"
EMAIL = "ana@example.com"

# The app, its keys and links are made once per test and shared by its examples: that the
# server stays healthy across all of them is part of what is tested.
fuzz = hypothesis_settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Keys:
    agent: bytes
    admin: bytes
    connector: bytes

    def authorization(self, who: str) -> list[tuple[bytes, bytes]]:
        if who == "none":
            return []
        key = getattr(self, who, None)
        return [(b"authorization", key if key is not None else who.encode())]


@dataclass(frozen=True)
class Links:
    unsubscribe: str
    confirm: str


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Both webhooks on; bodies bounded lower, so large garbage is refused early too."""
    return settings.model_copy(
        update={
            "shopify_webhook_secret": SecretStr(SHOPIFY_SECRET),
            "zendesk_webhook_secret": SecretStr(ZENDESK_SECRET),
            "graphql_max_body_bytes": 256 * 1024,
            "ingest_max_body_bytes": 256 * 1024,
        }
    )


@pytest.fixture
async def keys(services: Services) -> Keys:
    async def key(role: Role) -> bytes:
        return (await f.api_key(services, role))["authorization"].encode()

    return Keys(await key(Role.AGENT), await key(Role.ADMIN), await key(Role.CONNECTOR))


@pytest.fixture
async def links(services: Services, app: FastAPI, keys: Keys) -> Links:
    """A working unsubscribe link and a pending confirmation link of a real profile."""
    body = "\n".join(json.dumps(r) for r in (f.person(identifiers=[f.email(EMAIL)]), f.order()))
    stored = await g.call(
        app,
        "POST",
        b"/ingest/canonical",
        headers=[(b"authorization", keys.connector), (b"content-type", b"application/x-ndjson")],
        body=body.encode(),
    )
    assert stored.status == 200, stored.body
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, EMAIL)
    now = dt.datetime.now(dt.UTC)
    optin = f.consent_change("opted_in", now.isoformat(), external_id="o1", email_address=EMAIL)
    await imported(services, [optin])
    decision = await services.contact.decide(profile.id, "email", "marketing", now)
    unsubscribe = services.contact.unsubscribe_url(decision)
    pending = await services.contact.record_consent(
        profile.id, "email", "surveys", "opted_in", EMAIL, Actor(ChangeOrigin.AGENT, "t"), now
    )
    assert unsubscribe is not None
    assert pending.confirmation_url is not None
    return Links(unsubscribe.rsplit("/", 1)[1], pending.confirmation_url.rsplit("/", 1)[1])


@pytest.fixture
async def healthy_afterwards(app: FastAPI, keys: Keys) -> AsyncIterator[None]:
    """After every example: /health answers ok, a GraphQL query and an import work."""
    yield
    health = await g.call(app, "GET", b"/health")
    assert health.status == 200, health.body
    assert json.loads(health.body)["store"]["reachable"] is True
    query = await g.call(
        app,
        "POST",
        b"/graphql",
        headers=[(b"authorization", keys.agent), (b"content-type", b"application/json")],
        body=b'{"query": "{ __typename }"}',
    )
    assert json.loads(query.body) == {"data": {"__typename": "Query"}}
    record = json.dumps(f.order(external_id="after-the-garbage")).encode()
    stored = await g.call(
        app,
        "POST",
        b"/ingest/canonical",
        headers=[(b"authorization", keys.connector), (b"content-type", b"application/json")],
        body=record,
    )
    assert json.loads(stored.body)["rejected"] == 0, stored.body


def no_server_error(request: g.Request, answer: g.Answer) -> None:
    event(f"{request.method} {answer.status}")  # --hypothesis-show-statistics shows the mix
    assert answer.status < 500, (request, answer)
    if answer.status in (405,):
        assert answer.header("allow"), answer


garbage_keys = g.mostly(
    st.sampled_from(["agent", "admin"]),
    st.one_of(
        st.sampled_from(["connector", "none", "Bearer c360_x_y", "Bearer", "Basic YTpi"]),
        g.header_values.map(lambda v: v.decode("latin-1")),
    ),
)


@pytest.mark.usefixtures("healthy_afterwards")
class TestNoServerErrors:
    @fuzz
    @given(
        request=g.requests(
            st.just(b"/graphql"),
            g.graphql_bodies,
            methods=("POST", "GET", "GET", "PUT", "DELETE", "HEAD", "OPTIONS"),
            queries=st.one_of(st.just(b""), g.query_strings()),
        ),
        who=garbage_keys,
    )
    async def test_graphql(self, app: FastAPI, keys: Keys, request: g.Request, who: str) -> None:
        request = request.with_headers(*keys.authorization(who))
        no_server_error(request, await request.send(app))

    @fuzz
    @given(
        request=g.ingest_requests(),
        who=g.mostly(st.sampled_from(["connector", "admin"]), st.sampled_from(["agent", "none"])),
    )
    async def test_ingest(self, app: FastAPI, keys: Keys, request: g.Request, who: str) -> None:
        request = request.with_headers(*keys.authorization(who))
        no_server_error(request, await request.send(app))

    @fuzz
    @given(
        request=g.requests(st.just(b"/webhooks/shopify"), st.one_of(g.vendor_bodies, g.bodies)),
        topic=st.one_of(
            st.sampled_from(
                [
                    "orders/create",
                    "orders/updated",
                    "orders/edited",
                    "orders/delete",
                    "refunds/create",
                    "customers/create",
                    "orders",
                    "/",
                ]
            ),
            g.header_values.map(lambda v: v.decode("latin-1")),
        ),
        signature=st.one_of(st.just("valid"), st.none(), g.header_values),
    )
    async def test_shopify_webhook(
        self, app: FastAPI, request: g.Request, topic: str, signature: bytes | str | None
    ) -> None:
        headers = [(b"x-shopify-topic", topic.encode("latin-1", "replace"))]
        if signature == "valid":
            signature = _sign(SHOPIFY_SECRET, request.body).encode()
        if isinstance(signature, bytes):
            headers.append((b"x-shopify-hmac-sha256", signature))
        request = request.with_headers(*headers)
        no_server_error(request, await request.send(app))

    @fuzz
    @given(
        request=g.requests(st.just(b"/webhooks/zendesk"), st.one_of(g.vendor_bodies, g.bodies)),
        timestamp=st.one_of(
            st.just("now"),
            st.sampled_from(
                [
                    "0001-01-01T00:00:00+01:00",
                    "9999-12-31T23:59:59-14:00",
                    "2024-01-01",
                    "1709290961",
                    "NaN",
                    "",
                    "9" * 500,
                    "2024-13-45T99:99:99Z",
                ]
            ),
            g.texts,
        ),
        signature=st.one_of(st.just("valid"), st.none(), g.header_values),
    )
    async def test_zendesk_webhook(
        self,
        app: FastAPI,
        request: g.Request,
        timestamp: str,
        signature: bytes | str | None,
    ) -> None:
        if timestamp == "now":
            timestamp = dt.datetime.now(dt.UTC).isoformat()
        stamp = g.encoded(timestamp.replace("\r", "").replace("\n", ""))
        headers = [(b"x-zendesk-webhook-signature-timestamp", stamp)]
        if signature == "valid":
            # What Zendesk signs: the timestamp as the header carries it, then the body.
            signature = _sign(ZENDESK_SECRET, stamp.decode("latin-1").encode() + request.body)
            signature = signature.encode()
        if isinstance(signature, bytes):
            headers.append((b"x-zendesk-webhook-signature", signature))
        request = request.with_headers(*headers)
        no_server_error(request, await request.send(app))

    @fuzz
    @given(
        request=g.requests(
            st.one_of(
                g.path_segments("/unsubscribe/", ["LINK", "LINK~", "", "."]),
                g.path_segments("/consent/confirm/", ["CONFIRM", "CONFIRM!", "x" * 5000]),
            ),
            st.one_of(st.just(b"List-Unsubscribe=One-Click"), g.bodies),
            methods=("POST", "GET", "GET", "HEAD", "PUT"),
            media=(b"application/x-www-form-urlencoded",),
        ),
        form=st.one_of(st.none(), g.multipart()),
    )
    async def test_links(
        self,
        app: FastAPI,
        links: Links,
        request: g.Request,
        form: tuple[bytes, bytes] | None,
    ) -> None:
        path = request.raw_path.replace(b"LINK", links.unsubscribe.encode())
        request = request.at(path.replace(b"CONFIRM", links.confirm.encode()))
        if form is not None:
            request = request.with_body(*form)
        no_server_error(request, await request.send(app))


def _sign(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
