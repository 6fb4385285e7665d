"""Killing the store itself during an import: the importer says so in one line, the store is
started again, and running the same import again ends with every collection (records,
identities, profiles, merges, suggestions, name search, match features and keys, metrics, dead
letters, follow-ups with their event logs, the outbox) as one clean import leaves it."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from c360.store.embedded import EmbeddedServer
from tests.crash_data import write_dataset
from tests.helpers import DEFAULTS
from tests.served import c360, environment
from tests.state import full_state

SEED = 14
KILLS = 3
IMPORT_TIMEOUT_S = 300
# Members to assign follow-ups to, and webhooks to notify (never reached: the import only
# writes the outbox), so that owners and notifications are compared too.
TEAMS = json.dumps(
    {
        team: {
            "members": members,
            "webhook_url": f"http://127.0.0.1:9/{team}",
            "webhook_secret": "a-secret-for-the-crash-test",
        }
        for team, members in {
            "customer-care": ["ana.agent", "luis.agent", "eva.agent"],
            "vip-care": ["vera.vip", "tomas.vip"],
        }.items()
    }
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """An embedded store this test owns, so that it can kill it."""
    server = EmbeddedServer.ensure(tmp_path / "store", DEFAULTS.embedded_start_timeout)
    try:
        yield server
    finally:
        server.stop()


def importer(path: Path, uri: str, database: str) -> subprocess.Popen[str]:
    env = environment(
        C360_MONGODB_URI=uri,
        C360_DATABASE=database,
        C360_INGEST_BATCH_SIZE="40",
        C360_STORE_TIMEOUT_MS="2000",
        C360_DEFAULT_REGION="ES",
        C360_FOLLOWUP_TEAMS=TEAMS,
    )
    return subprocess.Popen(
        c360("import", "canonical", str(path), "--allow-rejects"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def records_in(uri: str, database: str) -> int:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        return client[database].records.estimated_document_count()
    finally:
        client.close()


class TestStoreKilledDuringAnImport:
    def test_running_it_again_ends_where_a_clean_import_does(
        self, store: EmbeddedServer, tmp_path: Path
    ) -> None:
        rng = random.Random(SEED)
        path = write_dataset(tmp_path / "input.jsonl", people=50, seed=SEED)
        clean = importer(path, store.uri, "clean")
        assert clean.wait(IMPORT_TIMEOUT_S) == 0, clean.communicate()
        reference = full_state(store.uri, "clean")
        total = len(reference["records"])

        cut = 0
        for fraction in sorted(rng.uniform(0.05, 0.95) for _ in range(KILLS)):
            before = records_in(store.uri, "crashed")
            run = importer(path, store.uri, "crashed")
            deadline = time.monotonic() + IMPORT_TIMEOUT_S
            while run.poll() is None and time.monotonic() < deadline:
                written = records_in(store.uri, "crashed")
                if written > before and written >= total * fraction:
                    break
                time.sleep(rng.uniform(0, 0.05))
            time.sleep(rng.uniform(0, 0.3))  # somewhere in the batch's steps
            assert run.poll() is None, "the import ended before the store was killed"
            os.kill(store.pid, signal.SIGKILL)
            _, stderr = run.communicate(timeout=IMPORT_TIMEOUT_S)
            assert "Traceback" not in stderr
            if run.returncode != 0:  # 0: it finished between the poll and the kill
                cut += 1
                assert run.returncode == 75, stderr
                last = stderr.strip().splitlines()[-1]
                assert last.startswith("error: store unreachable ("), stderr
                assert last.endswith("; nothing is lost: run the same command again to resume")
            store.restart(DEFAULTS.embedded_start_timeout)

        assert cut >= 1, "no import was cut short"
        finished = importer(path, store.uri, "crashed")
        assert finished.wait(IMPORT_TIMEOUT_S) == 0, finished.communicate()
        state = full_state(store.uri, "crashed")
        assert state.keys() == reference.keys()
        for collection in reference:
            assert state[collection] == reference[collection], collection


def write_customers_csv(path: Path, rows: int) -> Path:
    """A CRM export of ``rows`` customers, one batch of the importer every 40 rows."""
    lines = ["customer_id,email,first_name,last_name,created_at"]
    lines += [
        f"CRM-{n},customer{n}@example.com,Name{n},Surname{n},2024-01-01T10:00:00Z"
        for n in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class TestStoreKilledDuringACsvImport:
    def test_the_importer_says_so_in_one_line(self, store: EmbeddedServer, tmp_path: Path) -> None:
        # A CSV file is read row by row while batches are written: the store going away in
        # between ends the import with its one line, not with a traceback of the reader.
        path = write_customers_csv(tmp_path / "customers.csv", 4_000)
        run = subprocess.Popen(
            c360("import", "customers-csv", str(path)),
            env=environment(
                C360_MONGODB_URI=store.uri,
                C360_INGEST_BATCH_SIZE="40",
                C360_STORE_TIMEOUT_MS="2000",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + IMPORT_TIMEOUT_S
        while run.poll() is None and time.monotonic() < deadline:
            if records_in(store.uri, "c360") > 0:
                break
            time.sleep(0.01)
        assert run.poll() is None, run.communicate()
        os.kill(store.pid, signal.SIGKILL)
        _, stderr = run.communicate(timeout=IMPORT_TIMEOUT_S)

        assert run.returncode == 75, stderr
        assert "Traceback" not in stderr
        assert "Exception ignored" not in stderr
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("error: store unreachable ("), stderr
        assert last.endswith("; nothing is lost: run the same command again to resume")
