"""Who gets a follow-up: the customer's account owner when the CRM names one, else the team
member who already holds the customer's open follow-ups in that team (one agent answers the
customer about all of them: a detractor who asks to be called is not called twice), else the
member with the fewest open follow-ups, ties taken in turn (the one assigned least recently).
Pure: the service hands in the counts, the last assignments and the customers' owners it read.

A batch's new follow-ups are assigned one after the other (:func:`assign_in_turn`), in an
order made of their records (the earliest trigger first), and the counts they start from
leave out what the batch itself opened. So a run of the batch that finds some of them opened
already — an earlier run cut short, whichever of its writes the store kept — replays the same
sequence and gives the others the owners an uninterrupted run gives them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from c360.followups.rules import Trigger


@dataclass
class TeamLoad:
    """A team's members, how many active follow-ups each holds, and when each was last given
    one (epoch ms; never: absent). Updated as a batch assigns, so a batch spreads its work."""

    members: Sequence[str]
    open: dict[str, int] = field(default_factory=dict)
    last_assigned: dict[str, int] = field(default_factory=dict)

    def choose(self) -> str | None:
        """The member to assign next (None: the team has no members)."""
        if not self.members:
            return None
        return min(
            self.members,
            key=lambda m: (
                self.open.get(m, 0),
                self.last_assigned.get(m, -1),
                self.members.index(m),
            ),
        )

    def took(self, member: str, at_ms: int) -> None:
        self.open[member] = self.open.get(member, 0) + 1
        self.last_assigned[member] = max(at_ms, self.last_assigned.get(member, at_ms))


def owner_for(
    account_owner: str | None,
    team: TeamLoad,
    *,
    escalation: bool = False,
    customers: str | None = None,
) -> str | None:
    """The account owner for a new follow-up when there is one, else ``customers`` (the member
    holding the customer's open follow-ups in the team) while a member; an escalation goes to
    the escalation team's members (the owner had their chance)."""
    if account_owner and not escalation:
        return account_owner
    if customers is not None and not escalation and customers in team.members:
        return customers
    return team.choose()


def loads(
    members: Mapping[str, Sequence[str]],
    open_counts: Mapping[str, Mapping[str, int]],
    last: Mapping[str, Mapping[str, int]],
) -> dict[str, TeamLoad]:
    """Team id → its load, from members, open counts and last assignments per team."""
    return {
        team: TeamLoad(list(names), dict(open_counts.get(team, {})), dict(last.get(team, {})))
        for team, names in members.items()
    }


OrderKey = tuple[bool, dt.datetime, str, str, str]


def opening_order(triggers: Sequence[Trigger], rule_id: str, follow_up_id: str) -> OrderKey:
    """Where a follow-up comes in its batch's assignments: by its earliest trigger (time, then
    record), then rule; one without records (a state of the customer) after those, by id."""
    if not triggers:
        return (True, dt.datetime.min.replace(tzinfo=dt.UTC), "", rule_id, follow_up_id)
    first = min(triggers)
    return (False, first.at, first.record_id, rule_id, follow_up_id)


@dataclass(frozen=True)
class Opening:
    """One of a batch's new follow-ups, to assign (or opened already, with ``owner``)."""

    order: OrderKey
    team: str
    account_owner: str | None = None
    opened: bool = False
    owner: str | None = None
    profile: str | None = None  # the customer's (None: no other opening shares its owner)
    customers: str | None = None  # who holds the customer's open follow-ups in the team


def assign_in_turn(
    openings: Sequence[Opening], loads: Mapping[str, TeamLoad], at_ms: int
) -> list[str | None]:
    """The owner of each opening, in the order given: taken in ``order``, each from its
    team's load as the ones before it left it, a customer's later openings in a team going to
    whoever took their first; one opened already keeps its owner and counts as taken.
    ``loads`` (updated) must leave out the openings opened already."""
    owners: list[str | None] = [None] * len(openings)
    theirs: dict[tuple[str, str], str | None] = {}  # (customer, team) → the owner taken first
    for index in sorted(range(len(openings)), key=lambda i: openings[i].order):
        opening = openings[index]
        load = loads.get(opening.team)
        key = None if opening.profile is None else (opening.profile, opening.team)
        customers = theirs.get(key, opening.customers) if key is not None else None
        owner = (
            opening.owner
            if opening.opened
            else owner_for(opening.account_owner, load or TeamLoad(()), customers=customers)
        )
        if key is not None and owner is not None:
            theirs.setdefault(key, owner)
        if owner is not None and load is not None:
            load.took(owner, at_ms)
        owners[index] = owner
    return owners
