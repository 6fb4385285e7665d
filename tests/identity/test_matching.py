"""Probabilistic matching: scores, blocking keys, and merges or suggestions at ingest."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pymongo import AsyncMongoClient, MongoClient

from c360.identity.calibration import calibrate
from c360.identity.matching import (
    KEYS_VERSION,
    Features,
    Weights,
    blocking_keys,
    compare,
    conflicts,
    features_of,
    score,
)
from c360.identity.repository import MatchRepository
from c360.identity.types import MergeStatus
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import all_merges, all_suggestions, run
from tests.served import environment, run_c360
from tests.state import CommandCounter

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
AUTO, REVIEW = 22.0, 12.0  # the default thresholds

ANA = Features("ana", "garcia", "1988-06-02", "28013", ("+34600123456",))


class TestScore:
    def test_a_typo_and_the_same_birth_date_is_a_match(self) -> None:
        other = Features("ana", "garzia", "1988-06-02", "28013", ())
        assert score(ANA, other).total >= AUTO

    def test_a_moved_address_does_not_veto_a_match(self) -> None:
        moved = Features("ana", "garcia", "1988-06-02", "08001", ())
        result = score(ANA, moved)
        assert result.total >= AUTO
        assert ("postal code", "differs (moved?)", -1.0) in result.fields

    def test_swapped_first_and_last_names_match(self) -> None:
        swapped = Features("garcia", "ana", "1988-06-02", None, ())
        assert score(ANA, swapped).total >= AUTO
        assert blocking_keys(ANA) & blocking_keys(swapped)

    def test_a_nickname_and_a_phone_written_locally_match(self) -> None:
        bob = Features("bob", "smith", None, None, ("+34611223344",))
        robert = Features("robert", "smyth", None, None, ("+34611223344",))
        assert score(bob, robert).total >= AUTO

    def test_a_common_name_alone_is_for_review_not_a_merge(self) -> None:
        result = score(Features("john", "smith"), Features("john", "smith"))
        assert REVIEW <= result.total < AUTO

    def test_a_different_birth_date_is_no_match(self) -> None:
        other = Features("ana", "garcia", "1990-01-01", "08001", ())
        assert score(ANA, other).total < REVIEW

    def test_same_name_and_address_but_another_birth_date_is_for_review(self) -> None:
        """A parent and a child of one name at one address: a person decides."""
        junior = Features("ana", "garcia", "2012-03-04", "28013", ())
        assert REVIEW <= score(ANA, junior).total < AUTO

    def test_the_explanation_names_every_field(self) -> None:
        text = score(ANA, Features("ana", "garcía", "1988-06-02", None, ())).explain()
        assert text.startswith("probabilistic score ")
        for part in ("family name agrees", "given name agrees", "birth date equal"):
            assert part in text

    @pytest.mark.parametrize(
        ("one", "other"),
        [
            (("Иван", "Петров"), ("Ольга", "Смирнова")),
            (("राज", "शर्मा"), ("प्रिया", "पटेल")),
            (("太郎", "山田"), ("芳", "王")),
            (("فاطمة", "الصباح"), ("春樹", "田中")),
        ],
        ids=["cyrillic", "devanagari", "cjk", "arabic-and-cjk"],
    )
    def test_names_in_other_scripts_agree_only_when_they_are_alike(
        self, one: tuple[str, str], other: tuple[str, str]
    ) -> None:
        # Metaphone reads nothing of them: that nothing is no shared sound.
        people = [features_of([{"given_name": g, "family_name": n}], []) for g, n in (one, other)]
        a, b = (replace(p, birth_date="1985-02-02", postal_code="101000") for p in people)
        assert compare(a, b)["family"] == "differs"
        assert compare(a, b)["given"] == "differs"
        assert score(a, b).total < REVIEW
        assert not blocking_keys(a) & {k for k in blocking_keys(b) if k.startswith("name:")}
        again = features_of([{"given_name": one[0].upper(), "family_name": f" {one[1]} "}], [])
        assert compare(people[0], again) == {"family": "agrees", "given": "agrees"}
        assert blocking_keys(people[0]) == blocking_keys(again)

    def test_marks_people_leave_out_in_any_script_do_not_tell_names_apart(self) -> None:
        for written, typed in (("Ελένη", "ΕΛΕΝΗ"), ("Фёдор", "Федор")):
            a = features_of([{"given_name": written, "family_name": "x"}], [])
            b = features_of([{"given_name": typed, "family_name": "x"}], [])
            assert a.given == b.given, (written, typed)
        # On other letters the same marks make another letter (Macedonian gje is no ghe).
        a = features_of([{"given_name": "Ѓорѓи", "family_name": "x"}], [])
        b = features_of([{"given_name": "Горги", "family_name": "x"}], [])
        assert a.given != b.given

    def test_marks_that_make_other_letters_are_kept(self) -> None:
        # Latin accents go (García is Garcia); й is not и, が is not か.
        (cyrillic, kana, latin) = (
            features_of([{"given_name": g, "family_name": n}], [])
            for g, n in (("Йосиф", "Ильин"), ("がく", "かとう"), ("José", "Müller"))
        )
        assert (cyrillic.given, kana.given, latin.given, latin.family) == (
            "йосиф",
            "がく",
            "jose",
            "muller",
        )

    def test_features_take_the_latest_values_without_accents(self) -> None:
        people: list[dict[str, Any]] = [
            {"given_name": "Ana", "family_name": "García", "addresses": [{"postal_code": "1"}]},
            {"full_name": "Ana María García", "birth_date": "1988-06-02"},
        ]
        assert features_of(people, ["+34600123456"]) == Features(
            "ana", "maria garcia", "1988-06-02", "1", ("+34600123456",)
        )


def crm_person(external_id: str, **fields: Any) -> f.Record:
    fields.setdefault("identifiers", [f.external("crm", external_id)])
    return f.person(external_id=external_id, **fields)


def ana_in_crm(**fields: Any) -> f.Record:
    """CRM customer C-1, who also gives the e-mail address ana@example.com."""
    identifiers = [f.external("crm", "C-1"), f.email("ana@example.com")]
    return crm_person("C-1", identifiers=identifiers, **fields)


class TestAtIngest:
    async def test_likely_twins_merge_and_can_be_unmerged(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [ana_in_crm(given_name="Ana", family_name="García", birth_date="1988-06-02")],
                [
                    {
                        **crm_person(
                            "L-9", given_name="Ana", family_name="Garzia", birth_date="1988-06-02"
                        ),
                        "source": "loyalty",
                        "identifiers": [f.external("loyalty", "L-9")],
                    }
                ],
            ],
        )
        first = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "C-1", "crm")
        second = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "L-9", "loyalty")
        assert first.id == second.id
        [entry] = await services.merges.history(first.id)
        assert (entry.rule, entry.actor) == ("probabilistic", "matcher")
        assert (entry.reason or "").startswith("probabilistic score")

        await services.merges.unmerge(entry.id, NOW, actor="admin@test")
        apart = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "L-9", "loyalty")
        assert apart.id != first.id
        # New evidence about either does not merge them again.
        await run(
            services,
            tmp_path / "again",
            [
                [
                    ana_in_crm(
                        given_name="Ana",
                        family_name="García",
                        birth_date="1988-06-02",
                        occurred_at="2024-02-01T00:00:00Z",
                    )
                ]
            ],
        )
        merges = await all_merges(services, store)
        assert [m for m in merges if m.status is MergeStatus.DONE] == []

    async def test_a_possible_match_becomes_a_suggestion_with_its_reasons(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [crm_person("C-1", given_name="Robert", family_name="Smith")],
                [crm_person("C-2", given_name="Bob", family_name="Smyth")],
            ],
        )
        [suggestion] = await all_suggestions(services, store)
        (reason,) = suggestion.reasons
        assert "family name agrees" in reason
        assert "given name agrees" in reason
        assert await all_merges(services, store) == []

    async def test_likely_twins_with_two_ids_of_one_source_are_suggested_not_merged(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        twin = {"given_name": "Ana", "family_name": "García", "birth_date": "1988-06-02"}
        await run(services, tmp_path, [[crm_person("C-1", **twin)], [crm_person("C-2", **twin)]])

        # The source says they are two customers: only a person may decide otherwise.
        assert await all_merges(services, store) == []
        [suggestion] = await all_suggestions(services, store)
        assert suggestion.reasons[0].startswith("probabilistic score")

    async def test_twins_at_one_address_are_suggested_not_merged(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        """They agree on all but the given name, enough for the score: a person decides."""
        born = {"family_name": "García", "birth_date": "1988-06-02"}
        home = [{"line1": "Calle Mayor 1", "postal_code": "28013", "country": "ES"}]
        await run(
            services,
            tmp_path,
            [
                [crm_person("C-1", given_name="Ana", addresses=home, **born)],
                [
                    {
                        **crm_person("L-9", given_name="Luisa", addresses=home, **born),
                        "source": "loyalty",
                        "identifiers": [f.external("loyalty", "L-9")],
                    }
                ],
            ],
        )

        assert await all_merges(services, store) == []
        [suggestion] = await all_suggestions(services, store)
        (reason,) = suggestion.reasons
        assert "given name differs" in reason
        assert reason.endswith("; not merged automatically: given name differs")
        assert (
            score(
                features_of([{"given_name": "Ana", **born, "addresses": home}], []),
                features_of([{"given_name": "Luisa", **born, "addresses": home}], []),
            ).total
            >= AUTO
        )  # the score alone would have merged them

    async def test_different_people_are_left_alone(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [
                    crm_person(
                        "C-1", given_name="Ana", family_name="García", birth_date="1988-06-02"
                    )
                ],
                [
                    crm_person(
                        "C-2", given_name="Ana", family_name="García", birth_date="1961-11-30"
                    )
                ],
            ],
        )
        assert await all_merges(services, store) == []
        assert await all_suggestions(services, store) == []


class TestLevels:
    def test_a_family_name_typo_beyond_agreement_is_close_not_different(self) -> None:
        levels = compare(ANA, Features("ana", "gaocia", "1988-06-02", "28013", ()))
        assert levels["family"] == "close (typo?)"
        assert score(ANA, Features("ana", "gaocia", "1988-06-02", "28013", ())).total >= AUTO

    def test_a_birth_date_typed_with_day_and_month_swapped_is_close(self) -> None:
        assert compare(ANA, Features(birth_date="1988-02-06"))["birth_date"] == "close (typo?)"
        assert compare(ANA, Features(birth_date="1988-06-12"))["birth_date"] == "close (typo?)"
        assert compare(ANA, Features(birth_date="1971-10-30"))["birth_date"] == "differs"

    def test_weights_from_settings_go_over_the_defaults(self) -> None:
        common = Weights.over_defaults({"family": {"agrees": (0.95, 0.05)}})
        assert common.weight("family", "agrees") == pytest.approx(math.log2(0.95 / 0.05))
        assert common.weight("given", "agrees") == Weights().weight("given", "agrees")
        assert score(ANA, ANA, common).total < score(ANA, ANA).total

    @pytest.mark.parametrize(
        "values",
        [
            {"surname": {"agrees": (0.9, 0.1)}},
            {"family": {"equal": (0.9, 0.1)}},
            {"family": {"agrees": (1.2, 0.1)}},
        ],
    )
    def test_unknown_or_impossible_weights_are_refused(
        self, values: dict[str, dict[str, tuple[float, float]]]
    ) -> None:
        with pytest.raises(ValueError, match=r"unknown|within"):
            Weights.over_defaults(values)
        with pytest.raises(ValidationError):
            Settings(_env_file=None, identity_match_weights=values)


class TestConflicts:
    """What tells two people apart when only a phone ties them."""

    def test_another_birth_date_or_given_name_is_a_conflict(self) -> None:
        assert conflicts(ANA, Features("luis", "garcia", "2005-01-01")) == [
            "given name",
            "birth date",
        ]

    def test_nicknames_initials_typos_and_missing_values_are_not(self) -> None:
        assert conflicts(Features("carlos"), Features("charly")) == []
        assert conflicts(Features("robert"), Features("bob")) == []
        assert conflicts(Features("ana", "garcia"), Features("garcia", "ana")) == []
        assert conflicts(ANA, Features(birth_date="1988-02-06")) == []  # day and month swapped
        assert conflicts(ANA, Features(family="lopez")) == []  # households share or not a name
        assert conflicts(ANA, Features()) == []


def twins(count: int, seed: int) -> list[Features]:
    """Person records of ``count`` people, a third of them twice (a typo here and there)."""
    rng = random.Random(seed)
    given = ["ana", "luis", "maria", "javier", "lucia", "carlos", "elena", "pablo", "marta"]
    family = ["garcia", "lopez", "perez", "martin", "sanchez", "gomez", "ruiz", "diaz", "moreno"]
    records = []
    for n in range(count):
        surname = rng.choice(family) + rng.choice(["", "z", "s", "ez"])
        person = Features(
            rng.choice(given),
            surname,
            f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(1, 52):02d}{rng.randint(0, 999):03d}",
        )
        records.append(person)
        if n % 3 == 0:
            typo = surname[:2] + "x" + surname[3:] if rng.random() < 0.2 else surname
            moved = f"{rng.randint(1, 52):02d}{rng.randint(0, 999):03d}"
            records.append(
                Features(
                    person.given,
                    typo,
                    person.birth_date,
                    moved if rng.random() < 0.3 else person.postal_code,
                )
            )
    return records


class TestCalibration:
    def test_m_and_u_are_estimated_from_unlabelled_records(self) -> None:
        result = calibrate(twins(1500, seed=3), u_pairs=50_000)
        table = result.weights.table
        m_dob, u_dob = table["birth_date"]["equal"]
        assert m_dob > 0.9  # duplicates share their birth date
        assert u_dob < 0.001  # different people rarely do
        m_family, u_family = table["family"]["agrees"]
        assert 0.7 < m_family < 0.95  # a typo in one in five duplicates
        assert 0.05 < u_family < 0.2  # nine names (and their spellings)
        assert table["phone"] == Weights().table["phone"]  # no record states one: the prior
        m_moved, _ = table["postal_code"]["differs (moved?)"]
        assert 0.15 < m_moved < 0.45  # three in ten moved
        assert set(result.sessions) == {"dob", "name"}
        assert result.even_odds is not None
        # 500 duplicates among 2 million pairs: 1 in 4000, even odds at about 12 bits.
        assert result.random_match == pytest.approx(500 / (2000 * 1999 / 2), rel=0.2)
        assert 11 < result.even_odds < 13
        assert json.loads(json.dumps(result.to_setting()))["family"]["agrees"] == [
            round(m_family, 3),
            pytest.approx(u_family, rel=0.01),
        ]

    async def test_the_store_s_person_records_calibrate_the_score(
        self, services: Services, tmp_path: Path
    ) -> None:
        people = [
            crm_person(
                f"C-{n}",
                given_name=person.given,
                family_name=person.family,
                birth_date=person.birth_date,
            )
            for n, person in enumerate(twins(120, seed=5))
        ]
        await run(services, tmp_path, [people])
        result = await services.matcher.calibrate(records=10_000, u_pairs=5_000)
        assert result.sessions["dob"] > 0
        assert result.weights.weight("birth_date", "equal") > 5


class TestFeaturesAfterMerges:
    async def test_a_merge_at_ingest_compares_the_survivor_afresh(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(
            services,
            tmp_path,
            [
                [ana_in_crm(birth_date="1988-06-02")],
                [
                    {
                        **crm_person("Z-1", family_name=None),
                        "source": "helpdesk",
                        "identifiers": [f.external("helpdesk", "Z-1"), f.phone("611 22 33 44")],
                    }
                ],
                # One order names both: the phone ties them, and nothing tells them apart.
                [f.order(identifiers=[f.email("ana@example.com"), f.phone("611 22 33 44")])],
            ],
        )
        [entry] = [m for m in await all_merges(services, store) if m.rule == "shared-identifier"]
        compared = await MatchRepository(store.db).features([entry.absorbed, entry.survivor])
        assert entry.absorbed not in compared  # no longer a candidate
        assert compared[entry.survivor].phones == ("+34611223344",)
        assert compared[entry.survivor].birth_date == "1988-06-02"


class TestCalibrateCommand:
    def test_prints_a_value_for_the_weights_setting(self, mongo_uri: str, tmp_path: Path) -> None:
        env = environment(C360_MONGODB_URI=mongo_uri, C360_DATABASE=f"cli_{uuid.uuid4().hex[:12]}")
        people = [
            crm_person(f"C-{n}", given_name=p.given, family_name=p.family, birth_date=p.birth_date)
            for n, p in enumerate(twins(90, seed=7))
        ]
        path = f.write_jsonl(tmp_path / "people.jsonl", list(people))
        try:
            assert run_c360("import", "canonical", str(path), env=env).returncode == 0
            result = run_c360("identity", "calibrate", "--pairs", "3000", env=env)
        finally:
            client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
            client.drop_database(env["C360_DATABASE"])
            client.close()
        assert result.returncode == 0, result.stderr
        table = json.loads(result.stdout)
        settings = Settings(_env_file=None, identity_match_weights=table)
        assert settings.match_weights().weight("birth_date", "equal") > 5
        assert "m estimated over candidate pairs: dob" in result.stderr
        assert "even odds" in result.stderr


async def test_an_unchanged_profile_is_not_saved_or_compared_again(
    services: Services, settings: Settings, mongo_uri: str, tmp_path: Path
) -> None:
    person = f.person(identifiers=[f.email("ana@example.com"), f.phone("+34 600 12 34 56")])
    await run(services, tmp_path, [[person]])
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana@example.com")
    counter = CommandCounter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[counter]
    )
    try:
        fresh = Services.build(client.get_database(settings.database), settings)
        await fresh.matcher.evaluate([profile.id], dt.datetime.now(dt.UTC))
    finally:
        await client.close()

    assert counter.commands  # it read the profile's features
    assert not {"insert", "update", "delete"} & set(counter.commands)  # and wrote nothing


async def test_a_profile_whose_people_change_keeps_the_keys_of_what_they_say_now(
    services: Services, store: Store, tmp_path: Path
) -> None:
    ana = [f.email("ana@example.com")]
    first = f.person(external_id="C-1", identifiers=ana, birth_date="1990-04-01")
    await run(services, tmp_path / "first", [[first]])
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana@example.com")

    async def stored_keys() -> set[str]:
        found = store.db.match_keys.find({"profile_id": profile.id})
        return {doc["key"] async for doc in found}

    before = await stored_keys()
    later = f.person(
        external_id="C-2",
        identifiers=ana,
        birth_date="1991-04-01",
        occurred_at="2024-02-01T00:00:00Z",
    )
    await run(services, tmp_path / "second", [[later]])

    now = await stored_keys()
    features = features_of(
        [{"given_name": "Ana", "family_name": "García", "birth_date": "1991-04-01"}], []
    )
    assert now == blocking_keys(features)
    assert "dob:1990-04-01" in before - now  # what they no longer say is gone
    assert before & now  # and the name's keys stayed


async def test_keys_written_under_older_rules_are_written_again_when_the_profile_next_changes(
    services: Services, store: Store, tmp_path: Path
) -> None:
    # A store written before names in other scripts had keys of their own: 太郎 山田 was
    # blocked under the one empty sound every such name had ("name::"). Storage is the subject.
    taro = [f.email("taro@example.jp")]
    first = f.person(external_id="C-1", identifiers=taro, given_name="太郎", family_name="山田")
    await run(services, tmp_path / "first", [[first]])
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, "taro@example.jp")
    await store.db.match_features.update_one({"_id": profile.id}, {"$unset": {"version": ""}})
    await store.db.match_keys.insert_one(
        {"_id": f"name::|{profile.id}", "key": "name::", "profile_id": profile.id}
    )

    # His person record comes again, saying nothing new: his features are unchanged, but they
    # were written under older rules, so he is written and compared afresh.
    again = f.person(
        external_id="C-1",
        identifiers=taro,
        given_name="太郎",
        family_name="山田",
        updated_at="2024-03-01T00:00:00Z",
    )
    await run(services, tmp_path / "again", [[again]])

    found = store.db.match_keys.find({"profile_id": profile.id})
    keys = {doc["key"] async for doc in found}
    assert keys == blocking_keys(features_of([{"given_name": "太郎", "family_name": "山田"}], []))
    assert "name::" not in keys
    stored = await store.db.match_features.find_one({"_id": profile.id})
    assert stored is not None
    assert stored["version"] == KEYS_VERSION


async def test_the_rekey_command_keys_afresh_every_profile_keyed_under_older_rules(
    services: Services, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    people = [
        f.person(external_id="C-1", identifiers=[f.email("taro@example.jp")], given_name="太郎"),
        f.person(external_id="C-2", identifiers=[f.email("olga@example.ru")], given_name="Ольга"),
    ]
    await run(services, tmp_path, [people])
    # Written the old way (storage is the subject): no version, and the one empty sound.
    async for doc in store.db.match_features.find({}, {"_id": 1}):
        await store.db.match_features.update_one({"_id": doc["_id"]}, {"$unset": {"version": ""}})
        await store.db.match_keys.insert_one(
            {"_id": f"name::|{doc['_id']}", "key": "name::", "profile_id": doc["_id"]}
        )

    first = run_c360("identity", "rekey", env=env)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "profiles keyed afresh: 2"
    assert await services.matcher.rekey(dt.datetime.now(dt.UTC)) == 0  # nothing left to do
    assert await store.db.match_keys.count_documents({"key": "name::"}) == 0
    versions = {doc.get("version") async for doc in store.db.match_features.find({})}
    assert versions == {KEYS_VERSION}
