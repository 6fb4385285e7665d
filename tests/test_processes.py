"""The ``c360`` command as a user runs it: real processes, the embedded store, signals."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from c360.auth.service import Role
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from c360.store.embedded import EmbeddedServer
from tests import factories as f
from tests.served import (
    HTTP,
    Server,
    alive,
    c360,
    environment,
    free_port,
    push_lines,
    run_c360,
    serving_each,
    wait_until,
)
from tests.state import assert_aggregates_equal_recomputation, canonical_state, converged_state


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data")
    try:
        yield server
    finally:
        server.stop()


def _bound(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


ANA = """{ profileByIdentifier(type: PHONE, value: "+34 600 12 34 56") {
    ... on Profile { emails timeline(first: 50) { edges { node { id } } } } } }"""


class TestARunningServer:
    """What a server shows while it runs, with nothing stopped or killed: one for the class."""

    @pytest.fixture(scope="class")
    @classmethod
    def server(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
        server = Server(tmp_path_factory.mktemp("running") / "data")
        try:
            yield server
        finally:
            server.stop()

    def test_serves_health_and_the_demo_customers(self, server: Server) -> None:
        health = HTTP.get(f"{server.base}/health").json()
        assert health["store"] == {
            "store": "embedded",
            "database": "c360",
            "port": health["store"]["port"],
            "data_dir": str(server.data_dir.resolve()),
            "owned": True,
            "reachable": True,
        }
        ana = server.graphql(ANA)["profileByIdentifier"]
        assert ana["emails"] == ["ana.garcia@example.com"]
        assert len(ana["timeline"]["edges"]) >= 5

    def test_prints_the_console_with_a_ready_agent_key_and_a_screen_pop(
        self, server: Server
    ) -> None:
        lines = [line.strip() for line in "".join(server.output).splitlines()]
        assert f"Console:  {server.base}/console" in lines
        assert f"KPIs:     {server.base}/console/kpis" in lines
        at = lines.index(f"Console: open {server.base}/console and sign in with the agent key:")
        assert lines[at + 1] == server.demo_keys["agent"]
        assert lines[at + 2] == "A screen pop, as a phone system links it:"
        pop = HTTP.get(lines[at + 3])  # not signed in: to the sign-in form, and back
        assert pop.status_code == 303
        assert pop.headers["location"] == (
            "/console/sign-in?next=%2Fconsole%2Flookup%3Fphone%3D%252B34600123456"
        )

    def test_a_second_process_borrows_the_running_store(
        self, server: Server, tmp_path: Path
    ) -> None:
        path = f.write_jsonl(
            tmp_path / "more.jsonl",
            [f.order(external_id="77", identifiers=[f.phone("+34600123456")])],
        )
        env = environment(C360_DATA_DIR=str(server.data_dir))
        result = run_c360("import", "canonical", str(path), env=env)
        assert result.returncode == 0, result.stderr
        assert "reusing the embedded store" in result.stderr
        ids = [
            e["node"]["id"] for e in server.graphql(ANA)["profileByIdentifier"]["timeline"]["edges"]
        ]
        assert "shop:order:77" in ids
        assert server.process.poll() is None  # the owner is untouched


class TestServe:
    def test_killing_the_api_leaves_no_store_process(self, server: Server) -> None:
        store_pid = server.store_pid
        assert alive(store_pid)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        assert wait_until(lambda: not alive(store_pid)), "embedded store outlived its owner"

    def test_sigterm_stops_api_and_store_in_order(self, server: Server) -> None:
        store_pid = server.store_pid
        server.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert wait_until(lambda: not alive(store_pid))
        assert not (server.data_dir / "server.json").exists()  # removed by the lifespan

    def test_a_second_serve_on_the_same_port_stops_before_touching_the_first(
        self, server: Server
    ) -> None:
        second = run_c360("serve", "--demo", "--port", str(server.port), env=server.env)

        assert second.returncode == 3, second.stderr
        assert (
            second.stderr.strip()
            .splitlines()[-1]
            .startswith(f"error: cannot listen on {server.base}: ")
        ), second.stderr
        assert "c360 is up" not in second.stderr
        assert "Traceback" not in second.stderr
        # It issued no demo keys (issuing them revokes the ones before), so the first
        # server's still work.
        assert server.graphql(ANA)["profileByIdentifier"] is not None

    def test_a_killed_store_is_started_again(self, server: Server) -> None:
        before = server.graphql(ANA)
        killed = server.store_pid
        os.kill(killed, signal.SIGKILL)
        assert wait_until(lambda: server.store_pid_now not in (None, killed), 60), "".join(
            server.output
        )
        assert wait_until(lambda: HTTP.get(f"{server.base}/health").status_code == 200, 30)
        assert server.graphql(ANA) == before
        assert any("the embedded store exited; starting it again" in line for line in server.output)

    def test_a_store_that_cannot_start_again_stops_the_api_for_its_supervisor(
        self, server: Server
    ) -> None:
        port = HTTP.get(f"{server.base}/health").json()["store"]["port"]
        os.kill(server.store_pid, signal.SIGKILL)
        with socket.socket() as squatter:  # another program takes the store's port meanwhile
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            assert wait_until(lambda: _bound(squatter, port), 5)
            squatter.listen()
            assert server.process.wait(timeout=60) == 1
        assert any("could not be started again" in line for line in server.output)

    def test_a_server_sharing_the_store_starts_it_again_when_its_owner_stops(
        self, server: Server
    ) -> None:
        """A ``c360 serve`` started while another process (a server, an import) had the store
        running answered 503 for ever once that process stopped and took the store with it."""
        before = server.graphql(ANA)
        sharing = Server(server.data_dir, demo=False)
        try:
            owner_store = server.store_pid
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=30)
            assert wait_until(lambda: not alive(owner_store))
            started = sharing.data_dir / "server.json"  # written once the store answers
            assert wait_until(lambda: started.exists(), 30), "".join(sharing.output)
            assert HTTP.get(f"{sharing.base}/health").status_code == 200
            assert sharing.store_pid != owner_store
            server.base = sharing.base  # the first server's keys, on the second
            assert server.graphql(ANA) == before
            assert any("starting it again" in line for line in sharing.output)
            # It owns the store now: stopping it stops the store, as for any owner.
            store = sharing.store_pid
            sharing.process.send_signal(signal.SIGTERM)
            sharing.process.wait(timeout=30)
            assert wait_until(lambda: not alive(store))
        finally:
            sharing.stop()

    def test_data_persists_across_restarts(self, server: Server) -> None:
        before = server.graphql(ANA)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        again = Server(server.data_dir)  # loads the demo data again: all duplicates
        try:
            assert again.graphql(ANA) == before
        finally:
            again.stop()

    def test_prints_a_demo_key_per_role_and_revokes_them_at_the_next_start(
        self, server: Server
    ) -> None:
        assert set(server.demo_keys) == {"admin", "agent", "marketing", "connector"}
        seen_by_marketing = server.graphql(ANA, role="marketing")["profileByIdentifier"]
        assert seen_by_marketing["emails"] == ["a•••@example.com"]
        old_agent_key = server.demo_keys["agent"]
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        again = Server(server.data_dir)
        try:
            assert again.demo_keys["agent"] != old_agent_key
            refused = HTTP.post(
                f"{again.base}/graphql",
                json={"query": "{ __typename }"},
                headers={"authorization": f"Bearer {old_agent_key}"},
            )
            assert refused.status_code == 401
            assert again.graphql("{ __typename }") == {"__typename": "Query"}
        finally:
            again.stop()


@pytest.fixture
def store_env(mongo_uri: str) -> Iterator[dict[str, str]]:
    """The session's store with a private database, dropped afterwards."""
    database = f"cli_{uuid.uuid4().hex[:12]}"
    yield environment(C360_MONGODB_URI=mongo_uri, C360_DATABASE=database)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    try:
        client.drop_database(database)
    finally:
        client.close()


class TestImportCommand:
    def test_reports_counts_and_bad_lines(self, store_env: dict[str, str], tmp_path: Path) -> None:
        path = f.write_jsonl(
            tmp_path / "in.jsonl",
            [f.order(external_id="1"), "{oops", f.order(external_id="2", quantity=0)],
        )
        first = run_c360("import", "canonical", str(path), env=store_env)
        assert first.returncode == 1
        assert (
            "items read: 3, records: 3 (inserted: 1, updated: 0, duplicates: 0, rejected: 2, "
            "ignored: 0, suppressed: 0)" in first.stdout
        )
        assert "rejected line 2: invalid JSON" in first.stderr
        assert "rejected line 3: line_items.0.quantity: Input should be greater than 0" in (
            first.stderr
        )

        again = run_c360("import", "canonical", str(path), "--allow-rejects", env=store_env)
        assert again.returncode == 0
        assert (
            "records: 3 (inserted: 0, updated: 0, duplicates: 1, rejected: 2, ignored: 0, "
            "suppressed: 0)" in again.stdout
        )

    def test_reads_standard_input(self, store_env: dict[str, str]) -> None:
        lines = "\n".join(json.dumps(f.order(external_id=str(i))) for i in range(3))
        result = run_c360("import", "canonical", "-", env=store_env, stdin=lines)
        assert result.returncode == 0, result.stderr
        assert "records: 3 (inserted: 3," in result.stdout

    def test_unknown_connector_is_refused(self, store_env: dict[str, str]) -> None:
        result = run_c360("import", "nope", "x.jsonl", env=store_env)
        assert result.returncode == 2
        assert "invalid choice: 'nope'" in result.stderr

    def test_missing_file_is_a_clear_error(self, store_env: dict[str, str], tmp_path: Path) -> None:
        result = run_c360("import", "canonical", str(tmp_path / "absent.jsonl"), env=store_env)
        assert result.returncode == 2
        assert "absent.jsonl" in result.stderr


class TestAStoreOutOfRoom:
    def test_an_import_says_so_in_one_line_without_the_documents_it_wrote(
        self, tmp_path: Path
    ) -> None:
        """The store refusing writes (its disk full): the driver's error lists every document
        of the batch, identifiers included, and it was printed whole in a traceback."""
        env = environment(C360_DATA_DIR=str(tmp_path / "data"), C360_INGEST_BATCH_SIZE="50")
        first = f.write_jsonl(tmp_path / "first.jsonl", [f.person(external_id="P-0")])
        assert run_c360("import", "canonical", str(first), env=env).returncode == 0
        people: list[f.Record | str] = [
            f.person(external_id=f"P-{n}", identifiers=[f.email(f"person{n}@example.com")])
            for n in range(1, 1500)
        ]
        more = f.write_jsonl(tmp_path / "more.jsonl", people)
        room = (tmp_path / "data" / "db" / "c360.db").stat().st_size + 200_000

        def no_room() -> None:  # the store started by the import writes no file past this
            resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

        full = subprocess.run(
            c360("import", "canonical", str(more)),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=no_room,
        )

        assert full.returncode == 75, full.stderr[-2000:]
        assert "Traceback" not in full.stderr
        assert "@example.com" not in full.stderr
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith("error: the store refused a "), last  # a write, or at its start
        assert last.endswith("; nothing is lost: run the same command again to resume"), last

    def test_the_api_answers_503_and_logs_one_line_without_the_documents(
        self, tmp_path: Path
    ) -> None:
        data = tmp_path / "data"
        env = environment(C360_DATA_DIR=str(data))
        created = run_c360("keys", "create", "--role", "connector", "--name", "feed", env=env)
        (key,) = re.findall(r"c360_\S+", created.stdout)
        room = (data / "db" / "c360.db").stat().st_size + 1_500_000  # starts, then fills
        port = free_port()

        def no_room() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

        base = f"http://127.0.0.1:{port}"
        for _ in range(5):  # the store may be out of room at its start already: said in a line
            server = subprocess.Popen(
                c360("serve", "--port", str(port)),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=no_room,
            )
            if _started(server, f"{base}/health"):
                break
            server.kill()
            refused = server.communicate(timeout=60)[0]
            assert refused.strip().splitlines()[-1].startswith("error: the store refused a "), (
                refused
            )
            assert "Traceback" not in refused
        else:
            raise AssertionError("c360 serve did not start in five attempts")
        try:
            for batch in range(30):  # until the store is out of room
                events = "\n".join(
                    json.dumps(
                        {
                            "type": "identify",
                            "messageId": f"m-{batch}-{n}",
                            "timestamp": "2024-05-01T10:00:00Z",
                            "userId": f"u{batch}-{n}",
                            "traits": {"email": f"person{batch}-{n}@example.com"},
                        }
                    )
                    for n in range(1000)
                )
                answer = push_lines(base, "segment", events, key)
                if answer.status_code != 200:
                    break
        finally:
            server.terminate()
            output, _ = server.communicate(timeout=60)

        assert answer.status_code == 503, answer.text[:2000]
        assert answer.json()["error"] == "StoreUnavailable"
        assert answer.json()["detail"].startswith("the store refused a write (")
        assert "Traceback" not in output
        assert "@example.com" not in output + answer.text
        assert "the store refused a write (" in output


def _started(server: subprocess.Popen[str], health: str) -> bool:
    """Healthy (True), or exited (False)."""
    wait_until(lambda: server.poll() is not None or _answers(health), 60)
    return server.poll() is None


def _answers(url: str) -> bool:
    try:
        return HTTP.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class TestAStoreGoneUnderTheApi:
    def test_the_background_rounds_say_so_in_a_line_each_not_a_traceback(
        self, tmp_path: Path
    ) -> None:
        """MongoDB down: the follow-up worker logged the driver's traceback at every round."""
        store = EmbeddedServer.ensure(tmp_path / "store", 30)
        try:
            env = {
                "C360_MONGODB_URI": store.uri,
                "C360_STORE_TIMEOUT_MS": "300",
                "C360_ALERTS_TICK_S": "0.2",
            }
            server = Server(tmp_path / "data", env=env, demo=False)
            try:
                store.stop()
                assert wait_until(
                    lambda: sum("worker round failed" in line for line in server.output) >= 2, 30
                ), "".join(server.output)
            finally:
                server.stop()
        finally:
            store.stop()
        failed = [line for line in server.output if "worker round failed" in line]
        assert all("reason=store unreachable (" in line for line in failed), failed
        assert "Traceback" not in "".join(server.output)

    def test_a_request_is_answered_503_with_the_reason_alone(self, tmp_path: Path) -> None:
        """Not the driver's whole message: its timeouts and its view of every server, the
        store's addresses among them, handed to whoever sent the request."""
        store = EmbeddedServer.ensure(tmp_path / "store", 30)
        try:
            env = {"C360_MONGODB_URI": store.uri, "C360_STORE_TIMEOUT_MS": "300"}
            created = run_c360(
                "keys", "create", "--role", "agent", "--name", "desk", env=environment(**env)
            )
            (key,) = re.findall(r"c360_\S+", created.stdout)
            server = Server(tmp_path / "data", env=env, demo=False)
            try:

                def ask() -> httpx.Response:
                    return HTTP.post(
                        f"{server.base}/graphql",
                        json={"query": "{ __typename }"},
                        headers={"authorization": f"Bearer {key}"},
                        timeout=30,
                    )

                assert ask().status_code == 200  # the key, verified, is trusted for 5 s
                store.stop()
                answer = ask()
            finally:
                server.stop()
        finally:
            store.stop()
        assert answer.status_code == 503, answer.text
        (error,) = answer.json()["errors"]
        assert error["message"].startswith("the rate limit cannot be checked: store unreachable ")
        assert "Topology" not in error["message"]
        assert "timeouts" not in error["message"]


class TestInterruptedImport:
    def test_rerun_after_kill_reaches_the_uninterrupted_end_state(
        self, mongo_uri: str, tmp_path: Path
    ) -> None:
        people = 150
        items: list[f.Record | str] = []
        for n in range(3000):
            person = (n * 7) % people
            ids = (
                [f.email(f"c{person}@example.com")] if n % 3 else [f.phone(f"+3461000{person:04d}")]
            )
            if n % 5 == 0:
                ids = [f.email(f"c{person}@example.com"), f.phone(f"+3461000{person:04d}")]
            items.append(
                f.order(
                    external_id=str(n),
                    identifiers=ids,
                    occurred_at=f"2024-01-01T00:{n % 60:02d}:00Z",
                )
            )
            if n % 500 == 0:
                items.append("{broken line")
        path = f.write_jsonl(tmp_path / "big.jsonl", items)
        reference, interrupted = (f"kill_{name}_{uuid.uuid4().hex[:8]}" for name in "ab")
        env_ref = environment(C360_MONGODB_URI=mongo_uri, C360_DATABASE=reference)
        env_int = environment(
            C360_MONGODB_URI=mongo_uri, C360_DATABASE=interrupted, C360_INGEST_BATCH_SIZE="100"
        )
        try:
            assert (
                run_c360(
                    "import", "canonical", str(path), "--allow-rejects", env=env_ref
                ).returncode
                == 0
            )

            process = subprocess.Popen(
                c360("import", "canonical", str(path), "--allow-rejects"),
                env=env_int,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
            try:
                assert wait_until(
                    lambda: client[interrupted].records.estimated_document_count() >= 700, 60
                )
            finally:
                client.close()
            process.kill()
            process.wait()
            partial = canonical_state(mongo_uri, interrupted)
            assert 0 < len(partial["records"]) < 3000  # really cut half-way

            assert (
                run_c360(
                    "import", "canonical", str(path), "--allow-rejects", env=env_int
                ).returncode
                == 0
            )
            assert canonical_state(mongo_uri, interrupted) == canonical_state(mongo_uri, reference)
        finally:
            client = MongoClient(mongo_uri)
            for name in (reference, interrupted):
                client.drop_database(name)
            client.close()


class TestCsvWithMapping:
    FIXTURES = Path(__file__).parent / "fixtures" / "csv"

    def test_import_with_a_mapping_file(self, store_env: dict[str, str]) -> None:
        result = run_c360(
            "import",
            "pos-csv",
            str(self.FIXTURES / "pos_madrid.csv"),
            "--mapping",
            str(self.FIXTURES / "pos_madrid.toml"),
            "--allow-rejects",
            env=store_env,
        )
        assert result.returncode == 0, result.stderr
        assert "inserted: " in result.stdout
        assert "inserted: 0," not in result.stdout

    def test_a_broken_mapping_file_is_a_clear_error(
        self, store_env: dict[str, str], tmp_path: Path
    ) -> None:
        mapping = tmp_path / "bad.toml"
        mapping.write_text("[columns\n")
        result = run_c360(
            "import",
            "pos-csv",
            str(self.FIXTURES / "pos_madrid.csv"),
            "--mapping",
            str(mapping),
            env=store_env,
        )
        assert result.returncode == 2
        assert "bad.toml" in result.stderr

    def test_dead_letters_replay_after_a_mapping_fix(
        self, store_env: dict[str, str], tmp_path: Path
    ) -> None:
        surveys = tmp_path / "surveys.csv"
        surveys.write_text(
            "response_id,responded_at,email,phone,customer_id,source,type,score,comment,"
            "touchpoint\n"
            "R-1,14/09/2024 10:00,ana@example.com,,,,nps,9,Great,store\n"
            "R-2,15/09/2024 18:30,,+34 600 123 456,,,csat,4,,support\n"
        )
        first = run_c360("import", "surveys-csv", str(surveys), env=store_env)
        assert first.returncode == 1
        assert "inserted: 0" in first.stdout
        assert "rejected: 2" in first.stdout

        listing = run_c360("deadletters", "list", "--connector", "surveys-csv", env=store_env)
        assert listing.returncode == 0
        assert listing.stdout.count("surveys-csv") == 2
        assert "is not ISO 8601" in listing.stdout

        fix = tmp_path / "fix.toml"
        fix.write_text(
            '[options]\ntimestamp_format = "%d/%m/%Y %H:%M"\ntime_zone = "Europe/Madrid"\n'
        )
        replay = run_c360(
            "deadletters", "replay", "surveys-csv", "--mapping", str(fix), env=store_env
        )
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert "replayed: 2, recovered: 2, still failing: 0" in replay.stdout
        assert "inserted: 2" in replay.stdout
        after = run_c360("deadletters", "list", env=store_env)
        assert after.stdout.strip() == "no dead letters: nothing has been rejected"


class TestHelp:
    def test_lists_the_commands(self) -> None:
        result = run_c360("--help", env=environment())
        assert result.returncode == 0
        for command in ("serve", "schemas", "import"):
            assert command in result.stdout


PEOPLE = 16


def shared_history(seed: int, people: int = PEOPLE) -> list[f.Record | str]:
    """People whose every record names only their own identifiers, so any arrival order links
    the same records to the same person: person records, orders (some amended later), a return
    that may come before its order, anonymous visits then the visit that identifies them (a
    merge), a case that is solved later; plus a few broken lines. Shuffled."""
    rng = random.Random(seed)
    items: list[f.Record | str] = []
    for n in range(people):
        email = [f.email(f"p{n}@example.com")]
        anonymous = {"type": "anonymous", "value": f"anon-{n}"}
        items.append(
            f.person(
                external_id=f"C-{n}",
                identifiers=[f.external("crm", f"C-{n}"), *email],
                given_name=GIVEN[n % len(GIVEN)],
                family_name=FAMILY[n // len(GIVEN)],
            )
        )
        for k in range(3):
            items.append(
                f.order(
                    external_id=f"o{n}-{k}",
                    identifiers=email,
                    occurred_at=f"2024-0{k + 1}-1{n % 10}T10:00:00Z",
                    amount=1000 + 100 * k,
                )
            )
        items.append(  # the first order, amended: a revision racing the original
            f.order(
                external_id=f"o{n}-0",
                identifiers=email,
                occurred_at=f"2024-01-1{n % 10}T10:00:00Z",
                updated_at="2024-03-01T00:00:00Z",
                amount=900,
            )
        )
        items.append(
            {
                "kind": "return",
                "source": "shop",
                "external_id": f"r{n}",
                "occurred_at": "2024-04-01T10:00:00Z",
                "order_external_id": f"o{n}-1",
                "amount": {"amount": 500, "currency": "EUR"},
            }
        )
        for k in range(3):
            items.append(site_visit(f"w{n}-{k}", [anonymous], f"2024-02-0{k + 1}T09:00:00Z"))
        items.append(site_visit(f"w{n}-id", [anonymous, *email], "2024-02-05T09:00:00Z"))
        for status, at in (("open", "2024-04-02T10:00:00Z"), ("solved", "2024-04-03T10:00:00Z")):
            items.append(  # one case, then its later revision
                f.service_case(
                    external_id=f"T-{n}",
                    identifiers=email,
                    occurred_at="2024-04-02T09:00:00Z",
                    updated_at=at,
                    status=status,
                )
            )
    items += ["{broken", '{"kind": "order"}']
    rng.shuffle(items)
    return items


GIVEN = ("Ana", "Bruno", "Carla", "Diego", "Elena", "Fermín", "Gala", "Hugo")
FAMILY = ("Quintana", "Ribera", "Sotomayor", "Torralba")


def site_visit(external_id: str, identifiers: list[f.Record], at: str) -> f.Record:
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": external_id,
        "occurred_at": at,
        "identifiers": identifiers,
        "event_type": "page",
        "name": "Trail running shoes",
    }


READ = """query($email: String!) {
  profileByIdentifier(type: EMAIL, value: $email) {
    __typename
    ... on Profile {
      identifiers { type value }
      metrics { orderCount returnCount }
      preferredChannel { channel }
      openCases { externalId }
      timeline(first: 5) { edges { node { id } } }
    }
  }
  searchProfiles(text: "p1@ex", first: 5) { edges { node { id } } }
}"""


class TestServersSharingAStore:
    def test_serve_on_mongodb_says_which_secrets_only_this_machine_has(
        self, store_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Generated secrets live in the data directory of the machine (or container) that made
        them: another instance on the same MongoDB makes others, and its suppressions,
        tombstones and links do not match this one's."""
        alone = Server(tmp_path / "alone", env=store_env, demo=False)
        alone.stop()
        warned = [line.rstrip() for line in alone.output if line.startswith("warning:")]
        assert warned == [
            f"warning: C360_{name} is unset: the one kept in "
            f"{(tmp_path / 'alone' / file).resolve()} is this machine's only; set it, the same "
            "for every c360 on this MongoDB"
            for name, file in (
                ("SIGNING_SECRET", "signing-secret"),
                ("PRIVACY_SECRET", "privacy-secret"),
            )
        ], alone.output

        secrets = {"C360_SIGNING_SECRET": "s" * 48, "C360_PRIVACY_SECRET": "p" * 48}
        configured = Server(tmp_path / "configured", env={**store_env, **secrets}, demo=False)
        configured.stop()
        assert not [line for line in configured.output if line.startswith("warning:")]

    def test_concurrent_ingest_and_reads_on_two_servers_end_as_one_import_does(
        self, mongo_uri: str, tmp_path: Path
    ) -> None:
        items = shared_history(seed=7)
        path = f.write_jsonl(tmp_path / "history.jsonl", items)
        shared, alone = (
            Settings(
                _env_file=None,
                mongodb_uri=mongo_uri,
                database=f"two_{name}_{uuid.uuid4().hex[:8]}",
                ingest_batch_size=7,
            )
            for name in ("shared", "alone")
        )
        try:
            connector, admin = asyncio.run(issue_keys(shared, Role.CONNECTOR, Role.ADMIN))
            env = environment(
                C360_MONGODB_URI=mongo_uri,
                C360_DATABASE=shared.database,
                C360_INGEST_BATCH_SIZE=str(shared.ingest_batch_size),
            )
            with serving_each([tmp_path / "a", tmp_path / "b"], env=env, demo=False) as servers:
                answers, reads = ingest_and_read(servers, items, connector, admin)
            assert reads > 0
            for chunk, answer in answers:  # each item stored, a duplicate, or rejected
                broken = sum(isinstance(item, str) for item in chunk)
                assert answer["rejected"] == broken
                stored = answer["inserted"] + answer["updated"] + answer["duplicates"]
                assert stored == len(chunk) - broken
            asyncio.run(import_alone(alone, path))

            together = converged_state(mongo_uri, shared.database)
            assert len(together["profiles"]) == PEOPLE
            assert together == converged_state(mongo_uri, alone.database)
            assert asyncio.run(recomputed(shared)) == PEOPLE
        finally:
            client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
            for settings in (shared, alone):
                client.drop_database(settings.database)
            client.close()


Chunk = list[f.Record | str]


def ingest_and_read(
    servers: list[Server], items: Chunk, connector: str, reader: str
) -> tuple[list[tuple[Chunk, dict[str, Any]]], int]:
    """Items posted in chunks to the servers in turn — every third chunk to both at once — while
    a reader queries both; each chunk with its ingest answer, and how many reads succeeded."""
    chunks = [items[start : start + 12] for start in range(0, len(items), 12)]
    posts = [(servers[n % 2], chunk) for n, chunk in enumerate(chunks)]
    posts += [(servers[(n + 1) % 2], chunk) for n, chunk in enumerate(chunks) if n % 3 == 0]
    done = threading.Event()

    def post(server: Server, chunk: Chunk) -> tuple[Chunk, dict[str, Any]]:
        body = "\n".join(c if isinstance(c, str) else json.dumps(c) for c in chunk)
        response = push_lines(server.base, "canonical", body, connector)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return chunk, answer

    def read() -> int:
        count = 0
        while not done.is_set() or count < 4:
            server = servers[count % 2]
            response = HTTP.post(
                f"{server.base}/graphql",
                json={"query": READ, "variables": {"email": f"p{count % PEOPLE}@example.com"}},
                headers={"authorization": f"Bearer {reader}"},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body.get("errors") is None, body
            assert body["data"]["profileByIdentifier"]["__typename"] in ("Profile", "NotFoundError")
            count += 1
        return count

    with ThreadPoolExecutor(max_workers=8) as pool:
        reader_done = pool.submit(read)
        answers = [future.result() for future in [pool.submit(post, *p) for p in posts]]
        done.set()
        return answers, reader_done.result()


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[tuple[Store, Services]]:
    store = await Store.open(settings)
    try:
        yield store, Services.build(store.db, settings)
    finally:
        await store.close()


async def issue_keys(settings: Settings, *roles: Role) -> list[str]:
    async with opened(settings) as (_, services):
        now = dt.datetime.now(dt.UTC)
        return [(await services.keys.create(r, f"test {r.value}", now))[1] for r in roles]


async def import_alone(settings: Settings, path: Path) -> None:
    """The same file through one process's pipeline, start to end."""
    async with opened(settings) as (_, services):
        await import_file(services.ingest, "canonical", str(path), settings.parse_options())


async def recomputed(settings: Settings) -> int:
    """Checks that every live profile's metrics equal a recomputation; returns how many."""
    async with opened(settings) as (store, services):
        return await assert_aggregates_equal_recomputation(services, store)
