"""Synthetic input files for every connector, for the ingest benchmark.

Everything is deterministic for a seed and streamed to disk item by item: nothing holds more than
one item (a Zendesk page, a POS order) in memory. A shared population of people, derived from
their index, makes records link across sources the way real data does: the same person shops
online and in store, browses the site, calls the service desk and answers surveys, and each
source spells their e-mail address and phone number its own way.

Each generator is an endless stream of :class:`Item` (one input item: its text, and how many
records the connector reads from it); :func:`write_file` writes items until a record budget is
reached. About :data:`BAD_RATE` of the items are deliberately broken (invalid JSON, an amount
with too many decimals, an unknown status, no identifier...) so the dead-letter path is exercised;
they are counted, so the figures can tell intended rejects from unintended ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.csv import (
    CustomersCsvConnector,
    PosCsvConnector,
    ReturnsCsvConnector,
    ServiceCsvConnector,
    SurveysCsvConnector,
)

Json = dict[str, Any]

BAD_RATE = 0.005
"""Share of items deliberately broken."""

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=365)
"""Each source's items are spread over the year after START (all safely in the past)."""
MADRID = dt.timezone(dt.timedelta(hours=1))
"""Local time of the shops and the service desk (as written in their exports)."""

SHARES: dict[str, float] = {
    "customers-csv": 0.05,
    "shopify-orders": 0.18,
    "shopify-refunds": 0.03,
    "pos-csv": 0.12,
    "returns-csv": 0.02,
    "segment": 0.45,
    "zendesk-tickets": 0.08,
    "service-csv": 0.04,
    "surveys-csv": 0.03,
}
"""Share of the records per connector, in import order (returns after the orders they name)."""

FILE_NAMES: dict[str, str] = {
    "customers-csv": "crm_customers.csv",
    "shopify-orders": "shopify_orders.jsonl",
    "shopify-refunds": "shopify_refunds.jsonl",
    "pos-csv": "pos_sales.csv",
    "returns-csv": "pos_returns.csv",
    "segment": "segment_events.jsonl",
    "zendesk-tickets": "zendesk_pages.jsonl",
    "service-csv": "service_log.csv",
    "surveys-csv": "surveys.csv",
}

# Average records per item, to spread each source's items over SPAN.
_RECORDS_PER_ITEM = {
    "shopify-orders": 2.3,
    "segment": 1.1,
    "zendesk-tickets": 1.8,  # per ticket: the ticket, and its requester once per page
}


# --- Items and files --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One input item: its complete lines, and the records the connector will read from it."""

    text: str
    records: int = 1
    bad: int = 0
    """Records of the item that are deliberately broken (each one rejected)."""


@dataclass
class Written:
    """What was written to one connector's file."""

    connector: str
    path: Path
    items: int = 0
    records: int = 0
    bad: int = 0
    bytes: int = 0


def write_file(
    connector: str,
    path: Path,
    items: Iterable[Item],
    *,
    records: int | None = None,
    header: Iterable[str] | None = None,
) -> Written:
    """Write items until ``records`` records are reached (or the items run out)."""
    written = Written(connector, path)
    with path.open("w", encoding="utf-8", newline="") as out:
        if header is not None:
            out.write(_csv_line(list(header)))
        for item in items:
            if records is not None and written.records >= records:
                break
            out.write(item.text)
            written.items += 1
            written.records += item.records
            written.bad += item.bad
    written.bytes = path.stat().st_size
    return written


def generate_all(directory: Path, records: int, people: int, seed: int) -> list[Written]:
    """One file per connector (in import order) with about ``records`` records in all."""
    population = Population(people, seed)
    budget = {name: max(round(records * share), 1) for name, share in SHARES.items()}

    def timeline(name: str) -> Timeline:
        return Timeline(round(budget[name] / _RECORDS_PER_ITEM.get(name, 1.0)))

    def write(name: str, items: Iterator[Item], header: Iterable[str] | None = None) -> Written:
        return write_file(
            name, directory / FILE_NAMES[name], items, records=budget[name], header=header
        )

    shopify = ShopifyOrders(population, seed, timeline("shopify-orders"))
    pos = PosOrders(population, seed, timeline("pos-csv"))
    customers = write(
        "customers-csv",
        crm_customers(population, seed, timeline("customers-csv")),
        CustomersCsvConnector.spec.fields,
    )
    orders = write("shopify-orders", shopify.items())
    refunds = write("shopify-refunds", shopify_refunds(shopify, orders.items, seed))
    sales = write("pos-csv", pos.items(), PosCsvConnector.spec.fields)
    returns = write(
        "returns-csv", pos_returns(pos, sales.items, seed), ReturnsCsvConnector.spec.fields
    )
    events = write("segment", segment_events(population, seed, timeline("segment")))
    tickets = write("zendesk-tickets", zendesk_pages(population, seed, timeline("zendesk-tickets")))
    cases = write(
        "service-csv",
        service_cases(population, seed, timeline("service-csv")),
        ServiceCsvConnector.spec.fields,
    )
    surveys = write(
        "surveys-csv",
        survey_responses(population, seed, timeline("surveys-csv")),
        SurveysCsvConnector.spec.fields,
    )
    return [customers, orders, refunds, sales, returns, events, tickets, cases, surveys]


def write_segment(path: Path, lines: int, people: int, seed: int) -> Written:
    """A Segment JSON-lines file of exactly ``lines`` events."""
    events = segment_events(Population(people, seed), seed, Timeline(lines))
    return write_file("segment", path, (next(events) for _ in range(lines)))


# --- The population -----------------------------------------------------------------------------

GIVEN_NAMES = (
    "Ana", "Luis", "María", "Javier", "Lucía", "Carlos", "Elena", "Pablo", "Marta", "Sergio",
    "Laura", "Diego", "Carmen", "Álvaro", "Sofía", "Jorge", "Paula", "Raúl", "Irene", "Andrés",
    "Nuria", "Iñaki", "Mei", "John", "Fatima", "Olga", "Hugo", "Núria", "Joan", "Aitana",
)  # fmt: skip
FAMILY_NAMES = (
    "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
    "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
    "Romero", "Alonso", "Navarro", "Ortega", "Puig", "Chen", "Smith", "El Amrani", "Etxeberria",
)  # fmt: skip
CITIES = (
    ("Madrid", "Madrid", "28"),
    ("Barcelona", "Barcelona", "08"),
    ("Valencia", "Valencia", "46"),
    ("Sevilla", "Sevilla", "41"),
    ("Bilbao", "Bizkaia", "48"),
    ("Zaragoza", "Zaragoza", "50"),
    ("Málaga", "Málaga", "29"),
)
STREETS = ("Calle de Alcalá", "Gran Vía", "Calle Mayor", "Avenida de la Constitución", "Rambla")
DOMAINS = ("example.com", "example.es", "example.org", "example.net")
LANGUAGES = ("es", "es-ES", "ca", "eu", "en-GB", "es")


@dataclass(frozen=True, slots=True)
class Person:
    """One synthetic customer, as every source knows them."""

    index: int
    given_name: str
    family_name: str
    email: str
    mobile: str
    """The national number: nine digits, a Spanish mobile."""
    street: str
    city: str
    province: str
    postal_code: str
    language: str
    birth_date: dt.date
    customer_since: dt.datetime
    email_consent: str
    """Shopify e-mail marketing state: subscribed, unsubscribed or not_subscribed."""
    sms_consent: str

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def shopify_id(self) -> int:
        return 6_200_000_000 + self.index

    @property
    def zendesk_id(self) -> int:
        return 361_000_000 + self.index

    @property
    def crm_id(self) -> str:
        return f"CRM-{100_000 + self.index}"

    @property
    def loyalty_id(self) -> str:
        return f"SOC-{self.index:07d}"

    def email_as(self, rng: random.Random) -> str:
        """The e-mail address the way a form or a clerk typed it."""
        roll = rng.random()
        if roll < 0.7:
            return self.email
        if roll < 0.9:
            local, _, domain = self.email.partition("@")
            return f"{'.'.join(p.capitalize() for p in local.split('.'))}@{domain.capitalize()}"
        return f" {self.email.upper()} "

    def phone_as(self, rng: random.Random) -> str:
        """The phone number in one of the spellings sources use (all the same number)."""
        n = self.mobile
        return rng.choice(
            (
                f"+34 {n[:3]} {n[3:6]} {n[6:]}",
                f"+34{n}",
                f"{n[:3]} {n[3:6]} {n[6:]}",
                f"0034 {n[:3]} {n[3:5]} {n[5:7]} {n[7:]}",
                f"(+34) {n[:3]}-{n[3:6]}-{n[6:]}",
            )
        )


class Population:
    """``size`` people, each derived from their index (so none is stored)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = max(size, 1)
        self.seed = seed

    def pick(self, rng: random.Random) -> Person:
        """Anyone; half the time one of the regulars (the first fifth): repeat customers."""
        regulars = max(self.size // 5, 1)
        return self.person(rng.randrange(regulars if rng.random() < 0.5 else self.size))

    def person(self, index: int) -> Person:
        rng = random.Random(f"{self.seed}:person:{index}")
        given = rng.choice(GIVEN_NAMES)
        family = rng.choice(FAMILY_NAMES)
        local = f"{_ascii(given)}.{_ascii(family)}{index}"
        city, province, prefix = rng.choice(CITIES)
        return Person(
            index=index,
            given_name=given,
            family_name=family,
            email=f"{local}@{rng.choice(DOMAINS)}",
            # x -> 7654321x + c is a bijection mod 10^8: every person has their own number.
            mobile=f"6{(index * 7_654_321 + 12_345_678) % 100_000_000:08d}",
            street=f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
            city=city,
            province=province,
            postal_code=f"{prefix}{rng.randint(1, 999):03d}",
            language=rng.choice(LANGUAGES),
            birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(55 * 365)),
            customer_since=START - dt.timedelta(minutes=rng.randrange(4 * 365 * 24 * 60)),
            email_consent=rng.choices(
                ("subscribed", "unsubscribed", "not_subscribed"), (50, 15, 35)
            )[0],
            sms_consent=rng.choices(("subscribed", "not_subscribed"), (10, 90))[0],
        )


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "")


@dataclass(frozen=True, slots=True)
class Timeline:
    """Spreads about ``expected`` items evenly over SPAN from START."""

    expected: int

    def at(self, index: int, rng: random.Random) -> dt.datetime:
        step = SPAN / max(self.expected, 1)
        return START + step * index + step * rng.random()


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    title: str
    category: str
    price: int
    """In cents."""


PRODUCTS = (
    Product("TR2-4410", "Trail Runner 2", "Running Shoes", 8995),
    Product("RJ-220", "Running Jacket", "Apparel", 6450),
    Product("LEG-100", "Mallas largas", "Apparel", 3995),
    Product("CAM-001", "Camiseta básica", "Ropa", 1250),
    Product("CAL-002", "Calcetines pack 3", "Ropa", 499),
    Product("CAF-010", "Cafetera espresso", "Hogar", 10490),
    Product("TAZ-003", "Taza", "Hogar", 350),
    Product("BOT-750", "Botella 750 ml", "Accesorios", 1899),
    Product("MOC-030", "Mochila 30 l", "Accesorios", 4999),
    Product("GOR-001", "Gorra", "Accesorios", 1500),
)


def _bad(rng: random.Random, index: int) -> bool:
    """Whether to break this item (never the first: it tells JSON lines from a document)."""
    return index > 0 and rng.random() < BAD_RATE


# --- Segment ------------------------------------------------------------------------------------

PAGES = (
    ("Home", "/"),
    ("Women", "/c/women"),
    ("Men", "/c/men"),
    ("Sale", "/sale"),
    ("Stores", "/stores"),
    ("Help", "/help/returns"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
)
SITE = "https://shop.example.com"


def segment_events(population: Population, seed: int, timeline: Timeline) -> Iterator[Item]:
    """Browsing sessions: anonymous pages and tracks; in some, an identify (or an alias) names
    the person, and what follows carries their userId too. App sessions send screens."""
    rng = random.Random(f"{seed}:segment")
    line = 0
    while True:
        person = population.pick(rng)
        device = rng.randrange(2)
        in_app = device == 1 and rng.random() < 0.4
        anonymous_id = str(
            uuid.UUID(
                int=random.Random(f"{seed}:{person.index}:{device}").getrandbits(128), version=4
            )
        )
        session = _Session(rng, person, anonymous_id, in_app, timeline.at(line, rng))
        for event in session.events():
            if _bad(rng, line):
                yield _bad_segment_event(rng, event)
            else:
                yield Item(_json_line(event), records=2 if event["type"] == "identify" else 1)
            line += 1


@dataclass
class _Session:
    rng: random.Random
    person: Person
    anonymous_id: str
    in_app: bool
    clock: dt.datetime
    user_id: str | None = None
    referrer: str = "https://www.google.com/"
    user_agent: str = ""

    def events(self) -> Iterator[Json]:
        rng = self.rng
        self.user_agent = rng.choice(USER_AGENTS)
        views = rng.randint(1, 7)
        identify_at = rng.randrange(views) if rng.random() < 0.3 else -1
        for view in range(views):
            if view == identify_at:
                self.user_id = str(self.person.shopify_id)
                yield self._alias() if rng.random() < 0.05 else self._identify()
            if rng.random() < 0.6:
                product = rng.choice(PRODUCTS)
                yield self._view(product.title, f"/p/{product.sku.lower()}")
                yield self._track("Product Viewed", _product_properties(product))
                if rng.random() < 0.3:
                    yield self._track("Product Added", _product_properties(product))
                    if self.user_id and rng.random() < 0.4:
                        yield self._track("Checkout Started", {"currency": "EUR"})
                        if rng.random() < 0.6:
                            total = product.price / 100
                            yield self._track(
                                "Order Completed", {"total": total, "currency": "EUR"}
                            )
            else:
                name, path = rng.choice(PAGES)
                yield self._view(name, path)

    def _base(self, kind: str) -> Json:
        self.clock += dt.timedelta(seconds=self.rng.uniform(2, 90))
        when = _segment_time(self.clock)
        received = _segment_time(self.clock + dt.timedelta(milliseconds=self.rng.randint(80, 900)))
        context: Json = {"locale": "es-ES", "ip": f"203.0.113.{self.person.index % 250 + 1}"}
        if self.in_app:
            context["app"] = {"name": "Example Shop", "version": "5.2.0", "build": "5200"}
            context["device"] = {
                "type": self.rng.choice(("ios", "android")),
                "id": self.anonymous_id,
            }
            context["library"] = {"name": "analytics-ios", "version": "4.1.8"}
        else:
            context["library"] = {"name": "analytics.js", "version": "next-1.64.0"}
            context["userAgent"] = self.user_agent
        return {
            "type": kind,
            "messageId": f"ajs-next-{uuid.UUID(int=self.rng.getrandbits(128), version=4).hex}",
            "anonymousId": self.anonymous_id,
            "userId": self.user_id,
            "context": context,
            "integrations": {},
            "timestamp": when,
            "originalTimestamp": when,
            "sentAt": when,
            "receivedAt": received,
        }

    def _view(self, name: str, path: str) -> Json:
        if self.in_app:
            return {**self._base("screen"), "name": name, "properties": {"path": path}}
        event = self._base("page")
        url = f"{SITE}{path}"
        page = {"path": path, "referrer": self.referrer, "title": name, "url": url}
        event["context"]["page"] = page
        self.referrer = url
        return {**event, "name": name, "properties": dict(page)}

    def _track(self, name: str, properties: Json) -> Json:
        return {**self._base("track"), "event": name, "properties": properties}

    def _identify(self) -> Json:
        rng, person = self.rng, self.person
        traits: Json = {
            "email": person.email_as(rng),
            "firstName": person.given_name,
            "lastName": person.family_name,
        }
        if rng.random() < 0.4:
            traits["phone"] = person.phone_as(rng)
        if rng.random() < 0.2:
            traits["birthday"] = f"{person.birth_date.isoformat()}T00:00:00.000Z"
            traits["address"] = {
                "street": person.street,
                "city": person.city,
                "postalCode": person.postal_code,
                "country": "ES",
            }
        event = self._base("identify")
        if rng.random() < 0.2:  # some libraries send traits in the context only
            event["context"]["traits"] = traits
            return event
        return {**event, "traits": traits}

    def _alias(self) -> Json:
        return {**self._base("alias"), "previousId": self.anonymous_id}


def _product_properties(product: Product) -> Json:
    return {
        "product_id": product.sku,
        "sku": product.sku,
        "name": product.title,
        "category": product.category,
        "price": product.price / 100,
        "currency": "EUR",
        "quantity": 1,
    }


def _bad_segment_event(rng: random.Random, event: Json) -> Item:
    broken = dict(event)
    match rng.randrange(5):
        case 0:
            return Item(_truncated(_json_line(event)), bad=1)
        case 1:
            del broken["messageId"]
        case 2:
            for name in ("timestamp", "originalTimestamp", "receivedAt"):
                broken[name] = "2024-13-45T10:00:00Z"
        case 3:  # nothing usable to tie it to a person
            broken = {
                "type": "identify",
                "messageId": event["messageId"],
                "traits": {"email": "not-an-email", "phone": "12"},
                "timestamp": event["timestamp"],
            }
        case _:
            broken = {**event, "type": "track", "event": None}
    return Item(_json_line(broken), bad=1)


def _segment_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- Shopify ------------------------------------------------------------------------------------

SHOPIFY_ORDER_BASE = 5_100_000_000
SHOPIFY_REFUND_BASE = 8_700_000_000
SHOP_LOCATION = 905_684_977


@dataclass(frozen=True, slots=True)
class _ShopifyOrder:
    value: Json
    records: int
    bad: str | None
    """How the order is broken, or None."""


class ShopifyOrders:
    """Orders as the Admin REST ``Order`` resource; order ``k`` is derived from ``k`` alone, so
    refunds can name real orders (and their line items) without keeping them."""

    def __init__(self, population: Population, seed: int, timeline: Timeline) -> None:
        self.population = population
        self.seed = seed
        self.timeline = timeline

    def items(self) -> Iterator[Item]:
        k = 0
        while True:
            order = self.order(k)
            line = _json_line(order.value)
            if order.bad == "truncated":
                yield Item(_truncated(line), bad=1)
            else:
                yield Item(line, records=order.records, bad=1 if order.bad else 0)
            k += 1

    def order(self, k: int) -> _ShopifyOrder:
        rng = random.Random(f"{self.seed}:shopify-order:{k}")
        bad = _bad(rng, k)
        person = self.population.pick(rng)
        created = self.timeline.at(k, rng)
        updated = created + dt.timedelta(minutes=rng.randint(0, 600))
        order_id = SHOPIFY_ORDER_BASE + k
        source_name = rng.choices(("web", "iphone", "android", "pos"), (70, 15, 8, 7))[0]
        lines: list[Json] = []
        for n, product in enumerate(rng.sample(PRODUCTS, rng.randint(1, 4))):
            lines.append(
                {
                    "id": order_id * 10 + n,
                    "variant_id": 39_072_000 + PRODUCTS.index(product),
                    "sku": product.sku,
                    "title": product.title,
                    "product_type": product.category,
                    "vendor": "Example",
                    "price": _money(product.price),
                    "quantity": rng.choices((1, 2, 3), (80, 15, 5))[0],
                    "requires_shipping": source_name != "pos",
                }
            )
        total = sum(_cents(line["price"]) * line["quantity"] for line in lines)
        guest = rng.random() < 0.15
        value: Json = {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{1001 + k}",
            "order_number": 1001 + k,
            "email": person.email_as(rng),
            "phone": person.phone_as(rng) if rng.random() < 0.3 else None,
            "created_at": _local_time(created),
            "updated_at": _local_time(updated),
            "processed_at": _local_time(created),
            "cancelled_at": None,
            "currency": "EUR",
            "presentment_currency": "EUR",
            "subtotal_price": _money(total),
            "total_tax": _money(total * 21 // 121),
            "total_price": _money(total),
            "taxes_included": True,
            "financial_status": "paid",
            "fulfillment_status": rng.choice((None, "fulfilled")),
            "source_name": source_name,
            "location_id": SHOP_LOCATION if source_name == "pos" else None,
            "test": False,
            "tags": "",
            "line_items": lines,
            "customer": None if guest else _shopify_customer(person, updated, rng),
        }
        # Order, customer, its consents and its verified e-mail (every customer has one).
        records = 1 if guest else 3 + _consent_records(person)
        if not bad:
            return _ShopifyOrder(value, records, None)
        kind = rng.choice(("truncated", "decimals", "currency", "nobody", "quantity"))
        match kind:
            case "decimals":
                lines[0]["price"] = lines[0]["price"][:-1] + "99"  # "12.999"
            case "currency":
                value["currency"] = "XXX"
            case "nobody":
                value.update(email=None, phone=None, customer=None)
            case "quantity":
                lines[0]["quantity"] = 0
        return _ShopifyOrder(value, 1, kind)


def _shopify_customer(person: Person, updated: dt.datetime, rng: random.Random) -> Json:
    since = _local_time(person.customer_since)
    return {
        "id": person.shopify_id,
        "email": person.email,
        "phone": f"+34{person.mobile}" if person.index % 3 else None,
        "first_name": person.given_name,
        "last_name": person.family_name,
        "created_at": since,
        "updated_at": _local_time(updated),
        "state": "enabled",
        "verified_email": True,
        "tags": "",
        "currency": "EUR",
        "email_marketing_consent": {
            "state": person.email_consent,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None if person.email_consent == "not_subscribed" else since,
        },
        "sms_marketing_consent": {
            "state": person.sms_consent,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None if person.sms_consent == "not_subscribed" else since,
            "consent_collected_from": "SHOPIFY",
        },
        "default_address": {
            "address1": person.street,
            "address2": rng.choice((None, "3º B", "Bajo")),
            "city": person.city,
            "province": person.province,
            "zip": person.postal_code,
            "country": "Spain",
            "country_code": "ES",
            "default": True,
        },
    }


def _consent_records(person: Person) -> int:
    """Consents a customer yields: one per channel they were asked about."""
    return (person.email_consent != "not_subscribed") + (person.sms_consent != "not_subscribed")


REFUND_NOTES = ("Wrong size", "Damaged in transit", "Changed mind", "", "Arrived late")


def shopify_refunds(orders: ShopifyOrders, count: int, seed: int) -> Iterator[Item]:
    """Refunds of the first ``count`` orders (of line items they really have)."""
    rng = random.Random(f"{seed}:shopify-refunds")
    r = 0
    while True:
        order = orders.order(rng.randrange(max(count, 1)))
        if order.bad is not None:
            continue
        value = order.value
        line = rng.choice(value["line_items"])
        created = dt.datetime.fromisoformat(value["created_at"]) + dt.timedelta(
            days=rng.randint(1, 20), minutes=rng.randint(0, 600)
        )
        refund_id = SHOPIFY_REFUND_BASE + r
        transaction: Json = {
            "id": refund_id * 10,
            "order_id": value["id"],
            "kind": "refund",
            "gateway": "shopify_payments",
            "status": "success",
            "currency": "EUR",
            "amount": line["price"],
        }
        refund: Json = {
            "id": refund_id,
            "order_id": value["id"],
            "created_at": _local_time(created),
            "note": rng.choice(REFUND_NOTES),
            "restock": True,
            "refund_line_items": [
                {
                    "id": refund_id * 10 + 1,
                    "line_item_id": line["id"],
                    "quantity": 1,
                    "subtotal": line["price"],
                    "line_item": {"id": line["id"], "sku": line["sku"], "price": line["price"]},
                }
            ],
            "transactions": [transaction],
        }
        bad = _bad(rng, r)
        r += 1
        if not bad:
            yield Item(_json_line(refund))
            continue
        match rng.randrange(4):
            case 0:
                yield Item(_truncated(_json_line(refund)), bad=1)
                continue
            case 1:
                del refund["order_id"]
            case 2:
                transaction["amount"] = "1.005"
            case _:
                refund["transactions"].append({**transaction, "currency": "USD"})
        yield Item(_json_line(refund), bad=1)


# --- Zendesk ------------------------------------------------------------------------------------

AGENTS = (
    {"id": 8001, "name": "Sam Ortiz", "email": "sam.ortiz@acme-support.example", "role": "agent"},
    {"id": 8002, "name": "Rosa Vidal", "email": "rosa.vidal@acme-support.example", "role": "admin"},
)
TICKET_SUBJECTS = (
    ("Order arrived damaged", ["damaged_item", "complaint"]),
    ("Where is my parcel?", ["delivery", "late"]),
    ("Refund status", ["refund_status"]),
    ("Size exchange", ["exchange", "sizing"]),
    ("Warranty claim", ["warranty"]),
    ("Change my address", ["account"]),
    ("Invoice copy", ["billing"]),
)
ZENDESK_CHANNELS = ("email", "web", "voice", "native_messaging", "chat", "whatsapp", "api")


def zendesk_pages(population: Population, seed: int, timeline: Timeline) -> Iterator[Item]:
    """Incremental Ticket Export pages, one per line, ~100 tickets each with users side-loaded
    (the requesters and the agents) and some metric sets."""
    rng = random.Random(f"{seed}:zendesk")
    ticket = 0
    page = 0
    while True:
        tickets: list[Json] = []
        metric_sets: list[Json] = []
        requesters: dict[int, Json] = {}
        bad = 0
        for _ in range(rng.randint(90, 110)):
            person = population.pick(rng)
            value, metrics = _ticket(rng, ticket, person, timeline.at(ticket, rng))
            if _bad(rng, ticket):
                bad += 1
                match rng.randrange(3):
                    case 0:
                        value["status"] = "escalated"
                    case 1:
                        value["created_at"] = None
                    case _:
                        value["priority"] = "critical"
            tickets.append(value)
            if metrics is not None:
                metric_sets.append(metrics)
            requesters.setdefault(person.zendesk_id, _zendesk_user(person, seed))
            ticket += 1
        users = [*requesters.values(), *AGENTS]
        rng.shuffle(users)
        cursor = f"MTcwOTM3NDMyMC4wfHw{page:08d}fA=="
        body = {
            "tickets": tickets,
            "users": users,
            "metric_sets": metric_sets,
            "after_url": "https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json"
            f"?cursor={cursor}&include=users%2Cmetric_sets",
            "after_cursor": cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": False,
        }
        page += 1
        yield Item(_json_line(body), records=len(tickets) + len(requesters), bad=bad)


def _ticket(
    rng: random.Random, number: int, person: Person, created: dt.datetime
) -> tuple[Json, Json | None]:
    ticket_id = 35_000 + number
    subject, tags = rng.choice(TICKET_SUBJECTS)
    status = rng.choices(
        ("new", "open", "pending", "hold", "solved", "closed"), (5, 20, 10, 5, 40, 20)
    )[0]
    updated = created + dt.timedelta(minutes=rng.randint(1, 3000))
    agent = rng.choice(AGENTS)
    value = {
        "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "id": ticket_id,
        "external_id": None,
        "via": {
            "channel": rng.choice(ZENDESK_CHANNELS),
            "source": {"from": {}, "to": {}, "rel": None},
        },
        "created_at": _utc_time(created),
        "updated_at": _utc_time(updated),
        "type": rng.choice((None, "question", "incident", "problem", "task")),
        "subject": subject,
        "raw_subject": subject,
        "description": f"{subject}: order #{rng.randint(1001, 99_999)}. {person.given_name}",
        "priority": rng.choice((None, "low", "normal", "normal", "high", "urgent")),
        "status": status,
        "recipient": "support@acme.zendesk.com",
        "requester_id": person.zendesk_id,
        "submitter_id": person.zendesk_id,
        "assignee_id": agent["id"],
        "organization_id": None,
        "group_id": 360_001,
        "tags": list(tags),
        "satisfaction_rating": rng.choice(
            (None, {"score": "offered"}, {"score": "good"}, {"score": "bad"})
        ),
        "custom_fields": [],
        "ticket_form_id": 360_000,
        "brand_id": 360_002,
    }
    if rng.random() < 0.5:
        return value, None
    solved = status in ("solved", "closed")
    metrics = {
        "id": 4400 + number,
        "ticket_id": ticket_id,
        "created_at": _utc_time(created),
        "updated_at": _utc_time(updated),
        "replies": rng.randint(0, 5),
        "solved_at": _utc_time(updated) if solved else None,
        "reply_time_in_minutes": {"calendar": rng.randint(1, 600), "business": rng.randint(1, 300)},
    }
    return value, metrics


def _zendesk_user(person: Person, seed: int) -> Json:
    """The same user on every page (so a repeat is a duplicate, not a revision)."""
    rng = random.Random(f"{seed}:zendesk-user:{person.index}")
    return {
        "id": person.zendesk_id,
        "url": f"https://acme.zendesk.com/api/v2/users/{person.zendesk_id}.json",
        "name": person.full_name,
        "email": person.email_as(rng),
        "phone": person.phone_as(rng) if rng.random() < 0.5 else None,
        "created_at": _utc_time(person.customer_since),
        "updated_at": _utc_time(person.customer_since + dt.timedelta(days=rng.randint(0, 30))),
        "time_zone": "Madrid",
        "iana_time_zone": "Europe/Madrid",
        "locale": person.language,
        "role": "end-user",
        "verified": True,
        "external_id": None,
        "tags": [],
        "active": True,
        "suspended": False,
    }


# --- CSV sources ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PosOrder:
    rows: list[dict[str, str]]
    person: Person
    ordered_at: dt.datetime
    bad: bool


STORES = ("MAD-01", "MAD-02", "BCN-01", "VLC-01", "SVQ-01")


class PosOrders:
    """In-store sales, one row per line item; order ``k`` is derived from ``k`` alone."""

    def __init__(self, population: Population, seed: int, timeline: Timeline) -> None:
        self.population = population
        self.seed = seed
        self.timeline = timeline

    def items(self) -> Iterator[Item]:
        fields = PosCsvConnector.spec.fields
        k = 0
        while True:
            order = self.order(k)
            rows = [[row.get(name, "") for name in fields] for row in order.rows]
            yield Item("".join(_csv_line(row) for row in rows), bad=int(order.bad))
            k += 1

    def order(self, k: int) -> _PosOrder:
        rng = random.Random(f"{self.seed}:pos:{k}")
        bad = _bad(rng, k)
        person = self.population.pick(rng)
        ordered_at = self.timeline.at(k, rng).replace(second=0, microsecond=0)
        header = {
            "ordered_at": _local_time(ordered_at),
            "store_id": rng.choice(STORES),
            "currency": "EUR",
        }
        who = rng.random()
        if who < 0.6:
            header["loyalty_id"] = person.loyalty_id
        elif who < 0.85:
            header["email"] = person.email_as(rng)
        else:
            header["phone"] = person.phone_as(rng)
        once = rng.random() < 0.5  # order-level values on the first line only
        rows = []
        total = 0
        for n, product in enumerate(rng.sample(PRODUCTS, rng.randint(1, 4))):
            quantity = rng.choices((1, 2, 3), (75, 20, 5))[0]
            total += quantity * product.price
            row = {
                "order_id": f"T-{k + 1:07d}",
                "sku": product.sku,
                "title": product.title,
                "category": product.category,
                "quantity": str(quantity),
                "unit_price": _money(product.price),
            }
            if n == 0 or not once:
                row.update(header)
            rows.append(row)
        if rng.random() < 0.3:
            rows[0]["total"] = _money(total)
        if bad:
            match rng.randrange(3):
                case 0:
                    rows[-1]["quantity"] = "two"
                case 1:
                    rows[-1]["unit_price"] = rows[-1]["unit_price"] + "9"
                case _:
                    rows[-1]["ordered_at"] = "yesterday"
        return _PosOrder(rows, person, ordered_at, bad)


RETURN_REASONS = ("Wrong size", "Damaged", "Changed mind", "", "Defective", "Gift")


def pos_returns(orders: PosOrders, count: int, seed: int) -> Iterator[Item]:
    """Returns of items of the first ``count`` in-store orders, mostly naming nobody."""
    fields = ReturnsCsvConnector.spec.fields
    rng = random.Random(f"{seed}:returns")
    r = 0
    while True:
        order = orders.order(rng.randrange(max(count, 1)))
        if order.bad:
            continue
        line = rng.choice(order.rows)
        returned = order.ordered_at + dt.timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 8))
        row = {
            "return_id": f"R-{r + 1:07d}",
            "returned_at": _local_time(returned),
            "order_id": line["order_id"],
            "sku": line["sku"],
            "quantity": "1",
            "amount": line["unit_price"],
            "currency": "EUR",
            "reason": rng.choice(RETURN_REASONS),
        }
        if rng.random() < 0.2:  # the clerk asked for an e-mail address for the refund
            row["email"] = order.person.email_as(rng)
        bad = _bad(rng, r)
        if bad:
            match rng.randrange(3):
                case 0:
                    row["quantity"] = "two"
                case 1:
                    row["amount"] = row["amount"] + "9"
                case _:
                    row["order_id"] = ""
        r += 1
        yield Item(_csv_line([row.get(name, "") for name in fields]), bad=int(bad))


CASE_SUBJECTS = (
    ("Late delivery", "delivery;late"),
    ("Refund request", "billing|refund"),
    ("Broken item", "damaged;Complaint"),
    ("Store hours", ""),
    ("Invoice copy", "billing"),
    ("Loyalty points", "loyalty"),
)
CASE_CHANNELS = ("Call", "phone", "LiveChat", "chat", "mail", "email", "web form", "store")


def service_cases(population: Population, seed: int, timeline: Timeline) -> Iterator[Item]:
    """Call-centre and chat log rows; some descriptions span lines, quoted."""
    fields = ServiceCsvConnector.spec.fields
    rng = random.Random(f"{seed}:service")
    n = 0
    while True:
        person = population.pick(rng)
        opened = timeline.at(n, rng).replace(second=0, microsecond=0)
        subject, tags = rng.choice(CASE_SUBJECTS)
        solved = rng.random() < 0.6
        responded = opened + dt.timedelta(minutes=rng.randint(1, 240))
        description = f"Customer {person.given_name} about: {subject.lower()}."
        if rng.random() < 0.2:
            description += (
                f'\nCalled again.\n"Please call me back before 6pm", {person.given_name} said.'
            )
        row = {
            "case_id": f"CC-{n + 1:07d}",
            "opened_at": _local_time(opened),
            "channel": rng.choice(CASE_CHANNELS),
            "status": rng.choice(
                ("", "open", "pending", "resolved") if not solved else ("", "solved")
            ),
            "priority": rng.choice(("", "low", "Medium", "High", "urgent")),
            "subject": subject,
            "description": description,
            "first_response_at": _local_time(responded) if rng.random() < 0.7 else "",
            "solved_at": _local_time(responded + dt.timedelta(hours=rng.randint(0, 48)))
            if solved
            else "",
            "satisfaction": rng.choice(("", "", "Good", "bad")),
            "tags": tags,
            "complaint": rng.choice(("", "no", "yes", "")),
        }
        who = rng.random()
        if who < 0.5:
            row["email"] = person.email_as(rng)
        elif who < 0.8:
            row["phone"] = person.phone_as(rng)
        else:
            row["loyalty_id"] = person.loyalty_id
            row["phone"] = person.phone_as(rng)
        bad = _bad(rng, n)
        if bad:
            match rng.randrange(3):
                case 0:
                    row["channel"] = "fax"
                case 1:
                    row["opened_at"] = "yesterday"
                case _:
                    for name in ("email", "phone", "customer_id", "loyalty_id"):
                        row.pop(name, None)
        n += 1
        yield Item(_csv_line([row.get(name, "") for name in fields]), bad=int(bad))


def crm_customers(population: Population, seed: int, timeline: Timeline) -> Iterator[Item]:
    """CRM master data: person 0, 1, 2... and, past the population, their later revisions."""
    fields = CustomersCsvConnector.spec.fields
    rng = random.Random(f"{seed}:crm")
    n = 0
    while True:
        person = population.person(n % population.size)
        revision = n // population.size
        created = person.customer_since
        updated = START + SPAN * (revision / 2) + dt.timedelta(minutes=rng.randrange(60 * 24 * 30))
        row = {
            "customer_id": person.crm_id if rng.random() < 0.95 else "",
            "loyalty_id": person.loyalty_id if rng.random() < 0.7 else "",
            "first_name": person.given_name,
            "last_name": person.family_name,
            "full_name": person.full_name if rng.random() < 0.3 else "",
            "email": person.email_as(rng),
            "phone": person.phone_as(rng) if rng.random() < 0.8 else "",
            "created_at": _utc_time(created),
            "updated_at": _utc_time(updated) if rng.random() < 0.8 else "",
            "birth_date": person.birth_date.isoformat() if rng.random() < 0.5 else "",
            "language": person.language,
            "time_zone": "Europe/Madrid",
            "country": "ES",
        }
        if not row["customer_id"] and not row["loyalty_id"]:
            row["loyalty_id"] = person.loyalty_id
        if rng.random() < 0.6:
            row.update(
                address_line1=person.street,
                address_line2=rng.choice(("", "3º B", "Bajo", "2º izq.")),
                city=person.city,
                region=person.province,
                postal_code=person.postal_code,
            )
        bad = _bad(rng, n)
        if bad:
            match rng.randrange(4):
                case 0:
                    row["birth_date"] = "1850-01-01"
                case 1:
                    row["country"] = "UK"
                case 2:
                    row["created_at"] = "yesterday"
                case _:
                    row.update(customer_id="", loyalty_id="")
        n += 1
        yield Item(_csv_line([row.get(name, "") for name in fields]), bad=int(bad))


SURVEY_COMMENTS = (
    "",
    "",
    "Great service, fast checkout",
    "Too slow",
    'The "express" delivery was not',
    "OK",
)
SURVEY_TYPES = (("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7))


def survey_responses(population: Population, seed: int, timeline: Timeline) -> Iterator[Item]:
    """NPS, CSAT and CES responses from two survey tools."""
    fields = SurveysCsvConnector.spec.fields
    rng = random.Random(f"{seed}:surveys")
    n = 0
    while True:
        person = population.pick(rng)
        kind, low, high = rng.choice(SURVEY_TYPES)
        row = {
            "response_id": f"S-{n + 1:07d}",
            "responded_at": _utc_time(timeline.at(n, rng)),
            "source": rng.choice(("", "Typeform")),
            "type": kind if rng.random() < 0.8 else kind.upper(),
            "score": str(rng.randint(low, high)),
            "comment": rng.choice(SURVEY_COMMENTS),
            "touchpoint": rng.choice(("store", "web", "delivery", "")),
        }
        if rng.random() < 0.7:
            row["email"] = person.email_as(rng)
        else:
            row["phone"] = person.phone_as(rng)
        bad = _bad(rng, n)
        if bad:
            match rng.randrange(3):
                case 0:
                    row["score"] = str(high + 1)
                case 1:
                    row["type"] = "foo"
                case _:
                    row["score"] = "8.5"
        n += 1
        yield Item(_csv_line([row.get(name, "") for name in fields]), bad=int(bad))


# --- Formatting ---------------------------------------------------------------------------------


def _json_line(value: Json) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _truncated(line: str) -> str:
    """A line cut off mid-way, as a crashed exporter leaves it: not JSON."""
    return line[: len(line) // 2] + "\n"


class _CsvLine:
    """One CSV record as text (quoted where needed), with a reused buffer."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def __call__(self, cells: list[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


_csv_line: Callable[[list[str]], str] = _CsvLine()


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(amount: str) -> int:
    units, _, decimals = amount.partition(".")
    return int(units) * 100 + int(decimals or 0)


def _local_time(when: dt.datetime) -> str:
    return when.astimezone(MADRID).isoformat(timespec="seconds")


def _utc_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
