"""``consent-csv``: consent and preference changes from an ESP or a CRM preference centre."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from connectors._values import stable_id
from connectors.csv._base import RecordData, RowConnector, choice, spelling
from connectors.csv._contact import CONTACT_CHANNEL_SYNONYMS, contact_point, point_column
from connectors.csv._rows import CsvSpec, Row
from connectors.csv._values import FALSE_SPELLINGS, PERSON_IDENTIFIERS, TRUE_SPELLINGS, Values
from schemas import ConsentChange, Identifier, PreferenceChange, RecordKind
from schemas.quoting import shown
from schemas.records import (
    ALL_PURPOSES,
    PURPOSE_PATTERN,
    ChangeOrigin,
    ConsentStatus,
    ContactChannel,
)

_CONSENT_STATUS_SYNONYMS = {
    **dict.fromkeys(TRUE_SPELLINGS | {"opt_in", "optin", "subscribed", "granted"}, "opted_in"),
    **dict.fromkeys(
        FALSE_SPELLINGS | {"opt_out", "optout", "unsubscribed", "revoked", "withdrawn"},
        "opted_out",
    ),
    "unconfirmed": "pending",
}
_NO_CHANNEL = frozenset({"none", "no_preference"})
"""``preferred_channel`` values that remove the preferred channel for the purpose."""
_PURPOSE = re.compile(PURPOSE_PATTERN)
_CONSENT_FIELDS = ("status", "channel", "contact_point")
_PREFERENCE_FIELDS = ("do_not_contact", "do_not_contact_reason", "preferred_channel")

DEFAULT_PURPOSE = "marketing"


def _purpose(values: Values) -> str | None:
    value = values.text("purpose")
    if value is None:
        return DEFAULT_PURPOSE
    key = spelling(value)
    if not _PURPOSE.match(key):
        values.fail(
            "purpose", f"{shown(value)} is not a purpose name (a letter, then letters, digits or _)"
        )
        return None
    return key


class ConsentCsvConnector(RowConnector):
    """Consent and preference changes, one row per change: an ESP's or a CRM preference
    centre's export.

    Columns: ``change_id, changed_at, customer_id, email, phone, channel, purpose, status,
    contact_point, evidence, actor, do_not_contact, do_not_contact_reason, preferred_channel``;
    ``changed_at`` and one valid ``email``, ``phone`` or ``customer_id`` are required. A row
    yields:

    - a :class:`~schemas.ConsentChange` when it has a ``status``, ``channel`` or
      ``contact_point``; then ``status`` and ``channel`` are both required. ``status`` is
      opted_in (also subscribed, opt-in, yes, y, true, 1, granted), opted_out (unsubscribed,
      opt-out, no, n, false, 0, revoked, withdrawn) or pending (unconfirmed). ``channel`` is
      email, sms, phone, whatsapp, postal or push; ``purpose`` defaults to ``marketing``
      (``all``: the whole channel). ``contact_point`` defaults to the row's ``email`` on the
      email channel and its ``phone`` on sms, phone and whatsapp; without one the change is
      for the whole channel. An invalid address or number rejects the row: the change is never
      silently widened to the whole channel;
    - a :class:`~schemas.PreferenceChange` when it has ``do_not_contact`` (true/false, yes/no,
      1/0; true needs a ``do_not_contact_reason``) or ``preferred_channel`` (the channel asked
      for the row's ``purpose``, which cannot be ``all``; ``none`` removes it);
    - both, the consent change first, when it has both; a row with neither is an error.

    A row is all or nothing: one bad value rejects it with none of its records. Every record
    happened at the row's ``changed_at`` (which change wins is the store's fold, by time), has
    origin ``import`` and carries the row's ``evidence`` and ``actor``. Its external id is
    ``change_id`` (a row's two records share it; their kinds tell them apart), else a hash of
    the row's identifiers, what it changes and ``changed_at``, so a file imported again yields
    duplicates. ``customer_id`` is scoped by the source (option ``source``, default ``crm``).
    """

    name: ClassVar[str] = "consent-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (
        RecordKind.CONSENT_CHANGE,
        RecordKind.PREFERENCE_CHANGE,
    )
    default_source: ClassVar[str] = "crm"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "change_id",
            "changed_at",
            *PERSON_IDENTIFIERS,
            "channel",
            "purpose",
            "status",
            "contact_point",
            "evidence",
            "actor",
            *_PREFERENCE_FIELDS,
        ),
        required=("changed_at",),
        any_of=(PERSON_IDENTIFIERS, ("status", "do_not_contact", "preferred_channel")),
    )

    def row_records(self, values: Values, row: Row) -> list[RecordData]:
        identifiers = values.identifiers(PERSON_IDENTIFIERS)
        changed_at = values.timestamp("changed_at", required=True)
        purpose = _purpose(values)
        change_id = values.text("change_id")
        common = {
            "source": values.source,
            "occurred_at": changed_at,
            "identifiers": identifiers,
            "origin": ChangeOrigin.IMPORT,
            "actor": values.text("actor"),
            "evidence": values.text("evidence"),
        }
        subject = (",".join(sorted(i.key for i in identifiers)), changed_at)
        records: list[RecordData] = []
        if any(name in row.values for name in _CONSENT_FIELDS):
            consent = self._consent(values, identifiers, purpose)
            derived = stable_id(
                *subject, consent["channel"], purpose, consent["contact_point"], consent["status"]
            )
            records.append(
                (ConsentChange, {**common, **consent, "external_id": change_id or derived})
            )
        if any(name in row.values for name in _PREFERENCE_FIELDS):
            preference = self._preference(values, purpose)
            said = json.dumps(preference, sort_keys=True, default=str)  # what it sets, too
            derived = stable_id(*subject, said, purpose)
            records.append(
                (PreferenceChange, {**common, **preference, "external_id": change_id or derived})
            )
        if not records:
            values.problems.append(
                "nothing to import: no status, do_not_contact or preferred_channel"
            )
        return records

    @staticmethod
    def _consent(
        values: Values, identifiers: list[Identifier], purpose: str | None
    ) -> dict[str, Any]:
        given = choice(values, "channel", ContactChannel, CONTACT_CHANNEL_SYNONYMS, required=True)
        status = choice(values, "status", ConsentStatus, _CONSENT_STATUS_SYNONYMS, required=True)
        point = None
        if given is not None:
            channel = ContactChannel(given)
            explicit = "contact_point" in values.values
            column = "contact_point" if explicit else point_column(channel)
            # With no valid identifier left, that problem already names the invalid address.
            if column is not None and (identifiers or explicit):
                point = contact_point(values, column, channel)
        return {"channel": given, "purpose": purpose, "status": status, "contact_point": point}

    @staticmethod
    def _preference(values: Values, purpose: str | None) -> dict[str, Any]:
        preference: dict[str, Any] = {}
        active = values.flag("do_not_contact")
        reason = values.text("do_not_contact_reason")
        if active is not None:
            if active and reason is None:
                values.fail("do_not_contact_reason", "missing (do_not_contact is true)")
            preference["do_not_contact"] = {"active": active, "reason": reason}
        elif reason is not None and "do_not_contact" not in values.values:
            values.fail("do_not_contact", "missing (do_not_contact_reason is given)")
        preferred = values.text("preferred_channel")
        if preferred is not None:
            if purpose == ALL_PURPOSES:
                values.fail("purpose", "'all' has no preferred channel; name one purpose")
            channel = (
                None
                if spelling(preferred) in _NO_CHANNEL
                else choice(values, "preferred_channel", ContactChannel, CONTACT_CHANNEL_SYNONYMS)
            )
            if purpose is not None:
                preference["preferred_channels"] = {purpose: channel}
        return preference
