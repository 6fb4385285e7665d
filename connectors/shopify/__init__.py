"""``shopify-orders``, ``shopify-refunds`` and ``shopify-customers``: Shopify Admin REST
resources and webhook bodies.

Orders come as the REST ``Order`` resource: an export of JSON lines, a JSON array, a list
response ``{"orders": [...]}``, a single-resource response ``{"order": {...}}`` (GET one, POST,
PUT, the cancel response with its ``notice``) or an ``orders/*`` webhook body. Each order yields
its :class:`~schemas.Order`; one :class:`~schemas.Return` per refund it carries (``refunds[]``,
with the same ids as the Refund resource, so the same refund arriving again through
``shopify-refunds`` or ``refunds/create`` is a duplicate); its customer as a
:class:`~schemas.Person`; the billing and shipping addresses as a person record of the order;
one :class:`~schemas.ConsentChange` per marketing consent state Shopify timed (the *current*
state, see :mod:`.consent`) and, when Shopify says the customer's e-mail address is
verified, a :class:`~schemas.ContactPointStatus` for it; or, when anything in it is wrong, one
:class:`~connectors.base.ItemError` for the whole item.

Bodies are read by what they are, whatever the topic: a Refund (``order_id`` and
``refund_line_items``) becomes its return; a test order (``test: true``), an ``orders/edited``
body (``{"order_edit": ...}``: the changed order follows as ``orders/updated``) and an
``orders/delete`` body (the id alone) are :class:`~connectors.base.Ignored` with the reason.

Refunds come as the REST ``Refund`` resource (``{"refunds": [...]}``, ``{"refund": {...}}``, an
array, JSON lines or ``refunds/create`` bodies) and become :class:`~schemas.Return` records that
name nobody: the ingest pipeline links them through their order, so both must be imported under
one source. A refund's currency is its transactions', else its amounts' (``*_set``), else its
order's when the order carries it, else the ``currency`` setting; a refund stating none is
rejected naming its order, which the pipeline looks up to read it again in the order's
currency (see :class:`~connectors.base.CurrencyOfOrder`).

Customers come as the REST ``Customer`` resource (``{"customers": [...]}``, ``{"customer":
{...}}``, an array, JSON lines, ``customers/create`` and ``customers/update`` bodies) and become
the customer as a person, their consents and their verified e-mail address, read as an order's
customer is: where most consent changes reach a shop's systems (a customer unsubscribing places
no order). The consent topics' bodies are read too: ``customers_email_marketing_consent/update``
(``customer_id``, ``email_address``, ``email_marketing_consent``) and
``customers_marketing_consent/update`` (``id``, ``phone``, ``sms_marketing_consent``); a
``customers/delete`` body (the id alone) and a ``customers/redact`` or
``customers/data_request`` request are ignored with the reason: those compliance webhooks are
read as the privacy requests they are by :mod:`.compliance`, for ``/webhooks/shopify``.

Money is read as decimals and converted exactly into minor units; an amount with more decimals
than its currency has is refused, never rounded.

One module a resource (:mod:`.orders`, :mod:`.refunds`, :mod:`.customers`), the marketing consent
they carry in :mod:`.consent`, the compliance webhooks in :mod:`.compliance`, and reading
Shopify's values in :mod:`._values`.
"""

from connectors.shopify.customers import ShopifyCustomersConnector
from connectors.shopify.orders import ShopifyOrdersConnector
from connectors.shopify.refunds import ShopifyRefundsConnector

__all__ = ["ShopifyCustomersConnector", "ShopifyOrdersConnector", "ShopifyRefundsConnector"]
