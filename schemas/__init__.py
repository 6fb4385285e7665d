"""Canonical data contracts shared by connectors and the service.

Everything a connector emits and the ingest pipeline stores is one of the record models in
:mod:`schemas.records`. This package imports nothing else of the repository.
"""

from schemas.common import Money
from schemas.identifiers import Identifier, IdentifierType
from schemas.records import (
    RECORD_MODELS,
    CanonicalRecord,
    ConsentChange,
    ContactPointStatus,
    Order,
    OutboundContact,
    Person,
    PreferenceChange,
    RecordKind,
    Return,
    ServiceCase,
    SiteEvent,
    SurveyResponse,
    describe_error,
    describe_errors,
    parse_record,
)

__all__ = [
    "RECORD_MODELS",
    "CanonicalRecord",
    "ConsentChange",
    "ContactPointStatus",
    "Identifier",
    "IdentifierType",
    "Money",
    "Order",
    "OutboundContact",
    "Person",
    "PreferenceChange",
    "RecordKind",
    "Return",
    "ServiceCase",
    "SiteEvent",
    "SurveyResponse",
    "describe_error",
    "describe_errors",
    "parse_record",
]
