"""Exact-identifier linking, planned: which profile does each incoming record belong to? Pure:
the owners of the identifiers in, a plan out (:mod:`c360.identity.service` reads and claims).

A record joins the profile that already owns one of its identifiers, and its other identifiers
join that profile too; a record with only new identifiers starts a new profile.

When a record's identifiers belong to several profiles:
- profiles that know the person only by anonymous ids (a browser, a device) are absorbed into
  the one that knows who they are: an identify or alias links the earlier anonymous browsing;
- profiles of known people merge when nothing tells them apart (rule ``shared-identifier``):
  not when they hold different customer ids of one source (two customers) or an unmerge set
  them apart; the record then joins the one its highest-priority identifier points at, and the
  pair becomes a review suggestion;
- an alias (a record stating that its identifiers are one person's: Segment's ``alias``
  ``{previousId, userId}``) joins two user ids of one source: their profiles merge (rule
  ``alias``), or the id not yet known joins the other's profile, and that profile then holds
  both. Other customer ids still tell people apart: an alias between profiles holding
  different ids of another source (two Shopify customers) is a suggestion, as is one between
  profiles an unmerge set apart.

Identifiers are used under :class:`IdentityRules`: blocked values never link, a profile holds a
limited number per type, and one external id per source. A shareable identifier (a phone) is
weaker: alone it does not link a person record to, nor merge, a profile whose given name or
birth date clearly conflicts; it is then flagged shared and links nobody from then on. A
landline (a place's line) decides only for records that name nothing else, and is flagged
shared as soon as a second profile names it; but a household shares a line, not a full name: a
person record whose given and family names both agree with those of the landline's holder is
linked through it like through a personal phone (once the line is known to be shared, only
with the same birth date too).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bson import ObjectId

from c360.identity.matching import Features, conflicts, differ, named_alike
from c360.identity.rules import IdentityRules
from c360.identity.types import ProfileIdentifier
from c360.records.types import Unlinked
from schemas import Identifier, IdentifierType

ANONYMOUS_RULE = "anonymous-identified"
SHARED_RULE = "shared-identifier"
ALIAS_RULE = "alias"
SHARED_REASON = "shared by several people"


def new_profile_id() -> str:
    """Opaque, unique, and ordered by creation time, so the older of two profiles is known."""
    return str(ObjectId())


@dataclass
class LinkPlan:
    """The outcome of linking one batch: a profile per record, and what to write for it.

    Profiles themselves are created by whoever records activity on them (see ProfileService).
    """

    profile_ids: list[str | None]
    linked_by: list[str | None] = field(default_factory=list)
    """Per record, the identity key that decided its profile (what unmerge follows)."""
    unlinked: list[list[Unlinked]] = field(default_factory=list)
    """Per record, its identifiers that did not link and why (blocked, over a limit, …)."""
    new_identities: list[ProfileIdentifier] = field(default_factory=list)
    merges: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Stored profiles to absorb: absorbed id → (survivor id, rule)."""
    suggestions: list[tuple[str, str, str]] = field(default_factory=list)
    """Pairs of profiles a record ties together that must not be merged here, with why."""
    shared: dict[str, str] = field(default_factory=dict)
    """Identity keys found to be used by several people (to flag), with why."""


@dataclass
class _Holder:
    """What the planner knows of one profile's identifiers."""

    counts: Counter[IdentifierType] = field(default_factory=Counter)
    externals: dict[str, set[str]] = field(default_factory=dict)  # source → its ids (aliases)
    apart: set[str] = field(default_factory=set)  # profiles it must never be merged with
    person: Features | None = None  # who the profile's people records say holds it

    @classmethod
    def of(cls, identities: Sequence[ProfileIdentifier]) -> _Holder:
        holder = cls()
        for identity in identities:
            holder.add(identity.type, identity.source, identity.value)
        return holder

    def learn(self, person: Features | None) -> None:
        if person is not None and person.describes_someone:
            self.person = person if self.person is None else self.person.updated_with(person)

    def add(self, kind: IdentifierType, source: str | None, value: str) -> None:
        self.counts[kind] += 1
        if kind is IdentifierType.EXTERNAL and source is not None:
            self.externals.setdefault(source, set()).add(value)

    def absorb(self, other: _Holder) -> None:
        self.counts.update(other.counts)
        self.apart |= other.apart
        if self.person is None:
            self.person = other.person
        for source, values in other.externals.items():
            self.externals.setdefault(source, set()).update(values)

    @property
    def anonymous_only(self) -> bool:
        return set(self.counts) <= {IdentifierType.ANONYMOUS}

    def accepts(self, externals: Mapping[str, set[str]]) -> bool:
        """False when it holds ids of one of these sources, none of them these: two customers,
        not one."""
        return all(
            not (mine := self.externals.get(source)) or mine & values
            for source, values in externals.items()
        )


_NOBODY = _Holder()


def plan_links(
    identifier_sets: Sequence[Sequence[Identifier]],
    owners: dict[str, str],
    held: Mapping[str, Sequence[ProfileIdentifier]],
    now: dt.datetime,
    rules: IdentityRules | None = None,
    apart: dict[str, set[str]] | None = None,
    *,
    people: Sequence[Features | None] | None = None,
    features: Mapping[str, Features] | None = None,
    shared: Iterable[str] = (),
    aliases: Sequence[bool] | None = None,
    claimed_via: Mapping[str, str] | None = None,
) -> LinkPlan:
    """Decide a profile for each identifier set, in order. Pure: arguments are not modified.

    ``owners`` maps identity keys to their profiles; ``held`` gives those profiles' identities;
    ``apart`` the profiles each must never be merged with (an unmerge decided so). ``people``
    gives, per identifier set, the person attributes its record states (person records only);
    ``features`` what is known of the profiles' people; ``shared`` the identity keys already
    flagged as used by several people; ``aliases`` whether each identifier set is an alias's
    (its external ids are one person's); ``claimed_via`` the identifier each known key was
    claimed through.
    """
    rules = rules or IdentityRules()
    owners = dict(owners)
    shared = set(shared)
    holders = {profile_id: _Holder.of(found) for profile_id, found in held.items()}
    for profile_id, others in (apart or {}).items():
        holders.setdefault(profile_id, _Holder()).apart |= others
    for profile_id, known_person in (features or {}).items():
        holders.setdefault(profile_id, _Holder()).learn(known_person)
    claims = dict(claimed_via or {})
    created: set[str] = set()
    absorbed: dict[str, tuple[str, str]] = {}
    plan = LinkPlan(profile_ids=[])
    for index, identifiers in enumerate(identifier_sets):
        person = people[index] if people is not None else None
        unlinked = [Unlinked(i.key, "blocked value") for i in identifiers if rules.is_blocked(i)]
        usable = sorted((i for i in identifiers if not rules.is_blocked(i)), key=rules.rank)
        # Landlines whose holder has the record's given and family names: a household shares a
        # line, not a full name, so these link like a personal phone. Once a line is known to
        # be used by several people, a name alone may be two of them (a father and his son): it
        # takes the same birth date too.
        by_name = {
            i.key
            for i in usable
            if rules.household(i)
            and i.key in owners
            and named_alike(
                person, holders.get(owners[i.key], _NOBODY).person, born_alike=i.key in shared
            )
        }
        unlinked += [
            Unlinked(i.key, SHARED_REASON)
            for i in usable
            if i.key in shared and i.key not in by_name
        ]
        usable = [i for i in usable if i.key not in shared or i.key in by_name]
        if not usable:
            plan.profile_ids.append(None)
            plan.linked_by.append(None)
            plan.unlinked.append(unlinked)
            continue
        alias = aliases is not None and aliases[index]
        # The record's customer id per source; an alias's are all its ids of that source.
        externals: dict[str, set[str]] = {}
        for i in usable:
            if i.type is not IdentifierType.EXTERNAL or i.source is None:
                continue
            if alias or i.source not in externals:
                externals.setdefault(i.source, set()).add(i.value)
        joined = externals if alias else {}
        # Other landlines decide the profile only of a record that names nothing else.
        linking = [i for i in usable if not rules.household(i) or i.key in by_name] or usable
        via: dict[str, list[Identifier]] = {}
        for i in linking:
            if i.key in owners:
                via.setdefault(owners[i.key], []).append(i)
        candidates = list(via)
        for p in candidates:
            if p not in holders:
                holders[p] = _Holder()
        weak = {p for p in candidates if rules.weak(i.type for i in via[p])}
        refused = _refused(weak, holders, person, externals)
        for p, why in refused.items():
            _flag_shared(plan, shared, via[p], why)
        fitting = [p for p in candidates if p not in refused and holders[p].accepts(externals)]
        known = [p for p in fitting if not holders[p].anonymous_only]
        if known:
            # The strongest identifier names a profile; those it may merge with join it, and
            # the oldest of them survives (profile ids are ordered by creation).
            named = known[0]
            target = min(
                p
                for p in known
                if p == named
                or (_mergeable(holders, named, p, joined) and not _clash(holders, weak, named, p))
            )
        elif fitting:
            target = fitting[0]
        else:
            target = new_profile_id()
            created.add(target)
            holders[target] = _Holder()
        holders[target].learn(person)
        for other in candidates:
            if other == target:
                continue
            # Suggested pairs are put in order once the batch's merges are known (below).
            if other in refused:
                plan.suggestions.append((target, other, _shared_why(via[other], refused[other])))
                continue
            if holders[other].anonymous_only:
                absorbed[other] = (target, ANONYMOUS_RULE)
            elif holders[other].accepts(externals) and _mergeable(holders, target, other, joined):
                clash = _clash(holders, weak, target, other)
                if clash:  # tied only by a shareable identifier, and two people
                    why = differ(clash)
                    links = via[other] if other in weak else via[target]
                    _flag_shared(plan, shared, links, why)
                    plan.suggestions.append((target, other, _shared_why(links, why)))
                    continue
                absorbed[other] = (target, ALIAS_RULE if alias else SHARED_RULE)
            else:
                why = _why(target, other, holders, externals, joined)
                plan.suggestions.append((target, other, why))
                continue
            holders[target].absorb(holders[other])
            owners = {k: target if v == other else v for k, v in owners.items()}
        # What linked the record: its strongest identifier the profile holds, with those of the
        # profiles it merges; an unmerge sends the record back along this key, to where it
        # would be had they never merged. The same whether the merge happens now or a crashed
        # run's merge was completed before this record came again.
        linked_by = next((i.key for i in linking if owners.get(i.key) == target), None)
        if linked_by is not None:
            linked_by = _claimed_through(linked_by, linking, owners, target, claims)
        holder = holders[target]
        claimed: list[ProfileIdentifier] = []
        for identifier in usable:
            owner = owners.get(identifier.key)
            if owner == target:
                continue
            if owner is not None:
                if rules.household(identifier):
                    _flag_shared(plan, shared, [identifier], "a landline two profiles name")
                held_by = SHARED_REASON if identifier.key in shared else "held by another profile"
                unlinked.append(Unlinked(identifier.key, held_by))
                continue
            reason = _refusal(identifier, holder, rules, joined)
            if reason is not None:
                unlinked.append(Unlinked(identifier.key, reason))
                continue
            owners[identifier.key] = target
            holder.add(identifier.type, identifier.source, identifier.value)
            claimed.append(
                ProfileIdentifier(
                    identifier.key,
                    identifier.type,
                    identifier.value,
                    identifier.source,
                    now,
                    target,
                )
            )
        if linked_by is None and claimed:  # a new profile: its strongest identifier
            linked_by = claimed[0].key
        for identity in claimed:
            if linked_by is not None and linked_by != identity.key:
                # Goes where that identifier goes on unmerge.
                identity = replace(identity, claimed_via=linked_by)
                claims[identity.key] = linked_by
            plan.new_identities.append(identity)
        plan.profile_ids.append(target)
        plan.linked_by.append(linked_by)
        plan.unlinked.append(unlinked)
    # Absorptions decided later in the batch apply to its earlier records and claims too.
    final = {a: _survivor(a, absorbed) for a in absorbed}
    plan.profile_ids = [final.get(p, p) if p else p for p in plan.profile_ids]
    plan.new_identities = [
        replace(i, profile_id=final[i.profile_id]) if i.profile_id in final else i
        for i in plan.new_identities
    ]
    pairs = set()
    for a, b, why in plan.suggestions:
        first, second = sorted((final.get(a, a), final.get(b, b)))
        if first != second:
            pairs.add((first, second, why))
    plan.suggestions = sorted(pairs)
    plan.merges = {a: (s, absorbed[a][1]) for a, s in final.items() if a not in created}
    plan.shared = {k: why for k, why in plan.shared.items() if k in owners}
    return plan


def _refused(
    weak: set[str],
    holders: dict[str, _Holder],
    person: Features | None,
    externals: Mapping[str, set[str]],
) -> dict[str, str]:
    """Profiles a record reaches only through a shareable identifier, but whose person is
    clearly someone else (a conflicting given name or birth date, another customer id of a
    source the record names), with why."""
    refused = {}
    for p in sorted(weak):
        theirs = holders[p].person
        clash = conflicts(person, theirs) if person and theirs else []
        if clash:
            refused[p] = differ(clash)
        elif customers := _other_customers(holders[p], externals):
            refused[p] = f"hold different {customers} customer ids"
    return refused


def _flag_shared(plan: LinkPlan, shared: set[str], links: Sequence[Identifier], why: str) -> None:
    for i in links:
        plan.shared.setdefault(i.key, why)
        shared.add(i.key)


def _clash(holders: dict[str, _Holder], weak: set[str], one: str, other: str) -> list[str]:
    """What clearly tells apart the people of two profiles a record ties only through a
    shareable identifier (nothing when a stronger one ties them, or either is unknown)."""
    mine, theirs = holders[one].person, holders[other].person
    if not ({one, other} & weak) or mine is None or theirs is None:
        return []
    return conflicts(mine, theirs)


def _shared_why(links: Sequence[Identifier], why: str) -> str:
    named = ", ".join(f"{i.type.value} {i.value}" for i in links)
    return f"share {named} only, and {why}: several people use it"


def _mergeable(
    holders: dict[str, _Holder], one: str, other: str, joined: Mapping[str, set[str]]
) -> bool:
    """Two known profiles may merge unless it would join two customers of one source (other
    than ids an alias joins), or an unmerge set them apart."""
    a, b = holders[one], holders[other]
    return other not in a.apart and one not in b.apart and not _customers_apart(a, b, joined)


def _customers_apart(a: _Holder, b: _Holder, joined: Mapping[str, set[str]]) -> str:
    """The sources of which two profiles hold different customer ids, but for those an alias
    joins (each profile holds one of the alias's ids of that source)."""
    return ", ".join(
        sorted(
            s
            for s in a.externals.keys() & b.externals.keys()
            if not a.externals[s] & b.externals[s]
            and not (
                a.externals[s] & joined.get(s, set()) and b.externals[s] & joined.get(s, set())
            )
        )
    )


def _why(
    target: str,
    other: str,
    holders: dict[str, _Holder],
    externals: Mapping[str, set[str]],
    joined: Mapping[str, set[str]],
) -> str:
    customers = _other_customers(holders[other], externals) or _customers_apart(
        holders[target], holders[other], joined
    )
    if customers:
        return f"share identifiers but hold different {customers} customer ids"
    return "share identifiers"


def _other_customers(holder: _Holder, externals: Mapping[str, set[str]]) -> str:
    """The sources of which the holder has other customer ids than the record names."""
    return ", ".join(
        sorted(
            s for s, v in externals.items() if (mine := holder.externals.get(s)) and not mine & v
        )
    )


def _refusal(
    identifier: Identifier, holder: _Holder, rules: IdentityRules, joined: Mapping[str, set[str]]
) -> str | None:
    if identifier.type is IdentifierType.EXTERNAL and identifier.source is not None:
        current = holder.externals.get(identifier.source, set())
        aliased = joined.get(identifier.source, set())
        if current and identifier.value not in current and not current & aliased:
            return f"profile already holds {identifier.source} id {min(current)}"
    limit = rules.limit(identifier.type)
    if limit is not None and holder.counts[identifier.type] >= limit:
        return f"profile holds {limit} {identifier.type.value} identifiers (the limit)"
    return None


def _survivor(profile_id: str, absorbed: dict[str, tuple[str, str]]) -> str:
    while profile_id in absorbed:
        profile_id = absorbed[profile_id][0]
    return profile_id


def _claimed_through(
    key: str,
    linking: Sequence[Identifier],
    owners: Mapping[str, str],
    target: str,
    via: Mapping[str, str],
) -> str:
    """The identifier of this record that ``key`` was claimed through, if the profile holds it
    (and so on along the chain): a record that brought a new identifier in was linked by the
    one it came through, and a record naming both is linked by that one too. So a run that
    claimed a record's identifiers but died before writing it, and its re-run that finds them
    all held, link the record by the same key."""
    mine = {i.key for i in linking}
    seen = {key}
    while (through := via.get(key)) in mine and owners.get(through) == target:
        if through in seen:  # erased and claimed again the other way round: stop there
            break
        seen.add(through)
        key = through
    return key


def needing_holders(
    identifier_sets: Sequence[Sequence[Identifier]], owners: dict[str, str]
) -> set[str]:
    """Profiles whose identities the plan must see: those that meet another profile, or that
    a record would add identifiers to (limits, one external id per source). A record whose
    identifiers all belong to one profile already needs nothing: one round trip saved for
    most batches of known customers."""
    needed: set[str] = set()
    for identifiers in identifier_sets:
        owning = {owners[i.key] for i in identifiers if i.key in owners}
        if len(owning) > 1 or any(i.key not in owners for i in identifiers):
            needed |= owning
    return needed


def weakly_tied(
    identifier_sets: Sequence[Sequence[Identifier]],
    owners: dict[str, str],
    people: Sequence[Features | None] | None,
    rules: IdentityRules,
) -> set[str]:
    """Profiles a shareable identifier may tie to a person record or to another profile: the
    plan compares their people before linking through it."""
    tied: set[str] = set()
    for index, identifiers in enumerate(identifier_sets):
        owning = {owners[i.key] for i in identifiers if i.key in owners}
        person = people[index] if people is not None else None
        if not owning or not (len(owning) > 1 or (person and person.describes_someone)):
            continue
        if any(i.type in rules.shareable and i.key in owners for i in identifiers):
            tied |= owning
    return tied


def meeting(identifier_sets: Sequence[Sequence[Identifier]], owners: dict[str, str]) -> set[str]:
    """Profiles that meet another profile in a record: only they can merge."""
    meeting: set[str] = set()
    for identifiers in identifier_sets:
        owning = {owners[i.key] for i in identifiers if i.key in owners}
        if len(owning) > 1:
            meeting |= owning
    return meeting
