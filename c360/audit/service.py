"""The access audit: who read unmasked contact points or case text, who looked people up, who
exported, and who changed what — by API key, role, profile, request and time.

An ``AuditTrail`` gathers what one request disclosed while it runs (a set add per field) and
appends it in one write when the request ends: one document per profile, whatever the number of
fields read. Entries are kept ``C360_AUDIT_RETENTION_DAYS`` (a TTL index, and ``prune``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from c360.audit.repository import SEQ_DIGITS, AuditQuery, AuditRepository
from c360.audit.types import Action, AuditEntry
from c360.auth.service import Caller
from c360.errors import InvalidInput
from c360.observability.metrics import AUDIT_ENTRIES
from schemas.quoting import shown

MAX_PAGE = 500
MAX_DETAIL = 2000  # characters of a lookup's text or a mutation's arguments kept
_SEQ_LENGTH = SEQ_DIGITS + 1 + 8


class InvalidAuditCursor(InvalidInput):
    pass


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]  # newest first; each one's seq is the cursor after it
    has_next_page: bool


def new_seq(now: dt.datetime) -> str:
    micros = round(now.timestamp() * 1_000_000)
    return f"{micros:0{SEQ_DIGITS}d}-{secrets.token_hex(4)}"


@dataclass
class _Entry:
    what: set[str] = field(default_factory=set)


class AuditTrail:
    """What one request disclosed or changed, appended when it ends (``AuditService.flush``)."""

    def __init__(self, operation: str = "") -> None:
        self.operation = operation
        self._entries: dict[tuple[Action, str | None, str | None], _Entry] = {}
        # The profiles a mutation field acts on that its arguments do not name (a follow-up's,
        # an unmerge's), by the field's response key: its entry names them too.
        self.acted_on: dict[str, set[str]] = {}

    def __bool__(self) -> bool:
        return bool(self._entries)

    def add(
        self,
        action: Action,
        what: str,
        profile_ids: Iterable[str | None] = (None,),
        detail: str | None = None,
    ) -> None:
        if detail is not None:
            detail = detail[:MAX_DETAIL]
        for profile_id in profile_ids:
            key = (action, profile_id, detail)
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            entry.what.add(what)

    def read(self, profile_id: str | None, what: str) -> None:
        self.add(Action.READ, what, (profile_id,))

    def acts_on(self, field_key: str, *profile_ids: str) -> None:
        """The mutation field answered at ``field_key`` changed these profiles' data."""
        self.acted_on.setdefault(field_key, set()).update(profile_ids)

    def entries(self, caller: Caller, request_id: str | None, now: dt.datetime) -> list[AuditEntry]:
        return [
            AuditEntry(
                seq=new_seq(now),
                at=now,
                key_id=caller.key_id,
                key_name=caller.name,
                role=caller.role.value,
                action=action,
                operation=self.operation,
                what=tuple(sorted(entry.what)),
                detail=detail,
                profile_id=profile_id,
                request_id=request_id,
            )
            for (action, profile_id, detail), entry in self._entries.items()
        ]

    def clear(self) -> None:
        self._entries.clear()
        self.acted_on.clear()


class AuditService:
    def __init__(self, log: AuditRepository, retention: dt.timedelta) -> None:
        self._log = log
        self.retention = retention

    async def flush(self, trail: AuditTrail, caller: Caller | None, request_id: str | None) -> None:
        """Appends what ``trail`` gathered, in one write, and empties it."""
        if not trail or caller is None:
            return
        entries = trail.entries(caller, request_id, dt.datetime.now(dt.UTC))
        await self._log.append(entries)
        trail.clear()
        for entry in entries:
            AUDIT_ENTRIES.labels(entry.action.value).inc()

    async def page(
        self, query: AuditQuery, *, first: int = 50, after: str | None = None
    ) -> AuditPage:
        if not 0 < first <= MAX_PAGE:
            raise InvalidInput(f"first must be between 1 and {MAX_PAGE}, not {first}")
        if after is not None and not _is_seq(after):
            raise InvalidAuditCursor(f"malformed cursor {shown(after)}")
        entries = await self._log.page(query, after, first + 1)
        return AuditPage(entries=entries[:first], has_next_page=len(entries) > first)

    async def prepare(self) -> None:
        """The TTL index for the retention period (at start-up)."""
        await self._log.keep_for(int(self.retention.total_seconds()))

    async def prune(self, now: dt.datetime) -> int:
        """Removes entries older than the retention period; returns how many."""
        return await self._log.prune(now - self.retention)

    async def record(
        self,
        caller: Caller,
        action: Action,
        what: str,
        *,
        operation: str,
        profile_ids: Sequence[str | None] = (None,),
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """One event appended at once (an export's batch, a command-line change)."""
        trail = AuditTrail(operation)
        trail.add(action, what, profile_ids, detail)
        await self.flush(trail, caller, request_id)


def _is_seq(value: str) -> bool:
    digits, dash, suffix = value.partition("-")
    return (
        len(value) == _SEQ_LENGTH
        and dash == "-"
        and digits.isascii()
        and digits.isdigit()
        and all(c in "0123456789abcdef" for c in suffix)
    )
