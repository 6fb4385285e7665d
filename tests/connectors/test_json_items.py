"""``json_items``: every JSON shape sources use, streamed, and hostile input refused per item."""

from __future__ import annotations

import io
from typing import Any

import pytest

from connectors._json import MAX_DEPTH, MAX_DIGITS, json_items


def items(
    data: bytes, wrappers: tuple[str, ...] = ("orders",)
) -> list[tuple[str, Any, str | None]]:
    return [(i.position, i.value, i.error) for i in json_items(io.BytesIO(data), wrappers)]


class TestShapes:
    def test_json_lines_with_blank_lines_and_a_wrapped_line(self) -> None:
        data = b'{"a": 1}\n\n{"orders": [{"a": 2}, {"a": 3}]}\r\n{"a": 4}\n'
        assert items(data) == [
            ("line 1", {"a": 1}, None),
            ("line 3 item 1", {"a": 2}, None),
            ("line 3 item 2", {"a": 3}, None),
            ("line 4", {"a": 4}, None),
        ]

    def test_array(self) -> None:
        assert items(b' [{"a": 1}, {"a": 2.50}]') == [
            ("item 1", {"a": 1}, None),
            ("item 2", {"a": __import__("decimal").Decimal("2.50")}, None),
        ]

    def test_pretty_printed_wrapper_streams_its_list(self) -> None:
        data = b'{\n  "count": 2,\n  "orders": [\n    {"a": 1},\n    {"a": 2}\n  ]\n}\n'
        assert items(data) == [("item 1", {"a": 1}, None), ("item 2", {"a": 2}, None)]

    def test_pretty_printed_single_document_is_one_item(self) -> None:
        data = b'{\n  "id": 7,\n  "line_items": [\n    {"sku": "A"}\n  ]\n}\n'
        assert items(data) == [("item 1", {"id": 7, "line_items": [{"sku": "A"}]}, None)]

    def test_without_wrappers_a_document_is_one_item(self) -> None:
        data = b'{\n  "tickets": [1, 2]\n}\n'
        assert items(data, ()) == [("document 1", {"tickets": [1, 2]}, None)]

    @pytest.mark.parametrize(
        "data",
        [
            b'{"a": 1}\n{"a": 2}\n',
            b'[{"a": 1}, {"a": 2}]',
            b'{\n  "orders": [\n    {"a": 1},\n    {"a": 2}\n  ]\n}\n',
        ],
        ids=["lines", "array", "pretty-printed"],
    )
    def test_a_byte_order_mark_opening_the_input_is_no_item(self, data: bytes) -> None:
        # RFC 8259 lets a reader ignore it; Windows tools write it.
        assert items(b"\xef\xbb\xbf" + data) == items(data)
        assert [value for _, value, _ in items(data)] == [{"a": 1}, {"a": 2}]

    def test_empty_input_has_no_items(self) -> None:
        assert items(b"") == []
        assert items(b"[]") == []


class TestBrokenInput:
    def test_a_broken_first_line_does_not_hide_the_rest(self) -> None:
        assert items(b'{"a": \n{"a": 2}\n') == [
            ("line 1", None, "invalid JSON: Expecting value at column 7"),
            ("line 2", {"a": 2}, None),
        ]

    def test_bad_bytes_are_reported_on_their_line(self) -> None:
        result = items(b'{"a": "\xff"}\n{"a": 2}\n')
        assert result[0][0] == "line 1"
        assert result[0][2] is not None
        assert result[0][2].startswith("not UTF-8: invalid start byte at byte 7")
        assert result[1] == ("line 2", {"a": 2}, None)

    def test_a_truncated_array_keeps_what_came_before(self) -> None:
        assert items(b'[{"a": 1}, {"a":') == [
            ("item 1", {"a": 1}, None),
            ("after item 1", None, "invalid JSON: parse error: premature EOF"),
        ]


class TestHostileInput:
    @pytest.mark.parametrize("shape", ["array", "wrapped"])
    def test_a_huge_number_is_refused_not_a_crash(self, shape: str) -> None:
        number = b"1" * (MAX_DIGITS + 500)
        data = b"[" + number + b"]" if shape == "array" else b'{\n"orders": [' + number + b"]}"
        assert items(data) == [
            ("after item 0", None, f"invalid JSON: a number longer than {MAX_DIGITS} digits")
        ]

    def test_a_huge_number_on_a_line_rejects_that_line_only(self) -> None:
        data = b'{"a": ' + b"9" * 5000 + b'}\n{"a": 1}\n'
        result = items(data)
        assert result[0][0] == "line 1"
        assert result[0][2] is not None
        assert result[0][2].startswith("unreadable JSON: Exceeds the limit")
        assert result[1] == ("line 2", {"a": 1}, None)

    def test_deep_nesting_is_refused(self) -> None:
        assert items(b"[" * 100_000) == [
            ("after item 0", None, f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
        ]

    def test_deep_nesting_on_a_line_rejects_that_line_only(self) -> None:
        data = b'{"a": 1}\n{"a": ' + b"[" * 100_000 + b'}\n{"a": 3}\n'
        result = items(data)
        assert [r[0] for r in result] == ["line 1", "line 2", "line 3"]
        assert result[1][2] is not None
        assert "recursion" in result[1][2]

    def test_a_lone_surrogate_is_read_as_it_is(self) -> None:
        # The ingest check refuses the record holding it (tests/ingest/test_storable.py).
        assert items(b'{"a": "x\\ud800"}\n{"a": 1}\n') == [
            ("line 1", {"a": "x\ud800"}, None),
            ("line 2", {"a": 1}, None),
        ]

    def test_a_surrogate_pair_is_text(self) -> None:
        assert items(b'{"a": "\\ud83d\\ude00"}\n') == [("line 1", {"a": "\U0001f600"}, None)]

    @pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 450])
    def test_a_line_nested_past_the_limit_is_refused_as_the_readme_says(self, depth: int) -> None:
        """Past 64 levels and short of the parser's own limit: refused like a streamed array."""
        nested = b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
        result = items(b'{"a": 1}\n' + nested + b'\n{"a": 3}\n')
        assert result == [
            ("line 1", {"a": 1}, None),
            ("line 2", None, f"invalid JSON: nested deeper than {MAX_DEPTH} levels"),
            ("line 3", {"a": 3}, None),
        ]

    def test_a_line_at_the_limit_is_read(self) -> None:
        nested = b'{"a": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
        assert items(nested + b"\n") == [("line 1", {"a": _nest(MAX_DEPTH - 1)}, None)]

    def test_a_whole_wrapper_document_nested_past_the_limit_is_refused(self) -> None:
        """A pretty-printed batch read whole (to inherit its context) refuses deep items too."""
        deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
        document = f'{{\n"batch": [\n{{"a": 1}},\n{{"b": {deep}}}\n],\n"context": {{}}\n}}'
        result = list(json_items(io.BytesIO(document.encode()), ("batch",), ("context",)))
        assert [(i.position, i.error) for i in result] == [
            ("item 1", None),
            ("after item 1", f"invalid JSON: nested deeper than {MAX_DEPTH} levels"),
        ]


def _nest(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value
