"""MongoDB access: the client's lifecycle (:mod:`.client`), the embedded server, the indexes."""

from c360.store.client import (
    CONNECTION_ERRORS,
    Database,
    Document,
    Store,
    StoreSettings,
    store_error,
    unreachable,
)

__all__ = [
    "CONNECTION_ERRORS",
    "Database",
    "Document",
    "Store",
    "StoreSettings",
    "store_error",
    "unreachable",
]
