"""What ``mongos`` would do with each command the application sends: send it to one shard, to
every shard, or refuse it — judged against the shard keys of ``c360/store/sharding.py``.

The rules are MongoDB's own (8.0):

- A read, update or delete is *targeted* when its filter constrains the first field of the
  shard key by equality (``null`` included: a missing field counts as null), ``$eq`` or
  ``$in`` — or, for a ranged key, by a range bounded on both sides. Anything else goes to
  every shard, ``_id`` alone included unless ``_id`` leads the shard key (a collection sharded
  by another key does not even keep ``_id`` unique across shards). An aggregation is routed by
  its first ``$match``, and each ``$unionWith`` branch by its own.
- An upsert is targeted only with an equality on the whole shard key; without one it needs an
  equality on ``_id`` (then it goes to every shard first) or it is refused.
- A write that changes a shard key value is refused unless it updates one document
  (``multi: false``), its filter has an equality on the whole shard key, and — since the
  document may move to another shard — it is the only statement of its command. (It must also
  be a retryable write, which PyMongo's writes are by default.)

Queries on unsharded collections go to the one shard holding them and are never findings.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Literal

from bson.regex import Regex
from pymongo import monitoring

from c360.store.sharding import SHARDING, Direction, Placement

Key = tuple[tuple[str, Direction], ...]
Problem = Literal["broadcast", "refused", "unplaced"]
_RANGE_LOW = ("$gt", "$gte")
_RANGE_HIGH = ("$lt", "$lte")
_READS_AND_WRITES = ("find", "aggregate", "count", "distinct", "update", "delete", "findAndModify")
_MISSING = object()


@dataclass(frozen=True)
class Finding:
    collection: str
    command: str
    call_site: str
    problem: Problem
    detail: str

    def __str__(self) -> str:
        return f"{self.problem}: {self.command} on {self.collection} from {self.call_site}: " + (
            self.detail
        )


# --- Filters ---------------------------------------------------------------------------------


def _is_operator_document(value: Any) -> bool:
    return isinstance(value, Mapping) and any(str(k).startswith("$") for k in value)


def _routing_of_value(value: Any) -> Literal["equality", "bounded"] | None:
    """How one field's condition narrows it: to values, to a bounded range, or not at all."""
    if isinstance(value, re.Pattern | Regex):
        return None
    if not _is_operator_document(value):
        return "equality"  # a value, null, or a whole embedded document
    if "$eq" in value and not isinstance(value["$eq"], re.Pattern | Regex):
        return "equality"
    values = value.get("$in")
    if (
        isinstance(values, list)
        and values
        and not any(isinstance(v, re.Pattern | Regex) for v in values)
    ):
        return "equality"
    if any(op in value for op in _RANGE_LOW) and any(op in value for op in _RANGE_HIGH):
        return "bounded"
    return None


def _routing(query: Mapping[str, Any], field: str) -> Literal["equality", "bounded"] | None:
    """The narrowest condition ``query`` puts on ``field`` (through ``$and``, and ``$or`` when
    every branch narrows it)."""
    rank = {None: 0, "bounded": 1, "equality": 2}
    found: list[Literal["equality", "bounded"] | None] = []
    for name, value in query.items():
        if name == field:
            found.append(_routing_of_value(value))
        elif name == "$and":
            found += [_routing(branch, field) for branch in value]
        elif name == "$or":
            branches = [_routing(branch, field) for branch in value]
            found.append(min(branches, key=lambda r: rank[r]) if branches else None)
    return max(found, key=lambda r: rank[r], default=None)


def targeted(query: Mapping[str, Any], key: Key) -> bool:
    """Whether mongos sends a query with this filter to the shards owning the values it names
    rather than to every shard."""
    first, direction = key[0]
    routing = _routing(query, first)
    return routing == "equality" or (routing == "bounded" and direction != "hashed")


def _equality(query: Mapping[str, Any], field: str) -> Any:
    """The value ``query`` requires ``field`` to equal, else ``_MISSING``."""
    for name, value in query.items():
        if name == field:
            if not _is_operator_document(value):
                return value
            if "$eq" in value:
                return value["$eq"]
        elif name == "$and":
            for branch in value:
                if (found := _equality(branch, field)) is not _MISSING:
                    return found
    return _MISSING


def whole_key(query: Mapping[str, Any], key: Key) -> dict[str, Any] | None:
    """The shard key's value when ``query`` pins every field of it by equality, else None."""
    values = {name: _equality(query, name) for name, _ in key}
    return None if any(v is _MISSING for v in values.values()) else values


# --- Writes that change the shard key ----------------------------------------------------------


def _touches(path: str, field: str) -> bool:
    return path == field or path.startswith(f"{field}.") or field.startswith(f"{path}.")


def key_changes(query: Mapping[str, Any], update: Any, key: Key) -> bool:
    """Whether an update (operators, a replacement or a pipeline) may give a document another
    shard key value than the one its filter pins."""
    fields = [name for name, _ in key if name != "_id"]  # _id never changes
    if isinstance(update, list):
        text = repr(update)
        return any(name in text for name in fields)
    if not _is_operator_document(update):  # a replacement: whatever it says, or nothing
        return any(update.get(f, None) != _equality(query, f) for f in fields)
    for operator, changes in update.items():
        if operator == "$setOnInsert":
            continue  # only a new document gets it, and an upsert pins the whole key anyway
        paths = [*changes, *(changes.values() if operator == "$rename" else ())]
        for name in fields:
            touching = [p for p in paths if _touches(str(p), name)]
            if not touching:
                continue
            unchanged = operator == "$set" and touching == [name]
            if not (unchanged and changes[name] == _equality(query, name)):
                return True
    return False


# --- Commands --------------------------------------------------------------------------------


def _pipelines(pipeline: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The sub-pipelines an aggregation sends to other collections (``$unionWith``), and the
    collections it joins (``$lookup``, ``$graphLookup``: never shown to be targeted here)."""
    found: list[tuple[str, list[Any]]] = []
    for stage in pipeline:
        if "$unionWith" in stage:
            union = stage["$unionWith"]
            if isinstance(union, str):
                found.append((union, []))
            else:
                found.append((union["coll"], list(union.get("pipeline", []))))
        for join in ("$lookup", "$graphLookup"):
            if join in stage:
                found.append((stage[join]["from"], [{"$lookup": "joined per document"}]))
    return found


def _first_match(pipeline: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    if pipeline and "$match" in pipeline[0]:
        match: Mapping[str, Any] = pipeline[0]["$match"]
        return match
    return {}


class Checker:
    """Judges commands against a sharding table; returns what it finds."""

    def __init__(self, sharding: Mapping[str, Placement] = SHARDING) -> None:
        self.sharding = sharding

    def check(self, name: str, command: Mapping[str, Any], call_site: str) -> list[Finding]:
        if name not in _READS_AND_WRITES:
            return []
        collection = str(command[name])
        findings: list[Finding] = []

        def judge(
            collection: str,
            query: Mapping[str, Any],
            *,
            update: Any = _MISSING,
            upsert: bool = False,
            multi: bool = False,
            alone: bool = True,
        ) -> None:
            placement = self.sharding.get(collection)
            if placement is None:
                findings.append(Finding(collection, name, call_site, "unplaced", "not in SHARDING"))
                return
            if placement.key is None:
                return
            key = placement.key
            problem = _write_problem(query, update, key, upsert=upsert, multi=multi, alone=alone)
            if problem is not None:
                findings.append(Finding(collection, name, call_site, *problem))
            elif not (upsert or targeted(query, key)):
                detail = f"the filter {_shape(query)} does not narrow {key[0][0]}"
                findings.append(Finding(collection, name, call_site, "broadcast", detail))
            elif upsert and whole_key(query, key) is None:
                detail = f"an upsert without the whole shard key: {_shape(query)}"
                findings.append(Finding(collection, name, call_site, "broadcast", detail))

        if name == "find":
            judge(collection, command.get("filter", {}))
        elif name in ("count", "distinct"):
            judge(collection, command.get("query") or {})
        elif name == "aggregate":
            pipeline = list(command.get("pipeline", []))
            judge(collection, _first_match(pipeline))
            for other, branch in _pipelines(pipeline):
                judge(other, _first_match(branch))
        elif name == "update":
            statements = command.get("updates", [])
            for statement in statements:
                judge(
                    collection,
                    statement["q"],
                    update=statement["u"],
                    upsert=bool(statement.get("upsert")),
                    multi=bool(statement.get("multi")),
                    alone=len(statements) == 1,
                )
        elif name == "delete":
            for statement in command.get("deletes", []):
                judge(collection, statement["q"])
        else:  # findAndModify
            judge(
                collection,
                command.get("query", {}),
                update=command.get("update", _MISSING),
                upsert=bool(command.get("upsert")),
            )
        return findings


def _write_problem(
    query: Mapping[str, Any],
    update: Any,
    key: Key,
    *,
    upsert: bool,
    multi: bool,
    alone: bool,
) -> tuple[Problem, str] | None:
    if update is not _MISSING and key_changes(query, update, key):
        if multi:
            return "refused", "a multi-document update may not change the shard key"
        if whole_key(query, key) is None:
            return "refused", (
                f"changing the shard key needs an equality on all of it: {_shape(query)}"
            )
        if not alone:
            return "refused", "a write that may move a document must be alone in its command"
    if upsert and whole_key(query, key) is None and _equality(query, "_id") is _MISSING:
        return "refused", f"an upsert needs the whole shard key or _id: {_shape(query)}"
    return None


def _shape(query: Mapping[str, Any]) -> str:
    """The filter's field names and operators, without its values."""

    def shape(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: shape(v) if str(k).startswith("$") else _op(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return "…"

    def _op(value: Any) -> Any:
        return {k: "…" for k in value} if _is_operator_document(value) else "…"

    return str(shape(query))


# --- Where a command comes from --------------------------------------------------------------


def call_site(frame: FrameType | None) -> str:
    """The repository method that sent the command being published (the nearest
    ``c360.*.repository`` frame; else the nearest ``c360`` frame): ``module:qualname``, a
    comprehension or nested function named by the method around it."""
    nearest = None
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("c360."):
            qualname = frame.f_code.co_qualname.split(".<locals>.", 1)[0]
            site = f"{module}:{qualname}"
            if module.endswith(".repository"):
                return site
            nearest = nearest or site
        frame = frame.f_back
    return nearest or "outside c360"


class RoutingListener(monitoring.CommandListener):
    """Collects the findings of the commands a client sends to one database, and how many
    commands of each kind it judged per collection."""

    def __init__(self, database: str, checker: Checker | None = None) -> None:
        self.database = database
        self.checker = checker or Checker()
        self.findings: list[Finding] = []
        self.judged: dict[tuple[str, str], int] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if event.database_name != self.database or name not in _READS_AND_WRITES:
            return
        site = call_site(sys._getframe(1))
        self.findings += self.checker.check(name, event.command, site)
        collection = str(event.command[name])
        self.judged[(collection, name)] = self.judged.get((collection, name), 0) + 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def unexpected(self) -> list[Finding]:
        """The findings that are not deliberate: every refusal and unplaced collection, and
        the broadcasts no ``broadcasts`` entry of the sharding table names."""
        return [f for f in self.findings if not deliberate(f, self.checker.sharding)]


def deliberate(finding: Finding, sharding: Mapping[str, Placement] = SHARDING) -> bool:
    placement = sharding.get(finding.collection)
    return (
        finding.problem == "broadcast"
        and placement is not None
        and finding.call_site in placement.broadcasts
    )
