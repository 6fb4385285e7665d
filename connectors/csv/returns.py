"""``returns-csv``: returns and refunds, one row per return."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.csv._base import RowConnector
from connectors.csv._rows import CsvSpec, Row
from connectors.csv._values import IDENTIFIER_FIELDS, Values
from schemas import RecordKind, Return


class ReturnsCsvConnector(RowConnector):
    """Returns and refunds, one row per return.

    Columns: ``return_id, returned_at, order_id, sku, quantity, amount, currency, reason,
    email, phone, customer_id, loyalty_id``. ``amount`` is what was refunded; a ``sku`` or
    ``quantity`` makes one returned item (quantity 1 by default). Both may be written negative,
    as tills write a return (``-12.50``, ``-1``): their size is read. Identifiers are optional: a
    return is linked to its person through its order.
    """

    name: ClassVar[str] = "returns-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.RETURN,)
    default_source: ClassVar[str] = "pos"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "return_id",
            "returned_at",
            "order_id",
            "sku",
            "quantity",
            "amount",
            "currency",
            "reason",
            *IDENTIFIER_FIELDS,
        ),
        required=("return_id", "returned_at", "order_id", "amount"),
        needs_currency=True,
    )

    model: ClassVar[type[Return]] = Return

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        # Tills write a return as the sale undone: money out and units back, negative. What
        # was refunded and returned is their size.
        quantity = values.whole("quantity")
        quantity = None if quantity is None else abs(quantity)
        amount = values.money("amount", values.currency(), required=True)
        if amount is not None:
            amount = {**amount, "amount": abs(amount["amount"])}
        sku = values.text("sku")
        returned = quantity is not None or sku is not None
        items = [{"sku": sku, "quantity": 1 if quantity is None else quantity}] if returned else []
        data = {
            "source": values.source,
            "external_id": values.text("return_id", required=True),
            "occurred_at": values.timestamp("returned_at", required=True),
            "identifiers": values.identifiers(required=False),
            "order_external_id": values.text("order_id", required=True),
            "items": items,
            "amount": amount,
            "reason": values.text("reason"),
        }
        return data
