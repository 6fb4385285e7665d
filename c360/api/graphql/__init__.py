"""The GraphQL API: one types module and one operations module per domain; imports run
downwards only, and no module imports one beside it but the types as listed.

    schema.py                 the schema: every domain's operations merged, limits and checks
    operations/<domain>.py    root queries and mutations of a domain and their payloads
                              (audit, auth, contact, identity, profiles); they import types only
    types/profiles.py         the profile, whose fields lead into the types below
    types/timeline.py         one type per record kind, and the mapper from a record
    types/<domain>.py         contact (and its inputs, contact_inputs), identity, auth, audit
    errors.py  values.py      the Error types; shared enums, scalars, Money, PageInfo
    access.py  context.py     infrastructure: field access rules, the per-request context,
    http.py  limits.py        GraphQL over HTTP, checks before an operation runs, and what
    extensions.py             each operation leaves behind (metrics, lookups, audit)

A new field goes on its type in ``types/<domain>.py``; a new query or mutation in
``operations/<domain>.py`` (a new domain's operations class is merged in ``schema.py``).
A resolver translates: it turns arguments into a service call and the service's typed answer
into GraphQL types. Expected failures are the service's ``C360Error``s, answered as the
declared union's error member by the schema's exception handlers (``errors.py``): a field
declares the union (``Result | NotFoundError | ...``) and raises, it never catches.
"""
