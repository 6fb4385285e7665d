"""c360: customer 360 and contact-preference API.

One package per domain (contact, profiles, records, identity, auth, audit, …), each with the
same few files, each file with one meaning:

- ``repository.py``: every store query of the domain, and nothing else. It turns documents
  into the domain's typed values and back; no MongoDB field name is read above it.
- ``types.py``: those typed values (frozen dataclasses), what crosses the domain's boundary.
- ``service.py``: the rules that need I/O, through the repositories handed to it in
  ``c360/services.py`` (the one wiring module). Services never open connections.
- pure rule modules (``policy.py``, ``changes.py``, ``traits.py``, …): rules with no I/O,
  tested without a store.

The API layers (``api/``: REST routes, and ``api/graphql/`` by domain) translate a request
into a service call and the service's typed answer into a response; they decide nothing.
Imports run one way: api → services → repositories → store. Settings are read only in
``settings.py`` (their defaults too) and handed to services when they are wired.
"""

__version__ = "0.1.0"
