"""The README's examples, as the tests run them.

Every ``graphql`` and ``sh`` block in the sections :data:`TESTED_SECTIONS` (with their
subsections) is an example, and the line before it says what it shows, in an HTML comment
the rendered README hides::

    <!-- example: role=marketing contains="a•••@example.com" lacks="ana.garcia@" -->

``role`` is whose key runs it (default ``agent``); each ``contains`` must appear in the answer
(a GraphQL response as JSON, or a command's output), each ``lacks`` must not (values quoted
with ``"`` or ``'``); ``errors=allowed`` lets a GraphQL answer carry field errors (a refused
field is one); ``exit=N`` is a command's expected status (default 0). Only these words are
read: nothing in the README is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
TESTED_SECTIONS = ("Try it", "API")
LANGUAGES = ("graphql", "sh")

_FENCE = re.compile(r"^```(\w*)\s*$")
_ANNOTATION = re.compile(r"^<!--\s*example:(?P<words>.*?)-->\s*$")
_WORD = re.compile(r"""(\w+)=(?:"([^"]*)"|'([^']*)'|(\S+))""")
_KNOWN = {"role", "contains", "lacks", "errors", "exit"}


@dataclass(frozen=True)
class Example:
    section: str
    line: int
    language: str
    text: str
    role: str = "agent"
    contains: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    errors_allowed: bool = False
    exit_status: int = 0

    @property
    def name(self) -> str:
        return f"README.md:{self.line} ({self.section}, {self.language})"


@dataclass
class _Words:
    values: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, where: str) -> _Words:
        words = cls()
        for match in _WORD.finditer(text):
            key = match[1]
            value = next(v for v in (match[2], match[3], match[4]) if v is not None)
            if key not in _KNOWN:
                raise ValueError(f"{where}: unknown example word {key!r}")
            words.values.setdefault(key, []).append(value)
        return words

    def one(self, key: str, default: str) -> str:
        return self.values.get(key, [default])[-1]


def examples(path: Path = README) -> list[Example]:
    """The tested examples, in README order; a block without its annotation is an error."""
    found: list[Example] = []
    section: str | None = None
    lines = path.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = _FENCE.match(line)
        if fence is None:
            number += 1
            continue
        end = next(i for i in range(number + 1, len(lines)) if lines[i].startswith("```"))
        language = fence[1]
        if section in TESTED_SECTIONS and language in LANGUAGES:
            where = f"README.md:{number + 1}"
            annotation = _ANNOTATION.match(lines[number - 1]) if number else None
            if annotation is None:
                raise ValueError(f"{where}: an example without an '<!-- example: … -->' line")
            words = _Words.parse(annotation["words"], where)
            found.append(
                Example(
                    section=section,
                    line=number + 1,
                    language=language,
                    text="\n".join(lines[number + 1 : end]) + "\n",
                    role=words.one("role", "agent"),
                    contains=tuple(words.values.get("contains", [])),
                    lacks=tuple(words.values.get("lacks", [])),
                    errors_allowed=words.one("errors", "") == "allowed",
                    exit_status=int(words.one("exit", "0")),
                )
            )
        number = end + 1
    return found
