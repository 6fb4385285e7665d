"""An access request's export: everything held about the person, every profile merged into
theirs included, each item with its source; one JSON document or a zip of JSON and CSV per
kind; admin only and audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import httpx
from fastapi import FastAPI

from c360.audit.types import Action
from c360.auth.service import Role
from c360.ingest.files import import_file
from c360.privacy.export import EXPORT_SECTIONS
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType, Status
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import (
    asgi_client,
    audit_entries,
    dead_letters,
    gql,
    imported,
    parse_options,
    profile_of,
    reviewed,
)
from tests.privacy.population import KENJI_PAGE, X_ANON, X_EMAIL, files, load
from tests.served import run_c360

HIS_RECORDS = {
    "web:site_event:E-X1",  # browsing before he was known: the absorbed profile's
    "web:site_event:E-X2",
    "crm:person:CRM-X-771",
    "shop:order:X-1",
    "shop:order:X-2",
    "shop:return:R-X1",
    "helpdesk:service_case:T-X1",
    "surveys:survey_response:S-X1",
    "esp:consent_change:C-X1",
    "esp:outbound_contact:O-X1",
}


async def completed_access(services: Services, kind: IdentifierType, value: str) -> str:
    now = dt.datetime.now(dt.UTC)
    privacy = services.privacy
    request = await privacy.create(
        RequestType.ACCESS, [GivenIdentifier(kind, value)], actor="t", now=now
    )
    await privacy.verify(request.id, actor="t", now=now)
    done = await privacy.run(
        request.id, actor="t", now=now, acknowledged=await reviewed(services, request.id)
    )
    assert done.status is Status.COMPLETED, done
    return done.id


class TestTheExport:
    async def test_one_json_document_holds_both_sides_of_a_merge_each_item_with_its_source(
        self, admin: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        # Asked by the anonymous id his browsing had: the merge leads to all of him.
        request_id = await completed_access(services, IdentifierType.ANONYMOUS, X_ANON)

        answer = await admin.get(f"/privacy/requests/{request_id}/export")

        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        document = answer.json()
        sections = document["sections"]
        assert list(sections) == list(EXPORT_SECTIONS)
        records = {item["source"]["record_id"] for item in sections["records"]}
        assert records == HIS_RECORDS
        assert all(item["source"]["system"] for item in sections["records"])
        assert len(sections["profiles"]) == 2
        assert {i["item"]["_id"] for i in sections["identifiers"]} >= {f"email:{X_EMAIL}"}
        (derived,) = sections["derived"]
        assert derived["item"]["stage"]["reason"]
        assert derived["item"]["metrics"]["order_count"] == 2
        assert [m["source"]["rule"] for m in sections["merges"]] != []
        assert len(sections["dead_letters"]) == 1
        audit = await audit_entries(services, action=Action.EXPORT)
        assert {e.profile_id for e in audit} == {p["item"]["_id"] for p in sections["profiles"]}
        assert {e.request_id for e in audit} == {answer.headers["x-request-id"]}

    async def test_a_dead_letter_naming_him_by_a_source_s_id_is_his(
        self, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        path = tmp_path / "tickets.json"
        path.write_text(json.dumps(KENJI_PAGE))
        await import_file(services.ingest, "zendesk-tickets", str(path), parse_options())
        request_id = await completed_access(services, IdentifierType.EMAIL, "kenji.sato@example.jp")

        answer = await admin.get(f"/privacy/requests/{request_id}/export")

        (letter,) = answer.json()["sections"]["dead_letters"]
        assert "返金の詳細" in letter["item"]["raw"]  # the ticket rejected, his by requester_id

    async def test_another_person_s_dead_letter_holding_his_id_by_chance_is_not_his(
        self, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        # His CRM id is 1000; another customer's rejected order was shipped to postcode 1000
        # (Brussels). Ids are matched in dead letters by their names alone, never by text.
        his = f.person(
            external_id="1000",
            identifiers=[f.external("crm", "1000"), f.email("hugo@example.com")],
        )
        theirs = f.order(
            external_id="B-1",
            identifiers=[f.email("lea@example.be")],
            quantity=-1,
            shipping_address={"line1": "Rue Neuve 1", "postal_code": "1000", "country": "BE"},
        )
        path = f.write_jsonl(tmp_path / "mixed.jsonl", [his, theirs])
        summary = await import_file(services.ingest, "canonical", str(path), parse_options())
        assert (summary.inserted, summary.rejected) == (1, 1)
        request_id = await completed_access(services, IdentifierType.EMAIL, "hugo@example.com")

        answer = await admin.get(f"/privacy/requests/{request_id}/export")

        assert answer.json()["sections"]["dead_letters"] == []
        # Nor does erasing him take it.
        now = dt.datetime.now(dt.UTC)
        given = [GivenIdentifier(IdentifierType.EMAIL, "hugo@example.com")]
        erasure = await services.privacy.create(RequestType.ERASURE, given, actor="t", now=now)
        await services.privacy.verify(erasure.id, actor="t", now=now)
        assert (
            await services.privacy.run(
                erasure.id, actor="t", now=now, acknowledged=await reviewed(services, erasure.id)
            )
        ).status is Status.COMPLETED
        (left,) = await dead_letters(services)
        assert "lea@example.be" in left.raw

    async def test_his_follow_ups_and_feedback_acknowledgements_as_the_360_shows_them(
        self, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        # A detractor answer opens a follow-up under the default rules; an agent acknowledges
        # the answer and works the follow-up, with notes.
        await imported(
            services,
            [
                f.survey(
                    external_id="S-X2",
                    identifiers=[f.email(X_EMAIL)],
                    score=2,
                    comment="The toaster burns",
                )
            ],
        )
        profile = await profile_of(services, IdentifierType.EMAIL, X_EMAIL)
        seen = await gql(
            admin,
            "query($id: ID!) { profile(id: $id) { ... on Profile { followUps { id } } } }",
            id=profile,
        )
        (follow_up,) = seen["profile"]["followUps"]
        await gql(
            admin,
            """mutation($id: ID!, $p: ID!) {
              startFollowUp(id: $id, note: "called him back") { __typename }
              acknowledgeFeedback(profileId: $p, recordId: "surveys:survey_response:S-X2",
                                  note: "sorry about the toaster") { __typename }
            }""",
            id=follow_up["id"],
            p=profile,
        )
        request_id = await completed_access(services, IdentifierType.EMAIL, X_EMAIL)

        answer = await admin.get(f"/privacy/requests/{request_id}/export")

        sections = answer.json()["sections"]
        (held,) = sections["follow_ups"]
        assert held["item"]["_id"] == follow_up["id"]
        assert held["source"] == {"collection": "follow_ups", "profile_id": profile}
        assert "called him back" in json.dumps(held["item"]["events"])
        (ack,) = sections["feedback_acknowledgements"]
        assert ack["source"]["collection"] == "feedback_acks"
        assert "sorry about the toaster" in json.dumps(ack["item"])

    async def test_the_audit_holds_the_work_on_his_follow_ups_and_his_unmerge(
        self, app: FastAPI, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        # Actions that name a follow-up or a merge, not a profile, are still about him: who
        # worked his case, with the notes they wrote, and who undid his merge.
        await load(services, files(tmp_path))
        await imported(
            services,
            [f.survey(external_id="S-X2", identifiers=[f.email(X_EMAIL)], score=2)],
        )
        profile = await profile_of(services, IdentifierType.EMAIL, X_EMAIL)
        seen = await gql(
            admin,
            """query($id: ID!) { profile(id: $id) { ... on Profile {
                 followUps { id } merges { id } } } }""",
            id=profile,
        )
        (follow_up,) = seen["profile"]["followUps"]
        merge = seen["profile"]["merges"][0]["id"]
        async with asgi_client(app, await f.api_key(services, Role.AGENT)) as agent:
            worked = await gql(
                agent,
                """mutation($id: ID!) {
                  first: startFollowUp(id: $id, note: "called him back") { __typename }
                  again: startFollowUp(id: $id) { __typename }
                }""",
                id=follow_up["id"],
            )
        assert worked["again"]["__typename"] == "ConflictError"  # refused, audited all the same
        await gql(
            admin,
            """mutation($m: ID!) { unmergeProfile(mergeId: $m, reason: "check") { __typename } }""",
            m=merge,
        )
        request_id = await completed_access(services, IdentifierType.EMAIL, X_EMAIL)

        answer = await admin.get(f"/privacy/requests/{request_id}/export")

        audit = [item["item"] for item in answer.json()["sections"]["audit"]]
        started = [e for e in audit if e["what"] == ["startFollowUp"]]
        assert len(started) == 2
        assert {e["profile_id"] for e in started} == {profile}
        assert any("called him back" in e["detail"] for e in started)
        assert [e["action"] for e in audit if e["what"] == ["unmergeProfile"]] != []

    async def test_for_someone_unknown_it_says_under_what_nothing_is_held(
        self, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        # The answer to "what do you hold about me" is "nothing under these": the export names
        # the identifiers it was searched by and when the search was made, in both formats.
        await load(services, files(tmp_path))
        request_id = await completed_access(services, IdentifierType.PHONE, "+34 699 000 111")

        document = (await admin.get(f"/privacy/requests/{request_id}/export")).json()
        archive = await admin.get(f"/privacy/requests/{request_id}/export?format=zip")

        assert all(items == [] for items in document["sections"].values())
        header = document["request"]
        assert header["identifiers"] == [{"type": "phone", "value": "+34699000111", "source": None}]
        assert dt.datetime.fromisoformat(header["completed_at"]).tzinfo is not None
        with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
            assert json.loads(z.read("request.json"))["identifiers"] == header["identifiers"]

    async def test_a_zip_of_json_and_csv_per_kind(
        self, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        request_id = await completed_access(services, IdentifierType.EMAIL, X_EMAIL)

        answer = await admin.get(f"/privacy/requests/{request_id}/export?format=zip")

        assert answer.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(answer.content))
        assert archive.testzip() is None
        expected = {"request.json"} | {
            f"{name}.{ext}" for name in EXPORT_SECTIONS for ext in ("json", "csv")
        }
        assert set(archive.namelist()) == expected
        as_json = json.loads(archive.read("records.json"))
        rows = list(csv.DictReader(io.StringIO(archive.read("records.csv").decode())))
        assert {item["source"]["record_id"] for item in as_json} == HIS_RECORDS
        assert {row["id"] for row in rows} == HIS_RECORDS
        assert {row["system"] for row in rows} >= {"shop", "web", "crm", "helpdesk"}
        identifiers = list(csv.DictReader(io.StringIO(archive.read("identifiers.csv").decode())))
        assert all(not row["item"].startswith(("=", "+", "-", "@")) for row in identifiers)

    async def test_only_completed_access_requests_and_only_admins(
        self, app: FastAPI, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        request_id = await completed_access(services, IdentifierType.EMAIL, X_EMAIL)
        open_one = await services.privacy.create(
            RequestType.ACCESS,
            [GivenIdentifier(IdentifierType.EMAIL, X_EMAIL)],
            actor="t",
            now=dt.datetime.now(dt.UTC),
        )

        async with asgi_client(app, await f.api_key(services, Role.AGENT)) as agent:
            refused = await agent.get(f"/privacy/requests/{request_id}/export")
        early = await admin.get(f"/privacy/requests/{open_one.id}/export")
        unknown = await admin.get("/privacy/requests/nope/export")

        assert refused.status_code == 403
        assert early.status_code == 409
        assert early.json()["error"] == "TransitionRefused"
        assert early.json()["detail"] == (
            "only a completed access request has an export; this is an access request, received"
        )
        assert unknown.status_code == 404

    async def test_the_command_writes_the_zip(
        self, services: Services, env: dict[str, str], tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        request_id = await completed_access(services, IdentifierType.EMAIL, X_EMAIL)
        out = tmp_path / "export.zip"

        done = run_c360(
            "privacy", "export", request_id, "--format", "zip", "--out", str(out), env=env
        )

        assert done.returncode == 0, done.stderr
        assert "records.csv" in zipfile.ZipFile(out).namelist()


CONSENTS = """query($email: String!) {
  profileByIdentifier(type: EMAIL, value: $email) {
    ... on Profile {
      consents { channel contactPoint purpose status since source recordId origin actor }
    }
  }
}"""


class TestTheConsentInForce:
    """The export holds the consent in force as the contact policy folds it (beside the
    changes it is folded from, among the records), each with the change that decided it."""

    async def test_the_json_and_the_zip_hold_what_the_profile_shows(
        self, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))
        # He opted in to marketing e-mail in April (C-X1); he opts out in July, and opts in
        # to service e-mail: the opt-out is in force, decided by the newer change.
        await imported(
            services,
            [
                f.consent_change(
                    "opted_out",
                    "2024-07-01T09:00:00Z",
                    external_id="C-X2",
                    email_address=X_EMAIL,
                ),
                f.consent_change(
                    "opted_in",
                    "2024-07-02T09:00:00Z",
                    external_id="C-X3",
                    email_address=X_EMAIL,
                    purpose="service",
                ),
            ],
        )
        request_id = await completed_access(services, IdentifierType.ANONYMOUS, X_ANON)

        document = (await admin.get(f"/privacy/requests/{request_id}/export")).json()
        archive = (await admin.get(f"/privacy/requests/{request_id}/export?format=zip")).content
        shown = await gql(admin, CONSENTS, email=X_EMAIL)

        consents = document["sections"]["consents"]
        in_force = {(c["item"]["purpose"], c["item"]["status"]) for c in consents}
        assert in_force == {("marketing", "opted_out"), ("service", "opted_in")}
        assert {c["source"]["decided_by"] for c in consents} == {
            "shop:consent_change:C-X2",
            "shop:consent_change:C-X3",
        }
        assert all(c["source"]["computed_from"] == "consent_change records" for c in consents)
        # As the profile shows it, change for change.
        profile = shown["profileByIdentifier"]["consents"]
        exported = [(c["item"], c["source"]) for c in consents]
        assert sorted(
            (i["channel"], i["contact_point"], i["purpose"], i["status"], s["decided_by"])
            for i, s in exported
        ) == sorted(
            (
                p["channel"].lower(),
                p["contactPoint"],
                p["purpose"],
                p["status"].lower(),
                p["recordId"],
            )
            for p in profile
        )
        assert {s["system"] for _, s in exported} == {p["source"] for p in profile} == {"shop"}
        # How each came about, as the 360 shows it (an import here: no one recorded it).
        assert {i["origin"] for i, _ in exported} == {p["origin"].lower() for p in profile}
        assert {i["origin"] for i, _ in exported} == {"import"}
        # The history it is folded from is there too, every change.
        history = {
            r["source"]["record_id"]
            for r in document["sections"]["records"]
            if r["item"]["kind"] == "consent_change"
        }
        assert history == {
            "esp:consent_change:C-X1",
            "shop:consent_change:C-X2",
            "shop:consent_change:C-X3",
        }
        unzipped = zipfile.ZipFile(io.BytesIO(archive))
        as_json = json.loads(unzipped.read("consents.json"))
        assert [c["item"] for c in as_json] == [c["item"] for c in consents]
        rows = list(csv.DictReader(io.StringIO(unzipped.read("consents.csv").decode())))
        assert sorted((r["id"], r["kind"], r["system"]) for r in rows) == [
            ("shop:consent_change:C-X2", "opted_out", "shop"),
            ("shop:consent_change:C-X3", "opted_in", "shop"),
        ]
        assert all(r["section"] == "consents" and r["occurred_at"] for r in rows)
