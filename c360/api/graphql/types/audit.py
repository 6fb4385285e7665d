"""GraphQL types of the access audit (admin): who read, looked up, exported or changed what."""

from __future__ import annotations

import datetime as dt

import strawberry

from c360.api.graphql.access import public
from c360.api.graphql.values import PageInfo
from c360.audit import types as audit
from c360.audit.types import Action

strawberry.enum(Action, name="AuditAction")

# Only ``auditLog`` leads to these types, and it needs readAudit (admins): what they hold
# (a lookup's text, a mutation's arguments) is for the roles that read everything anyway.
_ADMINS = "the access audit, reached only through auditLog (readAudit: admins)"


@strawberry.type(description="One request's access to one profile (or to none), as audited.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(
        description="Also the cursor of its edge.", metadata=public(_ADMINS)
    )
    at: dt.datetime
    key_id: str = strawberry.field(metadata=public(_ADMINS))
    key_name: str = strawberry.field(metadata=public(_ADMINS))
    role: str = strawberry.field(metadata=public(_ADMINS))
    action: Action
    operation: str = strawberry.field(
        description="The GraphQL operation (`query AgentView`) or the REST route.",
        metadata=public(_ADMINS),
    )
    what: list[str] = strawberry.field(
        description="The fields read in full (`Profile.emails`), the lookup or mutation field, "
        "or the export's columns.",
        metadata=public(_ADMINS),
    )
    detail: str | None = strawberry.field(
        description="What was searched for, or a mutation's arguments.",
        metadata=public(_ADMINS),
    )
    profile_id: strawberry.ID | None = strawberry.field(metadata=public(_ADMINS))
    request_id: str | None = strawberry.field(
        description="The request's X-Request-ID.", metadata=public(_ADMINS)
    )

    @classmethod
    def of(cls, entry: audit.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(entry.seq),
            at=entry.at,
            key_id=entry.key_id,
            key_name=entry.key_name,
            role=entry.role,
            action=entry.action,
            operation=entry.operation,
            what=list(entry.what),
            detail=entry.detail,
            profile_id=None if entry.profile_id is None else strawberry.ID(entry.profile_id),
            request_id=entry.request_id,
        )


@strawberry.type
class AuditEdge:
    cursor: str = strawberry.field(metadata=public(_ADMINS))
    node: AuditEntry


@strawberry.type(description="Audit entries, newest first.")
class AuditConnection:
    edges: list[AuditEdge]
    page_info: PageInfo
