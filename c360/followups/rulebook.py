"""The alert rules in force: stored and versioned, the shipped defaults first, a rule file
applied as a whole, and a short cache for ingest (which asks every batch)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from c360.errors import Conflict, InvalidInput, NotFound
from c360.followups.defaults import DEFAULT_RULES
from c360.followups.repository import RuleRepository
from c360.followups.rules import (
    ConditionKind,
    Rule,
    RuleDefinition,
    definitions_equal,
    normalised,
)
from schemas.quoting import shown

CACHE_S = 5.0
"""How long a process uses the rules it read before reading them again (a change made by
another process takes effect within this)."""
_MAX_ROUNDS = 10


class RuleNotFound(NotFound):
    pass


class RuleConflict(Conflict):
    """Someone else changed the rule between reading and writing it."""


class InvalidRules(InvalidInput):
    pass


@dataclass(frozen=True)
class Applied:
    rule: Rule
    change: str  # created, updated or unchanged


def parse_rules_file(text: str) -> list[RuleDefinition]:
    """The ``[[rule]]`` tables of a TOML rule file, each validated; every problem is named
    (with the rule's position and id) before anything is applied."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRules(f"not TOML: {exc}") from None
    tables = document.get("rule")
    unknown = sorted(set(document) - {"rule"})
    if unknown:
        raise InvalidRules(
            f"unknown top-level keys {', '.join(unknown)}: a rule file holds [[rule]] tables"
        )
    if not isinstance(tables, list) or not tables:
        raise InvalidRules("no [[rule]] table in the file")
    rules: list[RuleDefinition] = []
    problems: list[str] = []
    for index, table in enumerate(tables, start=1):
        name = table.get("id", "?") if isinstance(table, dict) else "?"
        try:
            rules.append(RuleDefinition.model_validate(table))
        except ValidationError as exc:
            problems.append(f"rule {index} ({name}): {describe(exc)}")
    try:
        normalised(rules)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        raise InvalidRules("; ".join(problems))
    return rules


def describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    inner = [e["loc"] for e in errors]
    parts = []
    for error in errors:
        loc = error["loc"]
        if error["type"] == "too_short" and any(o[: len(loc)] == loc != o for o in inner):
            continue  # too few valid conditions: because of those named
        where = ".".join(str(p) for p in loc)
        message = _message(error)
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _message(error: ErrorDetails) -> str:
    if error["type"].startswith("union_tag_"):
        # A rule's one union, its conditions told apart by their kind (pydantic would list the
        # kinds as Python reprs).
        kinds = ", ".join(kind.value for kind in ConditionKind)
        tag = (error.get("ctx") or {}).get("tag")
        if tag is None:
            return f"a condition needs its kind, one of: {kinds}"
        return f"unknown condition kind {tag!r}; the kinds: {kinds}"
    return error["msg"].removeprefix("Value error, ")


def validated(data: Mapping[str, Any]) -> RuleDefinition:
    """A rule from an API input; a refusal names each problem."""
    try:
        return RuleDefinition.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidRules(describe(exc)) from None


class RuleBook:
    def __init__(self, rules: RuleRepository) -> None:
        self._rules = rules
        self._cached: tuple[float, list[Rule]] | None = None
        self._lock = asyncio.Lock()
        self._seeded = False

    async def all(self) -> list[Rule]:
        """Every rule, the shipped defaults stored first if they never were."""
        await self._seed()
        return await self._rules.all()

    async def enabled(self) -> list[Rule]:
        """The enabled rules, read at most every few seconds."""
        async with self._lock:
            cached = self._cached
            if cached is None or time.monotonic() - cached[0] > CACHE_S:
                rules = [r for r in await self.all() if r.definition.enabled]
                cached = self._cached = (time.monotonic(), rules)
            return cached[1]

    async def get(self, rule_id: str) -> Rule:
        await self._seed()
        rule = await self._rules.get(rule_id)
        if rule is None:
            raise RuleNotFound(f"no alert rule {shown(rule_id)}")
        return rule

    async def versions(self, rule_id: str) -> list[Rule]:
        await self.get(rule_id)
        return await self._rules.versions(rule_id)

    async def apply(
        self, definitions: Sequence[RuleDefinition], actor: str, now: dt.datetime
    ) -> list[Applied]:
        """Store each rule: new (version 1), changed (the next version) or unchanged."""
        normalised(definitions)
        await self._seed()
        applied = [await self._apply_one(d, actor, now) for d in definitions]
        self._cached = None
        return applied

    async def set_enabled(self, rule_id: str, enabled: bool, actor: str, now: dt.datetime) -> Rule:
        current = await self.get(rule_id)
        changed = current.definition.model_copy(update={"enabled": enabled})
        [applied] = await self.apply([changed], actor, now)
        return applied.rule

    async def _apply_one(self, definition: RuleDefinition, actor: str, now: dt.datetime) -> Applied:
        for _ in range(_MAX_ROUNDS):
            current = await self._rules.get(definition.id)
            if current is None:
                rule = Rule(definition, 1, now, actor)
                if await self._rules.create(rule):
                    return Applied(rule, "created")
                continue
            if definitions_equal(current.definition, definition):
                return Applied(current, "unchanged")
            rule = Rule(definition, current.version + 1, now, actor)
            if await self._rules.update(current, rule):
                return Applied(rule, "updated")
        raise RuleConflict(f"alert rule {definition.id!r} kept changing while applied")

    async def _seed(self) -> None:
        """The shipped rules, stored as version 1 where absent (once per process)."""
        if self._seeded:
            return
        epoch = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        await self._rules.create_missing([Rule(d, 1, epoch, "c360") for d in DEFAULT_RULES])
        self._seeded = True
