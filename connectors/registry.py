"""Connectors by their CLI/REST name."""

from __future__ import annotations

from connectors.base import Connector
from connectors.canonical import CanonicalConnector

CONNECTORS: dict[str, Connector] = {
    connector.name: connector for connector in (CanonicalConnector(),)
}


def get_connector(name: str) -> Connector:
    try:
        return CONNECTORS[name]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise KeyError(f"unknown connector {name!r}; known: {known}") from None
