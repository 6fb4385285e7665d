"""An import says what it led to beyond its records: the follow-ups its answers opened, on the
command line and in the HTTP answer; sending the same answers again opens, and says, nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests import factories as f
from tests.followups.helpers import nps
from tests.served import run_c360


def _answers(path: Path) -> Path:
    f.write_jsonl(
        path,
        [
            nps("S-1", "ana@example.com", 2, "2024-05-01T12:00:00Z"),  # a detractor
            nps("S-2", "luis@example.com", 10, "2024-05-01T12:05:00Z"),  # a promoter
            nps("S-3", "marta@example.com", 1, "2024-05-01T12:10:00Z"),  # a detractor
        ],
    )
    return path


def test_the_command_counts_the_follow_ups_an_import_opened(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = _answers(tmp_path / "surveys.jsonl")

    imported = run_c360("import", "canonical", str(path), env=env)

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[-1] == "then follow-ups opened: 2"


async def test_the_http_answer_counts_them_too(
    connector_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = _answers(tmp_path / "surveys.jsonl").read_bytes()

    first = await connector_client.post(
        "/ingest/canonical", content=body, headers={"content-type": "application/x-ndjson"}
    )
    again = await connector_client.post(
        "/ingest/canonical", content=body, headers={"content-type": "application/x-ndjson"}
    )

    assert first.status_code == 200, first.text
    assert first.json()["effects"] == {"follow_ups_opened": 2}
    assert again.json()["duplicates"] == 3
    assert again.json()["effects"] == {}, json.dumps(again.json())


async def test_the_answers_description_names_the_effects(
    connector_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = _answers(tmp_path / "surveys.jsonl").read_bytes()
    answer = await connector_client.post(
        "/ingest/canonical", content=body, headers={"content-type": "application/x-ndjson"}
    )
    document = (await connector_client.get("/openapi.json")).json()

    report = document["components"]["schemas"]["IngestReport"]
    assert set(answer.json()) <= set(report["properties"]), sorted(answer.json())
    effects = report["properties"]["effects"]
    assert effects["additionalProperties"] == {"type": "integer"}
    assert "follow_ups_opened" in effects["description"]
