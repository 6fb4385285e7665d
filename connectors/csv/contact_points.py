"""``contact-points-csv``: bounces, verification results and invalid numbers."""

from __future__ import annotations

from typing import ClassVar

from connectors._values import stable_id
from connectors.csv._base import RecordData, RowConnector, choice, spelling
from connectors.csv._contact import CONTACT_CHANNEL_SYNONYMS, contact_point, point_column
from connectors.csv._rows import CsvSpec, Row
from connectors.csv._values import Values
from schemas import ContactPointStatus, Identifier, IdentifierType, RecordKind
from schemas.records import ChangeOrigin, ContactChannel, ContactPointState

_POINT_STATUS_SYNONYMS = {
    **dict.fromkeys(("valid", "deliverable", "ok", "confirmed"), "verified"),
    **dict.fromkeys(("unknown", "unconfirmed", "catch_all", "accept_all"), "unverified"),
    **dict.fromkeys(("bounce", "hard", "hard_bounce", "hardbounce", "hard_bounced"), "bounced"),
    "undeliverable": "invalid",
}
_SOFT_BOUNCES = frozenset({"soft", "soft_bounce", "softbounce", "soft_bounced"})
_UNDELIVERABLE = frozenset({ContactPointState.BOUNCED.value, ContactPointState.INVALID.value})
MAX_STATUS_REASON_CHARS = 2000
"""A contact-point status's ``reason`` (an SMTP diagnostic, a gateway's error) is cut here."""


class ContactPointsCsvConnector(RowConnector):
    """What an ESP or an SMS gateway learnt of addresses and numbers (bounces, verification
    results, invalid numbers), one row per event.

    Columns: ``event_id, occurred_at, email, phone, contact_point, channel, status, reason``;
    ``occurred_at`` and ``status`` are required. The address or number is ``contact_point``
    (which then needs its ``channel``), else the row's ``email`` or ``phone``: ``channel``
    defaults to email for an e-mail address and sms for a phone number, and says which of the
    two a row with both is about (such a row without it is an error). ``status`` is verified
    (also valid, deliverable, ok, confirmed), unverified (unknown, unconfirmed, catch-all,
    accept-all), bounced (bounce, hard, hard bounce, hardbounce) or invalid (undeliverable).
    A soft bounce (soft, soft bounce, softbounce) is a temporary failure that changes nothing
    known about the address: its row yields no record and no error.

    Each other row becomes a :class:`~schemas.ContactPointStatus` at ``occurred_at``, with
    origin ``bounce`` when bounced or invalid and ``import`` otherwise, identified by the
    e-mail address or phone number itself (and the row's other one, if valid), so that it
    joins whoever owns it; a push token or a postal address joins someone only through the
    row's ``email`` or ``phone``. Its external id is ``event_id``, else a hash of channel,
    contact point and ``occurred_at``, so a file imported again yields duplicates. ``reason``
    is cut at :data:`MAX_STATUS_REASON_CHARS`. The source is the ``source`` option (``esp``).
    """

    name: ClassVar[str] = "contact-points-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.CONTACT_POINT_STATUS,)
    default_source: ClassVar[str] = "esp"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "event_id",
            "occurred_at",
            "email",
            "phone",
            "contact_point",
            "channel",
            "status",
            "reason",
        ),
        required=("occurred_at", "status"),
        any_of=(("email", "phone", "contact_point"),),
    )

    def row_records(self, values: Values, row: Row) -> list[RecordData]:
        written = row.get("status")
        soft = written is not None and spelling(written) in _SOFT_BOUNCES
        status = None
        if not soft:
            status = choice(
                values, "status", ContactPointState, _POINT_STATUS_SYNONYMS, required=True
            )
        channel, column = self._channel(values)
        point = None
        if channel is not None and column is not None:
            point = contact_point(values, column, channel)
        identifiers = self._identifiers(values, channel, point)
        occurred_at = values.timestamp("occurred_at", required=True)
        if soft:  # checked like any row (a broken one is an error), then no status change
            return []
        reason = values.text("reason")
        data = {
            "source": values.source,
            "external_id": values.text("event_id")
            or stable_id(channel, point, occurred_at, status),
            "occurred_at": occurred_at,
            "identifiers": identifiers,
            "origin": ChangeOrigin.BOUNCE if status in _UNDELIVERABLE else ChangeOrigin.IMPORT,
            "channel": channel,
            "contact_point": point,
            "status": status,
            "reason": reason[:MAX_STATUS_REASON_CHARS] if reason else None,
        }
        return [(ContactPointStatus, data)]

    @staticmethod
    def _channel(values: Values) -> tuple[ContactChannel | None, str | None]:
        """The row's channel and the column of its contact point; ``None`` after a problem."""
        given = choice(values, "channel", ContactChannel, CONTACT_CHANNEL_SYNONYMS)
        present = {name for name in ("contact_point", "email", "phone") if name in values.values}
        if given is None:
            if "channel" in values.values:  # unknown: already a problem
                return None, None
            if "contact_point" in present:
                values.fail("channel", "missing (contact_point needs its channel)")
            elif present == {"email", "phone"}:
                values.fail("channel", "missing (the row has an e-mail and a phone: which is it?)")
            elif present:
                return (
                    (ContactChannel.EMAIL, "email")
                    if "email" in present
                    else (ContactChannel.SMS, "phone")
                )
            else:
                values.problems.append("no email, phone or contact_point")
            return None, None
        channel = ContactChannel(given)
        column = "contact_point" if "contact_point" in present else point_column(channel)
        if column is None or column not in present:
            values.fail(column or "contact_point", f"missing (needed for channel {given})")
            return channel, None
        return channel, column

    @staticmethod
    def _identifiers(
        values: Values, channel: ContactChannel | None, point: str | None
    ) -> list[Identifier]:
        """The contact point itself when it is an e-mail address or a phone number, then the
        row's other valid ones."""
        found: dict[str, Identifier] = {}
        column = None if channel is None else point_column(channel)
        if point is not None and column is not None:
            kind = IdentifierType.EMAIL if column == "email" else IdentifierType.PHONE
            own = Identifier(type=kind, value=point)
            found[own.key] = own
        for identifier in values.identifiers(("email", "phone"), required=False):
            found.setdefault(identifier.key, identifier)
        if not found and point is not None and channel is not None:
            values.problems.append(
                f"no email or phone to link the {channel.value} contact point to"
            )
        return list(found.values())
