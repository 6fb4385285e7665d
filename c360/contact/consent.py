"""A profile's effective consent, folded from its consent-change records.

Consent is never overwritten: each change is a record (from a connector, or later from the
preference centre and agents), and the effective state is a fold over the records the profile
holds. So a merge can never widen consent and an unmerge restores each side exactly: whatever
a side said stays in the fold, and the rules below decide.

Per channel, contact point and purpose, the latest decisive change (by when it happened, ties
to the higher record id) wins; that is what "an opt-out survives unless a newer explicit opt-in
exists for the same contact point and purpose" means once all history is kept. Two more rules
keep the fold from ever widening consent:

- A change for a whole channel (no contact point) that is an opt-out applies to every contact
  point of that channel when it is the newer; a channel-wide opt-in never overrides an opt-out
  given for one contact point.
- ``pending`` (a double opt-in was sent) is not consent: it does not replace an earlier opt-in
  or opt-out, it is only reported next to it until the confirmation arrives.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from c360.records.types import Record

OPTED_OUT, PENDING = "opted_out", "pending"

ConsentKey = tuple[str, str | None, str]  # (channel, contact point or None = channel-wide, purpose)


@dataclass(frozen=True)
class ConsentState:
    channel: str
    contact_point: str | None
    purpose: str
    status: str  # opted_in | opted_out | pending (pending only when nothing decisive came first)
    since: dt.datetime
    source: str
    record_id: str
    evidence: str | None = None
    pending_since: dt.datetime | None = None  # a double opt-in is under way
    origin: str = "import"  # how the deciding change came about (ChangeOrigin)
    actor: str | None = None  # who recorded it: an agent, an API key's name


def change_order(record: Record) -> tuple[dt.datetime, str]:
    """Changes apply in the order they happened; at the same instant, by record id (so the
    outcome never depends on arrival order)."""
    return record.occurred_at, record.id


def fold_consent(changes: Iterable[Record]) -> list[ConsentState]:
    """``changes``: the profile's consent-change records; returns one state per channel,
    contact point and purpose, sorted."""
    latest: dict[ConsentKey, ConsentState] = {}
    for record in sorted(changes, key=change_order):
        data = record.payload
        key: ConsentKey = (data["channel"], data.get("contact_point"), data["purpose"])
        state = ConsentState(
            channel=key[0],
            contact_point=key[1],
            purpose=key[2],
            status=data["status"],
            since=record.occurred_at,
            source=record.source,
            record_id=record.id,
            evidence=data.get("evidence"),
            origin=data.get("origin", "import"),
            actor=data.get("actor"),
        )
        current = latest.get(key)
        if state.status == PENDING and current is not None and current.status != PENDING:
            state = dataclasses.replace(current, pending_since=record.occurred_at)
        latest[key] = state
    return [_applied(state, latest) for _, state in sorted(latest.items(), key=_sort_key)]


def _applied(state: ConsentState, latest: dict[ConsentKey, ConsentState]) -> ConsentState:
    """A contact point's state once a newer channel-wide opt-out is taken into account."""
    if state.contact_point is None:
        return state
    wide = latest.get((state.channel, None, state.purpose))
    if wide is not None and wide.status == OPTED_OUT and wide.since > state.since:
        return dataclasses.replace(wide, contact_point=state.contact_point)
    return state


def _sort_key(item: tuple[ConsentKey, ConsentState]) -> tuple[str, str, str]:
    channel, point, purpose = item[0]
    return channel, point or "", purpose
