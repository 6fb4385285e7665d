"""A seeded population of customers for the KPI tests, with its ground truth.

Each customer has an e-mail address of their own, a CRM record with a country, and orders
(online and in stores, some cancelled, in euros or dollars), refunds, survey answers (NPS,
CSAT, CES at several touchpoints), service cases (with replies, ratings and complaints) and
site visits, all inside ``[start, start + days)``. The ground truth is counted here as the
records are made, by the issue's words, independently of c360.

``messy`` adds what real feeds do: orders sent again amended (a new total, or cancelled later),
refunds that name no one and arrive before their order, refunds sent twice, and visits that name
two customers' addresses (which merges them).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Record = dict[str, Any]

PRODUCTS = [
    ("Trail shoes", "TS-1", 8999),
    ("Rain jacket", "RJ-2", 12950),
    ("Wool socks", "WS-3", 1499),
    ("Water bottle", "WB-4", 2450),
    ("Head torch", "HT-5", 3999),
    ("Backpack 30 l", "BP-6", 7900),
    ("Running cap", "RC-7", 1999),
    ("Gaiters", "GT-8", 2999),
]
COUNTRIES = ["ES", "ES", "ES", "FR", "DE", "PT", "US"]
STORES = ["MAD-01", "BCN-02", "LIS-03"]
TOUCHPOINTS = ["checkout", "delivery", "support"]
CASE_CHANNELS = ["email", "phone", "chat"]


@dataclass
class Truth:
    """What the KPIs over the whole span must be, counted by the issue's words."""

    promoters: int = 0
    detractors: int = 0
    nps_answers: int = 0
    orders_per_customer: Counter[str] = field(default_factory=Counter)  # standing orders
    sold: Counter[str] = field(default_factory=Counter)  # currency → minor units
    orders: Counter[str] = field(default_factory=Counter)  # currency → standing orders
    returns: int = 0  # refunds of standing orders
    satisfied: int = 0  # CSAT 4 or 5, and good case ratings
    rated: int = 0  # CSAT answers and rated cases

    @property
    def nps(self) -> float:
        return 100 * (self.promoters - self.detractors) / self.nps_answers

    @property
    def repurchase(self) -> tuple[int, int]:
        buyers = [n for n in self.orders_per_customer.values() if n]
        return sum(1 for n in buyers if n >= 2), len(buyers)

    def aov(self, currency: str) -> float:
        return self.sold[currency] / self.orders[currency]

    @property
    def csat(self) -> float:
        return self.satisfied / self.rated


@dataclass
class Population:
    records: list[Record]
    truth: Truth
    start: dt.datetime
    end: dt.datetime
    emails: list[str]


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def population(
    seed: int,
    customers: int = 60,
    *,
    start: dt.datetime = dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    days: int = 91,
    messy: bool = False,
) -> Population:
    rng = random.Random(seed)
    end = start + dt.timedelta(days=days)
    truth = Truth()
    records: list[Record] = []
    emails = [f"customer{seed}-{n}@example.com" for n in range(customers)]

    def moment(after: dt.datetime | None = None) -> dt.datetime:
        low = after or start
        span = (end - low).total_seconds()
        return low + dt.timedelta(seconds=int(rng.uniform(0, max(span - 1, 1))))

    for n, email in enumerate(emails):
        who = [{"type": "email", "value": email}]
        country = rng.choice(COUNTRIES)
        records.append(
            {
                "kind": "person",
                "source": "crm",
                "external_id": f"C{seed}-{n}",
                "occurred_at": iso(start - dt.timedelta(days=rng.randint(30, 900))),
                "identifiers": [
                    {"type": "external", "source": "crm", "value": f"C{seed}-{n}"},
                    *who,
                ],
                "given_name": rng.choice(["Ana", "Luis", "Marie", "Jonas", "Rita", "Sam"]),
                "family_name": rng.choice(["García", "Martin", "Weber", "Silva", "Brown"]),
                "country": country,
            }
        )
        currency = "USD" if country == "US" else "EUR"
        for k in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 4, 6])):
            online = rng.random() < 0.6
            source = "shop" if online else "pos"
            external_id = f"{seed}-{n}-{k}"
            placed = moment()
            lines: list[Record] = []
            for title, sku, price in rng.sample(PRODUCTS, rng.randint(1, 3)):
                lines.append(
                    {
                        "sku": sku,
                        "title": title,
                        "quantity": rng.randint(1, 3),
                        "unit_price": {"amount": price, "currency": currency},
                    }
                )
            total = sum(line["quantity"] * line["unit_price"]["amount"] for line in lines)
            cancelled = rng.random() < 0.08
            order: Record = {
                "kind": "order",
                "source": source,
                "external_id": external_id,
                "occurred_at": iso(placed),
                "identifiers": who,
                "channel": "online" if online else "in_store",
                "line_items": lines,
                "total": {"amount": total, "currency": currency},
            }
            if not online:
                order["store_id"] = rng.choice(STORES)
            if cancelled:
                order["cancelled_at"] = iso(placed + dt.timedelta(hours=1))
            if messy and rng.random() < 0.2:
                # Sent first as it was, then amended: a revision with a new total or cancelled.
                first = {**order, "total": {"amount": total + 1000, "currency": currency}}
                first.pop("cancelled_at", None)
                records.append(first)
                order["updated_at"] = iso(placed + dt.timedelta(hours=2))
            records.append(order)
            if not cancelled:
                truth.orders_per_customer[email] += 1
                truth.sold[currency] += total
                truth.orders[currency] += 1
            else:
                truth.orders_per_customer[email] += 0
            if rng.random() < 0.25:
                refunded = moment(placed)
                refund: Record = {
                    "kind": "return",
                    "source": source,
                    "external_id": f"r{external_id}",
                    "occurred_at": iso(refunded),
                    "order_external_id": external_id,
                    "amount": {"amount": rng.randint(1, total), "currency": currency},
                }
                if messy and rng.random() < 0.5:
                    records.insert(0, refund)  # names no one, and comes before its order
                    if rng.random() < 0.3:
                        records.append(dict(refund))  # and again later: a duplicate
                else:
                    records.append({**refund, "identifiers": who})
                if not cancelled:
                    truth.returns += 1
        for k in range(rng.choice([0, 1, 1, 2, 3])):
            survey_type, low, high = rng.choice([("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7)])
            score = rng.randint(low, high)
            records.append(
                {
                    "kind": "survey_response",
                    "source": rng.choice(["surveys", "qualtrics"]),
                    "external_id": f"s{seed}-{n}-{k}",
                    "occurred_at": iso(moment()),
                    "identifiers": who,
                    "survey_type": survey_type,
                    "score": score,
                    "touchpoint": rng.choice(TOUCHPOINTS),
                }
            )
            if survey_type == "nps":
                truth.nps_answers += 1
                truth.promoters += score >= 9
                truth.detractors += score <= 6
            elif survey_type == "csat":
                truth.rated += 1
                truth.satisfied += score >= 4
        for k in range(rng.choice([0, 0, 1, 1, 2])):
            opened = moment()
            status = rng.choice(["solved", "solved", "closed", "open", "pending"])
            case: Record = {
                "kind": "service_case",
                "source": "zendesk",
                "external_id": f"t{seed}-{n}-{k}",
                "occurred_at": iso(opened),
                "identifiers": who,
                "channel": rng.choice(CASE_CHANNELS),
                "status": status,
                "complaint": rng.random() < 0.15,
            }
            if rng.random() < 0.85:
                case["first_response_at"] = iso(opened + dt.timedelta(minutes=rng.randint(2, 600)))
            if status in ("solved", "closed"):
                case["solved_at"] = iso(opened + dt.timedelta(minutes=rng.randint(30, 5000)))
                if rng.random() < 0.8:
                    case["agent_replies"] = rng.randint(0, 4)
            rating = rng.choice([None, None, "good", "good", "bad"])
            if rating is not None:
                case["satisfaction"] = rating
                truth.rated += 1
                truth.satisfied += rating == "good"
            records.append(case)
        for k in range(rng.choice([0, 1, 2, 3, 5])):
            visitors = who
            if messy and rng.random() < 0.05:
                other = emails[rng.randrange(customers)]
                visitors = [*who, {"type": "email", "value": other}]  # merges the two
            records.append(
                {
                    "kind": "site_event",
                    "source": "web",
                    "external_id": f"v{seed}-{n}-{k}",
                    "occurred_at": iso(moment()),
                    "identifiers": visitors,
                    "event_type": "page",
                    "name": rng.choice(["Home", "Trail shoes", "Checkout"]),
                }
            )
    if not messy:
        rng.shuffle(records)
    return Population(records, truth, start, end, emails)


def write(path: Path, records: list[Record]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path
