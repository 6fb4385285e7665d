"""``zendesk-tickets``: pages of Zendesk's cursor-based Incremental Ticket Export.

One page is the body of ``GET /api/v2/incremental/tickets/cursor.json?include=users`` (optionally
``include=users,metric_sets``)::

    {"tickets": [...], "users": [...], "metric_sets": [...],
     "after_cursor": "...", "after_url": "...", "end_of_stream": false}

Every ticket becomes a :class:`~schemas.ServiceCase`; every side-loaded user who requested a
ticket on the page (agents and admins excluded) becomes a :class:`~schemas.Person`. The export
returns a ticket again whenever it changes, so ``updated_at`` is the revision: a newer one
replaces the older. :meth:`ZendeskTicketsConnector.parse_page` reads one page (the HTTP sync calls
it and follows ``after_cursor`` until ``end_of_stream``); :meth:`~ZendeskTicketsConnector.parse`
reads a file of pages, one per line or one pretty-printed page.

Settings: ``source`` (default ``zendesk``) names the records and scopes Zendesk's user ids;
``user_external_id_source``, when given, is the source of the ids in ``user.external_id`` (the
id the requester has in another system, e.g. the CRM).

Over 500 lines, kept whole: a page is read at once (its users and metric sets are looked up by
its tickets), and every field's reading sits next to the others of its ticket or user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any, BinaryIO, ClassVar

from pydantic import TypeAdapter, ValidationError

from connectors._json import dumps, json_items
from connectors._values import utc_timestamp
from connectors._zones import zone_of_place
from connectors.base import (
    JSON_MEDIA_TYPES,
    ItemError,
    Parsed,
    ParseOptions,
    ParseResult,
    Rejected,
    identity_names,
)
from schemas import Identifier, Person, RecordKind, ServiceCase, describe_errors
from schemas.common import LanguageTag, TimeZoneName
from schemas.quoting import shown

DEFAULT_SOURCE = "zendesk"

STATUSES: dict[str, str] = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
    "deleted": "closed",  # the export still returns deleted tickets; they are closed cases
}

PRIORITIES = frozenset({"low", "normal", "high", "urgent"})

CHANNELS: dict[str, str] = {
    "email": "email",
    "web": "web",
    "voice": "phone",
    "chat": "chat",
    "native_messaging": "chat",
    "chat_transcript": "chat",
    "sms": "sms",
    "whatsapp": "whatsapp",
    "facebook": "social",
    "twitter": "social",
    "instagram_dm": "social",
    "any_channel": "social",
    "api": "other",
    "mobile_sdk": "other",
    "mobile": "other",
    "sample_ticket": "other",
    "other": "other",
}
"""``via.channel`` → canonical channel; anything else is ``other``."""

RESOLVED_STATUSES = frozenset({"solved", "closed"})
"""Canonical statuses of a case that has a resolution time."""

SATISFACTION_SCORES = frozenset({"good", "bad"})
"""Scores that are a rating; ``offered`` and ``unoffered`` are not."""

STAFF_ROLES = frozenset({"agent", "admin"})
"""User roles that are the support team, not customers: never a person of interest."""

# Record fields longer than the canonical limits are cut, not rejected: a ticket whose first
# message is a long e-mail is still a case.
MAX_SUBJECT = 1000
MAX_DESCRIPTION = 20_000
MAX_FULL_NAME = 400

_LANGUAGE: TypeAdapter[str] = TypeAdapter(LanguageTag)
_TIME_ZONE: TypeAdapter[str] = TypeAdapter(TimeZoneName)


MAX_PAGE_TICKETS = 10_000
"""Tickets a page may hold (Zendesk's hold at most 1,000): a body of millions of ``{}`` under
the size limit would otherwise cost a dead letter each, minutes of the store's time."""


class ZendeskTicketsConnector:
    name: ClassVar[str] = "zendesk-tickets"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.SERVICE_CASE, RecordKind.PERSON)
    media_types: ClassVar[tuple[str, ...]] = JSON_MEDIA_TYPES

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        """A file of export pages: JSON lines (one page per line) or one page document."""
        for item in json_items(stream):
            if item.error is not None:
                yield ItemError.of(item.position, item.raw, item.error)
                continue
            if not isinstance(item.value, dict):
                reason = "not an incremental export page: expected a JSON object with tickets"
                yield ItemError.of(item.position, item.raw, reason)
                continue
            results, _, _ = self.parse_page(item.value, options, item.position)
            yield from results

    def parse_page(
        self, page: dict[str, Any], options: ParseOptions, position: str = "page 1"
    ) -> tuple[list[ParseResult], str | None, bool]:
        """One export page → (its results, ``after_cursor``, ``end_of_stream``).

        Results are the tickets' cases (or errors) in page order, positioned
        ``{position} ticket N``, then the requesters' persons (or errors) in the order of the
        side-loaded users, positioned ``{position} user N``. A page without a list of tickets is
        one error at ``position``; its cursor is still returned.
        """
        if not isinstance(page, dict):
            error = ItemError.of(position, _raw(page), "not an incremental export page")
            return [error], None, False
        cursor = page.get("after_cursor")
        after_cursor = cursor if isinstance(cursor, str) and cursor else None
        end_of_stream = bool(page.get("end_of_stream"))
        tickets = page.get("tickets")
        if not isinstance(tickets, list):
            reason = (
                "no list of tickets in the page"
                if tickets is None
                else f"tickets is a {_json_type(tickets)}, not a list"
            )
            return [ItemError.of(position, _raw(page), reason)], after_cursor, end_of_stream

        if len(tickets) > MAX_PAGE_TICKETS:
            reason = (
                f"a page of {len(tickets):,} tickets: Zendesk's export pages hold at most "
                f"1,000, and c360 reads pages of up to {MAX_PAGE_TICKETS:,}; none of it is read"
            )
            return [ItemError.of(position, _raw(page), reason)], after_cursor, end_of_stream
        source = options.settings.get("source") or DEFAULT_SOURCE
        sideloaded = page.get("users")
        users: list[Any] = sideloaded if isinstance(sideloaded, list) else []
        users_by_id: dict[str, dict[str, Any]] = {}
        for user in _listed(users):
            user_id = _id(user.get("id"))
            if user_id is not None:
                users_by_id.setdefault(user_id, user)
        metrics_by_ticket: dict[str, dict[str, Any]] = {}
        for metric_set in _listed(page.get("metric_sets")):
            ticket_id = _id(metric_set.get("ticket_id"))
            if ticket_id is not None:
                metrics_by_ticket.setdefault(ticket_id, metric_set)

        results: list[ParseResult] = []
        requesters: dict[str, dt.datetime | None] = {}  # id → their earliest ticket's creation
        for index, ticket in enumerate(tickets, start=1):
            where = f"{position} ticket {index}"
            if not isinstance(ticket, dict):
                results.append(ItemError.of(where, _raw(ticket), "not a ticket object"))
                continue
            requester_id = _id(ticket.get("requester_id"))
            if requester_id is not None:
                opened = [t for t in (requesters.get(requester_id), _opened(ticket)) if t]
                requesters[requester_id] = min(opened) if opened else None
            # Whom a ticket that cannot be read is about: its requester.
            about = _user_names(source, requester_id)
            try:
                case = _case(ticket, users_by_id, metrics_by_ticket, options, source)
            except Rejected as exc:
                results.append(ItemError.of(where, _raw(ticket), str(exc), names=about))
                continue
            except ValidationError as exc:
                reason = describe_errors(exc)
                results.append(ItemError.of(where, _raw(ticket), reason, names=about))
                continue
            results.append(Parsed(position=where, record=case, raw=partial(_raw, ticket)))

        seen: set[str] = set()
        for index, user in enumerate(users, start=1):
            if not isinstance(user, dict):
                continue
            user_id = _id(user.get("id"))
            if user_id is None or user_id not in requesters or user_id in seen:
                continue
            seen.add(user_id)
            if str(user.get("role") or "").lower() in STAFF_ROLES:
                continue
            where = f"{position} user {index}"
            about = _user_names(source, user_id)
            try:
                person = _person(user, options, source, requesters[user_id])
            except Rejected as exc:
                results.append(ItemError.of(where, _raw(user), str(exc), names=about))
                continue
            except ValidationError as exc:
                reason = describe_errors(exc)
                results.append(ItemError.of(where, _raw(user), reason, names=about))
                continue
            results.append(Parsed(position=where, record=person, raw=partial(_raw, user)))
        return results, after_cursor, end_of_stream


# --- Tickets ----------------------------------------------------------------------------------


def _case(
    ticket: Mapping[str, Any],
    users: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, Mapping[str, Any]],
    options: ParseOptions,
    source: str,
) -> ServiceCase:
    """A ticket as a service case. Raises :class:`Rejected` or ``ValidationError``."""
    problems: list[str] = []
    ticket_id = _id(ticket.get("id"))
    if ticket_id is None:
        problems.append(_bad_id("id", ticket.get("id")))
    requester_id = _id(ticket.get("requester_id"))
    if requester_id is None:
        problems.append(_bad_id("requester_id", ticket.get("requester_id")))
    created_at = _timestamp(ticket, "created_at", problems, required=True)
    updated_at = _timestamp(ticket, "updated_at", problems)
    status = _status(ticket.get("status"), problems)
    priority = _priority(ticket.get("priority"), problems)

    first_response_at = solved_at = replies = None
    metric_set = metrics.get(ticket_id) if ticket_id is not None else None
    if metric_set is not None:
        replies = _replies(metric_set.get("replies"), problems)
        solved_at = _timestamp(metric_set, "solved_at", problems, prefix="metric_set.")
        if status not in RESOLVED_STATUSES:
            # The metric set keeps the last solve of a ticket reopened since: an open case has
            # no resolution yet.
            solved_at = None
        minutes = _calendar_minutes(metric_set.get("reply_time_in_minutes"))
        if minutes is not None and created_at is not None:
            try:
                first_response_at = created_at + dt.timedelta(minutes=minutes)
            except (OverflowError, ValueError):  # NaN, or past the calendar's end
                problems.append(
                    f"metric_set.reply_time_in_minutes.calendar: not a time span: {minutes}"
                )
    if problems or ticket_id is None or requester_id is None:
        raise Rejected("; ".join(problems))

    identifiers = [{"type": "external", "source": source, "value": requester_id}]
    requester = users.get(requester_id)
    if requester is not None:
        identifiers += _contact_points(requester, options)
    tags = [str(tag) for tag in _listed_values(ticket.get("tags"))]
    return ServiceCase.model_validate(
        {
            "source": source,
            "external_id": ticket_id,
            "occurred_at": created_at,
            "updated_at": updated_at,
            "identifiers": _identifiers(identifiers, options.default_region),
            "channel": _channel(ticket.get("via")),
            "status": status,
            "priority": priority,
            "subject": _text(ticket.get("subject"), MAX_SUBJECT),
            "description": _text(ticket.get("description"), MAX_DESCRIPTION),
            "first_response_at": first_response_at,
            "solved_at": solved_at,
            "satisfaction": _satisfaction(ticket.get("satisfaction_rating")),
            "agent_replies": replies,
            "tags": tags,
            "complaint": _is_complaint(tags, ticket.get("type"), options.complaint_tags),
        },
        context={"default_region": options.default_region},
    )


def _status(value: Any, problems: list[str]) -> str | None:
    if value is None:
        problems.append("status: missing")
        return None
    status = STATUSES.get(str(value).strip().lower())
    if status is None:
        problems.append(f"status: unknown Zendesk ticket status {shown(value)}")
    return status


def _priority(value: Any, problems: list[str]) -> str | None:
    if value is None:  # Zendesk leaves priority unset until someone sets it
        return "normal"
    priority = str(value).strip().lower()
    if priority not in PRIORITIES:
        problems.append(f"priority: unknown Zendesk ticket priority {shown(value)}")
        return None
    return priority


def _channel(via: Any) -> str:
    channel = via.get("channel") if isinstance(via, dict) else None
    if not isinstance(channel, str):
        return "other"
    return CHANNELS.get(channel.strip().lower(), "other")


def _replies(value: Any, problems: list[str]) -> int | None:
    """``metric_set.replies``: agents' public replies (what first-contact resolution counts)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        problems.append(f"metric_set.replies: not a count of replies: {shown(value)}")
        return None
    return value


def _satisfaction(rating: Any) -> str | None:
    score = rating.get("score") if isinstance(rating, dict) else None
    if isinstance(score, str) and score.strip().lower() in SATISFACTION_SCORES:
        return score.strip().lower()
    return None


def _is_complaint(tags: list[str], ticket_type: Any, complaint_tags: frozenset[str]) -> bool:
    wanted = {tag.strip().lower() for tag in complaint_tags}
    if any(tag.strip().lower() in wanted for tag in tags):
        return True
    return isinstance(ticket_type, str) and ticket_type.strip().lower() in wanted


def _opened(ticket: Mapping[str, Any]) -> dt.datetime | None:
    """When a ticket was created, if it says so readably (its own errors are reported apart)."""
    return _timestamp(ticket, "created_at", [])


def _calendar_minutes(value: Any) -> float | None:
    """``reply_time_in_minutes.calendar``: ``None`` until an agent has replied."""
    minutes = value.get("calendar") if isinstance(value, dict) else None
    if isinstance(minutes, bool) or minutes is None:
        return None
    try:
        return float(minutes)
    except (TypeError, ValueError):
        return None


# --- Users ------------------------------------------------------------------------------------


def _person(
    user: Mapping[str, Any], options: ParseOptions, source: str, first_ticket: dt.datetime | None
) -> Person:
    """A side-loaded end user as a person. Raises :class:`Rejected` or ``ValidationError``.

    A user without ``created_at`` (webhook bodies often leave it out) is dated by the earliest
    of their tickets on the page: they existed when they asked.
    """
    problems: list[str] = []
    user_id = _id(user.get("id"))
    if user_id is None:
        problems.append(_bad_id("id", user.get("id")))
    created_at = _timestamp(user, "created_at", problems, required=first_ticket is None)
    updated_at = _timestamp(user, "updated_at", problems)
    if created_at is None and first_ticket is not None:
        created_at = min(first_ticket, updated_at) if updated_at else first_ticket
    if problems or user_id is None:
        raise Rejected("; ".join(problems))
    identifiers = [{"type": "external", "source": source, "value": user_id}]
    identifiers += _contact_points(user, options)
    return Person.model_validate(
        {
            "source": source,
            "external_id": user_id,
            "occurred_at": created_at,
            "updated_at": updated_at,
            "identifiers": _identifiers(identifiers, options.default_region),
            "full_name": _text(user.get("name"), MAX_FULL_NAME),
            "language": _valid(_LANGUAGE, user.get("locale")),
            "time_zone": _time_zone(user),
        },
        context={"default_region": options.default_region},
    )


def _contact_points(user: Mapping[str, Any], options: ParseOptions) -> list[dict[str, str]]:
    """A user's e-mail, phone and (when its source is configured) external id, unchecked."""
    found = []
    for kind in ("email", "phone"):
        value = user.get(kind)
        if isinstance(value, str) and value.strip():
            found.append({"type": kind, "value": value})
    external_source = options.settings.get("user_external_id_source")
    external_id = _id(user.get("external_id"))
    if external_source and external_id is not None:
        found.append({"type": "external", "source": external_source, "value": external_id})
    return found


def _identifiers(candidates: list[dict[str, str]], region: str) -> list[Identifier]:
    """The candidates that are valid identifiers, normalised, each once. Invalid ones (a phone
    number that is no number) are dropped: the record still has Zendesk's own id."""
    identifiers: list[Identifier] = []
    keys: set[str] = set()
    for candidate in candidates:
        try:
            identifier = Identifier.model_validate(candidate, context={"default_region": region})
        except ValidationError:
            continue
        if identifier.key not in keys:
            keys.add(identifier.key)
            identifiers.append(identifier)
    return identifiers


# --- Values -----------------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    """A Zendesk id (an integer, or its text) as a string; ``None`` when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _bad_id(name: str, value: Any) -> str:
    return f"{name}: missing" if value is None else f"{name}: not an id: {_raw(value)}"


def _timestamp(
    item: Mapping[str, Any],
    name: str,
    problems: list[str],
    *,
    required: bool = False,
    prefix: str = "",
) -> dt.datetime | None:
    value = item.get(name)
    if value is None:
        if required:
            problems.append(f"{prefix}{name}: missing")
        return None
    try:
        return utc_timestamp(value)
    except ValueError as exc:
        problems.append(f"{prefix}{name}: {exc}")
        return None


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _time_zone(user: Mapping[str, Any]) -> str | None:
    """``iana_time_zone``, else ``time_zone`` when it is an IANA name or a Rails zone name, which
    Zendesk writes there (``Eastern Time (US & Canada)``, ``Copenhagen``: see
    :func:`connectors._zones.zone_of_place`). A name no zone is known by is dropped, as any
    optional detail c360 cannot read."""
    if found := _valid(_TIME_ZONE, user.get("iana_time_zone")):
        return found
    name = user.get("time_zone")
    return _valid(_TIME_ZONE, name) or (zone_of_place(name) if isinstance(name, str) else None)


def _valid(adapter: TypeAdapter[str], value: Any) -> str | None:
    """``value`` when the adapter accepts it, else ``None`` (an optional detail is dropped)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _listed(value: Any) -> list[dict[str, Any]]:
    """The objects of a side-loaded list; anything else is no list."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _listed_values(value: Any) -> list[Any]:
    return [item for item in value if item is not None] if isinstance(value, list) else []


def _user_names(source: str, user_id: str | None) -> list[str]:
    """A Zendesk user's identity key, as their person record carries it."""
    return identity_names([{"type": "external", "source": source, "value": user_id}])


def _raw(value: Any) -> str:
    try:
        return dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _json_type(value: Any) -> str:
    return {dict: "object", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)
