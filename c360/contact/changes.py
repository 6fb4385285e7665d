"""Rules of a change to contact data, with no I/O: which origins a caller may claim, which
instants may be asked about, and how a change names the profile's contact point (whose it must
be, which identifier the record carries, what an unmerge follows)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from c360.contact.types import Actor, Confirmation
from c360.errors import InvalidInput, NotFound
from c360.instants import askable, zoned
from c360.profiles.types import ProfileIdentifier
from schemas import CanonicalRecord, describe_errors, parse_record
from schemas.identifiers import identity_key
from schemas.quoting import shown
from schemas.records import CONTACT_POINT_TYPES, MAX_CAP_DAYS, ChangeOrigin, RecordKind

SOURCE = "c360"  # the source of the records c360 itself makes

CALLER_ORIGINS = frozenset({ChangeOrigin.AGENT, ChangeOrigin.PREFERENCE_CENTRE})
"""Origins a caller may claim for a change; the others come only from their own flows (the
unsubscribe link, the confirmation link, the GPC signal), and import is a connector's (it would
skip the double opt-in)."""
STATUS_ORIGINS = CALLER_ORIGINS | {ChangeOrigin.BOUNCE}
"""A contact point's status may also be a bounce a caller reports."""


class ConfirmationRefused(InvalidInput):
    status_code = 410


class UnknownConfirmation(NotFound):
    pass


def check_claim(origin: ChangeOrigin, allowed: Iterable[ChangeOrigin] = CALLER_ORIGINS) -> None:
    if origin not in allowed:
        names = ", ".join(sorted(o.name for o in allowed))
        raise InvalidInput(f"origin {origin.name} comes only from its own flow; use one of {names}")


def utc_instant(at: dt.datetime) -> dt.datetime:
    """The instant a question is asked for, in UTC; a time without a zone is refused rather
    than read in the server's."""
    return askable(zoned(at)).astimezone(dt.UTC)


def contacts_since(at: dt.datetime) -> dt.datetime:
    """How far back the contact log is read: the longest window a cap may have."""
    return at - dt.timedelta(days=MAX_CAP_DAYS)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_usable(confirmation: Confirmation | None, now: dt.datetime) -> Confirmation:
    if confirmation is None:
        raise UnknownConfirmation("this confirmation link is not known")
    if confirmation.used_at is not None:
        raise ConfirmationRefused(
            f"this confirmation link was already used ({confirmation.used_at:%Y-%m-%d %H:%M} UTC)"
        )
    if confirmation.expires_at <= now:
        raise ConfirmationRefused(
            f"this confirmation link expired at {confirmation.expires_at:%Y-%m-%d %H:%M} UTC"
        )
    return confirmation


def _identity_type(channel: str) -> str | None:
    kind = CONTACT_POINT_TYPES.get(channel)
    return None if kind is None else kind.value


def only_point(identities: Sequence[ProfileIdentifier], channel: str) -> str:
    """The profile's one contact point of the channel; refused when it has none or several."""
    kind = _identity_type(channel)
    points = [i.value for i in identities if i.type == kind]
    if len(points) != 1:
        found = "no" if not points else f"{len(points)}"
        raise InvalidInput(f"name the contact point: the profile has {found} {channel} addresses")
    return points[0]


def check_owned(record: CanonicalRecord, identities: Sequence[ProfileIdentifier]) -> None:
    """An e-mail address or number named in a change must be one of the profile's."""
    point, channel = getattr(record, "contact_point", None), getattr(record, "channel", None)
    kind = _identity_type(str(channel)) if channel is not None else None
    if point is None or kind is None:
        return
    if not any(i.type == kind and i.value == point for i in identities):
        raise InvalidInput(f"{shown(point)} is not one of the profile's {channel} contact points")


def identifiers_for(
    data: Mapping[str, object], identities: Sequence[ProfileIdentifier]
) -> list[dict[str, str]]:
    """The profile's identifier the change is about (its contact point), else its first."""
    point, kind = data.get("contact_point"), _identity_type(str(data.get("channel", "")))
    if point is not None and kind is not None:
        return [{"type": kind, "value": str(point)}]
    if not identities:
        raise InvalidInput("the profile has no identifier to attach the change to")
    first = identities[0]
    identifier = {"type": first.type.value, "value": first.value}
    if first.source:
        identifier["source"] = first.source
    return [identifier]


def link_key(record: CanonicalRecord, identities: Sequence[ProfileIdentifier]) -> str | None:
    """What an unmerge follows: the identity of the contact point, when the profile owns it."""
    point, channel = getattr(record, "contact_point", None), getattr(record, "channel", None)
    kind = CONTACT_POINT_TYPES.get(str(channel)) if channel is not None else None
    if point is None or kind is None:
        return None
    key = identity_key(kind, point)
    return key if any(i.key == key for i in identities) else None


def change_record(
    kind: RecordKind,
    data: Mapping[str, Any],
    identities: Sequence[ProfileIdentifier],
    actor: Actor | None,
    now: dt.datetime,
    external_id: str | None = None,
    default_region: str | None = None,
) -> CanonicalRecord:
    """A canonical record of a change made through c360, validated as any connector's would
    be: its source is c360, its identifier the contact point it is about (else the profile's
    first), its origin, actor and evidence those of who asked."""
    occurred = data.get("occurred_at", now)
    payload: dict[str, Any] = {
        **{k: v for k, v in data.items() if v is not None},
        "kind": kind.value,
        "source": SOURCE,
        "external_id": external_id or uuid.uuid4().hex,
        "occurred_at": occurred,
        "identifiers": identifiers_for(data, identities),
    }
    if actor is not None:
        payload["origin"] = actor.origin.value
        if actor.name is not None:
            payload["actor"] = actor.name
        if actor.evidence is not None:
            payload["evidence"] = actor.evidence
    try:
        return parse_record(payload, default_region=default_region)
    except ValidationError as exc:
        raise InvalidInput(describe_errors(exc)) from None
