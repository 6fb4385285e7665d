"""Privacy requests as a workflow: admin-only GraphQL, statuses as events with their actor,
deadlines of a calendar month extendable with a reason, overdue requests, the access audit,
the command line, and what the import summaries say of suppressed people."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI

from c360.audit.types import Action
from c360.auth.service import Role
from c360.errors import InvalidInput
from c360.privacy import rules
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType, Status
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import asgi_client, audit_entries, gql
from tests.privacy.population import X_EMAIL, X_PHONE, files, load
from tests.served import run_c360

REQUEST_FIELDS = """
  __typename
  ... on PrivacyRequest {
    id type status receivedAt deadline overdue extensionMonths
    identifiers { type value source }
    events { actor fromStatus toStatus note }
    extensions { months reason }
    erasureSteps { step collection count done }
    receipt { valid signature publicKey body }
    error
  }
  ... on Error { code message }
"""
CREATE = (
    """mutation($type: PrivacyRequestType!, $ids: [PrivacyIdentifierInput!]!) {
  createPrivacyRequest(type: $type, identifiers: $ids, note: "by e-mail") {"""
    + REQUEST_FIELDS
    + "} }"
)
VERIFY = "mutation($id: ID!) { verifyPrivacyRequest(id: $id) {" + REQUEST_FIELDS + "} }"
RUN = (
    "mutation($id: ID!, $ack: String) { runPrivacyRequest(id: $id, acknowledgeScope: $ack) {"
    + REQUEST_FIELDS
    + "} }"
)
SCOPE = "query($id: ID!) { privacyRequest(id: $id) { scope { fingerprint warnings { kind } } } }"
REJECT = (
    "mutation($id: ID!, $reason: String!) { rejectPrivacyRequest(id: $id, reason: $reason) {"
    + REQUEST_FIELDS
    + "} }"
)
EXTEND = (
    "mutation($id: ID!, $months: Int!, $reason: String!) {"
    " extendPrivacyRequest(id: $id, months: $months, reason: $reason) {" + REQUEST_FIELDS + "} }"
)
LIST = """query($status: PrivacyRequestStatus, $overdue: Boolean) {
  privacyRequests(status: $status, overdue: $overdue) { id status overdue } }"""
LIFT = """mutation($value: String!) {
  liftSuppression(identifier: {type: EMAIL, value: $value}) {
    __typename ... on SuppressionLifted { lifted } ... on Error { code } } }"""
X = [{"type": "EMAIL", "value": X_EMAIL.upper()}, {"type": "PHONE", "value": X_PHONE}]


class TestRules:
    @pytest.mark.parametrize(
        ("received", "months", "deadline"),
        [
            ("2026-01-31T10:00:00", 1, "2026-02-28T10:00:00"),
            ("2028-01-31T10:00:00", 1, "2028-02-29T10:00:00"),
            ("2026-03-15T23:30:00", 1, "2026-04-15T23:30:00"),
            ("2026-11-30T08:00:00", 3, "2027-02-28T08:00:00"),
        ],
    )
    def test_a_month_is_a_calendar_month_ending_on_the_shorter_months_last_day(
        self, received: str, months: int, deadline: str
    ) -> None:
        start = dt.datetime.fromisoformat(received).replace(tzinfo=dt.UTC)
        expected = dt.datetime.fromisoformat(deadline).replace(tzinfo=dt.UTC)
        assert rules.add_months(start, months) == expected

    def test_only_the_documented_transitions_are_allowed(self) -> None:
        rules.check_transition(Status.FAILED, Status.IN_PROGRESS)
        for current, wanted in [
            (Status.RECEIVED, Status.IN_PROGRESS),
            (Status.COMPLETED, Status.IN_PROGRESS),
            (Status.REJECTED, Status.VERIFIED),
        ]:
            with pytest.raises(rules.TransitionRefused):
                rules.check_transition(current, wanted)

    def test_text_patterns_find_a_number_however_it_is_written(self) -> None:
        pattern = re.compile(rules.text_patterns(["ana@example.com"], ["+34622719538"], []))
        for text in (
            "ANA@example.com",
            '"email":"ana@example.com"',
            "tel 622 71 95 38",
            "(+34) 622-719-538",
            "34622719538",
        ):
            assert pattern.search(text), text
        # Another person's address or a longer number holding these by chance: not theirs.
        for text in ("order 6227 19", "juliana@example.com", "ana@example.com.au", "96227195381"):
            assert not pattern.search(text), text


class TestTheWorkflowOverGraphQL:
    async def test_an_erasure_from_receipt_to_signed_completion(
        self, admin: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await load(services, files(tmp_path))

        created = (await gql(admin, CREATE, type="ERASURE", ids=X))["createPrivacyRequest"]

        assert created["status"] == "RECEIVED"
        assert [i["value"] for i in created["identifiers"]] == [X_EMAIL, "+34622719538"]
        received = dt.datetime.fromisoformat(created["receivedAt"])
        assert dt.datetime.fromisoformat(created["deadline"]) == rules.add_months(received, 1)
        assert created["overdue"] is False
        too_early = (await gql(admin, RUN, id=created["id"]))["runPrivacyRequest"]
        assert too_early["code"] == "TransitionRefused"
        assert too_early["message"] == (
            "a request that is received cannot become in_progress (verify who the person is first)"
        )
        await gql(admin, VERIFY, id=created["id"])
        # His scope holds ids he did not give (his browser's, his CRM id): reviewed first.
        scope = (await gql(admin, SCOPE, id=created["id"]))["privacyRequest"]["scope"]
        assert {w["kind"] for w in scope["warnings"]} == {"NOT_GIVEN"}
        ack = scope["fingerprint"]
        done = (await gql(admin, RUN, id=created["id"], ack=ack))["runPrivacyRequest"]
        assert done["status"] == "COMPLETED"
        assert done["identifiers"] is None
        assert [(e["fromStatus"], e["toStatus"]) for e in done["events"]] == [
            (None, "RECEIVED"),
            ("RECEIVED", "VERIFIED"),
            ("VERIFIED", "IN_PROGRESS"),
            ("IN_PROGRESS", "COMPLETED"),
        ]
        assert all(e["actor"].startswith("key:") for e in done["events"])
        assert all(s["done"] for s in done["erasureSteps"])
        assert {s["step"]: s["count"] for s in done["erasureSteps"]}["records"] == 10
        assert done["receipt"]["valid"] is True
        assert done["receipt"]["body"]["collections"]["records"] == 10
        again = (await gql(admin, RUN, id=created["id"]))["runPrivacyRequest"]
        assert again["code"] == "TransitionRefused"

    async def test_every_step_is_in_the_access_audit(
        self, admin: httpx.AsyncClient, services: Services
    ) -> None:
        created = (await gql(admin, CREATE, type="ACCESS", ids=X[:1]))["createPrivacyRequest"]
        await gql(admin, VERIFY, id=created["id"])
        await gql(admin, LIST)

        entries = await audit_entries(services)

        assert [(e.action, e.what) for e in entries] == [
            (Action.MUTATION, ("createPrivacyRequest",)),
            (Action.MUTATION, ("verifyPrivacyRequest",)),
            (Action.READ, ("privacyRequests",)),
        ]
        assert X_EMAIL.upper() in str(entries[0].detail)

    async def test_deadlines_extend_by_two_months_at_most_and_only_with_a_reason(
        self, admin: httpx.AsyncClient
    ) -> None:
        created = (await gql(admin, CREATE, type="ACCESS", ids=X[:1]))["createPrivacyRequest"]
        received = dt.datetime.fromisoformat(created["receivedAt"])

        blank = await gql(admin, EXTEND, id=created["id"], months=1, reason=" ")
        once = await gql(admin, EXTEND, id=created["id"], months=1, reason="many systems")
        twice = await gql(admin, EXTEND, id=created["id"], months=1, reason="still searching")
        thrice = await gql(admin, EXTEND, id=created["id"], months=1, reason="more")

        assert blank["extendPrivacyRequest"]["code"] == "InvalidInput"
        assert once["extendPrivacyRequest"]["extensionMonths"] == 1
        extended = twice["extendPrivacyRequest"]
        assert dt.datetime.fromisoformat(extended["deadline"]) == rules.add_months(received, 3)
        assert [e["reason"] for e in extended["extensions"]] == ["many systems", "still searching"]
        assert thrice["extendPrivacyRequest"]["code"] == "ExtensionRefused"

    async def test_a_deadline_missed_cannot_be_extended_afterwards(
        self, admin: httpx.AsyncClient, services: Services
    ) -> None:
        # An extension is told to the person within the first month; past it the request is
        # overdue, and extending it then would hide that.
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        given = [GivenIdentifier(IdentifierType.EMAIL, "late@example.com")]
        late = await services.privacy.create(RequestType.ACCESS, given, actor="t", now=long_ago)

        extended = await gql(admin, EXTEND, id=late.id, months=2, reason="many systems")

        assert extended["extendPrivacyRequest"]["code"] == "ExtensionRefused"
        overdue = (await gql(admin, LIST, overdue=True))["privacyRequests"]
        assert [r["id"] for r in overdue] == [late.id]

    async def test_overdue_requests_are_those_still_open_past_their_deadline(
        self, admin: httpx.AsyncClient, services: Services
    ) -> None:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        given = [GivenIdentifier(IdentifierType.EMAIL, "late@example.com")]
        late = await services.privacy.create(RequestType.ACCESS, given, actor="t", now=long_ago)
        answered = await services.privacy.create(RequestType.ACCESS, given, actor="t", now=long_ago)
        await services.privacy.reject(answered.id, actor="t", now=long_ago, reason="no ID")
        fresh = (await gql(admin, CREATE, type="ERASURE", ids=X[:1]))["createPrivacyRequest"]

        overdue = (await gql(admin, LIST, overdue=True))["privacyRequests"]
        on_time = (await gql(admin, LIST, overdue=False))["privacyRequests"]
        rejected = (await gql(admin, LIST, status="REJECTED"))["privacyRequests"]

        assert [r["id"] for r in overdue] == [late.id]
        assert {r["id"] for r in on_time} == {fresh["id"], answered.id}
        assert [r["id"] for r in rejected] == [answered.id]

    async def test_bad_identifiers_and_rejections_without_a_reason_are_refused(
        self, admin: httpx.AsyncClient
    ) -> None:
        bad = await gql(admin, CREATE, type="ERASURE", ids=[{"type": "EMAIL", "value": "no"}])
        none = await gql(admin, CREATE, type="ERASURE", ids=[])
        created = (await gql(admin, CREATE, type="ACCESS", ids=X[:1]))["createPrivacyRequest"]
        unreasoned = await gql(admin, REJECT, id=created["id"], reason="")
        unknown = await gql(admin, VERIFY, id="nope")

        assert bad["createPrivacyRequest"]["code"] == "InvalidInput"
        assert none["createPrivacyRequest"]["code"] == "InvalidInput"
        assert unreasoned["rejectPrivacyRequest"]["code"] == "InvalidInput"
        assert unknown["verifyPrivacyRequest"]["code"] == "PrivacyRequestNotFound"

    async def test_an_external_id_needs_a_source_name_and_an_id(
        self, admin: httpx.AsyncClient, services: Services
    ) -> None:
        def external(source: str, value: str) -> list[dict[str, str]]:
            return [{"type": "EXTERNAL", "value": value, "source": source}]

        no_source = await gql(admin, CREATE, type="ERASURE", ids=external("", "123"))
        no_id = await gql(admin, CREATE, type="ERASURE", ids=external("shopify", " "))
        spelled = await gql(admin, CREATE, type="ACCESS", ids=external(" Shopify ", "123"))

        assert no_source["createPrivacyRequest"]["code"] == "InvalidInput"
        assert "'' is not a source's name" in no_source["createPrivacyRequest"]["message"]
        assert no_id["createPrivacyRequest"]["code"] == "InvalidInput"
        assert spelled["createPrivacyRequest"]["identifiers"] == [
            {"type": "EXTERNAL", "value": "123", "source": "shopify"}  # as records name it
        ]
        with pytest.raises(InvalidInput, match="not a source's name"):
            await services.privacy.lift_suppression(
                GivenIdentifier(IdentifierType.EXTERNAL, "123", "")
            )

    @pytest.mark.parametrize("role", [Role.AGENT, Role.MARKETING])
    async def test_only_admins_create_run_or_read_requests(
        self, app: FastAPI, services: Services, role: Role
    ) -> None:
        async with asgi_client(app, await f.api_key(services, role)) as client:
            created = await gql(client, CREATE, type="ERASURE", ids=X)
            lifted = await gql(client, LIFT, value=X_EMAIL)
            listed = await client.post("/graphql", json={"query": LIST})

        assert created["createPrivacyRequest"]["__typename"] == "ForbiddenError"
        assert lifted["liftSuppression"]["__typename"] == "ForbiddenError"
        body = listed.json()
        assert body["data"]["privacyRequests"] is None
        assert body["errors"][0]["extensions"]["code"] == "Forbidden"
        assert await services.privacy.page(None, None, dt.datetime.now(dt.UTC)) == []


class TestSuppressedInSummaries:
    async def test_post_ingest_counts_an_erased_persons_records_as_suppressed(
        self,
        admin: httpx.AsyncClient,
        connector_client: httpx.AsyncClient,
        services: Services,
        tmp_path: Path,
    ) -> None:
        await load(services, files(tmp_path))
        created = (await gql(admin, CREATE, type="ERASURE", ids=X[:1]))["createPrivacyRequest"]
        await gql(admin, VERIFY, id=created["id"])
        scope = (await gql(admin, SCOPE, id=created["id"]))["privacyRequest"]["scope"]
        await gql(admin, RUN, id=created["id"], ack=scope["fingerprint"])
        body = "\n".join(
            json.dumps(r)
            for r in (
                f.order(external_id="X-9", identifiers=[f.email(X_EMAIL)]),
                f.order(external_id="N-1", identifiers=[f.email("new@example.com")]),
            )
        )

        answer = await connector_client.post("/ingest/canonical", content=body)

        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert (report["records"], report["inserted"], report["suppressed"]) == (2, 1, 1)
        assert [i["record_id"] for i in report["items"]] == ["shop:order:N-1"]
        lifted = (await gql(admin, LIFT, value=X_EMAIL))["liftSuppression"]
        assert lifted == {"__typename": "SuppressionLifted", "lifted": True}
        whole = """mutation($id: ID!) { liftErasure(id: $id) {
          __typename ... on ErasureLifted { lifted } ... on Error { code } } }"""
        rest = (await gql(admin, whole, id=created["id"]))["liftErasure"]
        assert rest["__typename"] == "ErasureLifted"
        assert rest["lifted"] > 0  # what he did not name: his records' suppressions at least
        assert (await gql(admin, whole, id="nope"))["liftErasure"][
            "code"
        ] == "PrivacyRequestNotFound"


async def test_the_command_receives_verifies_runs_and_shows_a_request(
    services: Services, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    await load(services, files(tmp_path))

    created = run_c360("privacy", "request", "erasure", "--email", X_EMAIL, env=env)
    assert created.returncode == 0, created.stderr
    request_id = created.stdout.split()[0]
    assert "received" in created.stdout
    assert run_c360("privacy", "verify", request_id, env=env).returncode == 0
    scope = json.loads(run_c360("privacy", "scope", request_id, "--json", env=env).stdout)
    ran = run_c360("privacy", "run", request_id, "--confirm-scope", scope["fingerprint"], env=env)
    assert ran.returncode == 0, ran.stderr
    shown = run_c360("privacy", "status", request_id, "--json", env=env)

    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["status"] == "completed"
    assert doc["receipt"]["body"]["collections"]["records"] == 10
    assert "records: 10" in ran.stdout
    # An auditor checks the receipt with the key the operator gives them, not the one it
    # carries, over its body as the README writes canonical JSON.
    key = run_c360("privacy", "public-key", env=env)
    assert key.returncode == 0, key.stderr
    assert key.stdout.strip() == doc["receipt"]["public_key"]
    body = json.dumps(doc["receipt"]["body"], sort_keys=True, separators=(",", ":")).encode()
    verifying = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.stdout.strip()))
    verifying.verify(base64.b64decode(doc["receipt"]["signature"]), body)  # raises if not
    operations = {e.what[0] for e in await audit_entries(services)}
    assert {"privacy request", "privacy verify", "privacy run", "privacy status"} <= operations
    imported = run_c360("import", "canonical", str(files(tmp_path / "again")[2]), env=env)
    assert "suppressed: 9" in imported.stdout
    both = run_c360("privacy", "lift", "--request", request_id, "--email", X_EMAIL, env=env)
    assert both.returncode == 2
    assert "--request lifts a whole erasure: name no identifier with it" in both.stderr
    lifted = run_c360("privacy", "lift", "--request", request_id, env=env)
    assert lifted.returncode == 0, lifted.stderr
    assert lifted.stdout.startswith("lifted ")
    assert lifted.stdout.strip().endswith(f"suppressions of erasure {request_id}")
    back = run_c360("import", "canonical", str(files(tmp_path / "back")[2]), env=env)
    assert "suppressed: 0" in back.stdout


DUPLICATE = """mutation($type: PrivacyRequestType!, $ids: [PrivacyIdentifierInput!]!) {
  createPrivacyRequest(type: $type, identifiers: $ids) {
    __typename ... on PrivacyRequest { id warnings { kind message requestId identifiers } } } }"""


async def test_a_request_naming_whom_an_open_one_names_is_received_with_a_warning(
    admin: httpx.AsyncClient, services: Services, env: dict[str, str]
) -> None:
    # He wrote to support and to the privacy address: two erasures of one person, unless the
    # second says the first is open.
    first = (await gql(admin, DUPLICATE, type="ERASURE", ids=X[:1]))["createPrivacyRequest"]
    again = [{"type": "EMAIL", "value": X_EMAIL}, {"type": "PHONE", "value": "+34 600 000 999"}]
    second = (await gql(admin, DUPLICATE, type="ERASURE", ids=again))["createPrivacyRequest"]
    access = (await gql(admin, DUPLICATE, type="ACCESS", ids=X[:1]))["createPrivacyRequest"]

    assert first["warnings"] == []
    assert second["__typename"] == "PrivacyRequest"  # received all the same
    [warning] = second["warnings"]
    assert warning["kind"] == "DUPLICATE"
    assert warning["requestId"] == first["id"]
    assert warning["identifiers"] == [f"email:{X_EMAIL}"]
    assert first["id"] in warning["message"]
    assert access["warnings"] == []  # an access request is another question
    # Read back, each names the other while both are open; a rejected one is no longer owed.
    read = """query($id: ID!) { privacyRequest(id: $id) { warnings { requestId } } }"""
    shown = (await gql(admin, read, id=first["id"]))["privacyRequest"]
    assert shown["warnings"] == [{"requestId": second["id"]}]
    rejected = (await gql(admin, REJECT, id=first["id"], reason="asked twice"))[
        "rejectPrivacyRequest"
    ]
    assert rejected["status"] == "REJECTED"
    assert (await gql(admin, read, id=second["id"]))["privacyRequest"]["warnings"] == []

    by_command = run_c360("privacy", "request", "erasure", "--email", X_EMAIL, env=env)

    assert by_command.returncode == 0, by_command.stderr
    assert f"WARNING the open erasure request {second['id']} (status received" in by_command.stdout
    assert f"already names email:{X_EMAIL}" in by_command.stdout
    status = run_c360("privacy", "status", second["id"], "--json", env=env)
    [duplicate] = json.loads(status.stdout)["duplicates"]
    assert duplicate["request"] == by_command.stdout.split()[0]
