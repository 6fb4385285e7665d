"""Linking records to profiles: anonymous browsing joins the person once they are identified."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from c360.identity.linking import Unlinked, plan_links
from c360.identity.matching import Features, features_of
from c360.identity.rules import IdentityRules
from c360.identity.types import ProfileIdentifier, SuggestionStatus
from c360.ingest.batch import Batch
from c360.ingest.files import import_file
from c360.ingest.stages.base import Stage
from c360.profiles.types import Profile
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import Identifier, IdentifierType
from tests import factories as f
from tests.helpers import (
    Crash,
    all_identifiers,
    all_merges,
    all_profiles,
    all_suggestions,
    live_profiles,
    owner,
    parse_options,
    record,
)
from tests.state import other_database

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def anon(value: str) -> f.Record:
    return {"type": "anonymous", "value": value}


def page_view(n: int, device: str, when: str = "2024-05-01T10:00:00Z") -> f.Record:
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": f"pv-{n}",
        "occurred_at": when,
        "identifiers": [anon(device)],
        "event_type": "page",
        "url": f"https://shop.example.com/p/{n}",
    }


def identify(device: str, email: str, when: str = "2024-05-02T10:00:00Z") -> f.Record:
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": f"identify-{device}",
        "occurred_at": when,
        "identifiers": [anon(device), f.email(email)],
        "event_type": "identify",
    }


async def ingest(services: Services, tmp_path: Path, name: str, items: list[Any]) -> None:
    path = f.write_jsonl(tmp_path / f"{name}.jsonl", items)
    await import_file(services.ingest, "canonical", str(path), parse_options(default_region="ES"))


async def shared_because(store: Store, key: str) -> str:
    """Why an identity was flagged as used by several people, as stored with the flag (no
    reader above the store hands out the reason)."""
    identity = await store.db.identities.find_one({"_id": key})
    assert identity is not None
    return str(identity["shared"]["why"])


async def ingest_ana(services: Services, tmp_path: Path) -> None:
    """A CRM person known by her e-mail address, ana@example.com."""
    known = [f.person(identifiers=[f.email("ana@example.com")])]
    await ingest(services, tmp_path, "crm", known)


class TestAnonymousBrowsingIsLinked:
    async def test_identify_brings_earlier_page_views_to_the_person(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await ingest_ana(services, tmp_path)
        await ingest(
            services,
            tmp_path,
            "views",
            [page_view(1, "dev-1", "2023-12-01T00:00:00Z"), page_view(2, "dev-1")],
        )
        known = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana@example.com")
        browsing = await services.profiles.by_identifier(IdentifierType.ANONYMOUS, "dev-1")
        assert known.id != browsing.id

        await ingest(services, tmp_path, "identify", [identify("dev-1", "ana@example.com")])

        now_known = await services.profiles.by_identifier(IdentifierType.ANONYMOUS, "dev-1")
        assert now_known.id == known.id
        page = await services.profiles.timeline(known.id, first=10)
        assert {r.id for _, r in page.items} == {
            "crm:person:C-1",
            "web:site_event:pv-1",
            "web:site_event:pv-2",
            "web:site_event:identify-dev-1",
        }
        # The absorbed id still resolves, to the survivor.
        assert (await services.profiles.get(browsing.id)).id == known.id
        assert now_known.first_seen_at == dt.datetime(2023, 12, 1, tzinfo=dt.UTC)
        [merge] = await services.merges.history(browsing.id)
        assert (merge.absorbed, merge.survivor, merge.rule, merge.status) == (
            browsing.id,
            known.id,
            "anonymous-identified",
            "done",
        )

    async def test_within_one_file_no_second_profile_is_made(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await ingest_ana(services, tmp_path)
        await ingest(
            services,
            tmp_path,
            "all",
            [page_view(1, "dev-2"), page_view(2, "dev-2"), identify("dev-2", "ana@example.com")],
        )
        assert len(await all_profiles(services, store)) == 1
        assert await all_merges(services, store) == []


class TestSegmentSession:
    async def test_a_browsing_session_then_login_is_one_customer(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        """Page views and a cart before login, then identify, then the app: one profile."""
        # Anonymous browsing arrives first, in its own import.
        fixture = Path(__file__).parent.parent / "fixtures" / "segment" / "events.jsonl"
        lines = fixture.read_text().splitlines(keepends=True)
        (tmp_path / "before.jsonl").write_text("".join(lines[:3]))
        (tmp_path / "after.jsonl").write_text("".join(lines[3:]))
        for name in ("before", "after"):
            await import_file(
                services.ingest,
                "segment",
                str(tmp_path / f"{name}.jsonl"),
                parse_options(default_region="ES"),
            )
        ana = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana.garcia@example.com")
        page = await services.profiles.timeline(ana.id, first=50, kinds=["site_event"])
        assert len(page.items) == 7  # every event of the session, anonymous ones included
        assert len(await live_profiles(store)) == 1


class TestRulesAtIngest:
    async def test_household_email_with_two_customer_ids_is_two_people_and_a_suggestion(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        shared = f.email("family@example.com")
        await ingest(
            services,
            tmp_path,
            "a",
            [f.order(external_id="1", identifiers=[f.external("shopify", "c-1"), shared])],
        )
        await ingest(
            services,
            tmp_path,
            "b",
            [f.order(external_id="2", identifiers=[f.external("shopify", "c-2"), shared])],
        )
        first = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "c-1", "shopify")
        second = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "c-2", "shopify")
        assert first.id != second.id
        [suggestion] = await all_suggestions(services, store)
        assert sorted(suggestion.profiles) == sorted([first.id, second.id])
        assert suggestion.status == SuggestionStatus.OPEN
        assert suggestion.reasons == ("share identifiers but hold different shopify customer ids",)
        order = await store.db.records.find_one({"_id": "shop:order:2"})
        assert order is not None
        assert order["unlinked_identifiers"] == [
            {"key": "email:family@example.com", "reason": "held by another profile"}
        ]

    async def test_placeholder_email_links_nobody(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await ingest(
            services,
            tmp_path,
            "p",
            [
                f.order(
                    external_id="1",
                    identifiers=[f.email("noreply@shop.example.org"), f.phone("+34 611 22 33 44")],
                ),
                f.order(
                    external_id="2",
                    identifiers=[f.email("noreply@shop.example.org"), f.phone("+34 622 33 44 55")],
                ),
            ],
        )
        assert len(await all_profiles(services, store)) == 2
        held = await all_identifiers(services, store)
        assert [i.key for i in held if i.type is IdentifierType.EMAIL] == []


class TestCrashInAMerge:
    async def test_an_unfinished_merge_is_completed_by_the_next_run(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await ingest_ana(services, tmp_path)
        await ingest(services, tmp_path, "views", [page_view(1, "dev-3")])
        known = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana@example.com")
        browsing = await services.profiles.by_identifier(IdentifierType.ANONYMOUS, "dev-3")
        # The state a crash right after journalling leaves: the entry, no step done.
        await store.db.merges.insert_one(
            {
                "_id": f"{browsing.id}>{known.id}",
                "absorbed": browsing.id,
                "survivor": known.id,
                "rule": "anonymous-identified",
                "status": "started",
                "started": {"at": NOW},
            }
        )

        await ingest(services, tmp_path, "later", [f.survey()])  # any later run repairs it

        assert (await record(store, "web:site_event:pv-1")).profile_id == known.id
        assert await owner(store, "anon:dev-3") == known.id
        [merge] = await services.merges.history(browsing.id)
        assert (merge.absorbed, merge.status) == (browsing.id, "done")


def held(profile_id: str, *keys: str) -> dict[str, list[ProfileIdentifier]]:
    """A stored profile's identities as the planner is given them."""
    found = []
    for key in keys:
        kind, _, rest = key.partition(":")
        source, value = rest.split(":", 1) if kind == "ext" else (None, rest)
        kind = {"ext": "external", "anon": "anonymous"}.get(kind, kind)
        found.append(ProfileIdentifier(key, IdentifierType(kind), value, source, None, profile_id))
    return {profile_id: found}


def ids(*pairs: tuple[str, str] | tuple[str, str, str]) -> list[Identifier]:
    return [
        Identifier(type=IdentifierType(p[0]), value=p[1], source=p[2] if len(p) == 3 else None)
        for p in pairs
    ]


class TestPlan:
    def test_anonymous_owner_is_absorbed_into_the_known_one(self) -> None:
        owners = {"anon:d": "p-anon", "email:a@example.com": "p-known"}
        stored = held("p-anon", "anon:d") | held("p-known", "email:a@example.com")
        plan = plan_links(
            [ids(("anonymous", "d"), ("email", "a@example.com"))], owners, stored, NOW
        )
        assert plan.profile_ids == ["p-known"]
        assert plan.merges == {"p-anon": ("p-known", "anonymous-identified")}

    def test_later_absorption_reaches_earlier_records_of_the_batch(self) -> None:
        owners = {"email:a@example.com": "p-known"}
        plan = plan_links(
            [ids(("anonymous", "d")), ids(("anonymous", "d"), ("email", "a@example.com"))],
            owners,
            held("p-known", "email:a@example.com"),
            NOW,
        )
        assert plan.profile_ids == ["p-known", "p-known"]
        assert [i.profile_id for i in plan.new_identities] == ["p-known"]
        assert plan.merges == {}  # the anonymous profile never reached the store

    def test_known_profiles_a_record_ties_merge_into_the_older(self) -> None:
        owners = {"email:a@example.com": "p2", "phone:+34611223344": "p1"}
        stored = held("p1", "phone:+34611223344") | held("p2", "email:a@example.com")
        plan = plan_links(
            [ids(("email", "a@example.com"), ("phone", "+34611223344"))], owners, stored, NOW
        )
        assert plan.profile_ids == ["p1"]
        assert plan.merges == {"p2": ("p1", "shared-identifier")}
        # Linked by its strongest identifier: unmerged, it goes where that one goes, as it
        # would have had the two never merged.
        assert plan.linked_by == ["email:a@example.com"]

    def test_a_record_is_linked_by_the_identifier_it_brought_the_others_through(self) -> None:
        # Its customer id is new, its phone known: both records are linked by the phone, and
        # the customer id is claimed through it.
        phone, customer = "phone:+34611223344", "ext:shop:c-1"
        records = [ids(("external", "c-1", "shop"), ("phone", "+34611223344"))] * 2
        first = plan_links(records, {phone: "p1"}, held("p1", phone), NOW)
        assert first.linked_by == [phone, phone]
        assert [(i.key, i.claimed_via) for i in first.new_identities] == [(customer, phone)]
        # A run that claimed the customer id but died before writing the records: the re-run
        # finds both held, the stronger one claimed through the phone, and links them alike.
        again = plan_links(
            records,
            {phone: "p1", customer: "p1"},
            held("p1", phone, customer),
            NOW,
            claimed_via={customer: phone},
        )
        assert again.new_identities == []
        assert again.linked_by == first.linked_by

    def test_profiles_set_apart_are_not_merged_again(self) -> None:
        owners = {"email:a@example.com": "p1", "phone:+34611223344": "p2"}
        stored = held("p1", "email:a@example.com") | held("p2", "phone:+34611223344")
        plan = plan_links(
            [ids(("email", "a@example.com"), ("phone", "+34611223344"))],
            owners,
            stored,
            NOW,
            apart={"p1": {"p2"}, "p2": {"p1"}},
        )
        assert plan.merges == {}
        assert plan.suggestions == [("p1", "p2", "share identifiers")]


class DieAfterLinking(Stage):
    """A process killed once the batch's identifiers are claimed, before its records are."""

    name = "die after linking"

    async def run(self, batch: Batch) -> None:
        raise Crash(self.name)


async def test_a_run_killed_after_claiming_links_the_record_as_an_uninterrupted_one(
    services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
) -> None:
    # Her phone is known; an order brings her shop customer id (stronger) with it.
    known = [f.person(identifiers=[f.phone("+34600123456")])]
    order = f.order(identifiers=[f.external("shop", "C-1"), f.phone("+34600123456")])

    async def linked_by(of: Store) -> list[str | None]:
        """What the stored order says linked it (what an unmerge sends it back along)."""
        return [d.get("linked_by") async for d in of.db.records.find({"kind": "order"})]

    async with other_database(settings, mongo_uri) as other:
        reference = Services.build(other.db, settings)
        await ingest(reference, tmp_path, "known", known)
        await ingest(reference, tmp_path, "order", [order])
        expected = await linked_by(other)
    assert expected == ["phone:+34600123456"]

    await ingest(services, tmp_path, "known", known)
    services.ingest.add_stage(DieAfterLinking(), after="link")
    with pytest.raises(Crash):
        await ingest(services, tmp_path, "order", [order])
    assert await linked_by(store) == []

    await ingest(Services.build(store.db, settings), tmp_path, "order", [order])
    assert await linked_by(store) == expected


class TestAlias:
    """An alias's external ids are one person's: two ids of one source may join."""

    OLD, NEW = ("external", "legacy-7", "segment"), ("external", "cust-1", "segment")

    def test_the_profiles_of_both_ids_merge(self) -> None:
        owners = {"ext:segment:cust-1": "p2", "ext:segment:legacy-7": "p1"}
        stored = held("p1", "ext:segment:legacy-7") | held("p2", "ext:segment:cust-1")
        plan = plan_links([ids(self.NEW, self.OLD)], owners, stored, NOW, aliases=[True])
        assert plan.profile_ids == ["p1"]
        assert plan.merges == {"p2": ("p1", "alias")}
        assert plan.suggestions == []

    def test_without_the_alias_two_ids_of_one_source_stay_apart(self) -> None:
        owners = {"ext:segment:cust-1": "p2", "ext:segment:legacy-7": "p1"}
        stored = held("p1", "ext:segment:legacy-7") | held("p2", "ext:segment:cust-1")
        plan = plan_links([ids(self.NEW, self.OLD)], owners, stored, NOW)
        assert plan.merges == {}
        assert [why for _, _, why in plan.suggestions] == [
            "share identifiers but hold different segment customer ids"
        ]

    def test_the_id_not_yet_known_joins_the_other(self) -> None:
        owners = {"ext:segment:cust-1": "p1"}
        plan = plan_links(
            [ids(self.NEW, self.OLD)], owners, held("p1", "ext:segment:cust-1"), NOW, aliases=[True]
        )
        assert plan.profile_ids == ["p1"]
        assert [i.key for i in plan.new_identities] == ["ext:segment:legacy-7"]
        assert plan.unlinked == [[]]

    def test_a_profile_holding_both_takes_either_with_more(self) -> None:
        owners = {"ext:segment:cust-1": "p1", "ext:segment:legacy-7": "p1"}
        stored = held("p1", "ext:segment:cust-1", "ext:segment:legacy-7")
        plan = plan_links([ids(self.OLD, ("email", "a@example.com"))], owners, stored, NOW)
        assert plan.profile_ids == ["p1"]
        assert [i.key for i in plan.new_identities] == ["email:a@example.com"]

    def test_other_customer_ids_still_tell_people_apart(self) -> None:
        owners = {"ext:segment:cust-1": "p2", "ext:segment:legacy-7": "p1"}
        stored = held("p1", "ext:segment:legacy-7", "ext:shopify:1") | held(
            "p2", "ext:segment:cust-1", "ext:shopify:2"
        )
        plan = plan_links([ids(self.NEW, self.OLD)], owners, stored, NOW, aliases=[True])
        assert plan.merges == {}
        assert plan.suggestions == [
            ("p1", "p2", "share identifiers but hold different shopify customer ids")
        ]


class TestRules:
    def test_blocked_values_never_link(self) -> None:
        plan = plan_links(
            [
                ids(("email", "noreply@shop.com"), ("phone", "+34600000000")),
                ids(("email", "noreply@shop.com"), ("phone", "+34611223344")),
            ],
            {},
            {},
            NOW,
        )
        assert plan.profile_ids[0] is None  # nothing usable: kept, but linked to nobody
        assert plan.unlinked[0] == [
            Unlinked("email:noreply@shop.com", "blocked value"),
            Unlinked("phone:+34600000000", "blocked value"),
        ]
        assert [i.key for i in plan.new_identities] == ["phone:+34611223344"]

    def test_extra_identifiers_over_a_limit_are_flagged_not_dropped(self) -> None:
        rules = IdentityRules(limits={IdentifierType.EMAIL: 2})
        owners = {"phone:+34611223344": "p1"}
        stored = held("p1", "phone:+34611223344", "email:a@example.com", "email:b@example.com")
        plan = plan_links(
            [ids(("phone", "+34611223344"), ("email", "c@example.com"))], owners, stored, NOW, rules
        )
        assert plan.profile_ids == ["p1"]  # the profile is not frozen: the record still joins
        assert plan.new_identities == []
        assert plan.unlinked == [
            [Unlinked("email:c@example.com", "profile holds 2 email identifiers (the limit)")]
        ]

    def test_a_second_customer_id_of_one_source_is_a_suggestion_not_a_merge(self) -> None:
        """Two Shopify customers sharing a household e-mail stay two people."""
        owners = {"email:family@example.com": "p1", "ext:shopify:1": "p1"}
        stored = held("p1", "ext:shopify:1", "email:family@example.com")
        plan = plan_links(
            [ids(("external", "2", "shopify"), ("email", "family@example.com"))],
            owners,
            stored,
            NOW,
        )
        (target,) = plan.profile_ids
        assert target is not None
        assert target != "p1"
        assert [i.key for i in plan.new_identities] == ["ext:shopify:2"]
        assert plan.unlinked == [[Unlinked("email:family@example.com", "held by another profile")]]
        assert plan.suggestions == [
            (*sorted((target, "p1")), "share identifiers but hold different shopify customer ids")
        ]

    def test_the_highest_priority_identifier_decides(self) -> None:
        owners = {"phone:+34611223344": "p-phone", "loyalty:L-1": "p-loyalty"}
        stored = held("p-phone", "phone:+34611223344") | held("p-loyalty", "loyalty:L-1")
        plan = plan_links([ids(("phone", "+34611223344"), ("loyalty", "L-1"))], owners, stored, NOW)
        # The loyalty id names the profile; both merge, and the older (p-loyalty < p-phone)
        # survives.
        assert plan.profile_ids == ["p-loyalty"]
        assert plan.merges == {"p-phone": ("p-loyalty", "shared-identifier")}

    def test_rules_from_settings(self) -> None:
        blocked = [r"^email:.*@internal\.example\.org$"]
        rules = IdentityRules.from_settings(blocked, {"email": 1}, ["phone"])
        staff = Identifier(type=IdentifierType.EMAIL, value="x@internal.example.org")
        assert rules.is_blocked(staff)
        assert rules.limit(IdentifierType.EMAIL) == 1
        assert rules.priority[0] is IdentifierType.PHONE
        assert set(rules.priority) == set(IdentifierType)


LANDLINE, MOBILE = "+34911223344", "+34611223344"
ANA = Features("ana", "garcia", "1980-03-04")
LUIS = Features("luis", "garcia", "2005-11-20")


class TestSharedPhones:
    """A phone alone links no one whose given name or birth date clearly conflicts."""

    def test_a_phone_does_not_link_a_person_who_conflicts(self) -> None:
        owners = {f"phone:{MOBILE}": "p1"}
        plan = plan_links(
            [ids(("external", "C-2", "crm"), ("phone", MOBILE))],
            owners,
            held("p1", f"phone:{MOBILE}", "ext:crm:C-1"),
            NOW,
            people=[LUIS],
            features={"p1": ANA},
        )
        (target,) = plan.profile_ids
        assert target not in (None, "p1")
        assert [i.key for i in plan.new_identities] == ["ext:crm:C-2"]
        assert plan.unlinked == [[Unlinked(f"phone:{MOBILE}", "shared by several people")]]
        assert plan.shared == {f"phone:{MOBILE}": "given name and birth date differ"}
        assert plan.suggestions == [
            (
                *sorted((target, "p1")),
                f"share phone {MOBILE} only, and given name and birth date differ: "
                "several people use it",
            )
        ]
        assert plan.merges == {}

    def test_a_phone_links_a_person_who_agrees(self) -> None:
        owners = {f"phone:{MOBILE}": "p1"}
        plan = plan_links(
            [ids(("external", "C-2", "crm"), ("phone", MOBILE))],
            owners,
            held("p1", f"phone:{MOBILE}"),
            NOW,
            people=[Features("ana", "garcía lópez", "1980-03-04")],
            features={"p1": ANA},
        )
        assert plan.profile_ids == ["p1"]
        assert plan.shared == {}

    def test_a_phone_alone_does_not_merge_two_people(self) -> None:
        owners = {"email:luis@example.com": "p2", f"phone:{MOBILE}": "p1"}
        stored = held("p1", f"phone:{MOBILE}") | held("p2", "email:luis@example.com")
        plan = plan_links(
            [ids(("email", "luis@example.com"), ("phone", MOBILE))],
            owners,
            stored,
            NOW,
            features={"p1": ANA, "p2": LUIS},
        )
        assert plan.profile_ids == ["p2"]
        assert plan.merges == {}
        assert list(plan.shared) == [f"phone:{MOBILE}"]
        assert [(a, b) for a, b, _ in plan.suggestions] == [("p1", "p2")]

    def test_a_phone_merges_profiles_nothing_tells_apart(self) -> None:
        owners = {"email:a@example.com": "p2", f"phone:{MOBILE}": "p1"}
        stored = held("p1", f"phone:{MOBILE}") | held("p2", "email:a@example.com")
        plan = plan_links(
            [ids(("email", "a@example.com"), ("phone", MOBILE))],
            owners,
            stored,
            NOW,
            features={"p1": ANA},  # the other side says nothing of who it is
        )
        assert plan.merges == {"p2": ("p1", "shared-identifier")}

    def test_an_email_links_whatever_the_names_say(self) -> None:
        """E-mail addresses stay strong: a nickname or a new surname is no reason to split."""
        owners = {"email:a@example.com": "p1"}
        plan = plan_links(
            [ids(("external", "C-2", "crm"), ("email", "a@example.com"))],
            owners,
            held("p1", "email:a@example.com"),
            NOW,
            people=[LUIS],
            features={"p1": ANA},
        )
        assert plan.profile_ids == ["p1"]
        assert plan.shared == {}

    def test_a_shared_phone_links_nobody(self) -> None:
        owners = {f"phone:{MOBILE}": "p1"}
        plan = plan_links(
            [ids(("phone", MOBILE))],
            owners,
            held("p1", f"phone:{MOBILE}"),
            NOW,
            shared={f"phone:{MOBILE}"},
        )
        assert plan.profile_ids == [None]
        assert plan.unlinked == [[Unlinked(f"phone:{MOBILE}", "shared by several people")]]


class TestHouseholdLines:
    """A landline belongs to a home: it decides only for records that name nothing else."""

    def test_a_landline_does_not_bring_a_new_person_into_a_profile(self) -> None:
        owners = {f"phone:{LANDLINE}": "p1"}
        plan = plan_links(
            [ids(("email", "luis@example.com"), ("phone", LANDLINE))],
            owners,
            held("p1", f"phone:{LANDLINE}", "email:ana@example.com"),
            NOW,
        )
        (target,) = plan.profile_ids
        assert target not in (None, "p1")
        assert [i.key for i in plan.new_identities] == ["email:luis@example.com"]
        assert plan.shared == {f"phone:{LANDLINE}": "a landline two profiles name"}
        assert plan.merges == {}

    def test_a_landline_does_not_merge_two_profiles(self) -> None:
        owners = {"email:luis@example.com": "p2", f"phone:{LANDLINE}": "p1"}
        stored = held("p1", f"phone:{LANDLINE}") | held("p2", "email:luis@example.com")
        plan = plan_links(
            [ids(("email", "luis@example.com"), ("phone", LANDLINE))], owners, stored, NOW
        )
        assert plan.profile_ids == ["p2"]
        assert plan.merges == {}

    def test_a_landline_alone_links_to_its_holder(self) -> None:
        owners = {f"phone:{LANDLINE}": "p1"}
        plan = plan_links([ids(("phone", LANDLINE))], owners, held("p1", f"phone:{LANDLINE}"), NOW)
        assert plan.profile_ids == ["p1"]

    def plan_caller(
        self, person: Features | None, holder: Features | None, shared: tuple[str, ...] = ()
    ) -> Any:
        """A help-desk user known by a new id and the landline ``p1`` holds."""
        return plan_links(
            [ids(("external", "U-1", "helpdesk"), ("phone", LANDLINE))],
            {f"phone:{LANDLINE}": "p1"},
            held("p1", f"phone:{LANDLINE}", "email:ana@example.com"),
            NOW,
            people=[person],
            features={"p1": holder} if holder else {},
            shared=shared,
        )

    def test_the_same_given_and_family_names_link_through_a_landline(self) -> None:
        """A household shares a line, not a full name."""
        plan = self.plan_caller(Features("ana", "garcia"), ANA)
        assert plan.profile_ids == ["p1"]
        assert [i.key for i in plan.new_identities] == ["ext:helpdesk:U-1"]
        assert plan.linked_by == [f"phone:{LANDLINE}"]
        assert plan.shared == {}

    def test_once_the_line_is_known_to_be_shared_it_takes_the_birth_date_too(self) -> None:
        """A father and his son may share a name and a line, not a birth date."""
        shared = (f"phone:{LANDLINE}",)
        plan = self.plan_caller(Features("ana", "garcia", "1980-03-04"), ANA, shared=shared)
        assert (plan.profile_ids, plan.unlinked) == (["p1"], [[]])
        plan = self.plan_caller(Features("ana", "garcia"), ANA, shared=shared)
        (target,) = plan.profile_ids
        assert target not in (None, "p1")
        assert plan.unlinked == [[Unlinked(f"phone:{LANDLINE}", "shared by several people")]]

    @pytest.mark.parametrize(
        ("caller", "holder"),
        [
            (Features("luis", "garcia"), ANA),  # the partner: same family name
            (Features("ana", "lopez"), ANA),  # the family name differs
            (Features("ana", None), ANA),  # no family name
            (Features(None, "garcia"), ANA),  # no given name
            (Features("ana", "garcia"), Features("ana", None, "1980-03-04")),
            (Features("ana", "garcia"), None),  # nothing known of the line's holder
            (Features("ana", "garcia", "2001-07-30"), ANA),  # the birth date differs
            (None, ANA),  # not a person record
        ],
    )
    def test_otherwise_a_landline_still_keeps_people_apart(
        self, caller: Features | None, holder: Features | None
    ) -> None:
        plan = self.plan_caller(caller, holder)
        (target,) = plan.profile_ids
        assert target not in (None, "p1")
        assert plan.shared == {f"phone:{LANDLINE}": "a landline two profiles name"}

    def test_names_agree_whatever_their_case_and_accents(self) -> None:
        told = features_of([{"given_name": "ANA", "family_name": "Garcia"}], ())
        stored = features_of([{"given_name": "Ana", "family_name": "García"}], ())
        assert self.plan_caller(told, stored).profile_ids == ["p1"]

    def test_line_types_come_from_the_numbering_plan(self) -> None:
        rules = IdentityRules()

        def phone(value: str) -> Identifier:
            return Identifier(type=IdentifierType.PHONE, value=value)

        assert rules.household(phone(LANDLINE))
        assert not rules.household(phone(MOBILE))
        assert not rules.household(phone("+12025550123"))  # fixed line or mobile: a person's
        assert not IdentityRules(household_lines=frozenset()).household(phone(LANDLINE))


async def two_on_one_mobile(
    services: Services, tmp_path: Path, first: dict[str, Any], second: dict[str, Any]
) -> tuple[Profile, Profile]:
    """Two CRM customers, C-1 and C-2 a month later, giving one mobile: their profiles."""
    mobile = (f.phone("611 22 33 44"), f.phone("+34 611 22 33 44"))
    await ingest(
        services,
        tmp_path,
        "crm",
        [
            f.person(external_id="C-1", identifiers=[f.external("crm", "C-1"), mobile[0]], **first),
            f.person(
                external_id="C-2",
                occurred_at="2024-02-01T00:00:00Z",
                identifiers=[f.external("crm", "C-2"), mobile[1]],
                **second,
            ),
        ],
    )
    return (
        await services.profiles.by_identifier(IdentifierType.EXTERNAL, "C-1", "crm"),
        await services.profiles.by_identifier(IdentifierType.EXTERNAL, "C-2", "crm"),
    )


class TestSharedPhonesAtIngest:
    async def test_a_family_named_in_another_script_on_one_mobile_stays_two_people(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        # As the Latin names below: Metaphone reads nothing of 太郎 and 花子, which is no
        # sound they share.
        taro, hanako = await two_on_one_mobile(
            services,
            tmp_path,
            {"given_name": "太郎", "family_name": "山田"},
            {"given_name": "花子", "family_name": "山田"},
        )
        assert taro.id != hanako.id
        assert await all_merges(services, store) == []
        assert await shared_because(store, f"phone:{MOBILE}") == "given name differs"

    async def test_parent_and_child_on_one_mobile_stay_two_people(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        ana, luis = await two_on_one_mobile(
            services,
            tmp_path,
            {"given_name": "Ana", "birth_date": "1975-02-01"},
            {"given_name": "Luis", "birth_date": "2006-09-12"},
        )
        assert ana.id != luis.id
        assert await all_merges(services, store) == []
        assert await owner(store, f"phone:{MOBILE}") == ana.id
        assert await shared_because(store, f"phone:{MOBILE}") == "given name and birth date differ"
        [suggestion] = await all_suggestions(services, store)
        assert sorted(suggestion.profiles) == sorted([ana.id, luis.id])

        # From now on the phone alone names nobody: a call from it is kept, linked to no one.
        await ingest(services, tmp_path, "call", [f.service_case(identifiers=[f.phone(MOBILE)])])
        case = await store.db.records.find_one({"_id": "helpdesk:service_case:T-1"})
        assert case is not None
        assert "profile_id" not in case
        assert case["unlinked_identifiers"] == [
            {"key": f"phone:{MOBILE}", "reason": "shared by several people"}
        ]

    async def test_a_household_landline_keeps_partners_apart(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        home = f.phone("91 122 33 44")
        await ingest(
            services,
            tmp_path,
            "orders",
            [
                f.order(external_id="1", identifiers=[f.email("ana@example.com"), home]),
                f.order(external_id="2", identifiers=[home]),
                f.order(external_id="3", identifiers=[f.email("luis@example.com"), home]),
            ],
        )
        ana = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana@example.com")
        luis = await services.profiles.by_identifier(IdentifierType.EMAIL, "luis@example.com")
        assert ana.id != luis.id
        assert await all_merges(services, store) == []
        first = await record(store, "shop:order:2")
        assert first.profile_id == ana.id  # before anyone else named it
        assert await shared_because(store, f"phone:{LANDLINE}") == "a landline two profiles name"

    async def test_a_caller_named_like_the_lines_holder_joins_her(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        home = f.phone("91 122 33 44")
        ana_crm = [f.external("crm", "C-1"), f.email("ana@example.com"), home]
        await ingest(services, tmp_path, "crm", [f.person(identifiers=ana_crm)])

        def caller(source: str, given: str, family: str, **more: str) -> f.Record:
            """A help desk's or a till's customer, known by a name and the home number."""
            return f.person(
                source=source,
                external_id="U-1",
                occurred_at="2024-03-01T00:00:00Z",
                identifiers=[f.external(source, "U-1"), f.phone("+34 911 22 33 44")],
                given_name=given,
                family_name=family,
                **more,
            )

        async def profile(source: str) -> str:
            found = await services.profiles.by_identifier(IdentifierType.EXTERNAL, "U-1", source)
            return str(found.id)

        await ingest(services, tmp_path, "helpdesk", [caller("helpdesk", "ANA", "Garcia")])
        ana = await services.profiles.by_identifier(IdentifierType.EMAIL, "ana@example.com")
        assert await profile("helpdesk") == ana.id

        # Her partner calls from home: another name, another person; the line is now shared.
        await ingest(services, tmp_path, "partner", [caller("callcentre", "Luis", "García")])
        assert await profile("callcentre") != ana.id
        assert await shared_because(store, f"phone:{LANDLINE}") == "a landline two profiles name"

        # From then on her name alone may be someone else's: it takes her birth date too.
        await ingest(services, tmp_path, "till", [caller("till", "Ana", "García")])
        assert await profile("till") != ana.id
        born = {"birth_date": "1990-05-06"}
        revised = f.person(identifiers=ana_crm, updated_at="2024-04-01T00:00:00Z", **born)
        await ingest(services, tmp_path, "crm-revised", [revised])
        await ingest(services, tmp_path, "pos", [caller("pos", "Ana", "García", **born)])
        assert await profile("pos") == ana.id
        assert await all_merges(services, store) == []
