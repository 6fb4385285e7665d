"""A request's scope, reviewed before it runs: the profiles it covers, which identifiers the
requester gave and which were reached through records or merges, the merges (a manual one by
whom and when), the records by kind, and warnings a run must be acknowledged past. Marta and
Jorge, two people an agent merged by hand, are the case: neither Marta's export nor her erasure
may reach Jorge unless the data-protection officer says so."""

from __future__ import annotations

import json
from typing import Any

import httpx

from c360.audit.types import Action
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import audit_entries, gql, imported, profile_of
from tests.served import run_c360

M_EMAIL, M_CRM = "marta.ruiz@example.com", "CRM-M-100"
J_EMAIL, J_CRM = "jorge.pardo@example.org", "CRM-J-200"
MARTA = [
    {"type": "EMAIL", "value": M_EMAIL},
    {"type": "EXTERNAL", "source": "crm", "value": M_CRM},
]

SCOPE = """
  scope {
    fingerprint kept given unmatched
    profiles { id mergedInto holdsGiven throughMerges names
      identifiers { key given } records { kind count } }
    merges { id absorbedId survivorId rule manual actor mergedAt reason }
    records { kind count }
    warnings { kind message profileId mergeId identifiers }
  }
"""
REQUEST = "query($id: ID!) { privacyRequest(id: $id) { id status" + SCOPE + "} }"
CREATE = """mutation($type: PrivacyRequestType!, $ids: [PrivacyIdentifierInput!]!) {
  createPrivacyRequest(type: $type, identifiers: $ids) {
    __typename ... on PrivacyRequest { id } } }"""
VERIFY = """mutation($id: ID!) { verifyPrivacyRequest(id: $id) {
  __typename ... on PrivacyRequest { status } } }"""
RUN = """mutation($id: ID!, $ack: String) {
  runPrivacyRequest(id: $id, acknowledgeScope: $ack) {
    __typename
    ... on PrivacyRequest { id status events { toStatus note } }
    ... on Error { code message } } }"""
MERGE = """mutation($survivor: ID!, $absorbed: ID!) {
  mergeProfiles(survivorId: $survivor, absorbedId: $absorbed, reason: "same customer?") {
    __typename ... on Merge { id rule actor } } }"""
UNMERGE = """mutation($id: ID!) {
  unmergeProfile(mergeId: $id, reason: "two people") { __typename } }"""


async def two_people(services: Services) -> None:
    marta = [f.email(M_EMAIL), f.external("crm", M_CRM)]
    jorge = [f.email(J_EMAIL), f.external("crm", J_CRM)]
    await imported(
        services,
        [
            f.person(external_id=M_CRM, identifiers=marta, given_name="Marta", family_name="Ruiz"),
            f.person(external_id=J_CRM, identifiers=jorge, given_name="Jorge", family_name="Pardo"),
            f.order(external_id="M-1", identifiers=[f.email(M_EMAIL)]),
            f.service_case(
                external_id="T-J1",
                identifiers=[f.email(J_EMAIL)],
                subject="Jorge's insulin prescription",
            ),
        ],
    )


async def merged_by_hand(admin: httpx.AsyncClient, services: Services) -> tuple[str, str]:
    """Jorge merged into Marta by an admin: the merge's id, and Jorge's profile."""
    marta = await profile_of(services, IdentifierType.EMAIL, M_EMAIL)
    jorge = await profile_of(services, IdentifierType.EMAIL, J_EMAIL)
    merged = (await gql(admin, MERGE, survivor=marta, absorbed=jorge))["mergeProfiles"]
    assert merged["__typename"] == "Merge", merged
    assert merged["rule"] == "manual"
    return str(merged["id"]), jorge


async def verified(admin: httpx.AsyncClient, kind: str, given: list[dict[str, str]]) -> str:
    created = (await gql(admin, CREATE, type=kind, ids=given))["createPrivacyRequest"]
    verify = (await gql(admin, VERIFY, id=created["id"]))["verifyPrivacyRequest"]
    assert verify["status"] == "VERIFIED"
    return str(created["id"])


async def scope_of(admin: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    scope: dict[str, Any] = (await gql(admin, REQUEST, id=request_id))["privacyRequest"]["scope"]
    return scope


async def test_a_scope_of_exactly_what_was_given_has_no_warning_and_runs_as_before(
    admin: httpx.AsyncClient, services: Services
) -> None:
    await two_people(services)
    request_id = await verified(admin, "ERASURE", MARTA)

    scope = await scope_of(admin, request_id)

    assert scope["warnings"] == []
    assert scope["merges"] == []
    assert not scope["kept"]
    [profile] = scope["profiles"]
    assert profile["holdsGiven"]
    assert profile["throughMerges"] == []
    assert {i["key"]: i["given"] for i in profile["identifiers"]} == {
        f"email:{M_EMAIL}": True,
        f"ext:crm:{M_CRM}": True,
    }
    assert profile["names"] == ["Marta", "Ruiz"]
    assert {r["kind"]: r["count"] for r in scope["records"]} == {"order": 1, "person": 1}
    ran = (await gql(admin, RUN, id=request_id))["runPrivacyRequest"]
    assert ran["status"] == "COMPLETED", ran
    assert await profile_of(services, IdentifierType.EMAIL, J_EMAIL)  # Jorge untouched
    # Completed, the erasure forgot whom it covered.
    assert (await gql(admin, REQUEST, id=request_id))["privacyRequest"]["scope"] is None


async def test_reading_a_scope_is_in_the_audit_of_every_profile_it_shows(
    admin: httpx.AsyncClient, services: Services
) -> None:
    await two_people(services)
    _, jorge = await merged_by_hand(admin, services)
    request_id = await verified(admin, "ERASURE", MARTA)

    scope = await scope_of(admin, request_id)

    assert f"email:{J_EMAIL}" in str(scope["profiles"])  # Jorge's e-mail address, in full
    read = await audit_entries(services, profile_id=jorge, action=Action.READ)
    assert [e.what for e in read] == [("PrivacyRequest.scope",)]


async def test_a_manual_merge_is_named_refused_without_acknowledgement_and_unmerged_first(
    admin: httpx.AsyncClient, services: Services
) -> None:
    await two_people(services)
    merge_id, jorge = await merged_by_hand(admin, services)
    marta = await profile_of(services, IdentifierType.EMAIL, M_EMAIL)
    request_id = await verified(admin, "ERASURE", MARTA)

    scope = await scope_of(admin, request_id)

    kinds = {w["kind"]: w for w in scope["warnings"]}
    assert set(kinds) == {"MANUAL_MERGE", "NOT_GIVEN"}
    manual = kinds["MANUAL_MERGE"]
    assert manual["mergeId"] == merge_id
    assert "made by hand by" in manual["message"]
    assert "Unmerge first if this is not the same person" in manual["message"]
    assert f'unmergeProfile(mergeId: "{merge_id}")' in manual["message"]
    not_given = kinds["NOT_GIVEN"]
    assert not_given["profileId"] == jorge
    assert not_given["mergeId"] == merge_id
    assert set(not_given["identifiers"]) == {f"email:{J_EMAIL}", f"ext:crm:{J_CRM}"}
    [merge] = scope["merges"]
    assert merge["manual"]
    assert merge["absorbedId"] == jorge
    assert merge["reason"] == "same customer?"
    by_id = {p["id"]: p for p in scope["profiles"]}
    assert by_id[jorge]["throughMerges"] == [merge_id]
    assert not by_id[jorge]["holdsGiven"]
    assert by_id[jorge]["names"] == ["Jorge", "Pardo"]
    assert {r["kind"]: r["count"] for r in by_id[jorge]["records"]} == {
        "person": 1,
        "service_case": 1,  # his health data, counted where it came from
    }

    refused = (await gql(admin, RUN, id=request_id))["runPrivacyRequest"]
    assert refused["__typename"] == "ConflictError"
    assert refused["code"] == "ScopeNotAcknowledged"
    assert merge_id in refused["message"]
    assert J_EMAIL in refused["message"]
    assert scope["fingerprint"] in refused["message"]
    still = (await gql(admin, REQUEST, id=request_id))["privacyRequest"]
    assert still["status"] == "VERIFIED"

    assert (await gql(admin, UNMERGE, id=merge_id))["unmergeProfile"]["__typename"] == "Merge"
    alone = await scope_of(admin, request_id)
    assert alone["warnings"] == []
    assert alone["merges"] == []
    assert [p["id"] for p in alone["profiles"]] == [marta]
    # The fingerprint acknowledged before the unmerge is of another scope: no longer needed.
    ran = (await gql(admin, RUN, id=request_id))["runPrivacyRequest"]
    assert ran["status"] == "COMPLETED", ran

    assert await profile_of(services, IdentifierType.EMAIL, J_EMAIL) == jorge
    again = await imported(services, [f.order(external_id="J-9", identifiers=[f.email(J_EMAIL)])])
    assert again.suppressed == 0
    assert again.inserted == 1


async def test_an_acknowledged_scope_runs_and_a_changed_one_is_refused_again(
    admin: httpx.AsyncClient, services: Services
) -> None:
    await two_people(services)
    merge_id, _ = await merged_by_hand(admin, services)
    request_id = await verified(admin, "ERASURE", MARTA)
    fingerprint = (await scope_of(admin, request_id))["fingerprint"]

    # The scope grows after the review: a new identifier of Jorge's arrives.
    await imported(
        services,
        [f.order(external_id="J-2", identifiers=[f.email(J_EMAIL), f.phone("+34 611 22 33 44")])],
    )
    stale = (await gql(admin, RUN, id=request_id, ack=fingerprint))["runPrivacyRequest"]
    assert stale["code"] == "ScopeNotAcknowledged"
    assert f"the scope changed since {fingerprint} was previewed" in stale["message"]

    now = (await scope_of(admin, request_id))["fingerprint"]
    ran = (await gql(admin, RUN, id=request_id, ack=now))["runPrivacyRequest"]

    assert ran["status"] == "COMPLETED", ran
    started = next(e for e in ran["events"] if e["toStatus"] == "IN_PROGRESS")
    assert now in started["note"]
    assert merge_id in started["note"]
    assert J_EMAIL not in started["note"]


async def test_an_access_request_through_a_manual_merge_is_refused_too(
    admin: httpx.AsyncClient, services: Services
) -> None:
    await two_people(services)
    merge_id, _ = await merged_by_hand(admin, services)
    request_id = await verified(admin, "ACCESS", MARTA)

    refused = (await gql(admin, RUN, id=request_id))["runPrivacyRequest"]

    assert refused["code"] == "ScopeNotAcknowledged"
    assert merge_id in refused["message"]
    assert (await gql(admin, UNMERGE, id=merge_id))["unmergeProfile"]["__typename"] == "Merge"
    ran = (await gql(admin, RUN, id=request_id))["runPrivacyRequest"]
    assert ran["status"] == "COMPLETED", ran
    export = await admin.get(f"/privacy/requests/{request_id}/export")
    assert export.status_code == 200
    assert "insulin" not in export.text
    assert M_EMAIL in export.text
    held = export.json()["sections"]
    for section in ("profiles", "identifiers", "records"):
        assert J_EMAIL not in json.dumps(held[section]), section
    # The undone merge is hers to know of, not what it moved of Jorge's.
    assert J_EMAIL not in export.text
    assert J_CRM not in export.text
    [merge] = held["merges"]
    assert merge["item"]["status"] == "undone"
    assert merge["item"]["moved_identities"] == []
    assert merge["item"]["moved_identities_withheld"] == 2


async def test_the_command_shows_the_scope_and_runs_only_once_it_is_confirmed(
    admin: httpx.AsyncClient, services: Services, store: Store, env: dict[str, str]
) -> None:
    await two_people(services)
    merge_id, jorge = await merged_by_hand(admin, services)
    request_id = await verified(admin, "ERASURE", MARTA)

    shown = run_c360("privacy", "scope", request_id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"email:{J_EMAIL}  NOT GIVEN" in shown.stdout
    assert f"merge {merge_id}:" in shown.stdout
    assert "by hand by" in shown.stdout
    assert "WARNING [manual_merge]" in shown.stdout
    as_json = json.loads(run_c360("privacy", "scope", request_id, "--json", env=env).stdout)
    fingerprint = as_json["fingerprint"]
    assert f"--confirm-scope {fingerprint}" in shown.stdout
    status = run_c360("privacy", "status", request_id, env=env)
    assert f"scope {fingerprint}: 2 profiles" in status.stdout
    assert "WARNING [manual_merge]" in status.stdout
    assert f"email:{J_EMAIL}" in status.stdout  # Jorge's, read: in his profile's audit
    read = await audit_entries(services, profile_id=jorge, action=Action.READ)
    assert {w for e in read for w in e.what} == {"privacy scope", "privacy status"}

    refused = run_c360("privacy", "run", request_id, env=env)
    assert refused.returncode == 2
    assert merge_id in refused.stderr
    assert "Unmerge first" in refused.stderr
    assert f"--confirm-scope {fingerprint}" in refused.stderr

    ran = run_c360("privacy", "run", request_id, "--confirm-scope", fingerprint, env=env)
    assert ran.returncode == 0, ran.stderr
    assert "completed" in ran.stdout


MERGE_WHY = """mutation($survivor: ID!, $absorbed: ID!, $why: String!) {
  mergeProfiles(survivorId: $survivor, absorbedId: $absorbed, reason: $why) {
    __typename ... on Merge { id } } }"""
UNMERGE_WHY = """mutation($id: ID!, $why: String!) {
  unmergeProfile(mergeId: $id, reason: $why) { __typename } }"""


async def test_her_export_withholds_what_was_written_of_a_merge_with_jorge(
    admin: httpx.AsyncClient, services: Services
) -> None:
    # The agent who merged Jorge into Marta wrote why, naming him, and so did the one who
    # undid it. Marta's export tells her of the merge, not what was written of Jorge; the
    # reason of a merge between two profiles of hers stays.
    await two_people(services)
    work = "marta@ruiz-estudio.es"
    await imported(services, [f.order(external_id="M-2", identifiers=[f.email(work)])])
    marta = await profile_of(services, IdentifierType.EMAIL, M_EMAIL)
    hers = await profile_of(services, IdentifierType.EMAIL, work)
    jorge = await profile_of(services, IdentifierType.EMAIL, J_EMAIL)
    with_jorge = await gql(
        admin, MERGE_WHY, survivor=marta, absorbed=jorge, why="Jorge Pardo, her brother-in-law"
    )
    undone = await gql(
        admin, UNMERGE_WHY, id=with_jorge["mergeProfiles"]["id"], why="Jorge Pardo is not her"
    )
    assert undone["unmergeProfile"]["__typename"] == "Merge"
    own = await gql(admin, MERGE_WHY, survivor=marta, absorbed=hers, why="both hers, she wrote")
    assert own["mergeProfiles"]["__typename"] == "Merge", own
    request_id = await verified(admin, "ACCESS", [*MARTA, {"type": "EMAIL", "value": work}])
    fingerprint = (await scope_of(admin, request_id))["fingerprint"]
    ran = (await gql(admin, RUN, id=request_id, ack=fingerprint))["runPrivacyRequest"]
    assert ran["status"] == "COMPLETED", ran

    export = await admin.get(f"/privacy/requests/{request_id}/export")

    merges = {m["item"]["_id"]: m["item"] for m in export.json()["sections"]["merges"]}
    assert "Jorge" not in json.dumps(merges)
    theirs = merges[with_jorge["mergeProfiles"]["id"]]
    assert "reason" not in theirs
    assert theirs["reason_withheld"] is True
    assert theirs["undo"]["actor"]
    assert "reason" not in theirs["undo"]
    assert theirs["moved_identities_withheld"] == 2
    assert merges[own["mergeProfiles"]["id"]]["reason"] == "both hers, she wrote"
    assert "reason_withheld" not in merges[own["mergeProfiles"]["id"]]
    # Nor does her access audit repeat it: the merge's and the undoing's entries keep what was
    # done, when and by whom, not their arguments; those of her own merge stay.
    audit = [a["item"] for a in export.json()["sections"]["audit"]]
    assert "Jorge" not in json.dumps(audit)
    changes = [a for a in audit if a["action"] == "mutation"]
    acts = [(a["what"], a.get("detail_withheld", False)) for a in changes]
    assert sorted(acts) == [
        (["mergeProfiles"], False),  # her own merge, entered for each of her two profiles
        (["mergeProfiles"], False),
        (["mergeProfiles"], True),
        (["unmergeProfile"], True),
    ]
    assert any("both hers, she wrote" in a.get("detail", "") for a in audit)


TWO_CHANGES = """mutation Evidence($marta: ID!, $jorge: ID!) {
  hers: setDoNotContact(profileId: $marta, active: true, reason: "she asked at the till") {
    __typename }
  his: setDoNotContact(profileId: $jorge, active: true, reason: "Jorge Pardo phoned") {
    __typename }
}"""


async def test_her_change_sent_beside_his_in_one_request_keeps_its_detail(
    admin: httpx.AsyncClient, services: Services
) -> None:
    # One request carried two changes, one for each of them (a tool sends its day's work at
    # once): each is its own act, and hers is about her alone, so her export keeps what it was.
    await two_people(services)
    marta = await profile_of(services, IdentifierType.EMAIL, M_EMAIL)
    jorge = await profile_of(services, IdentifierType.EMAIL, J_EMAIL)
    done = await gql(admin, TWO_CHANGES, marta=marta, jorge=jorge)
    assert done["hers"]["__typename"] == done["his"]["__typename"] == "PreferencesChanged", done
    request_id = await verified(admin, "ACCESS", MARTA)
    fingerprint = (await scope_of(admin, request_id))["fingerprint"]
    ran = (await gql(admin, RUN, id=request_id, ack=fingerprint))["runPrivacyRequest"]
    assert ran["status"] == "COMPLETED", ran

    export = await admin.get(f"/privacy/requests/{request_id}/export")

    audit = [a["item"] for a in export.json()["sections"]["audit"]]
    [change] = [a for a in audit if a["what"] == ["setDoNotContact"]]
    assert "detail_withheld" not in change
    assert "she asked at the till" in change["detail"]
    assert "Jorge" not in json.dumps(audit)
