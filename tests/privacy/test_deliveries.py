"""What an access request handed over, provable afterwards: each download of its export is a
delivery of the request — when, by which key or operator, in which format, the SHA-256 of the
very bytes and what each section held — shown wherever the request is, and in the access
audit."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx

from c360.audit.types import Action
from c360.privacy.export import EXPORT_SECTIONS
from c360.services import Services
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import audit_entries, gql, imported
from tests.privacy.population import X_EMAIL, files, load
from tests.privacy.test_access import completed_access
from tests.served import run_c360

DELIVERIES = """query($id: ID!) { privacyRequest(id: $id) {
  deliveries { at actor format sha256 bytes sections { section count } records { kind count } }
} }"""


async def deliveries(admin: httpx.AsyncClient, request_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql(admin, DELIVERIES, id=request_id))["privacyRequest"][
        "deliveries"
    ]
    return found


def held(document: dict[str, Any]) -> dict[str, int]:
    """How many items each section of a JSON export holds."""
    return {name: len(items) for name, items in document["sections"].items()}


def records_by_kind(items: list[dict[str, Any]]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item["item"]["kind"]] = kinds.get(item["item"]["kind"], 0) + 1
    return kinds


async def test_each_download_is_a_delivery_with_the_checksum_of_the_bytes_received(
    admin: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    await load(services, files(tmp_path))
    request_id = await completed_access(services, IdentifierType.EMAIL, X_EMAIL)
    assert await deliveries(admin, request_id) == []  # completed, nothing handed over yet

    first = await admin.get(f"/privacy/requests/{request_id}/export")
    # He buys again before the officer downloads the zip: another export, another delivery.
    await imported(services, [f.order(external_id="X-3", identifiers=[f.email(X_EMAIL)])])
    second = await admin.get(f"/privacy/requests/{request_id}/export?format=zip")

    assert first.status_code == second.status_code == 200
    json_one, zip_one = await deliveries(admin, request_id)
    assert json_one["sha256"] == hashlib.sha256(first.content).hexdigest()
    assert json_one["bytes"] == len(first.content)
    assert json_one["format"] == "json"
    assert json_one["actor"].startswith("key:")
    document = first.json()
    assert json_one["at"] == document["request"]["generated_at"]  # the file says which it is
    counted = {s["section"]: s["count"] for s in json_one["sections"]}
    assert list(counted) == list(EXPORT_SECTIONS)
    assert counted == held(document)
    kinds = records_by_kind(document["sections"]["records"])
    assert {r["kind"]: r["count"] for r in json_one["records"]} == kinds
    assert zip_one["sha256"] == hashlib.sha256(second.content).hexdigest()
    assert zip_one["sha256"] != json_one["sha256"]
    assert zip_one["format"] == "zip"
    unzipped = zipfile.ZipFile(io.BytesIO(second.content))
    zipped = {name: len(json.loads(unzipped.read(f"{name}.json"))) for name in EXPORT_SECTIONS}
    assert {s["section"]: s["count"] for s in zip_one["sections"]} == zipped
    assert zipped["records"] == counted["records"] + 1
    by_kind = {r["kind"]: r["count"] for r in zip_one["records"]}
    assert by_kind["order"] == kinds["order"] + 1
    # The access audit holds each delivery too, for every profile it covers.
    audited = await audit_entries(services, what="privacy export delivered", action=Action.EXPORT)
    details = {json.loads(e.detail or "{}")["sha256"] for e in audited}
    assert details == {json_one["sha256"], zip_one["sha256"]}
    assert {e.profile_id for e in audited} == {
        p["item"]["_id"] for p in document["sections"]["profiles"]
    }


async def test_the_command_records_what_it_wrote_and_status_shows_it(
    admin: httpx.AsyncClient, services: Services, env: dict[str, str], tmp_path: Path
) -> None:
    await load(services, files(tmp_path))
    request_id = await completed_access(services, IdentifierType.EMAIL, X_EMAIL)
    out = tmp_path / "export.zip"

    written = run_c360(
        "privacy", "export", request_id, "--format", "zip", "--out", str(out), env=env
    )

    assert written.returncode == 0, written.stderr
    checksum = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"sha256 {checksum}" in written.stdout
    [delivery] = await deliveries(admin, request_id)
    assert delivery["sha256"] == checksum
    assert delivery["bytes"] == out.stat().st_size
    assert delivery["actor"].startswith("cli:")
    shown = run_c360("privacy", "status", request_id, env=env)
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if "delivered" in line)
    assert f"zip, {out.stat().st_size:,} bytes, sha256 {checksum}" in line
    assert "records 10 (" in line
    as_json = json.loads(run_c360("privacy", "status", request_id, "--json", env=env).stdout)
    [recorded] = as_json["deliveries"]
    assert recorded["sha256"] == checksum
    assert recorded["sections"]["records"] == 10
