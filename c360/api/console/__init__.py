"""The agent console at ``/console``: the screen a support agent has open before answering.

Served by this app from assets shipped with the package (``static/console``); it reads and
changes everything through the GraphQL schema, at ``/console/graphql``, with the caller taken
from a server-side session (see :mod:`c360.api.console.session`), so every role rule, limit
and audit entry is the API's own."""

from c360.api.console.routes import GRAPHQL_PATH, PATH, mount_console

__all__ = ["GRAPHQL_PATH", "PATH", "mount_console"]
