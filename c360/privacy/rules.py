"""Privacy requests' rules, free of I/O: statuses and their transitions, deadlines, the keyed
hashes that stand for erased identifiers, and the signature of an erasure's receipt."""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import enum
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from c360.errors import Conflict, InvalidInput

# The requests' states are read by the command line's parser: cryptography (receipts),
# phonenumbers and the identifiers' schemas are imported by the rules that use them.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class RequestType(enum.StrEnum):
    ACCESS = "access"  # GDPR art. 15, CCPA's right to know
    ERASURE = "erasure"  # GDPR art. 17, CCPA's right to delete


class Status(enum.StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.VERIFIED, Status.REJECTED}),
    Status.VERIFIED: frozenset({Status.IN_PROGRESS, Status.REJECTED}),
    # A run that failed is run again and continues where it stopped.
    Status.IN_PROGRESS: frozenset({Status.COMPLETED, Status.FAILED, Status.IN_PROGRESS}),
    Status.FAILED: frozenset({Status.IN_PROGRESS}),
    Status.COMPLETED: frozenset(),
    Status.REJECTED: frozenset(),
}
OPEN = frozenset({Status.RECEIVED, Status.VERIFIED, Status.IN_PROGRESS, Status.FAILED})
"""Statuses of a request still owed an answer: those that can be overdue."""


class TransitionRefused(Conflict):
    """The request is not in a status from which that step is possible."""


class ExtensionRefused(Conflict):
    """The deadline cannot be extended any further."""


UNFINISHED = (Status.RECEIVED, Status.VERIFIED, Status.IN_PROGRESS, Status.FAILED)
"""Statuses of a request still to run to its end."""


def check_liftable(
    request_id: str,
    kind: RequestType,
    status: Status,
    completes: str | None,
    completing: Sequence[str],
) -> None:
    """An erasure is lifted whole once completed, by its own id, and with no request completing
    it still to run (``completing``): that one would erase the person once back."""
    if completes is not None:
        raise TransitionRefused(f"this request completes erasure {completes}: lift that one")
    if kind is not RequestType.ERASURE or status is not Status.COMPLETED:
        raise TransitionRefused(
            f"only a completed erasure's suppressions are lifted whole; this is an {kind} "
            f"request, {status}"
        )
    check_completed(request_id, completing)


def check_completed(request_id: str, completing: Sequence[str]) -> None:
    """Nothing of an erasure is lifted while a request completing it is still to run
    (``completing``): it would erase the person once back."""
    if completing:
        raise TransitionRefused(
            f"erasure {request_id} is still being completed by {', '.join(completing)}: run "
            "that first (c360 privacy run), then lift it"
        )


def check_transition(current: Status, wanted: Status) -> None:
    if wanted not in TRANSITIONS[current]:
        hint = ""
        if current is Status.RECEIVED and wanted is Status.IN_PROGRESS:
            hint = " (verify who the person is first)"
        raise TransitionRefused(
            f"a request that is {current.value} cannot become {wanted.value}{hint}"
        )


def request_id_of(reference: str) -> str:
    """The id of the request a sender's own ``reference`` names (24 hex digits, as a drawn id):
    every delivery of one reference makes the same id, so the store keeps one request."""
    return hashlib.sha256(f"privacy-request:{reference}".encode()).hexdigest()[:24]


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day ``months`` calendar months later, or the month's last day when it has no
    such day (31 January + 1 month = 28 or 29 February), as the GDPR's "one month" is read."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def deadline(received: dt.datetime, months: int, extension_months: int) -> dt.datetime:
    return add_months(received, months + extension_months)


def check_extension(extended: int, more: int, most: int, reason: str) -> None:
    """A deadline is extended by whole months, ``most`` in all, and always with a reason."""
    if not reason.strip():
        raise InvalidInput("an extension needs its reason (it is told to the person)")
    if more < 1:
        raise InvalidInput("an extension is one month or more")
    if extended + more > most:
        raise ExtensionRefused(
            f"the deadline can be extended by {most} months in all; "
            f"{extended} already, {more} more asked"
        )


def keyed_hash(key: bytes, text: str) -> str:
    """What stands for an erased identifier or record: HMAC-SHA256 under the server's secret,
    so the list cannot be reversed by hashing guessed addresses without that secret."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def derived_key(secret: str, purpose: str) -> bytes:
    """One key per use of the privacy secret (suppressions, tombstones, receipts)."""
    return hmac.new(secret.encode(), f"c360 privacy {purpose}".encode(), hashlib.sha256).digest()


def canonical_json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _signing_key(secret: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(derived_key(secret, "receipts"))


def public_key(secret: str) -> str:
    """The receipts' verifying key (Ed25519, base64): anyone holding it can check a receipt."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = _signing_key(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(secret: str, body: Mapping[str, Any]) -> str:
    """An Ed25519 signature (base64) over the body's canonical JSON."""
    return base64.b64encode(_signing_key(secret).sign(canonical_json(body))).decode()


def verify(verifying_key: str, body: Mapping[str, Any], signature: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(verifying_key))
    try:
        key.verify(base64.b64decode(signature), canonical_json(body))
    except Exception:  # cryptography's InvalidSignature, or a malformed one
        return False
    return True


_SEPARATORS = r"[\s().\-/]*"


def text_patterns(emails: Iterable[str], phones: Iterable[str], others: Iterable[str]) -> str:
    """One regular expression that finds the identifiers in free text as sources write them:
    an e-mail address in any case, whole (not juliana@… for ana@…, nor ana@example.com.au); a
    phone number's national digits with any separators, with or without its country code, not
    inside a longer number; other identifiers whole, not inside a longer word."""
    parts = [rf"(?<![\w.+-]){re.escape(e)}(?![\w-]|\.\w)" for e in emails]
    for phone in phones:
        digits = phone.lstrip("+")
        national = _national_digits(phone)
        for run in {digits, national}:
            if len(run) >= 6:
                parts.append(rf"(?<!\d){_SEPARATORS.join(re.escape(d) for d in run)}(?!\d)")
    parts += [rf"(?<![\w]){re.escape(o)}(?![\w])" for o in others if len(o) >= 4]
    return "(?i)(?:" + "|".join(parts) + ")" if parts else ""


def key_pattern(keys: Iterable[str], *, contacts_only: bool = False) -> str:
    """The text pattern of these identity keys' values (:func:`text_patterns`). With
    ``contacts_only``, their e-mail addresses and phone numbers alone: what another person's
    text cannot hold by chance, where a customer id of four digits is also a postcode, an
    amount or another source's id (a rejected item names ids by ``names`` instead)."""
    from schemas.identifiers import split_identity_key

    values: dict[str, set[str]] = {"email": set(), "phone": set(), "other": set()}
    for key in keys:
        kind, value, _ = split_identity_key(key)
        values[kind.value if kind.value in ("email", "phone") else "other"].add(value)
    others = () if contacts_only else sorted(values["other"])
    return text_patterns(sorted(values["email"]), sorted(values["phone"]), others)


ERASED_NOTE = "(erased: it named the person)"


def unnamed(text: str | None, *patterns: str) -> str | None:
    """A note or reason as kept once the person is erased: :data:`ERASED_NOTE` where it names
    them (by any of the text ``patterns``: of their identifiers, of their names), else as it
    is."""
    if text and any(p and re.search(p, text) for p in patterns):
        return ERASED_NOTE
    return text


def name_pattern(names: Iterable[str]) -> str:
    """One regular expression that finds these names whole in free text, in any case: what
    the notes on a person's own requests call them by ("called Xavier back"). Only for those
    notes: a name is no identifier, and another person's text may hold it."""
    words = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)
    parts = [rf"(?<!\w){re.escape(w)}(?!\w)" for w in words]
    return "(?i)(?:" + "|".join(parts) + ")" if parts else ""


def _national_digits(e164: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")
    return str(number.national_number)
