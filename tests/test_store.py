"""The store module: embedded server lifecycle, reuse, failures, and start-up indexes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from c360.errors import StoreUnavailable
from c360.settings import Settings
from c360.store import Store
from c360.store.bulk import UNION_MAX, find_each
from c360.store.embedded import EmbeddedServer, EmbeddedServerError
from c360.store.indexes import INDEXES
from tests.helpers import DEFAULTS


class TestEmbeddedServer:
    def test_second_user_borrows_and_only_the_owner_stops_it(self, tmp_path: Path) -> None:
        owner = EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout)
        try:
            borrower = EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout)
            assert (borrower.pid, borrower.port) == (owner.pid, owner.port)
            assert owner.owned
            assert not borrower.owned
            borrower.stop()  # a borrower never stops the owner's server
            assert owner.process is not None
            assert owner.process.poll() is None
        finally:
            owner.stop()
        assert not (tmp_path / "server.json").exists()

    def test_stale_state_of_a_dead_server_is_replaced(self, tmp_path: Path) -> None:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        (tmp_path / "server.json").write_text(json.dumps({"pid": dead.pid, "port": 1}))
        server = EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout)
        try:
            assert server.owned
            state = json.loads((tmp_path / "server.json").read_text())
            assert state["pid"] == server.pid != dead.pid
        finally:
            server.stop()

    def test_a_server_that_dies_at_start_is_reported_with_its_log(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A broken nx_27017 first on the child's path: it dies on import, every attempt.
        shadow = tmp_path / "shadow" / "nx_27017"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text("raise ImportError('nx-27017 is broken here')\n")
        monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
        with pytest.raises(EmbeddedServerError) as caught:
            EmbeddedServer.ensure(tmp_path / "data", DEFAULTS.embedded_start_timeout)
        message = caught.value.detail
        assert "exited with status 1" in message
        assert f"Last lines of {tmp_path / 'data' / 'server.log'}" in message
        assert "nx-27017 is broken here" in message  # the log tail says why
        assert not (tmp_path / "data" / "server.json").exists()

    def test_unusable_data_directory_is_a_clear_error(self, tmp_path: Path) -> None:
        (tmp_path / "db").write_text("a file where the database directory should be")
        with pytest.raises(EmbeddedServerError, match=r"cannot use .* for the embedded store"):
            EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout)

    def test_one_in_memory_keeps_its_databases_off_the_disk_until_it_stops(
        self, tmp_path: Path
    ) -> None:
        server = EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout, in_memory=True)
        client: MongoClient[dict[str, Any]] = MongoClient(server.uri, serverSelectionTimeoutMS=2000)
        try:
            client.kept.notes.insert_one({"_id": "n1"})
            assert client.kept.notes.find_one() == {"_id": "n1"}
            assert list((tmp_path / "db").iterdir()) == []
            assert server.process is not None  # ensure started it: it owns it
            server.process.kill()
            server.restart(DEFAULTS.embedded_start_timeout)
            assert client.kept.notes.find_one() is None  # started again in memory
            assert list((tmp_path / "db").iterdir()) == []
        finally:
            client.close()
            server.stop()

    def test_an_owner_restarting_after_a_borrower_took_over_borrows_its_server(
        self, tmp_path: Path
    ) -> None:
        # The owner's server crashed and a borrower noticed first: it started the server again.
        # The owner's restart must not start a second one (on a port already answered), nor
        # write its own short-lived process into the state, where every next process would
        # find it dead and start yet another server on the same data directory.
        owner = EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout)
        borrower = EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout)
        later: EmbeddedServer | None = None
        try:
            assert owner.process is not None
            owner.process.kill()
            owner.process.wait()
            assert borrower.gone
            borrower.take_over(DEFAULTS.embedded_start_timeout)
            assert borrower.owned
            owner.restart(DEFAULTS.embedded_start_timeout)
            assert not owner.owned  # it borrows the server the other started
            assert (owner.pid, owner.port) == (borrower.pid, borrower.port)
            later = EmbeddedServer.ensure(tmp_path, DEFAULTS.embedded_start_timeout)
            assert (later.pid, later.port) == (borrower.pid, borrower.port)
            assert not later.owned
        finally:
            for server in (later, owner, borrower):
                if server is not None:
                    server.stop()

    async def test_data_persists_across_restarts(self, tmp_path: Path) -> None:
        settings = Settings(_env_file=None, data_dir=tmp_path, database="persist")
        store = await Store.open(settings)
        await store.db.notes.insert_one({"_id": "n1", "text": "kept"})
        await store.close()
        assert not (tmp_path / "server.json").exists()  # the server stopped with its owner
        again = await Store.open(settings)
        try:
            assert await again.db.notes.find_one({"_id": "n1"}) == {"_id": "n1", "text": "kept"}
        finally:
            await again.close()


class TestStartUp:
    async def test_indexes_are_created_idempotently(self, settings: Settings) -> None:
        first = await Store.open(settings)
        second = await Store.open(settings)  # the same indexes again: no error
        try:
            for collection, models in INDEXES.items():
                info = await second.db[collection].index_information()
                keys = [list(spec["key"]) for spec in info.values()]
                for model in models:
                    wanted = [field for field, _ in model.document["key"].items()]
                    assert any([field for field, _ in key] == wanted for key in keys), (
                        collection,
                        wanted,
                        keys,
                    )
        finally:
            await first.client.drop_database(settings.database)
            await first.close()
            await second.close()

    async def test_unreachable_mongodb_is_a_clear_error(self, tmp_path: Path) -> None:
        settings = Settings(
            _env_file=None,
            mongodb_uri="mongodb://127.0.0.1:9/?directConnection=true",
            store_timeout_ms=300,
        )
        with pytest.raises(StoreUnavailable) as refused:
            await Store.open(settings)
        # Why, in one short line: not the driver's timeouts and description of every server.
        assert refused.value.detail.startswith("store unreachable (127.0.0.1:9: ")
        assert refused.value.detail.endswith(")")
        assert "Topology" not in refused.value.detail
        assert "timeouts" not in refused.value.detail


class TestFindEach:
    @pytest.mark.parametrize("spread", [False, True])
    @pytest.mark.parametrize("count", [1, 3, UNION_MAX + 8, 2 * UNION_MAX + 1])
    async def test_finds_what_in_finds_by_union_or_in(
        self, store: Store, count: int, spread: bool
    ) -> None:
        collection = store.db["find_each"]
        await collection.create_index("owner")
        await collection.insert_many(
            [{"_id": f"d{n}", "owner": f"o{n % 80}", "odd": n % 2 == 1} for n in range(200)]
        )
        owners = [f"o{n}" for n in range(count)] + ["o0", "nobody"]  # repeats and misses
        found = await find_each(
            collection, "owner", owners, {"odd": False}, {"owner": 1}, spread=spread
        )
        expected = await collection.find(
            {"owner": {"$in": owners}, "odd": False}, {"owner": 1}
        ).to_list()
        assert sorted(d["_id"] for d in found) == sorted(d["_id"] for d in expected)
        assert expected  # the query matches something

    @pytest.mark.parametrize("spread", [False, True])
    @pytest.mark.parametrize("count", [1, 3, 2 * UNION_MAX + 1])
    async def test_a_limit_caps_what_is_found(self, store: Store, count: int, spread: bool) -> None:
        collection = store.db["find_each_limit"]
        await collection.create_index("owner")
        await collection.insert_many([{"_id": n, "owner": n % 80} for n in range(400)])
        owners = list(range(count))
        found = await find_each(collection, "owner", owners, limit=4, spread=spread)
        assert len(found) == 4
        assert len({d["_id"] for d in found}) == 4
        assert all(d["owner"] in owners for d in found)
