"""The GraphQL API, one subpackage per domain; imports run downwards only.

    schema.py                the schema: every domain's operations merged, limits and checks
    <domain>/operations.py   root queries and mutations, their inputs and payloads
    profiles/types.py        the profile, whose fields lead into the domains below
    timeline/types.py        one type per record kind, and the mapper from a stored record
    <domain>/types.py        contact, identity, auth (API keys), audit
    errors.py  values.py     the Error types; shared enums, scalars, Money, PageInfo
    access.py  context.py    infrastructure: field access rules, the per-request context,
    http.py  limits.py       GraphQL over HTTP, checks before an operation runs, and what
    operations.py            each operation leaves behind (metrics, lookups, audit)

A resolver translates: it turns arguments into a service call and the service's typed answer
into GraphQL types. Expected failures are the service's ``C360Error``s, answered as the
declared union's error member by the schema's exception handlers (``errors.py``).
"""
