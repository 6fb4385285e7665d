"""An input that touches every derived collection, for the tests that kill a run half-way.

Seeded and canonical (JSON lines): people from two sources whose names differ by a typo
(probabilistic matches and suggestions, name search, match keys), anonymous browsing later
identified (merges), orders by e-mail or phone and some amended later (metrics, activity),
returns before and after their order (waiting returns), surveys, cases, and a few broken lines
(dead letters).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests import factories as f

GIVEN = ["Ana", "Luis", "Marta", "Javier", "Lucía", "Pablo", "Elena", "Sergio"]
FAMILY = ["García", "Pérez", "López", "Sánchez", "Romero", "Navarro", "Torres", "Ruiz"]


def _typo(name: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(name))
    return name[:at] + name[at:][::-1] if len(name) > 3 else name


def _when(day: int, minute: int = 0) -> str:
    """A time in 2024: ``day`` counts 28-day months from January 1st."""
    hour, minute = minute // 60 % 24, minute % 60
    return f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}T{hour:02d}:{minute:02d}:00Z"


def records(people: int, seed: int) -> list[f.Record | str]:
    """About 15 records a person, in an order that mixes people and sources."""
    rng = random.Random(seed)
    out: list[tuple[float, f.Record | str]] = []
    for n in range(people):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        email, phone = f"p{n}@example.com", f"+34 61{n:07d}"
        birth = f"19{rng.randrange(50, 99)}-{rng.randrange(1, 12):02d}-{rng.randrange(1, 28):02d}"
        start = rng.uniform(0, 1)
        crm = f.person(
            external_id=f"C{n}",
            identifiers=[f.external("crm", f"C{n}"), f.email(email)],
            given_name=given,
            family_name=family,
            birth_date=birth,
            occurred_at=_when(n % 200),
            addresses=[{"line1": f"Calle {n}", "postal_code": f"280{n % 50:02d}", "country": "ES"}],
        )
        out.append((start, crm))
        if rng.random() < 0.4:  # the same person in the shop, by phone, with a typo
            shop = f.person(
                external_id=f"S{n}",
                source="shop",
                identifiers=[f.external("shop", f"S{n}"), f.phone(phone)],
                given_name=given,
                family_name=_typo(family, rng),
                birth_date=birth,
                occurred_at=_when(n % 200 + 1),
            )
            out.append((start + rng.uniform(0, 0.3), shop))
        if rng.random() < 0.5:  # anonymous browsing, identified later
            anonymous = {"type": "anonymous", "value": f"anon-{n}"}
            for k in range(rng.randrange(1, 4)):
                out.append((start + 0.01 * k, _visit(f"v{n}-{k}", [anonymous], n, k)))
            identify = _visit(f"id{n}", [anonymous, f.email(email)], n, 9)
            out.append((start + rng.uniform(0.05, 0.4), identify))
        for k in range(rng.randrange(0, 5)):
            ids = [f.email(email)] if rng.random() < 0.6 else [f.phone(phone)]
            order = f.order(
                external_id=f"O{n}-{k}",
                identifiers=ids,
                occurred_at=_when(n % 200 + k, 60 * k),
                amount=rng.randrange(500, 20_000),
            )
            when = start + rng.uniform(0, 0.6)
            out.append((when, order))
            if rng.random() < 0.2:  # amended later: cancelled
                amended = {
                    **order,
                    "updated_at": _when(n % 200 + k + 2),
                    "cancelled_at": _when(n % 200 + k + 1),
                }
                out.append((when + rng.uniform(0, 0.3), amended))
            if rng.random() < 0.2:  # returned, sometimes read before its order
                returned = {
                    "kind": "return",
                    "source": "shop",
                    "external_id": f"R{n}-{k}",
                    "occurred_at": _when(n % 200 + k + 3),
                    "order_external_id": f"O{n}-{k}",
                    "amount": {"amount": 300, "currency": "EUR"},
                }
                out.append((when + rng.uniform(-0.3, 0.3), returned))
        if rng.random() < 0.4:
            out.append(
                (
                    start + rng.uniform(0, 1),
                    f.survey(
                        external_id=f"N{n}",
                        score=rng.randrange(0, 11),
                        identifiers=[f.email(email)],
                    ),
                )
            )
        if rng.random() < 0.3:
            out.append(
                (
                    start + rng.uniform(0, 1),
                    f.service_case(
                        external_id=f"T{n}",
                        identifiers=[f.phone(phone)],
                        occurred_at=_when(n % 200 + 5),
                    ),
                )
            )
        if rng.random() < 0.05:
            out.append((start + rng.uniform(0, 1), '{"kind": "order", broken'))
    out.sort(key=lambda pair: pair[0])
    return [item for _, item in out]


def _visit(external_id: str, identifiers: list[f.Record], n: int, k: int) -> f.Record:
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": external_id,
        "occurred_at": _when(n % 200 + k, k),
        "identifiers": identifiers,
        "event_type": "page",
        "name": "Home",
        "properties": {"visit": k},
    }


def write_dataset(path: Path, *, people: int, seed: int) -> Path:
    lines = [item if isinstance(item, str) else json.dumps(item) for item in records(people, seed)]
    path.write_text("\n".join(lines) + "\n")
    return path
