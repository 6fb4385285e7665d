"""An erasure leaves nothing of the person anywhere, everyone else as if they had never been
imported, survives a crash between any two steps, and keeps them from being imported again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from c360.audit.service import Action
from c360.auth.service import Caller, Role
from c360.ingest.files import import_file
from c360.privacy.erasure import STEP_NAMES
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import ERASED_NOTE, RequestType, Status, TransitionRefused
from c360.privacy.types import PrivacyRequest
from c360.profiles.service import ProfileNotFound
from c360.services import Services
from c360.settings import Settings, TeamSettings
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.crash_data import write_dataset
from tests.helpers import (
    Crash,
    asgi_client,
    crash_at,
    dead_letters,
    gql,
    imported,
    parse_options,
    profile_of,
    reviewed,
)
from tests.privacy.population import (
    ADMIN,
    KENJI_PAGE,
    X_ANON,
    X_CRM,
    X_EMAIL,
    X_PHONE,
    X_STRINGS,
    Y_EMAIL,
    assert_none_of_his_identifiers_is_found,
    everything,
    files,
    his_strings,
    kept_state,
    load,
    others_state,
    strings,
    with_fixed_secrets,
)
from tests.served import run_c360
from tests.state import other_database, uninterrupted


async def erase(services: Services, *given: GivenIdentifier) -> PrivacyRequest:
    now = dt.datetime.now(dt.UTC)
    privacy = services.privacy
    request = await privacy.create(
        RequestType.ERASURE,
        list(given) or [GivenIdentifier(IdentifierType.EMAIL, X_EMAIL.upper())],
        actor=ADMIN,
        now=now,
    )
    await privacy.verify(request.id, actor=ADMIN, now=now)
    acknowledged = await reviewed(services, request.id)
    return await privacy.run(request.id, actor=ADMIN, now=now, acknowledged=acknowledged)


async def audited_lookups(services: Services, store: Store) -> None:
    """What an agent's lookups of him left in the access audit."""
    agent = Caller(key_id="k1", name="desk", role=Role.AGENT)
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, X_EMAIL)
    await services.audit.record(
        agent,
        Action.LOOKUP,
        "profileByIdentifier",
        operation="query Who",
        profile_ids=[profile.id],
        detail=f"email:{X_EMAIL}",
    )
    await services.audit.record(
        agent, Action.LOOKUP, "searchProfiles", operation="query Find", detail="622 71 95 38"
    )
    await services.audit.record(
        agent, Action.LOOKUP, "searchProfiles", operation="query Find", detail=Y_EMAIL
    )


class TestNothingOfThePersonRemains:
    async def test_a_scan_of_every_string_of_every_collection_finds_none_of_his(
        self, services: Services, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        await audited_lookups(services, store)
        before = everything(mongo_uri, settings.database)
        assert any(X_EMAIL in s for s in strings(before)), "the scan would find him"

        done = await erase(services)

        assert done.status is Status.COMPLETED, done
        assert his_strings(mongo_uri, settings.database) == []
        await assert_none_of_his_identifiers_is_found(services)

    async def test_his_follow_ups_and_their_notifications_go_with_him(
        self, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        care = TeamSettings.model_validate(
            {"webhook_url": "http://127.0.0.1:9/care", "webhook_secret": "s" * 32}
        )
        settings = settings.model_copy(update={"followup_teams": {"customer-care": care}})
        services = Services.build(store.db, settings)
        await load(services, files(tmp_path))
        # A detractor answer opens a follow-up under the default rules.
        await imported(
            services,
            [
                f.survey(
                    external_id="S-X2",
                    identifiers=[f.email(X_EMAIL)],
                    score=2,
                    comment=f"Call me back on {X_PHONE}, the toaster burns",
                )
            ],
        )
        profile = await profile_of(services, IdentifierType.EMAIL, X_EMAIL)
        assert await store.db.follow_ups.count_documents({"profile_id": profile}) >= 1
        # The worker relays its notification to the outbox (the receiver is down: it waits).
        await services.followups.worker.tick(lease=False)
        his = [d["_id"] async for d in store.db.follow_ups.find({"profile_id": profile})]
        assert await store.db.outbox.count_documents({"follow_up_id": {"$in": his}}) >= 1

        done = await erase(services)

        assert done.status is Status.COMPLETED, done
        assert (done.journal.count("follow ups") or 0) >= 1
        assert (done.journal.count("notifications") or 0) >= 1
        assert await store.db.outbox.count_documents({"follow_up_id": {"$in": his}}) == 0
        for name in ("follow_ups", "outbox", "feedback_acks"):
            docs = everything(mongo_uri, settings.database).get(name, [])
            assert [d for d in docs if d.get("profile_id") == profile] == []
            assert not any(x.lower() in t.lower() for t in strings(docs) for x in X_STRINGS)

    async def test_an_agent_s_note_on_his_follow_up_leaves_the_audit_with_him(
        self, app: FastAPI, services: Services, store: Store, tmp_path: Path
    ) -> None:
        # The note names him by what is no identifier (his name, where he moves): the audit's
        # entry of the change is about him by the follow-up it changed.
        await load(services, files(tmp_path))
        await imported(
            services, [f.survey(external_id="S-X2", identifiers=[f.email(X_EMAIL)], score=2)]
        )
        profile = await profile_of(services, IdentifierType.EMAIL, X_EMAIL)
        (held,) = await store.db.follow_ups.find({"profile_id": profile}).to_list()
        async with asgi_client(app, await f.api_key(services, Role.AGENT)) as agent:
            await gql(
                agent,
                """mutation($id: ID!) {
                  startFollowUp(id: $id, note: "Xavier moves to Lisbon in May") { __typename }
                }""",
                id=held["_id"],
            )
        assert await store.db.audit_log.count_documents({"detail": {"$regex": "Lisbon"}}) == 1

        done = await erase(services)

        assert done.status is Status.COMPLETED, done
        assert await store.db.audit_log.count_documents({"detail": {"$regex": "Lisbon"}}) == 0

    async def test_the_officer_s_notes_that_name_him_go_too(
        self,
        services: Services,
        settings: Settings,
        env: dict[str, str],
        mongo_uri: str,
        tmp_path: Path,
    ) -> None:
        # The officer writes down how he asked and how he was checked, with his address and
        # number, on his erasure and on the access request he made before it.
        await load(services, files(tmp_path))
        privacy, now = services.privacy, dt.datetime.now(dt.UTC)
        him = [GivenIdentifier(IdentifierType.EMAIL, X_EMAIL)]
        access = await privacy.create(
            RequestType.ACCESS, him, actor=ADMIN, now=now, note=f"by mail {X_EMAIL}"
        )
        erasure = await privacy.create(
            RequestType.ERASURE, him, actor=ADMIN, now=now, note=f"from {X_EMAIL}"
        )
        await privacy.verify(erasure.id, actor=ADMIN, now=now, note=f"called him on {X_PHONE}")
        # And a note that names him by his name only, on the access request he made before.
        await privacy.verify(access.id, actor=ADMIN, now=now, note="Xavier Erasmo, on the phone")
        acknowledged = await reviewed(services, erasure.id)
        await privacy.run(erasure.id, actor=ADMIN, now=now, acknowledged=acknowledged)

        # As the officer reads them afterwards.
        shown = run_c360("privacy", "status", erasure.id, "--json", env=env).stdout
        shown += run_c360("privacy", "status", access.id, "--json", env=env).stdout

        assert not [x for x in X_STRINGS if x.lower() in shown.lower()], shown
        assert "verified" in shown  # the events stay, without what named him
        assert shown.count(ERASED_NOTE) == 4
        assert his_strings(mongo_uri, settings.database) == []

    async def test_a_note_naming_someone_of_one_profile_by_name_alone_goes_too(
        self, services: Services
    ) -> None:
        # One person record, one profile: her names are read from it alone.
        await imported(services, [f.person(given_name="Nuria", family_name="Oyarzun")])
        privacy, now = services.privacy, dt.datetime.now(dt.UTC)
        her = [GivenIdentifier(IdentifierType.EMAIL, "ana@example.com")]
        access = await privacy.create(RequestType.ACCESS, her, actor=ADMIN, now=now)
        await privacy.verify(access.id, actor=ADMIN, now=now, note="Nuria Oyarzun, by phone")
        erasure = await privacy.create(RequestType.ERASURE, her, actor=ADMIN, now=now)
        await privacy.verify(erasure.id, actor=ADMIN, now=now)
        acknowledged = await reviewed(services, erasure.id)
        done = await privacy.run(erasure.id, actor=ADMIN, now=now, acknowledged=acknowledged)

        assert done.status is Status.COMPLETED, done
        notes = [e.note for e in (await privacy.get(access.id)).events]
        assert notes == [None, ERASED_NOTE]

    async def test_everyone_else_is_as_if_he_had_never_been_imported(
        self, services: Services, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        async with other_database(settings, mongo_uri) as other:
            reference = Services.build(other.db, settings)
            await load(reference, files(tmp_path / "without", with_xavier=False))
            expected = others_state(mongo_uri, other.db.name)
        await load(services, files(tmp_path / "with"))

        await erase(services)

        assert others_state(mongo_uri, settings.database) == expected

    async def test_the_audit_keeps_its_entries_without_his_personal_data(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        await audited_lookups(services, store)

        await erase(services)

        entries = await store.db.audit_log.find().sort("seq", 1).to_list()
        assert [(e["what"], "detail" in e, e.get("erased", False)) for e in entries] == [
            (["profileByIdentifier"], False, True),
            (["searchProfiles"], False, True),
            (["searchProfiles"], True, False),  # someone else
        ]

    async def test_the_receipt_counts_per_collection_is_signed_and_the_request_forgets(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))

        done = await erase(services)

        receipt = await services.privacy.receipt(done.id)
        assert receipt is not None
        assert services.privacy.verify_receipt(receipt)
        counts = receipt.body["collections"]
        # Two profiles (his and his anonymous browsing, merged), ten records (the return that
        # named only his order among them), four identifiers, one dead letter.
        assert (counts["profiles"], counts["records"], counts["identities"]) == (2, 10, 4)
        assert counts["dead_letters"] == counts["merges"] == 1
        assert receipt.body["erased_by"] == ADMIN
        forged_body = {**receipt.body, "collections": {**counts, "records": 1}}
        forged = dataclasses.replace(receipt, body=forged_body)
        assert not services.privacy.verify_receipt(forged)
        stored = await services.privacy.get(done.id)
        assert stored.identifiers is None
        assert stored.journal.scope is None
        assert len(stored.identifier_hashes) == 1


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_fixed_secrets(settings)


async def erased(settings: Settings, mongo_uri: str, tmp_path: Path) -> dict[str, Any]:
    """What an uninterrupted erasure of him keeps (made once a run: see ``uninterrupted``)."""

    async def make(other: Store) -> dict[str, Any]:
        reference = Services.build(other.db, settings)
        await load(reference, files(tmp_path / "reference"))
        assert (await erase(reference)).status is Status.COMPLETED
        return kept_state(mongo_uri, other.db.name)

    return await uninterrupted("erasure", settings, mongo_uri, make)


@pytest.mark.parametrize("step", [*STEP_NAMES, "receipt", "close"])
async def test_an_erasure_crashed_at_any_step_ends_as_an_uninterrupted_one_once_run_again(
    step: str,
    services: Services,
    store: Store,
    settings: Settings,
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    expected = await erased(settings, mongo_uri, tmp_path)
    await load(services, files(tmp_path / "crash"))
    services.privacy.before_step = crash_at(step)

    failed = await erase(services)

    assert failed.status is Status.FAILED
    assert failed.error == Crash.__name__
    restarted = Services.build(store.db, settings)
    done = await restarted.privacy.run(failed.id, actor=ADMIN, now=dt.datetime.now(dt.UTC))
    assert done.status is Status.COMPLETED
    assert kept_state(mongo_uri, settings.database) == expected
    assert [e.to for e in done.events] == [
        "received",
        "verified",
        "in_progress",
        "failed",
        "in_progress",
        "completed",
    ]


class TestSuppression:
    async def test_importing_the_original_files_twice_recreates_nothing_of_him(
        self, services: Services, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        paths = files(tmp_path)
        first = await load(services, paths)
        await erase(services)
        erased = kept_state(mongo_uri, settings.database)

        for _ in range(2):
            again = await load(services, paths)
            for summary, original in zip(again, first, strict=True):
                assert summary.read == original.read
                assert summary.read == (
                    summary.inserted
                    + summary.updated
                    + summary.duplicates
                    + summary.rejected
                    + summary.ignored
                    + summary.suppressed
                )
                assert summary.inserted == summary.updated == 0
            # His ten records and his rejected order; Yolanda's rejected order is hers.
            assert [s.suppressed for s in again] == [1, 1, 9]
            assert sum(s.rejected for s in again) == 1
            assert kept_state(mongo_uri, settings.database) == erased

    async def test_a_new_line_naming_him_that_cannot_be_read_is_not_dead_lettered(
        self, services: Services, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        await erase(services)
        broken = {**f.order(external_id="X-NEW", identifiers=[f.email(X_EMAIL)]), "currency": "?"}
        elsewhere = {**f.order(external_id="Z-NEW", identifiers=[f.email("zoe@example.org")])}
        lines: list[f.Record | str] = [
            broken,  # his address, in a record that fails validation
            '{"kind": "order", "note": "call Xavier on 622 71 95 38"',  # his number, cut JSON
            {**elsewhere, "currency": "?"},  # someone else's: dead-lettered as ever
            # His and a customer's: left out, and nothing of hers is touched.
            f'{{"kind": "order", "note": "a gift from {X_EMAIL} to {Y_EMAIL}"',
        ]
        path = f.write_jsonl(tmp_path / "later.jsonl", lines)
        hers = await services.profiles.by_identifier(IdentifierType.EMAIL, Y_EMAIL)

        (summary,) = await load(services, [path])

        assert (summary.suppressed, summary.rejected) == (3, 1)
        assert his_strings(mongo_uri, settings.database) == []
        letters = await services.dead_letters.recent("canonical", limit=10)
        assert sum("zoe@example.org" in letter.raw for letter in letters) == 1
        assert (await services.profiles.by_identifier(IdentifierType.EMAIL, Y_EMAIL)).id == hers.id
        order = f.order(external_id="Y-NEW", identifiers=[f.email(Y_EMAIL)])
        (hers_again,) = await load(services, [f.write_jsonl(tmp_path / "hers.jsonl", [order])])
        assert (hers_again.inserted, hers_again.suppressed) == (1, 0)

    async def test_what_an_import_met_erases_only_under_his_suppressed_names(
        self, services: Services, tmp_path: Path
    ) -> None:
        # An item met by his address that also names a customer (a household's line, a note):
        # whatever an import stored under her name is not his to erase.
        await load(services, files(tmp_path))
        await erase(services)
        hers = await services.profiles.by_identifier(IdentifierType.EMAIL, Y_EMAIL)

        await services.privacy.completions.erase_met(
            [[f"email:{X_EMAIL}", f"email:{Y_EMAIL}"]], True
        )

        assert (await services.profiles.by_identifier(IdentifierType.EMAIL, Y_EMAIL)).id == hers.id

    async def test_lifting_every_identifier_lets_him_back_but_never_marketed_without_consent(
        self, services: Services, tmp_path: Path
    ) -> None:
        paths = files(tmp_path)
        await load(services, paths)
        await erase(services)
        assert not await services.privacy.lift_suppression(
            GivenIdentifier(IdentifierType.EMAIL, "nobody@example.com")
        )
        given = [
            GivenIdentifier(IdentifierType.EMAIL, X_EMAIL),
            GivenIdentifier(IdentifierType.PHONE, X_PHONE),
            GivenIdentifier(IdentifierType.ANONYMOUS, X_ANON),
        ]
        for identifier in given:
            assert await services.privacy.lift_suppression(identifier)
        partly = await load(services, paths)
        assert sum(s.suppressed for s in partly) > 0  # his customer id is still suppressed

        assert await services.privacy.lift_suppression(
            GivenIdentifier(IdentifierType.EXTERNAL, X_CRM, "crm")
        )
        back = await load(services, paths)

        assert sum(s.suppressed for s in back) == 0
        profile = await services.profiles.by_identifier(IdentifierType.EMAIL, X_EMAIL)
        now = dt.datetime.now(dt.UTC)
        decision = await services.contact.decide(profile.id, "email", "marketing", now)
        assert not decision.allowed  # his 2024 opt-in is older than his erasure
        service = await services.contact.decide(profile.id, "email", "service", now)
        assert service.allowed

    async def test_a_returning_person_s_consents_show_the_opt_out_his_decisions_apply(
        self, services: Services, agent_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        # Back after his erasure with his 2024 opt-in: the tombstone opts him out of marketing,
        # and the consent the profile shows is the one every decision applies.
        paths = files(tmp_path)
        await load(services, paths)
        done = await erase(services)
        await services.privacy.lift_erasure(done.id)
        await load(services, paths)
        profile = await services.profiles.by_identifier(IdentifierType.EMAIL, X_EMAIL)

        data = await gql(
            agent_client,
            """query($id: ID!) {
              profile(id: $id) { ... on Profile {
                consents { channel contactPoint purpose status source }
                contactPreferences { consents { channel contactPoint purpose status source } }
              } }
              contactDecision(profileId: $id, channel: EMAIL, purpose: "marketing") {
                ... on ContactDecision { allowed reasons { code } }
              }
            }""",
            id=profile.id,
        )

        decision = data["contactDecision"]
        assert not decision["allowed"]
        assert [r["code"] for r in decision["reasons"]] == ["PURPOSE_OPTED_OUT"]
        shown = data["profile"]["consents"]
        in_force = data["profile"]["contactPreferences"]["consents"]
        marketing = [c for c in shown if (c["channel"], c["purpose"]) == ("EMAIL", "marketing")]
        assert marketing, shown
        assert {(c["status"], c["source"]) for c in marketing} == {("OPTED_OUT", "c360")}, shown

        def key(c: dict[str, str]) -> tuple[str, ...]:
            return (c["channel"], c["purpose"], c["status"], c["source"])

        assert {key(c) for c in shown} == {key(c) for c in in_force}

    async def test_lifting_the_erasure_whole_lets_him_back_whatever_he_remembers(
        self, services: Services, tmp_path: Path
    ) -> None:
        # He gave one address; the erasure found his phone, browser and CRM id too. He does
        # not know them: the erasure is lifted whole.
        paths = files(tmp_path)
        await load(services, paths)
        done = await erase(services)
        assert sum(s.suppressed for s in await load(services, paths)) > 0

        lifted = await services.privacy.lift_erasure(done.id)

        assert lifted >= 4  # e-mail, phone, anonymous id, CRM id (and records, dead letters)
        back = await load(services, paths)
        assert sum(s.suppressed for s in back) == 0
        assert await services.privacy.lift_erasure(done.id) == 0  # nothing left to lift
        access = await services.privacy.create(
            RequestType.ACCESS,
            [GivenIdentifier(IdentifierType.EMAIL, X_EMAIL)],
            actor=ADMIN,
            now=dt.datetime.now(dt.UTC),
        )
        with pytest.raises(TransitionRefused, match="only a completed erasure's suppressions"):
            await services.privacy.lift_erasure(access.id)


class TestDeadLettersNamingThePersonByAnId:
    """A rejected item that names the person only by a source's id (a Zendesk ticket names
    its requester by ``requester_id``): its dead letter goes with the person, and the same
    item met again while they are erased is left out, not dead-lettered again."""

    async def test_an_erasure_removes_it_and_a_re_import_leaves_it_out(
        self, services: Services, tmp_path: Path
    ) -> None:
        path = tmp_path / "tickets.json"
        path.write_text(json.dumps(KENJI_PAGE))
        first = await import_file(services.ingest, "zendesk-tickets", str(path), parse_options())
        assert first.rejected == 1
        (letter,) = await dead_letters(services)
        assert "kenji" not in letter.raw.lower()  # named by his Zendesk id alone

        await erase(services, GivenIdentifier(IdentifierType.EMAIL, "kenji.sato@example.jp"))

        assert await dead_letters(services) == []
        again = await import_file(services.ingest, "zendesk-tickets", str(path), parse_options())
        assert (again.rejected, again.inserted) == (0, 0)
        assert again.suppressed == again.read
        assert await dead_letters(services) == []


async def identity_groups(store: Store) -> dict[str, frozenset[str]]:
    """Each identity key with the keys its profile holds (what "linked" means)."""
    by_profile: dict[str, set[str]] = {}
    async for doc in store.db.identities.find({}, {"profile_id": 1}):
        by_profile.setdefault(doc["profile_id"], set()).add(doc["_id"])
    return {key: frozenset(keys) for keys in by_profile.values() for key in keys}


@pytest.mark.parametrize("seed", [3, 11])
async def test_on_an_unseen_population_the_erased_are_not_found_and_the_rest_stay_linked(
    seed: int, services: Services, store: Store, tmp_path: Path
) -> None:
    path = write_dataset(tmp_path / "people.jsonl", people=30, seed=seed)
    await import_file(services.ingest, "canonical", str(path), parse_options(default_region="ES"))
    before = await identity_groups(store)
    rng = random.Random(seed)
    chosen = rng.sample(sorted({min(group) for group in before.values()}), 4)
    erased = {key for key in chosen for key in before[key]}
    held = await store.db.identities.find({"_id": {"$in": sorted(erased)}}).to_list()

    for key in chosen:
        (doc,) = [d for d in held if d["_id"] == key]
        given = GivenIdentifier(IdentifierType(doc["type"]), doc["value"], doc.get("source"))
        assert (await erase(services, given)).status is Status.COMPLETED

    after = await identity_groups(store)
    assert set(after) == set(before) - erased
    assert all(after[key] == before[key] for key in after)
    again = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert again.suppressed > 0
    assert again.inserted == again.updated == 0
    assert await identity_groups(store) == after
    for doc in held:
        with pytest.raises(ProfileNotFound):
            await services.profiles.by_identifier(
                IdentifierType(doc["type"]), doc["value"], doc.get("source")
            )


async def test_a_person_once_unmerged_from_another_is_erased_and_the_other_kept(
    services: Services, store: Store
) -> None:
    # An unmerge keeps the pair apart (a separation naming both): the erasure removes it
    # with the person, in one pass.
    ana, bea = "ana.unmerged@example.com", "bea.unmerged@example.com"
    await imported(
        services,
        [
            f.order(external_id="A-1", identifiers=[f.email(ana)]),
            f.order(external_id="B-1", identifiers=[f.email(bea)]),
        ],
    )
    now = dt.datetime.now(dt.UTC)
    first = await profile_of(services, IdentifierType.EMAIL, ana)
    second = await profile_of(services, IdentifierType.EMAIL, bea)
    merge = await services.merges.merge(first, second, actor=ADMIN, reason="same?", now=now)
    await services.merges.unmerge(merge.id, now, actor=ADMIN, reason="two people")

    done = await erase(services, GivenIdentifier(IdentifierType.EMAIL, ana))

    assert done.status is Status.COMPLETED, done.error
    assert done.journal.current == 1
    assert await store.db["separations"].count_documents({}) == 0
    assert await profile_of(services, IdentifierType.EMAIL, bea) == second
