"""Contact points found in free text by their shape (``Masker``), not by the key they came under."""

from __future__ import annotations

from typing import Any

import pytest

from c360.auth.masking import Mask, Masker

SPAIN = Masker("ES")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call me on +34 633 44 55 66", "call me on +34•••••••66"),
        ("633 44 55 66 (mobile)", "+34•••••••66 (mobile)"),  # national, in the default region
        ("tel:+1 (650) 253-0000.", "tel:+1••••••••00."),
        ("+44 20 7946 0958", "+44••••••••58"),
        ("06 12 34 56 78", "0•••"),  # a French mobile, nationally: not valid in ES, still masked
        ("=cmd|'/Ccalc'!A0@example.com", "=•••@example.com"),  # the whole local part
        ('"john doe"@example.com', '"•••@example.com'),
        ("Contact: o'brien+news@example.ie.", "Contact: o•••@example.ie."),
        ("?email=ana%40example.com&x=1", "?email=a•••@example.com&x=1"),
        ("ip 192.168.100.200", "ip 1•••"),
    ],
)
def test_contact_points_are_masked_wherever_they_are(text: str, masked: str) -> None:
    assert SPAIN.within(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Chrome/120.0.6099.109",
        "after a complaint (case 88200)",
        "order #1001 of 2024-05-01 10:00, 2 items at 1,234.50 EUR",
        "spring_sale_2026",
        "@ana said hi",
        "",
    ],
)
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert SPAIN.within(text) == text


def test_masking_twice_changes_nothing_more() -> None:
    once = SPAIN.within("call +34 633 44 55 66 or write to ana@example.com")
    assert SPAIN.within(once) == once


def test_national_numbers_are_read_in_the_configured_region() -> None:
    assert Masker("US").within("call (650) 253-0000") == "call +1••••••••00"
    assert Masker("US").within("call 0612345678") == "call 0•••"  # by its length alone


def test_event_properties_are_masked_at_any_depth_keys_and_numbers_too() -> None:
    segment: dict[str, Any] = {
        "recipient": "ana@example.com",
        "user": {"contact": {"work": "+34 633 44 55 66"}},
        "gift_message": "call me on +34 633 44 55 66",
        "ana@example.com": True,
        "tel": 34633445566,
        "quantity": 3,
        "address": {"street": "Calle Mayor 1", "city": "Madrid"},
        "tags": ["vip", "ana@example.com"],
    }
    assert SPAIN.mask(Mask.PROPERTIES, segment) == {
        "recipient": "a•••@example.com",
        "user": {"contact": {"work": "+34•••••••66"}},
        "gift_message": "call me on +34•••••••66",
        "a•••@example.com": True,
        "tel": "+34•••••••66",  # the country code without its +, as people type it
        "quantity": 3,
        "address": {"street": "C•••", "city": "M•••"},  # a street has no shape: masked whole
        "tags": ["vip", "a•••@example.com"],
    }


def test_hostile_text_as_long_as_a_case_description_is_read_through() -> None:
    """20 000 characters that would make a backtracking pattern go quadratic: a local part
    that never ends, digits that never stop, addresses back to back."""
    assert SPAIN.within("a" * 20_000 + "@") == "a" * 20_000 + "@"  # no host: no address
    assert SPAIN.within("1 " * 10_000) == "1••• "  # one run, masked whole
    masked = SPAIN.within("x@" * 10_000)
    assert masked.count("x•••@x") == 5_000
