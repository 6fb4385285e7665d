"""Documents and bodies a hostile client sends, shared by the tests and ``bench.hostile``."""

from __future__ import annotations

FAN_OUT_LEVELS = 30


def fan_out(levels: int = FAN_OUT_LEVELS) -> str:
    """Fragments that each spread the next twice: ``levels`` fragments of a line each, whose
    expansion is 2**levels copies of the last. A walk that does not remember fragments takes
    twice as long per level (about an hour at 30)."""
    fragments = [
        f"fragment F{i} on Profile {{ id emails ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on Profile {{ id }}")
    operation = '{ profile(id: "000000000000000000000000") { ... on Profile { ...F0 } } }'
    return "\n".join([operation, *fragments])


def nested(depth: int) -> str:
    """Selections nested ``depth`` deep: ``{ a { a { … } } }``."""
    return "{" + " a {" * depth + " b" + " }" * depth + " }"


def fragment_chain(length: int) -> str:
    """``length`` fragments, each spreading the next: a document as long as it is deep."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(length)]
    fragments.append(f"fragment F{length} on Query {{ __typename }}")
    return "\n".join(["{ ...F0 }", *fragments])
