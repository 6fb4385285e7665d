"""The store: one owner for the MongoDB client, the database handle and the indexes."""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pymongo
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from c360.errors import StoreUnavailable
from c360.observability.metrics import observe_command
from c360.store.embedded import EmbeddedServer, EmbeddedServerError
from c360.store.indexes import ensure_indexes

log = logging.getLogger(__name__)

Document = dict[str, Any]
Database = AsyncDatabase[Document]


class StoreSettings(Protocol):
    """What opening the store reads of the settings (``c360.settings.Settings`` has it all;
    the store reads no configuration of its own)."""

    mongodb_uri: str | None
    database: str
    data_dir: Path
    embedded_start_timeout: float
    store_timeout_ms: int


class StoreKind(enum.StrEnum):
    MONGODB = "mongodb"
    """A MongoDB deployment at ``C360_MONGODB_URI``."""
    EMBEDDED = "embedded"
    """The embedded server in the data directory (no URI given)."""


CONNECTION_ERRORS: tuple[type[Exception], ...] = (ConnectionFailure,)
"""What the driver raises when the store stops answering (it went away, or never came)."""
WATCH_INTERVAL_S = 1.0
CLOSE_WITHIN_S = 1.0


_DRIVER_DETAIL = re.compile(r" \(configured timeouts: |, Timeout: |, Topology Description: ")
"""Where the driver's message goes on from why to its timeouts and its view of every server."""


def unreachable(exc: Exception) -> StoreUnavailable:
    """One line for a store that stopped answering: the driver's reason (``127.0.0.1:27017:
    [Errno 111] Connection refused``), without its traceback, timeouts and topology."""
    lines = str(exc).strip().splitlines()
    reason = _DRIVER_DETAIL.split(lines[0], maxsplit=1)[0].strip() if lines else ""
    return StoreUnavailable(f"store unreachable ({reason or type(exc).__name__})")


_KEY_VALUE = re.compile(r"\s*(dup key|full error)\b.*", re.DOTALL)
"""Where a store's message goes on to the values of a key or the whole reply."""


def store_error(exc: PyMongoError) -> StoreUnavailable:
    """One line for a command the store did not carry out: unreachable, or refused (its disk
    full, no permission) with the store's reason and code. Never the documents a write carried
    (a bulk write's error lists every one, identifiers included) or a key's values."""
    if isinstance(exc, ConnectionFailure):
        return unreachable(exc)
    what, reason, code = "a command", type(exc).__name__, None
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors") or [{}]
        what, reason, code = "a write", errors[0].get("errmsg") or reason, errors[0].get("code")
    elif isinstance(exc, OperationFailure):
        reason, code = (exc.details or {}).get("errmsg") or reason, exc.code
        what = "a write" if type(exc).__name__ == "WriteError" else what
    lines = str(reason).strip().splitlines() or [type(exc).__name__]
    reason = _KEY_VALUE.sub("", lines[0])[:200]
    return StoreUnavailable(
        f"the store refused {what} ({reason}{'' if code is None else f', code {code}'})"
    )


class CommandTimes(CommandListener):
    """Every command's time, as the driver measured it, into the store-latency histogram."""

    def started(self, event: CommandStartedEvent) -> None:
        pass  # the finished events carry the duration

    def succeeded(self, event: CommandSucceededEvent) -> None:
        observe_command(event.command_name, event.duration_micros / 1e6, ok=True)

    def failed(self, event: CommandFailedEvent) -> None:
        observe_command(event.command_name, event.duration_micros / 1e6, ok=False)


@dataclass
class Store:
    """An open connection to MongoDB (real or embedded) and the c360 database on it."""

    client: AsyncMongoClient[Document]
    db: Database
    kind: StoreKind
    start_timeout: float
    """Seconds the embedded server has to answer when it is started again."""
    embedded: EmbeddedServer | None = None
    _uri: str = ""

    @classmethod
    async def open(
        cls, settings: StoreSettings, *, uri: str | None = None, database: str | None = None
    ) -> Store:
        """Connect, check the server answers, and create missing indexes.

        ``uri``/``database`` override the settings (tests use them). Without any URI, the
        embedded server for ``settings.data_dir`` is started or reused.
        """
        uri = uri or settings.mongodb_uri
        embedded = None
        if uri is None:
            embedded = EmbeddedServer.ensure(settings.data_dir, settings.embedded_start_timeout)
            uri = embedded.uri
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri,
            tz_aware=True,
            serverSelectionTimeoutMS=settings.store_timeout_ms,
            appname="c360",
            event_listeners=[CommandTimes()],
        )
        db = client.get_database(
            database or settings.database,
            codec_options=CodecOptions(tz_aware=True),
        )
        store = cls(
            client=client,
            db=db,
            kind=StoreKind.EMBEDDED if embedded else StoreKind.MONGODB,
            embedded=embedded,
            _uri=uri,
            start_timeout=settings.embedded_start_timeout,
        )
        try:
            await db.command("ping")
            await ensure_indexes(db, embedded=embedded is not None)
        except PyMongoError as exc:
            await store.close()
            raise store_error(exc) from exc
        log.info("store ready", extra=store.describe())
        return store

    def describe(self) -> dict[str, Any]:
        """What a log line or the health check says about the store (no credentials)."""
        info: dict[str, Any] = {"store": self.kind, "database": self.db.name}
        if self.embedded is not None:
            info.update(
                port=self.embedded.port,
                data_dir=str(self.embedded.data_dir),
                owned=self.embedded.owned,
            )
        return info

    def where(self) -> str:
        """One line for people: which store this is, without credentials."""
        if self.embedded is not None:
            how = "started by this process" if self.embedded.owned else "shared with its owner"
            return (
                f"embedded store at {self.embedded.data_dir} "
                f"(port {self.embedded.port}, {how}), database {self.db.name}"
            )
        return f"MongoDB at {self._public_uri}, database {self.db.name}"

    @property
    def _public_uri(self) -> str:
        return public_uri(self._uri)

    async def ping(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self.db.command("ping")
        except (PyMongoError, TimeoutError):
            return False
        return True

    async def keep_embedded_running(self, on_failure: Callable[[Exception], None]) -> None:
        """Start the embedded store again whenever it exits (on the same port: the client
        reconnects by itself): the one this process owns, and one it borrowed once its owner
        stopped it (this process owns it from then on); ``on_failure`` when it cannot be.
        Returns at once for any other store: a MongoDB deployment has its own supervision."""
        embedded = self.embedded
        if embedded is None:
            return
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            if embedded.owned:
                status = embedded.exited
                if status is None:
                    continue
                again = embedded.restart
                log.warning(
                    "the embedded store exited; starting it again",
                    extra={"status": status, "port": embedded.port},
                )
            else:
                if not await asyncio.to_thread(lambda: embedded.gone):
                    continue
                again = embedded.take_over
                log.warning(
                    "the embedded store's owner stopped it; starting it again",
                    extra={"port": embedded.port},
                )
            try:
                await asyncio.to_thread(again, self.start_timeout)
            except EmbeddedServerError as exc:
                log.error("the embedded store cannot be started again", extra={"reason": str(exc)})
                on_failure(exc)
                return
            log.warning("the embedded store is back", extra={"pid": embedded.pid})

    async def close(self) -> None:
        # Closing ends the client's server sessions on the server, which waits for a server
        # (the whole selection timeout when the store is gone); the server forgets them anyway.
        with pymongo.timeout(CLOSE_WITHIN_S):
            await self.client.close()
        if self.embedded is not None:
            # Blocking but brief; it must finish before the process exits.
            self.embedded.stop()


_CREDENTIALS = re.compile(r"^(?P<scheme>[a-z+]+://)[^@/]*@")


def public_uri(uri: str) -> str:
    """A connection string fit to print: no user, password or options (which may hold
    secrets such as a certificate key's password)."""
    return _CREDENTIALS.sub(r"\g<scheme>", uri).split("?", 1)[0]
