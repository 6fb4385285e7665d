"""GraphQL types of the access audit (admin): who read, looked up, exported or changed what."""

from __future__ import annotations

import datetime as dt

import strawberry

from c360.api.graphql.access import public
from c360.api.graphql.values import PageInfo
from c360.audit.service import Action
from c360.store import Document

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
    def from_doc(cls, doc: Document) -> AuditEntry:
        profile_id = doc.get("profile_id")
        return cls(
            id=strawberry.ID(doc["seq"]),
            at=doc["at"],
            key_id=doc["key_id"],
            key_name=doc["key_name"],
            role=doc["role"],
            action=Action(doc["action"]),
            operation=doc.get("operation", ""),
            what=list(doc.get("what", [])),
            detail=doc.get("detail"),
            profile_id=None if profile_id is None else strawberry.ID(profile_id),
            request_id=doc.get("request_id"),
        )


@strawberry.type
class AuditEdge:
    cursor: str = strawberry.field(metadata=public(_ADMINS))
    node: AuditEntry


@strawberry.type(description="Audit entries, newest first.")
class AuditConnection:
    edges: list[AuditEdge]
    page_info: PageInfo
