"""Identity benchmark: profiles against the ground truth, exact identifiers alone and with
probabilistic matching.

    python -m bench.identity [--people N] [--seed S] [--batch-size B] [--explain] [--calibrate]

Generates a synthetic population of N people (default 10 000, names, e-mail addresses, mobiles,
birth dates and postcodes from ``bench/generate.py``) and, for each, records in several sources
as canonical JSON lines, all in one file ordered by time, each record's ground-truth person kept
in memory by record id (``{source}:{kind}:{external_id}``):

- ``crm`` person records (most people): names, birth date, address, e-mail, mobile, CRM id;
- ``shop`` online orders: the e-mail in varied case and whitespace, or the phone in local
  (``600 12 34 56``), ``+34`` or ``0034`` formats (read in region ES);
- ``helpdesk`` cases: the phone only, sometimes with a second e-mail address;
- ``loyalty`` person records: a nickname, a typo or swapped names, the same birth date, maybe a
  postcode they moved to, and only the loyalty card (no identifier shared with other sources:
  only probabilistic matching can link them), and ``pos`` in-store orders with that card;
- ``web`` anonymous page views, identified later by an identify event (anonymous id + e-mail);
  a few visitors never identify;
- some people use a second e-mail address in the shop (linked through a help-desk case that
  names it next to their phone);
- noise: households of two people sharing a landline (a correct system keeps them apart; the
  landline is an exact identifier, so records naming only it are ambiguous), and namesakes
  (several people called María García, with different birth dates);
- home landlines (Barcelona ``93…`` numbers, ``fixed_line``): some people give one of their own
  to the CRM and at checkout, and household members theirs; the help desk knows some of them
  as a user (``helpdesk`` person records: the name as told on the phone, sometimes the given
  name only, and the number they called from) and tills register some as a customer by that
  number (``till`` person records, and ``pos`` orders naming the till's customer id).

Then, on two fresh databases of one store, the file goes through ``import_file``:

1. ``exact``: probabilistic thresholds set out of reach (only exact identifiers link);
2. ``full``: the default thresholds (``identity_match_auto`` / ``identity_match_review``).

Each record's final profile follows ``profiles.merged_into``. Pairwise precision and recall
are over record pairs (same predicted profile against same true person), from cluster counts.
Merges come from the ``merges`` ledger (status done), by rule; a merge is counted wrong when the
people owning the identifiers it moved (``moved_identities``, household landlines excluded) are
not among the people owning the survivor's other identifiers: an approximation that judges a
merge by the final profiles. Nothing is asserted; the issue's targets are printed for reference.

``--explain`` sorts the full run's wrong pairs (two people in one profile: household partners,
namesakes, others; how the stray records got there) and missed pairs (which sources of a person
stay apart from their largest profile, and what the score said of the two) by cause.
``--calibrate`` scores the full run with m and u estimated (``c360 identity calibrate``) from the
exact run's person records instead of the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import random
import tempfile
import time
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import bench_store, positive
from bench.generate import START, Population
from bench.generate import Person as GeneratedPerson
from c360.identity.calibration import Calibration
from c360.identity.linking import ANONYMOUS_RULE, SHARED_RULE
from c360.identity.match_service import PROBABILISTIC_RULE
from c360.identity.matching import Features, score
from c360.identity.repository import MatchRepository
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import Identifier

Json = dict[str, Any]

SPAN_SECONDS = 365 * 24 * 3600
HOUSEHOLD_EVERY = 25
"""People ``i`` and ``i + 1`` share a landline when ``i`` is a multiple of this."""
NAMESAKE_EVERY = 40
"""Every so many people (offset 7) are renamed María García: namesakes, not one person."""
CRM_SHARE = 0.9
LOYALTY_SHARE = 0.35
WEB_SHARE = 0.6
NEVER_IDENTIFIED = 0.08
SECOND_EMAIL_SHARE = 0.15
MOVED_SHARE = 0.3
OWN_LANDLINE_SHARE = 0.3
"""People (outside the households) who also give a landline of their own."""
CALLER_SHARE = 0.5
"""People with a home landline whom the help desk knows as a user, by it."""
TILL_SHARE = 0.3
"""People with a home landline whom a till registered as a customer, by it."""
GIVEN_NAME_ONLY = 0.2
"""Callers and till customers recorded by their given name alone."""
OUT_OF_REACH = 1e9
"""Probabilistic thresholds for the exact-only run: no score reaches them."""

TARGETS = "targets (issue): precision >= 0.995, recall >= 0.98, zero wrong deterministic merges"

NICKNAMES: dict[str, tuple[str, ...]] = {
    "Ana": ("Anne", "Anita"),
    "John": ("Johnny", "Jon"),
    "María": ("Mari",),
    "Javier": ("Javi",),
    "Lucía": ("Lucy",),
    "Elena": ("Helena",),
    "Sergio": ("Sergi",),
    "Andrés": ("Andreu",),
    "Joan": ("Juan",),
    "Núria": ("Nuri",),
    "Carlos": ("Charly",),
    "Pablo": ("Pau",),
    "Álvaro": ("Alvarito",),
}
"""Short or local forms a loyalty-card form may carry (the matcher knows only some)."""


# --- Generation -------------------------------------------------------------------------------


@dataclass
class Truth:
    """Who is who: the true person of each record and of each identity key."""

    record_person: dict[str, int] = field(default_factory=dict)
    key_people: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def record(self, doc: Json, person: int) -> None:
        self.record_person[f"{doc['source']}:{doc['kind']}:{doc['external_id']}"] = person
        for identifier in doc["identifiers"]:
            key = Identifier.model_validate(identifier, context={"default_region": "ES"}).key
            self.key_people[key].add(person)

    def owner(self, key: str) -> int | None:
        """The one person an identity key belongs to (None: unknown or shared)."""
        people = self.key_people.get(key, set())
        return next(iter(people)) if len(people) == 1 else None


@dataclass
class Generated:
    path: Path
    truth: Truth
    records: int
    counts: Counter[str]


def generate(path: Path, people: int, seed: int) -> Generated:
    population = Population(people, seed)
    truth = Truth()
    records: list[tuple[str, Json, int]] = []
    counts: Counter[str] = Counter()
    for index in range(people):
        person = _person(population, index)
        for doc in _records_of(person, index, people, seed):
            records.append((doc["occurred_at"], doc, index))
            counts[doc["source"]] += 1
    records.sort(key=lambda r: (r[0], r[1]["external_id"]))
    with path.open("w", encoding="utf-8") as out:
        for _, doc, index in records:
            truth.record(doc, index)
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return Generated(path, truth, len(records), counts)


def _person(population: Population, index: int) -> GeneratedPerson:
    person = population.person(index)
    if index % NAMESAKE_EVERY == 7:
        person = dataclasses.replace(person, given_name="María", family_name="García")
    if index % HOUSEHOLD_EVERY == 1 and index > 0:  # lives with index - 1, often same surname
        partner = population.person(index - 1)
        rng = random.Random(f"household:{index}")
        family = partner.family_name if rng.random() < 0.6 else person.family_name
        person = dataclasses.replace(
            person,
            family_name=family,
            street=partner.street,
            city=partner.city,
            postal_code=partner.postal_code,
        )
    return person


def _landline(index: int, people: int) -> str | None:
    """The landline people ``i`` and ``i + 1`` share when ``i % HOUSEHOLD_EVERY == 0``."""
    first = index - index % HOUSEHOLD_EVERY
    if index % HOUSEHOLD_EVERY > 1 or first + 1 >= people:
        return None
    return f"91{(first * 7_919 + 1_234_567) % 10_000_000:07d}"


def _own_landline(index: int, people: int, seed: int) -> str | None:
    """A landline of their own for some people outside the households (unique per person)."""
    if _landline(index, people) is not None:
        return None
    if random.Random(f"{seed}:own-landline:{index}").random() >= OWN_LANDLINE_SHARE:
        return None
    return f"93{(index * 7_919 + 7_654_321) % 10_000_000:07d}"


def _records_of(person: GeneratedPerson, index: int, people: int, seed: int) -> Iterable[Json]:
    rng = random.Random(f"{seed}:identity:{index}")
    home = random.Random(f"{seed}:home:{index}")  # apart, so the other records stay as they were
    landline = _landline(index, people)
    own_line = _own_landline(index, people, seed)
    second_email = (
        f"{person.email.partition('@')[0].replace('.', '_')}@gmail.com"
        if rng.random() < SECOND_EMAIL_SHARE
        else None
    )

    def when() -> dt.datetime:
        return START + dt.timedelta(seconds=rng.randrange(SPAN_SECONDS))

    def phone() -> str:
        if landline and rng.random() < 0.4:
            return rng.choice((f"91 {landline[2:5]} {landline[5:7]} {landline[7:]}", landline))
        n = person.mobile
        return rng.choice(
            (
                f"{n[:3]} {n[3:5]} {n[5:7]} {n[7:]}",  # local, read in region ES
                n,
                person.phone_as(rng),
            )
        )

    if rng.random() < CRM_SHARE:
        ids = [
            _external("crm", person.crm_id),
            _id("email", person.email_as(rng)),
            _id("phone", person.phone_as(rng)),
        ]
        if landline:
            ids.append(_id("phone", landline))
        if own_line:
            ids.append(_id("phone", own_line))
        yield _person_record(
            "crm", person.crm_id, when(), ids, person.given_name, person.family_name, person
        )

    for n in range(rng.randint(0, 3)):
        if second_email:
            ids = [_id("email", _typed(second_email, rng))]
        elif rng.random() < 0.7:
            ids = [_id("email", person.email_as(rng))]
        else:
            ids = [_id("phone", phone())]
        if landline and rng.random() < 0.3:  # the checkout asks for a phone: the home one
            ids.append(_id("phone", landline))
        if own_line and home.random() < 0.3:
            ids.append(_id("phone", own_line))
        yield _order("shop", f"SO-{index}-{n}", when(), ids, "online")

    for n in range(rng.randint(0, 2)):
        ids = [_id("phone", phone())]
        if second_email and rng.random() < 0.6:
            ids.append(_id("email", _typed(second_email, rng)))
        yield _case(f"HD-{index}-{n}", when(), ids)

    if rng.random() < LOYALTY_SHARE:
        card = [_id("loyalty", person.loyalty_id)]
        given, family = _name_variant(person, rng)
        postal = person.postal_code
        if rng.random() < MOVED_SHARE:
            postal = f"{postal[:2]}{(int(postal[2:]) + rng.randint(1, 998)) % 999 + 1:03d}"
        moved = dataclasses.replace(person, postal_code=postal)
        yield _person_record("loyalty", person.loyalty_id, when(), card, given, family, moved)
        for n in range(rng.randint(0, 2)):
            yield _order("pos", f"POS-{index}-{n}", when(), card, "in_store")

    if rng.random() < WEB_SHARE:
        anon = str(uuid.UUID(int=rng.getrandbits(128)))
        start = when()
        for n in range(rng.randint(1, 4)):
            at = start + dt.timedelta(minutes=3 * n)
            yield _site_event(f"WEB-{index}-{n}", at, [_id("anonymous", anon)], "page")
        if rng.random() >= NEVER_IDENTIFIED:
            at = start + dt.timedelta(days=rng.randint(0, 30), minutes=15)
            ids = [_id("anonymous", anon), _id("email", person.email_as(rng))]
            yield _site_event(f"WEB-{index}-id", at, ids, "identify")

    line = landline or own_line
    if line:
        yield from _known_by_line(person, index, line, home)


def _known_by_line(
    person: GeneratedPerson, index: int, line: str, rng: random.Random
) -> Iterable[Json]:
    """A help-desk user and a till customer whom their systems know by a home landline."""

    def when() -> dt.datetime:
        return START + dt.timedelta(seconds=rng.randrange(SPAN_SECONDS))

    def name_as_told() -> tuple[str, str | None]:
        if rng.random() < GIVEN_NAME_ONLY:
            return person.given_name, None
        roll = rng.random()  # typed as heard: case and accents vary
        if roll < 0.2:
            return person.given_name.upper(), person.family_name.upper()
        if roll < 0.4:
            return _unaccented(person.given_name), _unaccented(person.family_name)
        return person.given_name, person.family_name

    number = rng.choice((line, f"{line[:2]} {line[2:5]} {line[5:7]} {line[7:]}"))
    if rng.random() < CALLER_SHARE:
        user = f"U-{index}"
        given, family = name_as_told()
        ids = [_external("helpdesk", user), _id("phone", number)]
        yield _contact_record("helpdesk", user, when(), ids, given, family)
    if rng.random() < TILL_SHARE:
        customer = f"T-{index}"
        given, family = name_as_told()
        ids = [_external("till", customer), _id("phone", number)]
        yield _contact_record("till", customer, when(), ids, given, family)
        for n in range(rng.randint(0, 2)):
            card = [_external("till", customer)]
            yield _order("pos", f"TILL-{index}-{n}", when(), card, "in_store")


def _unaccented(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _name_variant(person: GeneratedPerson, rng: random.Random) -> tuple[str, str]:
    """How a loyalty form spells the name: a nickname, a typo, swapped, or as is."""
    given, family = person.given_name, person.family_name
    roll = rng.random()
    if roll < 0.25 and given in NICKNAMES:
        return rng.choice(NICKNAMES[given]), family
    if roll < 0.45:
        return given, _typo(family, rng)
    if roll < 0.6:
        return _typo(given, rng), family
    if roll < 0.7:
        return family, given
    return given, family


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # two letters swapped
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:  # a letter dropped
        return text[:i] + text[i + 1 :]
    return text[:i] + rng.choice("aeiourns") + text[i + 1 :]  # a letter replaced


def _typed(email: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.7:
        return email
    if roll < 0.9:
        return email.capitalize()
    return f" {email.upper()} "


def _id(kind: str, value: str) -> Json:
    return {"type": kind, "value": value}


def _external(source: str, value: str) -> Json:
    return {"type": "external", "source": source, "value": value}


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _person_record(
    source: str,
    external_id: str,
    at: dt.datetime,
    identifiers: list[Json],
    given: str,
    family: str,
    person: GeneratedPerson,
) -> Json:
    return {
        "kind": "person",
        "source": source,
        "external_id": external_id,
        "occurred_at": _iso(at),
        "identifiers": identifiers,
        "given_name": given,
        "family_name": family,
        "birth_date": person.birth_date.isoformat(),
        "addresses": [
            {
                "line1": person.street,
                "city": person.city,
                "postal_code": person.postal_code,
                "country": "ES",
            }
        ],
    }


def _contact_record(
    source: str,
    external_id: str,
    at: dt.datetime,
    identifiers: list[Json],
    given: str,
    family: str | None,
) -> Json:
    """A person as a help desk or a till knows them: a name and a number, nothing else."""
    doc: Json = {
        "kind": "person",
        "source": source,
        "external_id": external_id,
        "occurred_at": _iso(at),
        "identifiers": identifiers,
        "given_name": given,
    }
    if family is not None:
        doc["family_name"] = family
    return doc


def _order(
    source: str, external_id: str, at: dt.datetime, identifiers: list[Json], channel: str
) -> Json:
    amount = 1995
    return {
        "kind": "order",
        "source": source,
        "external_id": external_id,
        "occurred_at": _iso(at),
        "identifiers": identifiers,
        "channel": channel,
        "line_items": [
            {"sku": "SKU-1", "quantity": 1, "unit_price": {"amount": amount, "currency": "EUR"}}
        ],
        "total": {"amount": amount, "currency": "EUR"},
    }


def _case(external_id: str, at: dt.datetime, identifiers: list[Json]) -> Json:
    return {
        "kind": "service_case",
        "source": "helpdesk",
        "external_id": external_id,
        "occurred_at": _iso(at),
        "identifiers": identifiers,
        "channel": "phone",
        "status": "solved",
        "subject": "Where is my parcel?",
    }


def _site_event(
    external_id: str, at: dt.datetime, identifiers: list[Json], event_type: str
) -> Json:
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": external_id,
        "occurred_at": _iso(at),
        "identifiers": identifiers,
        "event_type": event_type,
        "name": "Product Viewed" if event_type == "page" else None,
    }


# --- Evaluation -------------------------------------------------------------------------------


@dataclass
class Result:
    run: str
    seconds: float
    profiles: int
    precision: float
    recall: float
    merges: Counter[str]
    wrong: Counter[str]
    impure: int
    """Profiles holding records of two or more people."""
    split: int
    """People whose records are in two or more profiles."""
    strays_shared: int
    """Records in a profile of someone else, linked there by a shared (household) identifier."""
    strays_other: int
    rejected: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


async def final_profiles(store: Store) -> Callable[[str], str]:
    """Profile id → the profile it ended in, following ``merged_into``."""
    merged_into = {
        doc["_id"]: doc["merged_into"]
        async for doc in store.db["profiles"].find(
            {"merged_into": {"$exists": True}}, {"merged_into": 1}
        )
    }

    def final(profile_id: str) -> str:
        seen = 0
        while profile_id in merged_into and seen < 1000:
            profile_id, seen = merged_into[profile_id], seen + 1
        return profile_id

    return final


async def evaluate(store: Store, truth: Truth, run: str, seconds: float, rejected: int) -> Result:
    db = store.db
    final = await final_profiles(store)

    cells: Counter[tuple[str, int]] = Counter()
    linked_by: dict[tuple[str, int], Counter[bool]] = defaultdict(Counter)
    async for doc in db["records"].find({}, {"profile_id": 1, "linked_by": 1}):
        person = truth.record_person.get(doc["_id"])
        if person is None:
            continue
        profile = doc.get("profile_id")
        cell = (final(profile) if profile else f"none:{doc['_id']}", person)
        cells[cell] += 1
        key = doc.get("linked_by")
        linked_by[cell][key is not None and len(truth.key_people.get(key, ())) > 1] += 1
    predicted: Counter[str] = Counter()
    actual: Counter[int] = Counter()
    people_of: dict[str, set[int]] = defaultdict(set)
    profiles_of: dict[int, set[str]] = defaultdict(set)
    for (profile, person), n in cells.items():
        predicted[profile] += n
        actual[person] += n
        people_of[profile].add(person)
        profiles_of[person].add(profile)
    # Records in a profile whose majority is someone else, by how they were linked.
    best: dict[str, tuple[int, int]] = {}
    for (profile, person), n in cells.items():
        best[profile] = max(best.get(profile, (0, -1)), (n, -person))
    strays: Counter[bool] = Counter()
    for (profile, person), by_shared in linked_by.items():
        if -best[profile][1] != person:
            strays.update(by_shared)
    tp = sum(_pairs(n) for n in cells.values())
    predicted_pairs = sum(_pairs(n) for n in predicted.values())
    true_pairs = sum(_pairs(n) for n in actual.values())

    # Identity keys now held by each final profile, to judge the merges.
    keys_of: dict[str, set[str]] = defaultdict(set)
    async for doc in db["identities"].find({}, {"profile_id": 1}):
        keys_of[final(doc["profile_id"])].add(doc["_id"])
    merges: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    async for doc in db["merges"].find({"status": "done"}):
        rule = doc["rule"]
        merges[rule] += 1
        moved = set(doc.get("moved_identities", []))
        absorbed = _owners(truth, moved)
        others = _owners(truth, keys_of[final(doc["survivor"])] - moved)
        if absorbed and others and not absorbed <= others:
            wrong[rule] += 1
    return Result(
        run=run,
        seconds=seconds,
        profiles=len(predicted),
        precision=tp / predicted_pairs if predicted_pairs else 1.0,
        recall=tp / true_pairs if true_pairs else 1.0,
        merges=merges,
        wrong=wrong,
        impure=sum(1 for people in people_of.values() if len(people) > 1),
        split=sum(1 for profiles in profiles_of.values() if len(profiles) > 1),
        strays_shared=strays[True],
        strays_other=strays[False],
        rejected=rejected,
    )


def _owners(truth: Truth, keys: Iterable[str]) -> set[int]:
    return {p for p in (truth.owner(k) for k in keys) if p is not None}


# --- Diagnosis (--explain) --------------------------------------------------------------------


async def explain(store: Store, truth: Truth, settings: Settings, top: int = 15) -> list[str]:
    """Pairwise errors of the run by category: why two people share a profile (false
    positives) and which parts of one person stay apart (false negatives)."""
    db = store.db
    final = await final_profiles(store)

    # (profile, person) → the person's records there: source and how each was linked.
    cells: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    async for doc in db["records"].find({}, {"profile_id": 1, "linked_by": 1, "source": 1}):
        person = truth.record_person.get(doc["_id"])
        if person is None:
            continue
        profile = final(doc["profile_id"]) if doc.get("profile_id") else f"none:{doc['_id']}"
        how = _link_kind(truth, doc.get("linked_by"))
        cells[(profile, person)].append((doc["source"], how))
    rules_into: dict[str, Counter[str]] = defaultdict(Counter)
    async for doc in db["merges"].find({"status": "done"}, {"survivor": 1, "rule": 1}):
        rules_into[final(doc["survivor"])][doc["rule"]] += 1
    people_of: dict[str, dict[int, int]] = defaultdict(dict)
    profiles_of: dict[int, dict[str, int]] = defaultdict(dict)
    for (profile, person), recs in cells.items():
        people_of[profile][person] = len(recs)
        profiles_of[person][profile] = len(recs)

    false_pos: Counter[str] = Counter()
    for profile, people in people_of.items():
        if len(people) < 2:
            continue
        main = max(people, key=lambda p: (people[p], -p))
        merged = "+".join(sorted(rules_into[profile])) or "no merge"
        for other, n in people.items():
            if other == main:
                continue
            relation = _relation(main, other)
            links = "+".join(sorted({how for _, how in cells[(profile, other)]}))
            false_pos[f"{relation}; stray linked by {links}; merges {merged}"] += n * sum(
                m for p, m in people.items() if p != other
            )
    featured = [doc["_id"] async for doc in db["match_features"].find({}, {"_id": 1})]
    features = await MatchRepository(db).features(featured)
    false_neg: Counter[str] = Counter()
    for person, profiles in profiles_of.items():
        if len(profiles) < 2:
            continue
        largest = max(profiles, key=lambda p: (profiles[p], p))
        for profile, n in profiles.items():
            if profile == largest:
                continue
            sources = "+".join(sorted({s for s, _ in cells[(profile, person)]}))
            why = _why_apart(features.get(largest), features.get(profile), profile, settings)
            false_neg[f"{sources} apart from the main profile: {why}"] += n * profiles[largest]
    fp, fn = sum(false_pos.values()), sum(false_neg.values())
    lines = [f"\nfull: wrong pairs by cause ({fp:,}; household = partners sharing a landline):"]
    lines += [f"  {n:>8,}  {label}" for label, n in false_pos.most_common(top)]
    lines.append(f"full: missed pairs by cause ({fn:,}; pairs with the person's largest profile):")
    lines += [f"  {n:>8,}  {label}" for label, n in false_neg.most_common(top)]
    return lines


def _calibration_note(calibration: Calibration) -> str:
    """The weights the full run used, as log2(m/u) per field and level."""
    fields = "; ".join(
        f"{name} "
        + ", ".join(f"{level} {calibration.weights.weight(name, level):+.1f}" for level in levels)
        for name, levels in calibration.weights.table.items()
    )
    odds = calibration.even_odds
    even = f"; even odds at a score of {odds:.1f}" if odds is not None else ""
    return f"\nfull run scored with weights estimated from the exact run's records: {fields}{even}"


def _link_kind(truth: Truth, key: str | None) -> str:
    if key is None:
        return "nothing"
    kind = key.split(":", 1)[0]
    return f"shared {kind}" if len(truth.key_people.get(key, ())) > 1 else kind


def _relation(one: int, other: int) -> str:
    if one // HOUSEHOLD_EVERY == other // HOUSEHOLD_EVERY and {one, other} == {
        one - one % HOUSEHOLD_EVERY,
        one - one % HOUSEHOLD_EVERY + 1,
    }:
        return "household"
    if one % NAMESAKE_EVERY == 7 and other % NAMESAKE_EVERY == 7:
        return "namesakes"
    return "unrelated"


def _why_apart(
    main: Features | None, other: Features | None, profile: str, settings: Settings
) -> str:
    if profile.startswith("none:"):
        return "record linked to no profile"
    if main is None or other is None:
        return "no person record on " + ("either side" if main is other else "one side")
    result = score(main, other)
    if result.total >= settings.identity_match_auto:
        band = "above auto (merge refused)"
    elif result.total >= settings.identity_match_review:
        band = "review band"
    else:
        band = "below review"
    outcome = ", ".join(f"{name} {how}" for name, how, _ in result.fields)
    return f"score {band} ({outcome})"


# --- Runs -------------------------------------------------------------------------------------


RUNS: dict[str, Json] = {
    "exact": {"identity_match_auto": OUT_OF_REACH, "identity_match_review": OUT_OF_REACH},
    "full": {},
}


async def run(
    people: int, seed: int, batch_size: int, *, diagnose: bool = False, calibrated: bool = False
) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        started = time.perf_counter()
        generated = generate(Path(tmp) / "identity.jsonl", people, seed)
        sources = ", ".join(f"{s} {n:,}" for s, n in sorted(generated.counts.items()))
        true_people = len(set(generated.truth.record_person.values()))
        print(
            f"generated   {generated.records:,} records of {true_people:,} people "
            f"({sources}) in {time.perf_counter() - started:.1f} s (not counted), seed {seed}"
        )
        results: list[Result] = []
        notes: list[str] = []
        weights: Json | None = None
        for name, overrides in RUNS.items():
            if name == "full" and weights is not None:
                overrides = {**overrides, "identity_match_weights": weights}
            async with bench_store(Path(tmp), batch_size, overrides) as (store, settings):
                if not results:
                    print(f"store       {store.kind}, batch {batch_size}")
                    print()
                    print(_HEADER, flush=True)
                services = Services.build(store.db, settings)
                started = time.perf_counter()
                summary = await import_file(
                    services.ingest, "canonical", str(generated.path), settings.parse_options()
                )
                seconds = time.perf_counter() - started
                result = await evaluate(store, generated.truth, name, seconds, summary.rejected)
                if calibrated and name == "exact":
                    calibration = await services.matcher.calibrate(10_000_000, 200_000)
                    weights = calibration.to_setting()
                    notes.append(_calibration_note(calibration))
                if diagnose and name == "full":
                    notes += await explain(store, generated.truth, settings)
            results.append(result)
            print(_result_row(result), flush=True)
    print()
    for result in results:
        by_rule = ", ".join(f"{rule} {n:,}" for rule, n in sorted(result.merges.items())) or "-"
        wrong = ", ".join(f"{rule} {n:,}" for rule, n in sorted(result.wrong.items())) or "none"
        print(f"{result.run:<6} merges by rule: {by_rule}; wrong merges: {wrong}")
        print(
            f"{'':<6} {result.impure:,} profiles hold records of 2+ people; "
            f"{result.split:,} people are split over 2+ profiles; "
            f"{result.rejected:,} records rejected"
        )
        print(
            f"{'':<6} records in someone else's profile: {result.strays_shared:,} linked by a "
            f"shared household phone, {result.strays_other:,} otherwise"
        )
    if len(results) == 2:
        exact, full = results
        print(
            f"\ngain of the probabilistic layer: precision {full.precision - exact.precision:+.4f},"
            f" recall {full.recall - exact.recall:+.4f}, F1 {full.f1 - exact.f1:+.4f}"
        )
    print(TARGETS)
    for note in notes:
        print(note)


def _row(*cells: object) -> str:
    name, *numbers = cells
    return f"{name!s:<8}" + "".join(f"{n!s:>11}" for n in numbers)


_HEADER = _row(
    "run", "profiles", "precision", "recall", "F1", "merges", "shared", "anonymous",
    "probabil.", "wrong det.", "seconds", "merges/s",
)  # fmt: skip


def _result_row(r: Result) -> str:
    total = sum(r.merges.values())
    return _row(
        r.run,
        f"{r.profiles:,}",
        f"{r.precision:.4f}",
        f"{r.recall:.4f}",
        f"{r.f1:.4f}",
        f"{total:,}",
        f"{r.merges[SHARED_RULE]:,}",
        f"{r.merges[ANONYMOUS_RULE]:,}",
        f"{r.merges[PROBABILISTIC_RULE]:,}",
        f"{r.wrong[SHARED_RULE] + r.wrong[ANONYMOUS_RULE]:,}",
        f"{r.seconds:.2f}",
        f"{total / r.seconds:,.0f}" if r.seconds else "-",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--people", type=positive, default=10_000, metavar="N", help="default: 10 000"
    )
    parser.add_argument("--seed", type=int, default=7, help="of the generated data (default: 7)")
    parser.add_argument(
        "--batch-size",
        type=positive,
        default=Settings(_env_file=None).ingest_batch_size,
        metavar="B",
        help="records per store round trip (default: from settings)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="after the full run, print its wrong and missed pairs by cause",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="score the full run with m/u estimated from the exact run's person records",
    )
    args = parser.parse_args()
    asyncio.run(
        run(
            args.people,
            args.seed,
            args.batch_size,
            diagnose=args.explain,
            calibrated=args.calibrate,
        )
    )


if __name__ == "__main__":
    main()
