"""Conformance of a live c360 with public tools, bounded in time:

- the GraphQL-over-HTTP server audit of ``graphql-http`` (npm, pinned in
  ``tools/conformance/package-lock.json``) against ``/graphql``, with an agent's key;
- schemathesis (PyPI, pinned in the dev extras) against ``/openapi.json``, with an admin's key:
  no 5xx, every status, media type, header and body as documented, schema-valid requests
  accepted and invalid ones refused, the ``Allow`` of 405s, authentication enforced.

It serves ``c360 serve --demo`` on a free port with a private data directory (both webhooks
on), runs both, stops the server, and fails on any finding that ``tools/conformance/
deviations.toml`` does not list with its reason. Outputs are kept in
``test-artifacts/conformance/``.

    .venv/bin/python tools/conformance.py [--max-examples N]       (or: make conformance)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemathesis.config._checks import (  # noqa: E402 - the defaults the pinned version has
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
)

from tests.served import serving  # noqa: E402 - c360 serve --demo as a real process

HERE = ROOT / "tools" / "conformance"
DEVIATIONS = HERE / "deviations.toml"
ARTIFACTS = ROOT / "test-artifacts" / "conformance"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
AUDIT_TIMEOUT_S = 300
SCHEMATHESIS_TIMEOUT_S = 1200
MAX_EXAMPLES = 100
WEBHOOK_SECRETS = {
    "C360_SHOPIFY_WEBHOOK_SECRET": "conformance-shopify",
    "C360_ZENDESK_WEBHOOK_SECRET": "conformance-zendesk",
}


@dataclass(frozen=True)
class Finding:
    """Something a tool reported: ``key`` is what a deviation names (an audit id, or a
    schemathesis check code and operation); ``unit`` what it fails (the audit, the operation)."""

    tool: str
    key: str
    unit: str
    text: str


@dataclass(frozen=True)
class Run:
    findings: list[Finding]
    units: int  # audits run, operations tested
    summary: str


@dataclass(frozen=True)
class Deviation:
    tool: str
    key: str
    reason: str


@dataclass(frozen=True)
class Deviations:
    """The deviations file: findings excused, and statuses schemathesis should also count as
    refusing a request it sent invalid; each with its reason."""

    excused: list[Deviation]
    refusals: list[int]


def load_deviations(path: Path = DEVIATIONS) -> Deviations:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    refusals = []
    for entry in document.get("refusal", []):
        if not str(entry.get("reason", "")).strip():
            raise SystemExit(f"{path}: the refusal {entry.get('status')} gives no reason")
        refusals.append(int(entry["status"]))
    deviations = []
    for entry in document.get("deviation", []):
        tool, reason = entry.get("tool"), str(entry.get("reason", "")).strip()
        if tool == "graphql-http":
            key = str(entry["audit"])
        elif tool == "schemathesis":
            key = f"{entry['check']} {entry['operation']}"
        else:
            raise SystemExit(f"{path}: unknown tool {tool!r}")
        if not reason:
            raise SystemExit(f"{path}: the deviation {tool} {key} gives no reason")
        deviations.append(Deviation(tool, key, reason))
    return Deviations(deviations, refusals)


def graphql_http_audit(url: str, key: str) -> Run:
    """Every audit that is not ok (notices aside), and a summary line."""
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        check=True,
        timeout=AUDIT_TIMEOUT_S,
    )
    done = subprocess.run(
        ["node", "graphql-http-audit.mjs", url],
        cwd=HERE,
        env={**os.environ, "C360_AUDIT_KEY": key},
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT_S,
    )
    (ARTIFACTS / "graphql-http.jsonl").write_text(done.stdout, encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"the graphql-http audit did not run:\n{done.stderr}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    counts = Counter(r["status"] for r in results)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("ok", "notice", "warn", "error"))
    findings = [
        Finding("graphql-http", r["id"], r["id"], f"{r['status']}: {r['name']} ({r['reason']})")
        for r in results
        if r["status"] in ("warn", "error")
    ]
    return Run(findings, len(results), f"graphql-http audit: {len(results)} audits, {summary}")


def schemathesis(base: str, key: str, max_examples: int, refusals: list[int], work: Path) -> Run:
    """Every failure and error schemathesis reports, and its summary."""
    report = work / "schemathesis.json"
    config = work / "schemathesis.toml"
    statuses = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, *map(str, refusals)]
    config.write_text(
        f"[checks.negative_data_rejection]\nexpected-statuses = {json.dumps(statuses)}\n",
        encoding="utf-8",
    )
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--generation-deterministic",  # the same cases every run, and no example database
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    done = subprocess.run(
        command, cwd=work, capture_output=True, text=True, timeout=SCHEMATHESIS_TIMEOUT_S
    )
    (ARTIFACTS / "schemathesis.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    if not report.exists():
        raise SystemExit(f"schemathesis did not run:\n{done.stdout[-3000:]}{done.stderr}")
    shutil.copy(report, ARTIFACTS / "schemathesis.json")
    results: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    findings = [
        Finding("schemathesis", f"{failure['code']} {operation}", operation, failure["title"])
        for failure in results["failures"]
        for operation in failure["operations"]
    ]
    for error in results["errors"]:
        where = str(error.get("operation") or "the run")
        findings.append(Finding("schemathesis", f"error {where}", where, json.dumps(error)))
    cases, operations = results["test_cases"], results["operations"]
    warned = sorted(name for name, where in results["warnings"].items() if where)
    summary = (
        f"schemathesis {results['schemathesis_version']}: {operations['tested']} operations, "
        f"{cases['generated']} test cases, {cases['unique_failures']} unique failures, "
        f"{len(results['errors'])} errors in {results['running_time']:.0f} s"
        + (f"; warnings: {', '.join(warned)}" if warned else "")
    )
    return Run(findings, operations["tested"], summary)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    args = parser.parse_args()
    deviations = load_deviations()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory() as work,
        serving(Path(work) / "data", env=WEBHOOK_SECRETS) as server,
    ):
        print(f"serving the demo at {server.base}", flush=True)
        keys = server.demo_keys
        audit = graphql_http_audit(f"{server.base}/graphql", keys["agent"])
        print(audit.summary, flush=True)
        fuzz = schemathesis(
            server.base, keys["admin"], args.max_examples, deviations.refusals, Path(work)
        )
        print(fuzz.summary, flush=True)
    excused = {(d.tool, d.key): d for d in deviations.excused}
    findings = audit.findings + fuzz.findings
    unexpected = [f for f in findings if (f.tool, f.key) not in excused]
    for finding in findings:
        deviation = excused.get((finding.tool, finding.key))
        if deviation is not None:
            print(f"  deviation {finding.tool} {finding.key}: {finding.text}")
            print(f"    why: {' '.join(deviation.reason.split())}")
    seen = {(f.tool, f.key) for f in findings}
    for deviation in deviations.excused:
        if (deviation.tool, deviation.key) not in seen:
            print(f"  listed but not seen this run: {deviation.tool} {deviation.key}")
    for finding in unexpected:
        print(f"FAILED {finding.tool} {finding.key}: {finding.text}")
    failed = len({(f.tool, f.unit) for f in unexpected})
    elapsed = time.monotonic() - started
    print(f"{len(findings) - len(unexpected)} findings excused by {DEVIATIONS.relative_to(ROOT)}")
    print(f"outputs in {ARTIFACTS.relative_to(ROOT)}/, {elapsed:.0f} s")
    # The closing line counts audits and operations, as a test runner counts tests.
    print(f"conformance: {audit.units + fuzz.units - failed} passed, {failed} failed")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
