"""A request's scope as a data-protection officer reviews it before it runs, free of I/O: which
profile each identifier came from (an unmerge's view: the identifiers a merge moved, and those
claimed through them since, go back to the profile it absorbed), which of them the requester
gave, the merges between each profile and one the requester named, the records by kind, and
the warnings a run must be acknowledged past.

A scope warns when it holds an identifier the requester did not give (linked to theirs by a
record, or reached only through a merge) and when it goes through a merge a person made: a
wrongly merged person would be exported to, or erased with, someone else. Both an access
request and an erasure are refused to run past a warning unless acknowledged with the
preview's fingerprint (:func:`check_acknowledged`): an export handed to the wrong person cannot
be taken back either.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from c360.privacy import rules
from c360.privacy.types import (
    ScopedIdentifier,
    ScopedProfile,
    ScopeIdentity,
    ScopeMerge,
    ScopePreview,
    ScopeRecord,
    ScopeWarning,
    ScopeWarningKind,
)


class ScopeNotAcknowledged(rules.TransitionRefused):
    """The request's scope has warnings and the run did not acknowledge them (or acknowledged
    a scope that has changed since)."""


def origins(identities: Sequence[ScopeIdentity], merges: Sequence[ScopeMerge]) -> dict[str, str]:
    """Identity key → the profile it came from: the profile a merge absorbed it with (the
    earliest merge that moved it), that of the key it was claimed through, else the profile
    holding it."""
    moved: dict[str, str] = {}
    for merge in sorted(merges, key=lambda m: (m.at, m.id)):
        for key in merge.moved:
            moved.setdefault(key, merge.absorbed)
    by_key = {i.key: i for i in identities}

    def origin(key: str) -> str:
        seen: set[str] = set()
        while key not in moved:
            held = by_key[key]
            if held.claimed_via is None or held.claimed_via not in by_key or key in seen:
                return held.profile_id
            seen.add(key)
            key = held.claimed_via
        return moved[key]

    return {i.key: origin(i.key) for i in identities}


def _paths(
    profiles: Sequence[str], merges: Sequence[ScopeMerge], named: set[str]
) -> dict[str, tuple[str, ...]]:
    """Each profile's merges to the nearest profile holding an identifier the requester gave
    (absent: none is reachable)."""
    edges: dict[str, list[tuple[str, str]]] = {p: [] for p in profiles}
    for merge in merges:
        edges.setdefault(merge.absorbed, []).append((merge.survivor, merge.id))
        edges.setdefault(merge.survivor, []).append((merge.absorbed, merge.id))
    paths: dict[str, tuple[str, ...]] = {p: () for p in sorted(named)}
    queue = deque(sorted(named))
    while queue:
        at = queue.popleft()
        for other, merge_id in sorted(edges.get(at, ())):
            if other not in paths:
                paths[other] = (merge_id, *paths[at])
                queue.append(other)
    return paths


def preview(
    request_id: str,
    given: Sequence[str],
    profiles: Sequence[tuple[str, str | None]],
    identities: Sequence[ScopeIdentity],
    merges: Sequence[ScopeMerge],
    records: Mapping[ScopeRecord, int],
    fingerprint_of: Callable[[Mapping[str, Any]], str],
    *,
    kept: bool = False,
) -> ScopePreview:
    """The preview of a scope: ``profiles`` (id, merged into), the identities they hold now,
    the merges that absorbed any of them, their records (each alike record once, with how many
    there are)."""
    ids = [p for p, _ in profiles]
    came_from = origins(identities, merges)
    wanted = set(given)
    by_profile: dict[str, list[ScopedIdentifier]] = {p: [] for p in ids}
    for identity in sorted(identities, key=lambda i: i.key):
        by_profile.setdefault(came_from[identity.key], []).append(
            ScopedIdentifier(
                identity.key,
                identity.type,
                identity.value,
                identity.source,
                identity.key in wanted,
            )
        )
    counts: dict[str, Counter[str]] = {p: Counter() for p in by_profile}
    names: dict[str, set[str]] = {p: set() for p in by_profile}
    total: Counter[str] = Counter()
    for record, many in records.items():
        owner = next((came_from[k] for k in record.keys if k in came_from), record.profile_id)
        total[record.kind] += many
        counts.setdefault(owner, Counter())[record.kind] += many
        names.setdefault(owner, set()).update(record.names)
    for owner in counts:
        by_profile.setdefault(owner, [])
    named = {p for p, held in by_profile.items() if any(i.given for i in held)}
    paths = _paths(list(by_profile), merges, named)
    merged_into = dict(profiles)
    scoped = tuple(
        ScopedProfile(
            id=p,
            merged_into=merged_into.get(p),
            identifiers=tuple(by_profile[p]),
            names=tuple(sorted(names.get(p, ()))),
            records=dict(sorted(counts.get(p, Counter()).items())),
            through=paths.get(p, ()),
        )
        for p in sorted(by_profile)
    )
    involved = tuple(sorted(merges, key=lambda m: (m.at, m.id)))
    warnings = _warnings(scoped, involved)
    held = {i.key for i in identities}
    unmatched = tuple(k for k in given if k not in held)
    fingerprint = fingerprint_of(
        {
            "given": sorted(given),
            "profiles": sorted(ids),
            "identifiers": {k: came_from[k] for k in sorted(came_from)},
            "merges": [m.id for m in involved],
        }
    )
    return ScopePreview(
        request=request_id,
        given=tuple(given),
        unmatched=unmatched,
        profiles=scoped,
        merges=involved,
        records=dict(sorted(total.items())),
        warnings=warnings,
        fingerprint=fingerprint,
        kept=kept,
    )


def _warnings(
    profiles: Sequence[ScopedProfile], merges: Sequence[ScopeMerge]
) -> tuple[ScopeWarning, ...]:
    found: list[ScopeWarning] = []
    for merge in merges:
        if not merge.manual:
            continue
        why = f" (reason: {merge.reason})" if merge.reason else ""
        found.append(
            ScopeWarning(
                ScopeWarningKind.MANUAL_MERGE,
                f"the scope goes through merge {merge.id}, made by hand by {merge.actor} on "
                f"{merge.at:%Y-%m-%d %H:%M} UTC{why}: profile {merge.absorbed} was merged into "
                f"{merge.survivor}. Unmerge first if this is not the same person "
                f'(unmergeProfile(mergeId: "{merge.id}"))',
                profile=merge.absorbed,
                merge=merge.id,
            )
        )
    by_id = {m.id: m for m in merges}
    for profile in profiles:
        other = tuple(i.key for i in profile.identifiers if not i.given)
        if not other:
            continue
        if profile.holds_given or not profile.through:
            how = "linked to an identifier they gave by the records of the same profile"
        else:
            path = ", ".join(f"{m} ({by_id[m].rule})" for m in profile.through)
            how = f"reached only through merge{'s' * (len(profile.through) > 1)} {path}"
        found.append(
            ScopeWarning(
                ScopeWarningKind.NOT_GIVEN,
                f"profile {profile.id} holds identifiers the requester did not give, {how}: "
                + ", ".join(other),
                profile=profile.id,
                merge=profile.through[0] if profile.through else None,
                identifiers=other,
            )
        )
    return tuple(found)


def check_acknowledged(scope: ScopePreview, acknowledged: str | None) -> None:
    """A scope with warnings runs only when acknowledged with its fingerprint (the one a
    preview showed: a scope that changed since is another)."""
    if not scope.warnings or acknowledged == scope.fingerprint:
        return
    listed = "; ".join(f"[{w.kind}] {w.message}" for w in scope.warnings)
    changed = (
        f"the scope changed since {acknowledged} was previewed (now {scope.fingerprint}): "
        if acknowledged
        else ""
    )
    raise ScopeNotAcknowledged(
        f"{changed}request {scope.request} covers more than the requester gave: {listed}. "
        f"Review it (c360 privacy scope {scope.request}, or PrivacyRequest.scope); run it as it "
        f"is only by acknowledging scope {scope.fingerprint} (c360 privacy run "
        f"{scope.request} --confirm-scope {scope.fingerprint}, or runPrivacyRequest("
        f'acknowledgeScope: "{scope.fingerprint}"))'
    )


def acknowledgement_note(scope: ScopePreview) -> str | None:
    """What the run's event says of the warnings it was acknowledged past (by kind and merge:
    no identifier, which the erasure would have to forget)."""
    if not scope.warnings:
        return None
    kinds = Counter(w.kind.value for w in scope.warnings)
    manual = [w.merge for w in scope.warnings if w.kind is ScopeWarningKind.MANUAL_MERGE]
    parts = [f"{n} {kind}" for kind, n in sorted(kinds.items())]
    merges = f"; manual merges {', '.join(m for m in manual if m)}" if manual else ""
    return f"scope {scope.fingerprint} acknowledged ({', '.join(parts)}{merges})"
