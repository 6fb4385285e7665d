"""Teams: members and escalation teams from the settings, changed by admins over GraphQL (the
change is stored and wins); webhooks and their secrets from the settings only (a secret sent
through the API would be written to the access audit with the mutation's arguments)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from c360.errors import InvalidInput
from c360.followups.repository import TeamChange, TeamRepository
from c360.followups.rules import TEAM_PATTERN
from c360.lines import one_line
from schemas.quoting import shown

CACHE_S = 5.0
MAX_MEMBER = 200
_TEAM = re.compile(TEAM_PATTERN)


def member_name(name: str, what: str = "a member") -> str:
    """A person who works follow-ups (a team's member, a follow-up's owner), trimmed: a name on
    one line of 1 to ``MAX_MEMBER`` characters (queues, the console and notifications show
    it)."""
    return one_line(name, what, MAX_MEMBER)


@dataclass(frozen=True)
class TeamConfig:
    """A team as configured (``C360_FOLLOWUP_TEAMS``): admins' changes of members and
    escalation team take precedence; the webhook and its secret are configured only."""

    members: tuple[str, ...] = ()
    escalation_team: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True)
class Team:
    id: str
    members: tuple[str, ...]
    escalation_team: str | None
    webhook_url: str | None  # where its notifications go (None: not notified)
    changed_by: str | None = None  # the admin whose change is in force (None: the settings)
    changed_at: dt.datetime | None = None


class Teams:
    def __init__(self, repository: TeamRepository, configured: Mapping[str, TeamConfig]) -> None:
        self._repository = repository
        self._configured = dict(configured)
        self._cached: tuple[float, dict[str, Team]] | None = None
        self._lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        """Whether this process has the teams' configuration (``C360_FOLLOWUP_TEAMS``). One
        without it (a shell's import) cannot tell a team without a webhook from one configured
        elsewhere: it leaves notifications and owners to one that has it (see :mod:`.relay`)."""
        return bool(self._configured)

    def secret_of(self, team_id: str) -> str | None:
        config = self._configured.get(team_id)
        return None if config is None else config.webhook_secret

    def webhook_of(self, team_id: str) -> str | None:
        config = self._configured.get(team_id)
        return None if config is None else config.webhook_url

    async def all(self) -> dict[str, Team]:
        async with self._lock:
            cached = self._cached
            if cached is None or time.monotonic() - cached[0] > CACHE_S:
                cached = self._cached = (time.monotonic(), await self._read())
            return cached[1]

    async def get(self, team_id: str) -> Team:
        """A team; one nobody configured has no members (its follow-ups wait unassigned)."""
        return (await self.all()).get(team_id) or Team(team_id, (), None, None)

    async def set(
        self,
        team_id: str,
        members: Sequence[str],
        escalation_team: str | None,
        actor: str,
        now: dt.datetime,
    ) -> Team:
        if not _TEAM.match(team_id):
            raise InvalidInput(
                f"{shown(team_id)} is not a team id (lower-case letters, digits, -_.)"
            )
        if escalation_team is not None and not _TEAM.match(escalation_team):
            raise InvalidInput(f"{shown(escalation_team)} is not a team id")
        if escalation_team == team_id:
            raise InvalidInput("a team cannot escalate to itself")
        cleaned = list(dict.fromkeys(member_name(m) for m in members))
        await self._repository.put(TeamChange(team_id, tuple(cleaned), escalation_team, now, actor))
        self._cached = None
        return await self.get(team_id)

    async def _read(self) -> dict[str, Team]:
        teams = {
            team_id: Team(
                team_id,
                s.members,
                s.escalation_team,
                s.webhook_url,
            )
            for team_id, s in self._configured.items()
        }
        for change in await self._repository.all():
            teams[change.team_id] = Team(
                change.team_id,
                change.members,
                change.escalation_team,
                self.webhook_of(change.team_id),
                change.updated_by,
                change.updated_at,
            )
        return teams
