"""Who gets a follow-up: the customer's account owner when the CRM names one, else the team
member with the fewest open follow-ups, ties taken in turn (the one assigned least recently).
Pure: the service hands in the counts and the last assignments it read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


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


def owner_for(account_owner: str | None, team: TeamLoad, *, escalation: bool = False) -> str | None:
    """The account owner for a new follow-up when there is one; an escalation goes to the
    escalation team's members (the owner had their chance)."""
    if account_owner and not escalation:
        return account_owner
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
