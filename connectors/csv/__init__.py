"""CSV exports, one module a source: in-store sales (:mod:`.pos`), returns (:mod:`.returns`),
service logs (:mod:`.service`), CRM master data (:mod:`.customers`), surveys (:mod:`.surveys`),
consent and preference changes (:mod:`.consent`), and contact-point statuses such as bounces
and verifications (:mod:`.contact_points`).

Each connector reads one row per item (in-store sales: one row per line item, grouped into
orders) with the column names of its docstring; a mapping (``ParseOptions.mapping``, from a
mapping file read by :func:`parse_mapping`) renames columns, and the options
(``ParseOptions.settings``) set the source name, time zone, timestamp and date formats,
currency, decimal separator, delimiter and encoding. What they share: reading rows and checking
the header (:mod:`._rows`), mapping files and options (:mod:`._options`), converting a row's
values (:mod:`._values`), a connector whose rows each become records (:mod:`._base`).
"""

from connectors.csv._options import parse_mapping
from connectors.csv.consent import ConsentCsvConnector
from connectors.csv.contact_points import ContactPointsCsvConnector
from connectors.csv.customers import CustomersCsvConnector
from connectors.csv.pos import PosCsvConnector
from connectors.csv.returns import ReturnsCsvConnector
from connectors.csv.service import ServiceCsvConnector
from connectors.csv.surveys import SurveysCsvConnector

__all__ = [
    "ConsentCsvConnector",
    "ContactPointsCsvConnector",
    "CustomersCsvConnector",
    "PosCsvConnector",
    "ReturnsCsvConnector",
    "ServiceCsvConnector",
    "SurveysCsvConnector",
    "parse_mapping",
]
