"""What consent and contact-point exports share: channel names and contact points."""

from __future__ import annotations

from connectors.csv._values import Values
from schemas.identifiers import normalize_email, normalize_phone
from schemas.records import PHONE_CHANNELS, ContactChannel

CONTACT_CHANNEL_SYNONYMS = {
    "mail": "email",
    "e_mail": "email",
    "text": "sms",
    "text_message": "sms",
    "call": "phone",
    "voice": "phone",
    "telephone": "phone",
    "whats_app": "whatsapp",
    "post": "postal",
    "letter": "postal",
    "direct_mail": "postal",
    "push_notification": "push",
}


def point_column(channel: ContactChannel) -> str | None:
    """The identifier column that holds a channel's address or number, if one does."""
    if channel is ContactChannel.EMAIL:
        return "email"
    if channel in PHONE_CHANNELS:
        return "phone"
    return None


def contact_point(values: Values, name: str, channel: ContactChannel) -> str | None:
    """Column ``name`` as a contact point of ``channel``, normalised as the record's will be
    (so that ids derived from it are stable); ``None``, and a problem, when it is invalid."""
    value = values.text(name)
    if value is None:
        return None
    try:
        if channel is ContactChannel.EMAIL:
            return normalize_email(value)
        if channel in PHONE_CHANNELS:
            return normalize_phone(value, values.options.default_region)
    except ValueError as exc:
        values.fail(name, str(exc))
        return None
    return value
