"""MongoDB access: the client's lifecycle (:mod:`.client`), the embedded server, the indexes."""

from c360.store.client import Database, Document, Store

__all__ = ["Database", "Document", "Store"]
