"""Values of the access audit: what kind of access an entry records, and the entry."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class Action(enum.StrEnum):
    READ = "read"  # unmasked contact points, case text, the audit log itself
    LOOKUP = "lookup"  # searchProfiles, profileByIdentifier
    EXPORT = "export"  # GET /audiences/export
    MUTATION = "mutation"  # every GraphQL mutation, and key changes from the command line


@dataclass(frozen=True)
class AuditEntry:
    """One request's access to one profile (or to none)."""

    seq: str  # orders entries: the append time and a random suffix; a page's cursor
    at: dt.datetime
    key_id: str
    key_name: str
    role: str
    action: Action
    operation: str  # the GraphQL operation (``query AgentView``) or the REST route
    what: tuple[str, ...]  # fields read in full, the lookup or mutation field, the columns
    detail: str | None = None  # what was searched for, or a mutation's arguments
    profile_id: str | None = None
    request_id: str | None = None
