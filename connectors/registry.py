"""Connectors by their CLI/REST name."""

from __future__ import annotations

from connectors.base import Connector
from connectors.canonical import CanonicalConnector
from connectors.csv import (
    ConsentCsvConnector,
    ContactPointsCsvConnector,
    CustomersCsvConnector,
    PosCsvConnector,
    ReturnsCsvConnector,
    ServiceCsvConnector,
    SurveysCsvConnector,
)
from connectors.segment import SegmentConnector
from connectors.shopify import (
    ShopifyCustomersConnector,
    ShopifyOrdersConnector,
    ShopifyRefundsConnector,
)
from connectors.zendesk import ZendeskTicketsConnector

CONNECTORS: dict[str, Connector] = {
    connector.name: connector
    for connector in (
        CanonicalConnector(),
        SegmentConnector(),
        ShopifyOrdersConnector(),
        ShopifyRefundsConnector(),
        ShopifyCustomersConnector(),
        ZendeskTicketsConnector(),
        PosCsvConnector(),
        ReturnsCsvConnector(),
        ServiceCsvConnector(),
        CustomersCsvConnector(),
        SurveysCsvConnector(),
        ConsentCsvConnector(),
        ContactPointsCsvConnector(),
    )
}


def get_connector(name: str) -> Connector:
    try:
        return CONNECTORS[name]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise KeyError(f"unknown connector {name!r}; known: {known}") from None
