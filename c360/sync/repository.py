"""Queries on ``connector_state``: each pull connector's saved cursor."""

from __future__ import annotations

import datetime as dt

from c360.store import Database


class ConnectorStateRepository:
    def __init__(self, db: Database) -> None:
        self._state = db["connector_state"]

    async def cursor(self, connector: str) -> str | None:
        doc = await self._state.find_one({"_id": connector})
        return None if doc is None else doc.get("cursor")

    async def save_cursor(self, connector: str, cursor: str, now: dt.datetime) -> None:
        # Replaced whole (the embedded store mangles dates set in place), with the _id repeated
        # in the replacement (its upsert ignores the filter's _id).
        await self._state.replace_one(
            {"_id": connector}, {"_id": connector, "cursor": cursor, "saved_at": now}, upsert=True
        )
