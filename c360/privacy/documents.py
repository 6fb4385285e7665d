"""The privacy domain's typed values as stored documents and back: what :mod:`.repository`
writes and reads.

Request times are epoch milliseconds (events, deadline, completion): the embedded development
store keeps a date set on an existing document as a string, and integers order and compare the
same on both. An erasure's journal keeps its first pass's counts and done steps at
``journal.counts`` and ``journal.done`` (one field per step), and each later pass's at
``journal.again.p{n}``; ``journal.pass`` is the pass under way when there is more than one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from c360.privacy.erasure import STEP_NAMES
from c360.privacy.rules import RequestType, Status
from c360.privacy.types import (
    Delivery,
    Event,
    Extension,
    Identifier,
    Journal,
    Pass,
    PrivacyRequest,
    Scope,
)
from c360.store import Document
from schemas.identifiers import IdentifierType


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def at(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC)


def slug(step: str) -> str:
    """A step's name as a field name."""
    return step.replace(" ", "_")


_STEPS = {slug(name): name for name in STEP_NAMES}


def pass_path(number: int) -> str:
    """Where a pass's counts and done steps are kept in the request."""
    return "journal" if number == 1 else f"journal.again.p{number}"


# --- Requests ------------------------------------------------------------------------------------


def _identifier_doc(identifier: Identifier) -> Document:
    doc: Document = {
        "type": identifier.type.value,
        "value": identifier.value,
        "key": identifier.key,
    }
    if identifier.source is not None:
        doc["source"] = identifier.source
    return doc


def _identifier(doc: Mapping[str, Any]) -> Identifier:
    return Identifier(IdentifierType(doc["type"]), doc["value"], doc["key"], doc.get("source"))


def _event_doc(event: Event) -> Document:
    doc: Document = {"at_ms": ms(event.at), "actor": event.actor, "to": event.to.value}
    if event.before is not None:
        doc["from"] = event.before.value
    if event.note:
        doc["note"] = event.note
    return doc


def _event(doc: Mapping[str, Any]) -> Event:
    return Event(
        at=at(doc["at_ms"]),
        actor=doc["actor"],
        to=Status(doc["to"]),
        before=Status(doc["from"]) if "from" in doc else None,
        note=doc.get("note"),
    )


def _extension_doc(extension: Extension) -> Document:
    return {
        "months": extension.months,
        "reason": extension.reason,
        "actor": extension.actor,
        "at_ms": ms(extension.at),
    }


def _extension(doc: Mapping[str, Any]) -> Extension:
    return Extension(doc["months"], doc["reason"], doc["actor"], at(doc["at_ms"]))


def delivery_doc(delivery: Delivery) -> Document:
    return {
        "at_ms": ms(delivery.at),
        "actor": delivery.actor,
        "format": delivery.format,
        "sha256": delivery.sha256,
        "bytes": delivery.size,
        "sections": dict(delivery.sections),
        "records": dict(delivery.records),
    }


def _delivery(doc: Mapping[str, Any]) -> Delivery:
    return Delivery(
        at=at(doc["at_ms"]),
        actor=doc["actor"],
        format=doc["format"],
        sha256=doc["sha256"],
        size=int(doc["bytes"]),
        sections={k: int(v) for k, v in doc.get("sections", {}).items()},
        records={k: int(v) for k, v in doc.get("records", {}).items()},
    )


def scope_doc(scope: Scope) -> Document:
    return {
        "profiles": list(scope.profiles),
        "keys": list(scope.keys),
        "people": list(scope.people),
        "pattern": scope.pattern,
        "records": list(scope.records),
        "dead_letters": list(scope.dead_letters),
        "names": list(scope.names),
    }


def _scope(doc: Mapping[str, Any]) -> Scope:
    return Scope(
        profiles=tuple(doc.get("profiles", ())),
        keys=tuple(doc.get("keys", ())),
        people=tuple(doc.get("people", ())),
        pattern=doc.get("pattern", ""),
        records=tuple(doc.get("records", ())),
        dead_letters=tuple(doc.get("dead_letters", ())),
        names=tuple(doc.get("names", ())),
    )


def _pass(doc: Mapping[str, Any]) -> Pass:
    counts = {_STEPS[k]: int(v) for k, v in doc.get("counts", {}).items() if k in _STEPS}
    done = frozenset(_STEPS[k] for k, v in doc.get("done", {}).items() if v and k in _STEPS)
    return Pass(counts, done)


def _journal(doc: Mapping[str, Any]) -> Journal:
    scope = doc.get("scope")
    later = doc.get("again", {})
    passes = [_pass(doc)]
    passes += [_pass(later.get(f"p{n}", {})) for n in range(2, doc.get("pass", 1) + 1)]
    return Journal(None if scope is None else _scope(scope), tuple(passes))


def request_doc(request: PrivacyRequest) -> Document:
    """A new request as stored (its journal empty: the steps write their counts themselves)."""
    return {"_id": request.id, **request_fields(request), "journal": _journal_fields(request)}


def _journal_fields(request: PrivacyRequest) -> Document:
    journal: Document = {"counts": {}, "done": {}}
    if request.journal.scope is not None:
        journal["scope"] = scope_doc(request.journal.scope)
    return journal


def request_fields(request: PrivacyRequest) -> Document:
    """The fields a change of the request sets (or unsets when absent here): all but its id
    and the journal's counts and done steps, which the steps write one by one."""
    doc: Document = {
        "type": request.type.value,
        "status": request.status.value,
        "received_ms": ms(request.received_at),
        "deadline_ms": ms(request.deadline),
        "extension_months": request.extension_months,
        "extensions": [_extension_doc(e) for e in request.extensions],
        "events": [_event_doc(e) for e in request.events],
        "version": request.version,
    }
    if request.identifiers is not None:
        doc["identifiers"] = [_identifier_doc(i) for i in request.identifiers]
    if request.identifier_hashes:
        doc["identifier_hashes"] = list(request.identifier_hashes)
    if request.completed_at is not None:
        doc["completed_ms"] = ms(request.completed_at)
    if request.error is not None:
        doc["error"] = request.error
    if request.completes is not None:
        doc["completes"] = request.completes
    if request.deliveries:
        doc["deliveries"] = [delivery_doc(d) for d in request.deliveries]
    return doc


def journal_fields(request: PrivacyRequest) -> Document:
    """The journal's fields a change sets (dotted): whom it found, and the pass under way with
    an empty place for that pass's counts."""
    journal = request.journal
    doc: Document = {}
    if journal.scope is not None:
        doc["journal.scope"] = scope_doc(journal.scope)
    if journal.current > 1:
        doc["journal.pass"] = journal.current
        doc[pass_path(journal.current)] = {"counts": {}, "done": {}}
    return doc


def request_of(doc: Mapping[str, Any]) -> PrivacyRequest:
    identifiers = doc.get("identifiers")
    return PrivacyRequest(
        id=doc["_id"],
        type=RequestType(doc["type"]),
        status=Status(doc["status"]),
        received_at=at(doc["received_ms"]),
        deadline=at(doc["deadline_ms"]),
        identifiers=None if identifiers is None else tuple(_identifier(i) for i in identifiers),
        identifier_hashes=tuple(doc.get("identifier_hashes", ())),
        extension_months=int(doc.get("extension_months", 0)),
        extensions=tuple(_extension(e) for e in doc.get("extensions", ())),
        events=tuple(_event(e) for e in doc.get("events", ())),
        completed_at=at(doc["completed_ms"]) if "completed_ms" in doc else None,
        error=doc.get("error"),
        journal=_journal(doc.get("journal", {})),
        completes=doc.get("completes"),
        deliveries=tuple(_delivery(d) for d in doc.get("deliveries", ())),
        version=int(doc.get("version", 0)),
    )
