"""KPIs recomputed from scratch over every record in the store: the tests' yardstick.

Reads the whole ``records`` collection with the raw driver and follows each KPI's definition in
the plainest way: each profile's aggregate folded afresh from its records (not the stored one),
its activity span from its records (not the profile's), its country from its person records,
and every figure by a loop over the records of the period. Shares with the application only the
rules that define a segment (``lifecycle``, ``value_tier``) and money conversion.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pymongo import MongoClient

from c360.kpis.compute import KpiConfig, Row
from c360.kpis.definitions import Dimension, KpiId
from c360.metrics.aggregate import aggregate
from c360.metrics.figures import convert, metrics, net_value
from c360.profiles.lifecycle import Thresholds, lifecycle, value_tier
from c360.profiles.traits import fold_traits
from c360.records.documents import stored_record

Doc = dict[str, Any]
Window = tuple[dt.datetime, dt.datetime]
NOT_ACTIVITY = {"outbound_contact", "contact_point_status"}
CLOSED = {"solved", "closed"}
ORDER_DIMS = {Dimension.ORDER_CHANNEL, Dimension.STORE}


@dataclass(frozen=True)
class Expected:
    value: float | None
    numerator: float | None
    denominator: float | None
    sample_size: int
    p90: float | None
    suppressed: bool


Key = tuple[KpiId, tuple[str | None, ...], str | None, bool]


class Reference:
    """Everything the store holds, read once; figures of any window on demand."""

    def __init__(
        self,
        uri: str,
        database: str,
        now: dt.datetime,
        *,
        config: KpiConfig,
        thresholds: Thresholds,
        percentiles: Sequence[float] = (0.5, 0.8, 0.95),
        churned_days: int = 365,
    ) -> None:
        client: MongoClient[Doc] = MongoClient(uri, tz_aware=True)
        try:
            db = client[database]
            self.records = list(db.records.find())
            live = [p["_id"] for p in db.profiles.find({"merged_into": {"$exists": False}})]
            self.follow_ups = list(db.follow_ups.find())
            self.acks = {a["_id"]: a["at_ms"] for a in db.feedback_acks.find()}
        finally:
            client.close()
        self.config = config
        self.churned_days = churned_days
        self.now = now
        self.by_id = {r["_id"]: r for r in self.records}
        mine: dict[str, list[Doc]] = defaultdict(list)
        for record in self.records:
            if "profile_id" in record:
                mine[record["profile_id"]].append(record)
        self.live = set(live)
        ltv: dict[str, int] = {}
        views: dict[str, Any] = {}
        for profile_id in live:
            agg = aggregate(mine[profile_id])
            net = net_value(agg)
            if net:
                ltv[profile_id] = convert(net, config.reporting_currency, config.rates)[0]
            seen = [r["occurred_at"] for r in mine[profile_id] if r["kind"] not in NOT_ACTIVITY]
            views[profile_id] = (agg, net, min(seen) if seen else None, max(seen) if seen else None)
        buyers = sorted(v for v in ltv.values() if v > 0)
        cutoffs = [
            buyers[min(int(p * len(buyers)), len(buyers) - 1)] if buyers else 0 for p in percentiles
        ]
        self.customers: dict[str, dict[str, Any]] = {}
        for profile_id, (agg, net, first_seen, last_seen) in views.items():
            shown = metrics(
                agg, now, reporting_currency=config.reporting_currency, rates=config.rates
            )
            people = [r for r in mine[profile_id] if r["kind"] == "person"]
            self.customers[profile_id] = {
                Dimension.LIFECYCLE_STAGE: lifecycle(shown, last_seen, now, thresholds).stage.value,
                Dimension.VALUE_TIER: value_tier(
                    ltv.get(profile_id), cutoffs, percentiles, config.reporting_currency
                ).tier.value,
                Dimension.COUNTRY: fold_traits(stored_record(r) for r in people).value("country"),
                "first_order": min(
                    (
                        r["occurred_at"]
                        for r in mine[profile_id]
                        if r["kind"] == "order" and r["data"].get("cancelled_at") is None
                    ),
                    default=None,
                ),
                "net": net,
                "last_order": max(
                    (r["occurred_at"] for r in mine[profile_id] if r["kind"] == "order"),
                    default=None,
                ),
                "first_seen": first_seen,
                "last_seen": last_seen,
            }

    # --- what a record is, and to whom ------------------------------------------------------

    def _order_of(self, refund: Doc) -> Doc | None:
        return self.by_id.get(f"{refund['source']}:order:{refund['data']['order_external_id']}")

    def stands(self, record: Doc) -> bool:
        if record["kind"] == "order":
            return record["data"].get("cancelled_at") is None
        order = self._order_of(record)
        return order is None or order["data"].get("cancelled_at") is None

    def values(self, record: Doc) -> dict[Dimension, str | None]:
        customer = self.customers.get(record["profile_id"], {})
        found: dict[Dimension, str | None] = {d: customer.get(d) for d in Dimension}
        for dimension in (*ORDER_DIMS, Dimension.SERVICE_CHANNEL, Dimension.SURVEY_TOUCHPOINT):
            found[dimension] = None
        found[Dimension.TEAM] = found[Dimension.ROOT_CAUSE] = None
        data = record["data"]
        order = record if record["kind"] == "order" else None
        if record["kind"] == "return":
            order = self._order_of(record)
        if order is not None:
            found[Dimension.ORDER_CHANNEL] = order["data"]["channel"]
            found[Dimension.STORE] = order["data"].get("store_id")
        if record["kind"] == "service_case":
            found[Dimension.SERVICE_CHANNEL] = data["channel"]
        if record["kind"] == "survey_response":
            found[Dimension.SURVEY_TOUCHPOINT] = data.get("touchpoint")
        return found

    def of(
        self,
        kind: str,
        window: Window,
        dimensions: Sequence[Dimension],
        chosen: Mapping[Dimension, frozenset[str]],
    ) -> Iterable[tuple[Doc, tuple[str | None, ...]]]:
        """The linked records of a kind in the window that the filter keeps, with their group."""
        for record in self.records:
            if record["kind"] != kind or "profile_id" not in record:
                continue
            if not window[0] <= record["occurred_at"] < window[1]:
                continue
            values = self.values(record)
            if all(values[d] in allowed for d, allowed in chosen.items()):
                yield record, tuple(values[d] for d in dimensions)

    def followed(
        self,
        window: Window,
        dimensions: Sequence[Dimension],
        chosen: Mapping[Dimension, frozenset[str]],
    ) -> Iterable[tuple[Doc, tuple[str | None, ...]]]:
        """Follow-ups opened in the window (not withdrawn or merged) with their group."""
        start, end = (moment.timestamp() * 1000 for moment in window)
        for follow_up in self.follow_ups:
            if follow_up.get("status") in ("withdrawn", "merged"):
                continue
            if not start <= follow_up["opened_ms"] < end:
                continue
            customer = self.customers.get(follow_up["profile_id"], {})
            values: dict[Dimension, str | None] = {d: customer.get(d) for d in Dimension}
            for dimension in (*ORDER_DIMS, Dimension.SERVICE_CHANNEL, Dimension.SURVEY_TOUCHPOINT):
                values[dimension] = None
            values[Dimension.TEAM] = follow_up.get("accountable_team") or follow_up.get("team")
            values[Dimension.ROOT_CAUSE] = follow_up.get("root_cause")
            if all(values[d] in allowed for d, allowed in chosen.items()):
                yield follow_up, tuple(values[d] for d in dimensions)

    # --- figures ---------------------------------------------------------------------------

    def figures(
        self,
        kpi: KpiId,
        window: Window,
        before: Window,
        dimensions: Sequence[Dimension],
        chosen: Mapping[Dimension, frozenset[str]],
    ) -> dict[tuple[tuple[str | None, ...], str | None, bool], tuple[Any, ...]]:
        """(group, currency, converted) → (value, numerator, denominator, sample, people, p90)."""

        def of(kind: str, span: Window = window) -> list[tuple[Doc, tuple[str | None, ...]]]:
            return list(self.of(kind, span, dimensions, chosen))

        found: dict[tuple[tuple[str | None, ...], str | None, bool], tuple[Any, ...]] = {}
        rates = self.config.rates
        reporting = self.config.reporting_currency

        def ratio(n: float, d: float) -> float | None:
            return n / d if d else None

        standing = [(o, g) for o, g in of("order") if self.stands(o)]
        if kpi is KpiId.REVENUE:
            sums: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            counts: dict[Any, int] = defaultdict(int)
            who: dict[Any, set[str]] = defaultdict(set)
            for order, group in standing:
                currency = order["data"]["total"]["currency"]
                sums[group][currency] += order["data"]["total"]["amount"]
                counts[group, currency] += 1
                who[group, currency].add(order["profile_id"])
            for refund, group in of("return"):
                if self.stands(refund):
                    currency = refund["data"]["amount"]["currency"]
                    sums[group][currency] -= refund["data"]["amount"]["amount"]
                    counts[group, currency] += 1
                    who[group, currency].add(refund["profile_id"])
            for group, net in sums.items():
                for currency, amount in net.items():
                    found[group, currency, False] = (
                        amount,
                        amount,
                        None,
                        counts[group, currency],
                        len(who[group, currency]),
                        None,
                    )
                if rates:
                    total, missing = convert(dict(net), reporting, rates)
                    kept = [c for c in net if c not in missing]
                    people = set().union(*(who[group, c] for c in kept))
                    found[group, reporting, True] = (
                        total,
                        total,
                        None,
                        sum(counts[group, c] for c in kept),
                        len(people),
                        None,
                    )
        elif kpi in (KpiId.AVERAGE_ORDER_VALUE, KpiId.ITEMS_PER_ORDER):
            per_group_orders: dict[Any, list[Doc]] = defaultdict(list)
            for order, group in standing:
                per_group_orders[group].append(order)
            for group, orders in per_group_orders.items():
                people = {o["profile_id"] for o in orders}
                if kpi is KpiId.ITEMS_PER_ORDER:
                    items = sum(
                        i["quantity"] for o in orders for i in o["data"].get("line_items") or []
                    )
                    found[group, None, False] = (
                        ratio(items, len(orders)),
                        items,
                        len(orders),
                        len(orders),
                        len(people),
                        None,
                    )
                    continue
                currencies = {o["data"]["total"]["currency"] for o in orders}
                sold: dict[str, int] = {}
                for currency in currencies:
                    mine = [o for o in orders if o["data"]["total"]["currency"] == currency]
                    amount = sum(o["data"]["total"]["amount"] for o in mine)
                    sold[currency] = amount
                    found[group, currency, False] = (
                        amount / len(mine),
                        amount,
                        len(mine),
                        len(mine),
                        len({o["profile_id"] for o in mine}),
                        None,
                    )
                if rates:
                    total, missing = convert(sold, reporting, rates)
                    kept_orders = [
                        o for o in orders if o["data"]["total"]["currency"] not in missing
                    ]
                    found[group, reporting, True] = (
                        ratio(total, len(kept_orders)),
                        total,
                        len(kept_orders),
                        len(kept_orders),
                        len({o["profile_id"] for o in kept_orders}),
                        None,
                    )
        elif kpi is KpiId.CUSTOMER_LIFETIME_VALUE:
            per_currency: dict[Any, set[str]] = defaultdict(set)
            per_group: dict[Any, set[str]] = defaultdict(set)
            for order, group in standing:
                per_currency[group, order["data"]["total"]["currency"]].add(order["profile_id"])
                per_group[group].add(order["profile_id"])
            for (group, currency), people in per_currency.items():
                total = sum(self.customers[p]["net"].get(currency, 0) for p in people)
                found[group, currency, False] = (
                    total / len(people),
                    total,
                    len(people),
                    len(people),
                    len(people),
                    None,
                )
            if rates:
                for group, people in per_group.items():
                    total = sum(
                        convert(self.customers[p]["net"], reporting, rates)[0] for p in people
                    )
                    found[group, reporting, True] = (
                        total / len(people),
                        total,
                        len(people),
                        len(people),
                        len(people),
                        None,
                    )
        elif kpi is KpiId.PRODUCTS_PER_CUSTOMER:
            bought: dict[Any, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
            for order, group in standing:
                for line in order["data"].get("line_items") or []:
                    if name := line.get("title") or line.get("sku"):
                        bought[group][order["profile_id"]].add(name)
                bought[group][order["profile_id"]] |= set()
            for group, per_customer in bought.items():
                total = sum(len(p) for p in per_customer.values())
                n = len(per_customer)
                found[group, None, False] = (total / n, total, n, n, n, None)
        elif kpi is KpiId.CONVERSION_RATE:
            buyers = {o["profile_id"] for o, _ in of("order") if self.stands(o)}
            visitors: dict[Any, set[str]] = defaultdict(set)
            for visit, group in of("site_event"):
                visitors[group].add(visit["profile_id"])
            for group, people in visitors.items():
                n = len(people & buyers)
                found[group, None, False] = (
                    n / len(people),
                    n,
                    len(people),
                    len(people),
                    len(people),
                    None,
                )
        elif kpi in (KpiId.RETURN_RATE, KpiId.RETURN_COUNT):
            refunds = [(r, g) for r, g in of("return") if self.stands(r)]
            groups = {g for _, g in standing} | {g for _, g in refunds}
            for group in groups:
                orders = [o for o, g in standing if g == group]
                mine = [r for r, g in refunds if g == group]
                people = {d["profile_id"] for d in orders + mine}
                if kpi is KpiId.RETURN_COUNT:
                    if mine:
                        found[group, None, False] = (
                            len(mine),
                            len(mine),
                            None,
                            len(mine),
                            len({r["profile_id"] for r in mine}),
                            None,
                        )
                    continue
                sample = len(orders) + len(mine)
                found[group, None, False] = (
                    ratio(len(mine), len(orders)),
                    len(mine),
                    len(orders),
                    sample,
                    len(people),
                    None,
                )
                currencies = {o["data"]["total"]["currency"] for o in orders} | {
                    r["data"]["amount"]["currency"] for r in mine
                }
                for currency in currencies:
                    sold_amount = sum(
                        o["data"]["total"]["amount"]
                        for o in orders
                        if o["data"]["total"]["currency"] == currency
                    )
                    back = sum(
                        r["data"]["amount"]["amount"]
                        for r in mine
                        if r["data"]["amount"]["currency"] == currency
                    )
                    paying = {
                        o["profile_id"]
                        for o in orders
                        if o["data"]["total"]["currency"] == currency
                    } | {
                        r["profile_id"] for r in mine if r["data"]["amount"]["currency"] == currency
                    }
                    in_currency = sum(
                        1 for o in orders if o["data"]["total"]["currency"] == currency
                    ) + sum(1 for r in mine if r["data"]["amount"]["currency"] == currency)
                    found[group, currency, False] = (
                        ratio(back, sold_amount),
                        back,
                        sold_amount,
                        in_currency,
                        len(paying),
                        None,
                    )
        elif kpi in (KpiId.REPURCHASE_RATE, KpiId.NEW_CUSTOMERS, KpiId.RETURNING_CUSTOMERS):
            times: dict[str, list[dt.datetime]] = defaultdict(list)
            for order, _ in standing:
                times[order["profile_id"]].append(order["occurred_at"])
            per: dict[Any, set[str]] = defaultdict(set)
            for order, group in standing:
                per[group].add(order["profile_id"])
            for group, people in per.items():

                def first(p: str) -> dt.datetime:
                    return self.customers[p]["first_order"] or min(times[p])

                if kpi is KpiId.REPURCHASE_RATE:
                    again = [p for p in people if len(times[p]) > 1 or first(p) < min(times[p])]
                    found[group, None, False] = (
                        len(again) / len(people),
                        len(again),
                        len(people),
                        len(people),
                        len(people),
                        None,
                    )
                    continue
                if kpi is KpiId.NEW_CUSTOMERS:
                    chosen_ = [p for p in people if window[0] <= first(p) < window[1]]
                else:
                    chosen_ = [p for p in people if first(p) < window[0]]
                if chosen_:
                    found[group, None, False] = (
                        len(chosen_),
                        len(chosen_),
                        None,
                        len(chosen_),
                        len(chosen_),
                        None,
                    )
        elif kpi is KpiId.RETENTION_RATE:
            now_buying = {o["profile_id"] for o, _ in standing}
            per = defaultdict(set)
            for order, group in of("order", before):
                if self.stands(order):
                    per[group].add(order["profile_id"])
            for group, people in per.items():
                n = len(people & now_buying)
                found[group, None, False] = (
                    n / len(people),
                    n,
                    len(people),
                    len(people),
                    len(people),
                    None,
                )
        elif kpi is KpiId.CHURN_RATE:
            days = dt.timedelta(days=self.churned_days)
            churned = active = 0
            for customer in self.customers.values():
                first_seen, last_seen = customer["first_seen"], customer["last_seen"]
                if first_seen is None or not first_seen < window[0]:
                    continue
                if last_seen >= window[0] - days:
                    active += 1
                if window[0] - days <= last_seen < window[1] - days:
                    churned += 1
            found[(), None, False] = (ratio(churned, active), churned, active, active, active, None)
        elif kpi is KpiId.ACTIVE_CUSTOMERS:
            seen: dict[Any, set[str]] = defaultdict(set)
            for kind in ("order", "return", "service_case", "survey_response", "site_event"):
                for record, group in of(kind):
                    seen[group].add(record["profile_id"])
            for group, people in seen.items():
                found[group, None, False] = (
                    len(people),
                    len(people),
                    None,
                    len(people),
                    len(people),
                    None,
                )
        elif kpi in (KpiId.NPS, KpiId.CES):
            answers: dict[Any, list[Doc]] = defaultdict(list)
            for answer, group in of("survey_response"):
                if answer["data"]["survey_type"] == kpi.value:
                    answers[group].append(answer)
            for group, mine in answers.items():
                scores = [a["data"]["score"] for a in mine]
                n_people = len({a["profile_id"] for a in mine})
                if kpi is KpiId.NPS:
                    net = sum(s >= self.config.promoter_min for s in scores) - sum(
                        s <= self.config.detractor_max for s in scores
                    )
                    found[group, None, False] = (
                        100 * net / len(scores),
                        net,
                        len(scores),
                        len(scores),
                        n_people,
                        None,
                    )
                else:
                    found[group, None, False] = (
                        sum(scores) / len(scores),
                        sum(scores),
                        len(scores),
                        len(scores),
                        n_people,
                        None,
                    )
        elif kpi is KpiId.CSAT:
            good: dict[Any, int] = defaultdict(int)
            rated: dict[Any, int] = defaultdict(int)
            who = defaultdict(set)
            for answer, group in of("survey_response"):
                if answer["data"]["survey_type"] == "csat":
                    rated[group] += 1
                    good[group] += answer["data"]["score"] >= self.config.csat_satisfied_min
                    who[group].add(answer["profile_id"])
            for case, group in of("service_case"):
                if case["data"].get("satisfaction"):
                    rated[group] += 1
                    good[group] += case["data"]["satisfaction"] == "good"
                    who[group].add(case["profile_id"])
            for group, n in rated.items():
                found[group, None, False] = (
                    good[group] / n,
                    good[group],
                    n,
                    n,
                    len(who[group]),
                    None,
                )
        elif kpi is KpiId.SLA_COMPLIANCE:
            now_ms = self.now.timestamp() * 1000
            met_by: dict[Any, int] = defaultdict(int)
            decided_by: dict[Any, int] = defaultdict(int)
            who_by: dict[Any, set[str]] = defaultdict(set)
            for follow_up, group in self.followed(window, dimensions, chosen):
                if follow_up.get("held_out") or not follow_up.get("due"):
                    continue
                verdicts = []
                for target, due in follow_up["due"].items():
                    done = follow_up.get(
                        "first_response_ms" if target == "first_response" else "resolved_ms"
                    )
                    if done is not None:
                        verdicts.append(done <= due)
                    elif now_ms > due:
                        verdicts.append(False)
                    else:
                        verdicts.append(None)
                if False in verdicts:
                    ok = False
                elif None in verdicts:
                    continue
                else:
                    ok = True
                decided_by[group] += 1
                met_by[group] += ok
                who_by[group].add(follow_up["profile_id"])
            for group, n in decided_by.items():
                found[group, None, False] = (
                    met_by[group] / n,
                    met_by[group],
                    n,
                    n,
                    len(who_by[group]),
                    None,
                )
        elif kpi is KpiId.FEEDBACK_ACKNOWLEDGED:
            day2 = dt.timedelta(hours=48)
            low = self.config.feedback_low_scores
            acked: dict[Any, int] = defaultdict(int)
            owed: dict[Any, int] = defaultdict(int)
            owed_who: dict[Any, set[str]] = defaultdict(set)
            for kind in ("survey_response", "service_case"):
                for record, group in of(kind):
                    data = record["data"]
                    if kind == "service_case":
                        needs = bool(data.get("complaint"))
                    else:
                        limit = low.get(data["survey_type"])
                        needs = bool(
                            data.get("comment")
                            or data.get("contact_requested")
                            or (limit is not None and data["score"] <= limit)
                        )
                    if not needs:
                        continue
                    at_ms = self.acks.get(record["_id"])
                    answered_at = (
                        None if at_ms is None else dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC)
                    )
                    if answered_at is not None and answered_at > self.now:
                        answered_at = None
                    if answered_at is None and self.now < record["occurred_at"] + day2:
                        continue
                    owed[group] += 1
                    acked[group] += (
                        answered_at is not None and answered_at <= record["occurred_at"] + day2
                    )
                    owed_who[group].add(record["profile_id"])
            for group, n in owed.items():
                found[group, None, False] = (
                    acked[group] / n,
                    acked[group],
                    n,
                    n,
                    len(owed_who[group]),
                    None,
                )
        elif kpi is KpiId.HOLDOUT_CHURN_DIFFERENCE:
            groups_of: dict[Any, dict[str, list[Doc]]] = defaultdict(lambda: defaultdict(list))
            for follow_up, group in self.followed(window, dimensions, chosen):
                groups_of[group][follow_up["profile_id"]].append(follow_up)
            for group, by_customer in groups_of.items():
                tally = {True: [0, 0, 0], False: [0, 0, 0]}  # held out → size, churned, again
                for profile_id, theirs in by_customer.items():
                    held = all(u.get("held_out") for u in theirs)
                    since = min(u["opened_ms"] for u in theirs)
                    customer = self.customers.get(profile_id, {})
                    last = customer.get("last_order")
                    tally[held][0] += 1
                    tally[held][1] += customer.get(Dimension.LIFECYCLE_STAGE) == "churned"
                    tally[held][2] += last is not None and last.timestamp() * 1000 >= since
                n, m = tally[False][0], tally[True][0]
                difference = tally[False][1] / n - tally[True][1] / m if n and m else None
                found[group, None, False] = (
                    difference,
                    None,
                    None,
                    n + m,
                    min(n, m) if n and m else n + m,
                    None,
                )
        else:
            cases: dict[Any, list[Doc]] = defaultdict(list)
            for case, group in of("service_case"):
                cases[group].append(case)
            for group, mine in cases.items():
                data = [c["data"] for c in mine]
                if kpi is KpiId.COMPLAINT_RATE:
                    n = sum(bool(d.get("complaint")) for d in data)
                    found[group, None, False] = (
                        n / len(mine),
                        n,
                        len(mine),
                        len(mine),
                        len({c["profile_id"] for c in mine}),
                        None,
                    )
                elif kpi is KpiId.FIRST_CONTACT_RESOLUTION:
                    solved = [c for c in mine if c["data"]["status"] in CLOSED]
                    known = [c for c in solved if c["data"].get("agent_replies") is not None]
                    first_contact = sum(c["data"]["agent_replies"] < 2 for c in known)
                    if solved:
                        found[group, None, False] = (
                            ratio(first_contact, len(known)),
                            first_contact,
                            len(known),
                            len(known),
                            len({c["profile_id"] for c in known}),
                            None,
                        )
                else:

                    def took(case: Doc) -> float | None:
                        data = case["data"]
                        if kpi is KpiId.FIRST_RESPONSE_TIME:
                            end = data.get("first_response_at")
                        else:
                            end = data.get("solved_at") if data["status"] in CLOSED else None
                        if end is None:
                            return None
                        return (end - case["occurred_at"]).total_seconds()

                    measured = sorted(t for c in mine if (t := took(c)) is not None)
                    if measured:
                        n_people = len({c["profile_id"] for c in mine if took(c) is not None})
                        found[group, None, False] = (
                            quantile(measured, 0.5),
                            None,
                            None,
                            len(measured),
                            n_people,
                            quantile(measured, 0.9),
                        )
        return found


def quantile(values: list[float], q: float) -> float:
    """Inclusive linear interpolation (numpy's default), written out."""
    h = (len(values) - 1) * q
    low = math.floor(h)
    high = math.ceil(h)
    return values[low] + (values[high] - values[low]) * (h - low)


def as_expected(figure: tuple[Any, ...], min_group: int) -> Expected:
    value, numerator, denominator, sample, people, p90 = figure
    if 0 < people < min_group:
        return Expected(None, None, None, 0, None, True)

    def number(x: Any) -> float | None:
        return None if x is None else float(x)

    return Expected(
        number(value), number(numerator), number(denominator), sample, number(p90), False
    )


def compare(
    rows: Sequence[Row],
    reference: Reference,
    dimensions: Sequence[Dimension],
    chosen: Mapping[Dimension, frozenset[str]],
    windows: Callable[[Row], tuple[Window, Window, Window | None, Window | None]],
) -> int:
    """Check every row's figures (and the previous period's) against the reference; returns
    how many figures were compared. ``windows``: a row's window, the one before it, and the
    same two for its previous period."""
    min_group = reference.config.min_group_size
    cache: dict[Any, dict[Any, tuple[Any, ...]]] = {}
    checked = 0
    for row in rows:
        current, before, previous, previous_before = windows(row)
        for window, earlier, figure in (
            (current, before, row.current),
            (previous, previous_before, row.previous),
        ):
            if window is None or earlier is None or figure is None:
                continue
            key = (row.kpi, window, earlier)
            if key not in cache:
                cache[key] = reference.figures(row.kpi, window, earlier, dimensions, chosen)
            found = cache[key].get((row.group, row.currency, row.converted))
            got = Expected(
                figure.value,
                figure.numerator,
                figure.denominator,
                figure.sample_size,
                figure.p90,
                figure.suppressed,
            )
            if found is None:  # nothing in this group and period: a count of 0 or no value
                assert got.sample_size == 0, (row, got)
                assert not got.suppressed, (row, got)
                assert got.value in (None, 0.0), (row, got)
                checked += 1
                continue
            want = as_expected(found, min_group)
            assert _same(got, want), (row.kpi, row.group, row.currency, window, got, want)
            checked += 1
    return checked


def _same(got: Expected, want: Expected) -> bool:
    def close(a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)

    return (
        close(got.value, want.value)
        and close(got.numerator, want.numerator)
        and close(got.denominator, want.denominator)
        and got.sample_size == want.sample_size
        and close(got.p90, want.p90)
        and got.suppressed == want.suppressed
    )


def rates(values: Mapping[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in values.items()}
