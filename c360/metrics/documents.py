"""How ``profile_metrics`` stores an aggregate, its ledger and its summary, and reads them back.

Maps with open-ended keys (currencies, products, days, order ids) are stored as pairs, so no
key is ever a field name; ledger entries are arrays. A ledger is stored sorted, so a ledger
folded record by record and one recomputed from scratch are the same document. Only the
metrics repository uses these."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from c360.metrics.aggregate import Aggregate, Refunds
from c360.metrics.figures import Summary
from c360.metrics.ledger import Ledger
from c360.store import Document


def aggregate_doc(agg: Aggregate) -> Document:
    """The aggregate without its ledger (stored beside it, see :func:`ledger_doc`)."""
    return {
        "counts": dict(agg.counts),
        "spent": _pairs(agg.spent),
        "refunds": [
            [order_id, r.returns, r.items, _pairs(r.amounts)]
            for order_id, r in sorted(agg.refunds.items())
        ],
        "cancelled": sorted(agg.cancelled),
        "orders_by_currency": _pairs(agg.orders_by_currency),
        "categories": _pairs(agg.categories),
        "products": _pairs(agg.products),
        "visit_days": _pairs(agg.visit_days),
        "first_ms": dict(agg.first_ms),
        "last_ms": dict(agg.last_ms),
        "nps": [list(answer) for answer in agg.nps],
        "open_cases": [
            [rid, opened, complaint] for rid, (opened, complaint) in sorted(agg.open_cases.items())
        ],
        "cases_opened_ms": list(agg.cases_opened_ms),
    }


def aggregate_of(
    doc: Mapping[str, Any] | None, ledger: Mapping[str, Any] | None = None
) -> Aggregate:
    """The aggregate stored as ``doc``, with the ledger stored beside it when given."""
    if not doc:
        return Aggregate(ledger=ledger_of(ledger))
    return Aggregate(
        counts=Counter(doc.get("counts") or {}),
        spent=Counter(dict(doc.get("spent") or [])),
        refunds={a[0]: Refunds(a[1], a[2], Counter(dict(a[3]))) for a in doc.get("refunds") or []},
        cancelled=set(doc.get("cancelled") or []),
        orders_by_currency=Counter(dict(doc.get("orders_by_currency") or [])),
        categories=Counter(dict(doc.get("categories") or [])),
        products=Counter(dict(doc.get("products") or [])),
        visit_days=Counter({int(k): v for k, v in doc.get("visit_days") or []}),
        first_ms=dict(doc.get("first_ms") or {}),
        last_ms=dict(doc.get("last_ms") or {}),
        nps=[(a[0], a[1], a[2]) for a in doc.get("nps") or []],
        open_cases={a[0]: (a[1], a[2]) for a in doc.get("open_cases") or []},
        cases_opened_ms=list(doc.get("cases_opened_ms") or []),
        ledger=ledger_of(ledger),
    )


def ledger_doc(ledger: Ledger) -> Document:
    """Its entries sorted (record ids make every order, case and answer unique; refunds and
    visits that tie are the same values, so any order of them is the same document)."""
    orders, returns, cases, surveys, visits = ledger.in_order()
    return {
        "orders": [[*e[:5], list(e[5]), *e[6:]] for e in orders],
        "returns": [list(e) for e in returns],
        "cases": [list(e) for e in cases],
        "surveys": [list(e) for e in surveys],
        "visits": visits,
    }


def ledger_of(doc: Mapping[str, Any] | None) -> Ledger:
    if not doc:
        return Ledger()
    return Ledger(
        orders=[
            (e[0], e[1], e[2], e[3], e[4], tuple(e[5]), e[6], e[7], e[8])
            for e in doc.get("orders") or ()
        ],
        returns=[(e[0], e[1], e[2], e[3]) for e in doc.get("returns") or ()],
        cases=[
            (e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9])
            for e in doc.get("cases") or ()
        ],
        surveys=[
            (e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]) for e in doc.get("surveys") or ()
        ],
        visits=list(doc.get("visits") or ()),
    )


def summary_doc(summary: Summary) -> Document:
    """Fields that have no value are left out (no explicit nulls are stored)."""
    doc: Document = {"orders": summary.order_count, "open_complaints": summary.open_complaints}
    if summary.first_order_ms is not None:
        doc["first_order_ms"] = summary.first_order_ms
    if summary.last_order_ms is not None:
        doc["last_order_ms"] = summary.last_order_ms
    if summary.last_nps is not None:
        doc["last_nps"] = summary.last_nps
    doc["net"] = [[currency, amount] for currency, amount in summary.net_value.items()]
    return doc


def summary_of(doc: Mapping[str, Any] | None) -> Summary:
    if not doc:
        return Summary()
    return Summary(
        order_count=doc.get("orders", 0),
        first_order_ms=doc.get("first_order_ms"),
        last_order_ms=doc.get("last_order_ms"),
        last_nps=doc.get("last_nps"),
        open_complaints=doc.get("open_complaints", 0),
        net_value=dict(doc.get("net") or []),
    )


def _pairs(counter: Mapping[Any, int]) -> list[list[Any]]:
    return [[key, value] for key, value in sorted(counter.items()) if value]
