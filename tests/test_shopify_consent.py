"""A shop's population whose marketing consent changes reach c360 out of order, through files,
pushes and webhooks, inside orders, as customers and as consent updates: every marketing e-mail
decision must agree with each customer's latest word in Shopify, and no audience may hold a
customer whose latest word is no.

The expected value is built here from the rule as the issue states it, from the raw Shopify
bodies and independently of the connector: a customer's ``email_marketing_consent`` is their
current state, timed by ``consent_updated_at`` (only ``subscribed`` is a yes; a state without a
time says nothing); where the customer carries no such field, the older ``accepts_marketing``
with its ``accepts_marketing_updated_at``; where the customer carries neither, a ticked
``buyer_accepts_marketing`` is a yes when the order was processed. The latest timed word wins,
whatever order the bodies arrive in; with none, marketing needs an opt-in it does not have.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from c360.auth.service import Role
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from schemas import IdentifierType
from tests.factories import api_key as key
from tests.helpers import gql, parse_options

SECRET = "shpss_population_secret"
STATES = ("subscribed", "not_subscribed", "unsubscribed", "pending", "redacted", "invalid")
OPT_IN_LEVELS = ("single_opt_in", "confirmed_opt_in", "unknown", None)
START = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
SHAPES = ("current", "legacy", "checkout", "null", "guest")
"""How an order carries its customer's consent: ``email_marketing_consent`` (with or without
the older fields next to it), the older ``accepts_marketing`` alone, no consent field (the
checkout box decides), the newer field null, no customer at all (a guest checkout)."""
Json = dict[str, Any]

DECISION = """query($id: ID!) {
  contactDecision(profileId: $id, channel: EMAIL, purpose: "marketing") {
    ... on ContactDecision { allowed contactPoint reasons { code } } } }"""
AUDIENCE = """query($after: String) {
  audience(channel: EMAIL, purpose: "marketing", first: 100, after: $after) {
    edges { node { profileId contactPoint } } pageInfo { hasNextPage endCursor } } }"""


# --- The rule, as the issue states it ---------------------------------------------------------


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def kind_of(body: Json) -> str:
    """An order, a customer, or an e-mail consent update (what Shopify's topics carry)."""
    if "customer_id" in body:
        return "consent"
    return "order" if "line_items" in body else "customer"


def stated(body: Json) -> tuple[dt.datetime, bool] | None:
    """What one delivered body says of its customer's e-mail marketing state: when, and
    whether it is a yes; None when it says nothing."""
    kind = kind_of(body)
    order = body if kind == "order" else {}
    customer = body if kind != "order" else body.get("customer") or {}
    current = customer.get("email_marketing_consent")
    if current is not None:
        at = current.get("consent_updated_at")
        return None if at is None else (moment(at), current["state"] == "subscribed")
    if customer.get("accepts_marketing") is not None:
        at = customer.get("accepts_marketing_updated_at")
        return None if at is None else (moment(at), customer["accepts_marketing"] is True)
    if order.get("buyer_accepts_marketing") is True:
        return moment(order.get("processed_at") or order["created_at"]), True
    return None


def latest_word(bodies: list[Json]) -> bool | None:
    """The customer's latest word over everything Shopify sent about them."""
    words = [word for body in bodies if (word := stated(body)) is not None]
    return max(words)[1] if words else None


# --- The population -----------------------------------------------------------------------------


@dataclass
class Shopper:
    customer_id: int
    email: str
    bodies: list[Json] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)

    @property
    def expected(self) -> bool:
        return latest_word(self.bodies) is True


def iso(at: dt.datetime, rng: random.Random) -> str:
    """As Shopify writes times: in the shop's offset, sometimes in UTC."""
    if rng.random() < 0.5:
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return at.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()


def customer_body(shopper: Shopper, shape: str, at: dt.datetime, rng: random.Random) -> Json:
    """The customer as an order carries it, in one of the shapes Shopify has sent over time."""
    body: Json = {
        "id": shopper.customer_id,
        "email": shopper.email,
        "first_name": "Shopper",
        "last_name": str(shopper.customer_id),
        "created_at": "2021-06-01T10:00:00Z",
        "updated_at": iso(at, rng),
        "verified_email": rng.random() < 0.5,
    }
    timed = rng.random() >= 0.15  # some states carry no time: never asked, or asked long ago
    if shape == "current":
        body["email_marketing_consent"] = {
            "state": rng.choice(STATES),
            "opt_in_level": rng.choice(OPT_IN_LEVELS),
            "consent_updated_at": iso(at, rng) if timed else None,
        }
        if rng.random() < 0.4:  # API versions that still send the older fields next to it
            body["accepts_marketing"] = rng.random() < 0.5
            then = START + dt.timedelta(days=rng.randrange(900))
            body["accepts_marketing_updated_at"] = iso(then, rng)
    elif shape == "legacy":
        body["accepts_marketing"] = rng.random() < 0.5
        body["accepts_marketing_updated_at"] = iso(at, rng) if timed else None
        body["marketing_opt_in_level"] = rng.choice(OPT_IN_LEVELS)
    elif shape == "null":  # the newer field present but empty: no state of the customer's
        body["email_marketing_consent"] = None
    if rng.random() < 0.3:
        body["sms_marketing_consent"] = {
            "state": rng.choice(STATES),
            "opt_in_level": "single_opt_in",
            "consent_updated_at": iso(at, rng),
            "consent_collected_from": "OTHER",
        }
    return body


def order_body(
    order_id: int, placed: dt.datetime, customer: Json, rng: random.Random, **more: Any
) -> Json:
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "email": customer["email"],
        "created_at": iso(placed, rng),
        "updated_at": iso(placed, rng),
        "processed_at": iso(placed, rng),
        "currency": "EUR",
        "total_price": "19.95",
        "source_name": "web",
        "buyer_accepts_marketing": False,
        "line_items": [
            {"id": order_id * 10, "sku": "SKU-1", "title": "Thing", "price": "19.95", "quantity": 1}
        ],
        "customer": customer,
        **more,
    }


def population(seed: int, size: int) -> list[Shopper]:
    """Shoppers, each with the bodies that carried their consent changes: per change an order
    (the customer as it stood then) or, without an order, the customer itself or an e-mail
    consent update; some orders revised later carrying a newer state."""
    rng = random.Random(seed)
    shoppers = []
    for index in range(size):
        shopper = Shopper(customer_id=8_000_000 + index, email=f"shopper{index}@example.com")
        # Distinct seconds: two different words of one customer never share a time.
        seconds = sorted(rng.sample(range(900 * 86_400), rng.randint(1, 6)))
        previous: Json | None = None
        for n, second in enumerate(seconds):
            at = START + dt.timedelta(seconds=second)
            shape = rng.choices(SHAPES, [6, 2, 2, 1, 1])[0]
            shopper.shapes.append(shape)
            customer = customer_body(shopper, shape, at, rng)
            order_id = shopper.customer_id * 10 + n
            if shape in ("checkout", "null", "guest"):
                ticked = rng.random() < 0.6
                order = order_body(order_id, at, customer, rng, buyer_accepts_marketing=ticked)
                if shape == "guest":  # a guest checkout: the e-mail address, no customer
                    del order["customer"]
            else:
                carrier = rng.choices(["order", "customer", "consent"], [3, 1, 1])[0]
                consent = customer.get("email_marketing_consent")
                if carrier == "customer":  # customers/update, or a customer export
                    shopper.bodies.append(customer)
                    shopper.shapes.append("customer")
                    continue
                if carrier == "consent" and consent is not None:
                    update = {
                        "customer_id": shopper.customer_id,
                        "email_address": shopper.email,
                        "email_marketing_consent": {**consent, "consent_collected_from": "OTHER"},
                    }
                    shopper.bodies.append(update)
                    shopper.shapes.append("consent update")
                    continue
                placed = at + dt.timedelta(minutes=rng.randint(0, 600))
                order = order_body(order_id, placed, customer, rng)
            shopper.bodies.append(order)
            if previous is not None and shape in ("current", "legacy") and rng.random() < 0.35:
                # orders/updated of an earlier order, carrying the customer as it is now.
                revised = {**previous, "customer": customer}
                revised["updated_at"] = iso(at + dt.timedelta(minutes=1), rng)
                shopper.bodies.append(revised)
            previous = order
        shoppers.append(shopper)
    return shoppers


# --- Delivery, out of order ---------------------------------------------------------------------


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def chunks(items: list[Json], rng: random.Random) -> Iterator[list[Json]]:
    while items:
        size = rng.randint(1, 15)
        yield items[:size]
        items = items[size:]


CONNECTORS = {"order": "shopify-orders", "customer": "shopify-customers"}
LISTS = {"order": "orders", "customer": "customers"}
TOPICS = {
    "order": ("orders/create", "orders/updated", "orders/paid"),
    "customer": ("customers/create", "customers/update"),
    "consent": ("customers_email_marketing_consent/update",),
}


async def deliver(
    bodies: list[Json],
    rng: random.Random,
    services: Services,
    client: httpx.AsyncClient,
    pusher: httpx.AsyncClient,
    tmp_path: Path,
) -> Counter[str]:
    """Every body, in the order given, through one of the ways Shopify data arrives; a few
    twice (a webhook retried, an export imported again). Returns how many went each way."""
    ways: Counter[str] = Counter()
    for number, chunk in enumerate(chunks(list(bodies), rng)):
        way = rng.choice(["export", "ndjson", "webhook"])
        kinds = {kind_of(body) for body in chunk}
        if len(kinds) > 1 or "consent" in kinds:  # no list or push carries several kinds
            way = "webhook"
        ways[way] += len(chunk)
        kind = next(iter(kinds))
        if way == "export":  # a REST list saved to a file and imported
            path = tmp_path / f"export-{number}.json"
            path.write_text(json.dumps({LISTS[kind]: chunk}))
            summary = await import_file(
                services.ingest, CONNECTORS[kind], str(path), parse_options(default_region="ES")
            )
            assert (summary.rejected, summary.ignored) == (0, 0), summary.errors
        elif way == "ndjson":  # pushed by an integration, one body a line
            content = "\n".join(json.dumps(body) for body in chunk).encode()
            response = await pusher.post(
                f"/ingest/{CONNECTORS[kind]}",
                content=content,
                headers={"content-type": "application/x-ndjson"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["rejected"] == 0, response.text
        else:
            for item in chunk:
                body = json.dumps(item).encode()
                topic = rng.choice(TOPICS[kind_of(item)])
                for _ in range(2 if rng.random() < 0.1 else 1):
                    response = await client.post(
                        "/webhooks/shopify",
                        content=body,
                        headers={"x-shopify-topic": topic, "x-shopify-hmac-sha256": sign(body)},
                    )
                    assert response.status_code == 200, response.text
                    assert response.json()["rejected"] == 0, response.text
    return ways


async def audience(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    members: dict[str, str] = {}
    after = None
    while True:
        page = (await gql(client, AUDIENCE, headers, after=after))["audience"]
        members |= {e["node"]["profileId"]: e["node"]["contactPoint"] for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return members
        after = page["pageInfo"]["endCursor"]


class TestConsentArrivingOutOfOrder:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"shopify_webhook_secret": SecretStr(SECRET)})

    @pytest.mark.parametrize("seed", [11, 23])
    async def test_decisions_follow_each_customers_latest_word(
        self,
        seed: int,
        client: httpx.AsyncClient,
        connector_client: httpx.AsyncClient,
        services: Services,
        tmp_path: Path,
    ) -> None:
        shoppers = population(seed, 45)
        rng = random.Random(f"{seed}:arrival")
        bodies = [body for shopper in shoppers for body in shopper.bodies]
        rng.shuffle(bodies)
        resent = rng.sample(bodies, len(bodies) // 10)  # imported again, later
        ways = await deliver(bodies + resent, rng, services, client, connector_client, tmp_path)
        assert min(ways.values()) > 0, ways

        # The population covers what the rule distinguishes.
        latest = Counter(str(latest_word(s.bodies)) for s in shoppers)
        assert set(latest) == {"True", "False", "None"}, latest
        shapes = Counter(shape for s in shoppers for shape in s.shapes)
        assert set(shapes) == {*SHAPES, "customer", "consent update"}, shapes
        said_yes_then_no = [
            s
            for s in shoppers
            if latest_word(s.bodies) is False
            and any((w := stated(b)) is not None and w[1] for b in s.bodies)
        ]
        assert said_yes_then_no

        marketing = await key(services, Role.MARKETING)
        wrong = []
        allowed = set()
        for shopper in shoppers:
            profile = await services.profiles.by_identifier(IdentifierType.EMAIL, shopper.email)
            decision = (await gql(client, DECISION, marketing, id=profile.id))["contactDecision"]
            if decision["allowed"] != shopper.expected:
                wrong.append((shopper.customer_id, shopper.expected, decision["reasons"]))
            if decision["allowed"]:
                assert decision["contactPoint"] == shopper.email
                allowed.add(profile.id)
        assert wrong == [], f"{len(wrong)} of {len(shoppers)} decisions disagree: {wrong}"

        members = await audience(client, marketing)
        assert set(members) == allowed
        refused = {
            (await services.profiles.by_identifier(IdentifierType.EMAIL, s.email)).id
            for s in shoppers
            if not s.expected
        }
        assert not refused & set(members)


def test_the_rule_reads_each_shape() -> None:
    """The expected value's own reading of Shopify bodies, on hand-made examples."""
    at = "2024-03-01T10:00:00Z"
    customer = {"id": 1, "email": "a@example.com"}

    def order(**fields: Any) -> Json:
        return {"created_at": "2024-02-01T10:00:00Z", "line_items": [], **fields}

    yes, later = (moment(at), True), moment("2024-03-02T10:00:00Z")
    current = {"state": "subscribed", "consent_updated_at": at}
    assert stated(order(customer={**customer, "email_marketing_consent": current})) == yes
    pending = {"state": "pending", "consent_updated_at": at}
    assert stated(order(customer={**customer, "email_marketing_consent": pending})) == (
        moment(at),
        False,
    )
    untimed = {"state": "subscribed", "consent_updated_at": None}
    legacy = {"accepts_marketing": True, "accepts_marketing_updated_at": at}
    assert (
        stated(order(customer={**customer, "email_marketing_consent": untimed}, **legacy)) is None
    )
    assert stated(order(customer={**customer, **legacy})) == yes
    assert stated(order(customer=customer, buyer_accepts_marketing=True, processed_at=at)) == yes
    assert stated(order(customer=customer, buyer_accepts_marketing=False)) is None
    no_later = {"state": "not_subscribed", "consent_updated_at": "2024-03-02T10:00:00Z"}
    orders = [
        order(customer={**customer, "email_marketing_consent": no_later}),
        order(customer={**customer, "email_marketing_consent": current}),
    ]
    assert latest_word(orders) is False
    assert stated({**customer, "email_marketing_consent": current}) == yes  # customers/update
    update = {"customer_id": 1, "email_marketing_consent": no_later}
    assert stated(update) == (later, False)
    assert latest_word([*orders, update]) is False
    assert max(w for o in orders if (w := stated(o)))[0] == later
