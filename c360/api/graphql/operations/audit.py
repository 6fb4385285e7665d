"""GraphQL operations of the access audit (admin): the log, newest first."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import Requires
from c360.api.graphql.context import Context
from c360.api.graphql.types.audit import AuditConnection, AuditEdge, AuditEntry
from c360.api.graphql.values import PageInfo
from c360.audit.repository import AuditQuery
from c360.audit.types import Action
from c360.auth.service import Permission


@strawberry.type
class AuditLogQuery:
    @strawberry.field(
        description="The access audit, newest first (admin): reads of unmasked contact points "
        "and case text, lookups, exports and mutations, by key, role, profile and time. "
        "`since` and `until` are inclusive.",
        extensions=[Requires(Permission.READ_AUDIT)],
    )
    async def audit_log(
        self,
        info: Info[Context, None],
        profile_id: strawberry.ID | None = None,
        key_id: str | None = None,
        action: Action | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditConnection | None:
        query = AuditQuery(
            profile_id=None if profile_id is None else str(profile_id),
            key_id=key_id,
            action=None if action is None else action.value,
            since=since,
            until=until,
        )
        page = await info.context.services.audit.page(query, first=first, after=after)
        edges = [AuditEdge(cursor=e.seq, node=AuditEntry.of(e)) for e in page.entries]
        return AuditConnection(edges=edges, page_info=PageInfo.after(edges, page.has_next_page))
