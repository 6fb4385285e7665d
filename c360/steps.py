"""The seam of every write made in several steps (a merge, an erasure, a retention pass,
a follow-up's evaluation, relay and merges): before each step the run awaits its
``before_step`` hook with the step's name. Outside tests it is :func:`no_hook`; crash tests
raise in it to cut a run short exactly there, then check that running again finishes the work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

StepHook = Callable[[str], Awaitable[None]]
"""Told the name of each step before it runs."""


async def no_hook(step: str) -> None:
    """The step hook outside tests: nothing."""
    return None
