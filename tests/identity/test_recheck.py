"""Weighing standing automatic merges again under today's rules (``c360 identity recheck``):
after an upgrade, the merges older rules made and today's would not are listed, and undone on
request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from c360.identity.match_service import PROBABILISTIC_RULE
from c360.identity.types import MergeStatus
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import all_merges, audit_entries, run
from tests.served import run_c360

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# What the rules before names in other scripts were compared by their letters made of two
# sisters: their names had one (empty) sound, so they "agreed".
OLD_REASON = (
    "probabilistic score 25.0: given name agrees (+6.0), family name agrees (+4.0), "
    "birth date agrees (+10.0), postal code agrees (+5.0)"
)


def person(source: str, external_id: str, email: str, **fields: str) -> f.Record:
    return f.person(
        source=source,
        external_id=external_id,
        identifiers=[f.external(source, external_id), f.email(email)],
        birth_date="1990-04-12",
        addresses=[{"line1": "ul. Tverskaya 1", "postal_code": "101000", "country": "RU"}],
        **fields,
    )


async def profile_of(services: Services, external_id: str, source: str = "crm") -> str:
    by = IdentifierType.EXTERNAL
    return (await services.profiles.by_identifier(by, external_id, source)).id


async def two_sisters_merged_the_old_way(services: Services, tmp_path: Path) -> str:
    """Olga and Irina Ivanova, twins a shop and the CRM know of, told apart today by their given
    names, merged as the older rules did."""
    await run(
        services,
        tmp_path,
        [
            [
                person("crm", "C-1", "olga@example.ru", given_name="Ольга", family_name="Иванова"),
                person(
                    "shop", "S-2", "irina@example.ru", given_name="Ирина", family_name="Иванова"
                ),
            ]
        ],
    )
    olga, irina = await profile_of(services, "C-1"), await profile_of(services, "S-2", "shop")
    assert olga != irina  # today's rules keep them apart
    survivor, absorbed = sorted((olga, irina))
    return await services.merges.absorb(
        absorbed, survivor, PROBABILISTIC_RULE, NOW, actor="matcher", reason=OLD_REASON
    )


async def test_the_command_lists_the_merges_todays_rules_would_not_make_and_undoes_them(
    services: Services, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    wrong = await two_sisters_merged_the_old_way(services, tmp_path / "sisters")
    # One person in two sources, merged at ingest by today's rules: it stands.
    ana = {"given_name": "Ana", "family_name": "García", "birth_date": "1988-06-02"}
    await run(
        services,
        tmp_path / "ana",
        [
            [f.person(external_id="C-7", identifiers=[f.external("crm", "C-7")], **ana)],
            [
                f.person(
                    external_id="L-9",
                    source="loyalty",
                    identifiers=[f.external("loyalty", "L-9")],
                    **{**ana, "family_name": "Garzia"},
                )
            ],
        ],
    )
    [right] = [m.id for m in await all_merges(services, store) if m.id != wrong]

    listed = run_c360("identity", "recheck", env=env)

    assert listed.returncode == 0, listed.stderr
    assert f"{wrong}: " in listed.stdout
    assert right not in listed.stdout
    assert f"then: {OLD_REASON}" in listed.stdout
    assert "now:  probabilistic score" in listed.stdout
    assert "today's rules would not: given name differs" in listed.stdout
    assert listed.stdout.strip().endswith(
        "automatic merges weighed: 2; today's rules would not make 1 "
        "(to unmerge: c360 identity recheck --unmerge)"
    )
    sisters = [await profile_of(services, "C-1"), await profile_of(services, "S-2", "shop")]
    assert sisters[0] == sisters[1]  # listed only

    undone = run_c360("identity", "recheck", "--unmerge", env=env)

    assert undone.returncode == 0, undone.stderr
    assert "  unmerged" in undone.stdout
    apart = {await profile_of(services, "C-1"), await profile_of(services, "S-2", "shop")}
    assert len(apart) == 2
    status = {m.id: m.status for m in await all_merges(services, store)}
    assert status == {wrong: MergeStatus.UNDONE, right: MergeStatus.DONE}
    audited = await audit_entries(services, operation="c360 identity")
    assert {(e.what, e.profile_id) for e in audited} == {(("unmerge",), p) for p in apart}
    assert all(wrong in (e.detail or "") for e in audited)

    assert [(r.entry.id, r.refused) async for r in services.matcher.recheck()] == [(right, None)]


async def test_a_merge_whose_survivor_was_merged_since_is_not_weighed(
    services: Services, tmp_path: Path
) -> None:
    wrong = await two_sisters_merged_the_old_way(services, tmp_path / "sisters")
    survivor = await profile_of(services, "C-1")
    await run(
        services,
        tmp_path / "third",
        [[person("crm", "C-3", "pavel@example.ru", given_name="Павел", family_name="Петров")]],
    )
    third = await profile_of(services, "C-3")
    await services.merges.merge(third, survivor, actor="admin@test", reason="one", now=NOW)

    found = [r async for r in services.matcher.recheck()]

    assert [(r.entry.id, r.score, r.refused) for r in found] == [(wrong, None, None)]
    assert found[0].unjudged == f"its survivor was merged into {third} since"


async def test_a_merge_of_two_customers_of_one_source_would_not_be_made_today(
    services: Services, tmp_path: Path
) -> None:
    same = {"given_name": "Ana", "family_name": "García"}
    await run(
        services,
        tmp_path,
        [
            [
                person("crm", "C-1", "ana@example.com", **same),
                person("crm", "C-2", "ana.garcia@example.com", **same),
            ]
        ],
    )
    survivor, absorbed = sorted(
        [await profile_of(services, "C-1"), await profile_of(services, "C-2")]
    )
    merge = await services.merges.absorb(
        absorbed, survivor, PROBABILISTIC_RULE, NOW, actor="matcher", reason=OLD_REASON
    )

    [found] = [r async for r in services.matcher.recheck()]

    assert found.entry.id == merge
    assert found.score is not None
    assert found.score.total >= 22
    assert found.refused == "two customers: both hold crm customer ids"
