"""The sharded deployment: the shard-key table against the code, the README, the init step and
the compose file; and the hot paths' queries, as a command listener sees them, against what
``mongos`` can route to one shard (``tests/routing.py``)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient

from c360.api.graphql.context import Context
from c360.auth.service import Caller, Role
from c360.demo import DEMO_FILE
from c360.ingest.files import import_file
from c360.records import repository as records_repository
from c360.services import Services
from c360.settings import Settings
from c360.store import Document, Store
from c360.store.indexes import INDEXES
from c360.store.sharding import SHARDING, Placement, render, shard_keys
from tests import factories as f
from tests.helpers import parse_options, roomy_schema
from tests.routing import Checker, Finding, RoutingListener, deliberate, targeted

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "sharded"
COMPOSE = ROOT / "docker-compose.sharded.yml"


# --- The table against the code, the README and the deployment ---------------------------------


def collections_in_code() -> set[str]:
    """Every collection the application names (``db["name"]``) or indexes."""
    named = {
        match
        for path in (ROOT / "c360").rglob("*.py")
        for match in re.findall(r"""db\[["']([A-Za-z_]\w*)["']\]""", path.read_text())
    }
    return named | set(INDEXES)


def readme_table() -> dict[str, str]:
    """The README's table of shard keys: collection → key as written."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Shard keys", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.MULTILINE)
    return {name: key.strip() for name, key in rows}


def written(placement: Placement) -> str:
    if placement.key is None:
        return "unsharded"
    fields = ", ".join(f"{name}: {json.dumps(d)}" for name, d in placement.key)
    return f"`{{{fields}}}`"


class TestTable:
    def test_every_collection_the_code_uses_is_placed_and_no_other(self) -> None:
        assert collections_in_code() == set(SHARDING)

    def test_each_deliberate_broadcast_names_a_method_that_exists(self) -> None:
        for placement in SHARDING.values():
            assert placement.sharded or not placement.broadcasts
            for site in placement.broadcasts:
                module, _, qualname = site.partition(":")
                target: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    target = getattr(target, part)
                assert callable(target), site

    def test_the_readme_says_what_the_table_says(self) -> None:
        assert readme_table() == {name: written(p) for name, p in SHARDING.items()}

    def test_the_init_step_reads_the_rendered_table(self) -> None:
        assert (DEPLOY / "shard-keys.json").read_text() == render(), (
            "run: python -m c360.store.sharding > deploy/sharded/shard-keys.json"
        )
        assert json.loads(render())["shardKeys"]["records"] == {"profile_id": "hashed", "_id": 1}

    def test_no_unique_index_where_mongodb_could_not_keep_it(self) -> None:
        # On a sharded collection only the shard key (as a prefix) can back a unique index.
        for collection, models in INDEXES.items():
            if SHARDING[collection].sharded:
                assert not any(m.document.get("unique") for m in models), collection

    def test_the_hot_collections_are_sharded_by_the_profile(self) -> None:
        keys = shard_keys()
        assert next(iter(keys["records"])) == "profile_id"  # a profile's timeline: one shard
        assert keys["profiles"] == keys["profile_metrics"] == {"_id": "hashed"}
        assert not SHARDING["identities"].sharded


class TestDeployment:
    def test_the_compose_file_runs_a_cluster_and_the_api_on_mongos(self) -> None:
        compose = yaml.safe_load(COMPOSE.read_text())
        services = compose["services"]
        mongods = {n: s for n, s in services.items() if s.get("image") == "mongo:8"}
        commands = {n: " ".join(s.get("command", [])) for n, s in mongods.items()}
        config = [n for n, c in commands.items() if "--configsvr" in c]
        shards = [n for n, c in commands.items() if "--shardsvr" in c]
        routers = [n for n, c in commands.items() if c.startswith("mongos ")]
        assert len(config) == 1
        assert len(shards) == 2
        assert len(routers) == 1
        for name in config + shards:  # each replica set named as its service
            assert f"--replSet {name} " in commands[name], name
        assert f"--configdb cfg/{config[0]}:27019" in commands[routers[0]]
        script = (DEPLOY / "init.js").read_text()
        for name in config + shards + routers:  # the hosts init.js talks to
            port = re.search(r"--port (\d+)", commands[name])
            assert port is not None, name
            assert f'"{name}:{port[1]}"' in script, name

        init = services["init"]
        assert init["restart"] == "no"
        assert "./deploy/sharded:/scripts:ro" in init["volumes"]
        assert "/scripts/init.js" in " ".join(init["command"])
        assert set(init["depends_on"]) == {*config, *shards, *routers}

        api = services["api"]
        assert api["environment"]["C360_MONGODB_URI"] == f"mongodb://{routers[0]}:27017/"
        assert api["depends_on"]["init"]["condition"] == "service_completed_successfully"

    @pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
    @pytest.mark.parametrize("script", sorted(p.name for p in DEPLOY.glob("*.js")))
    def test_the_init_scripts_are_valid_javascript(self, script: str) -> None:
        result = subprocess.run(
            ["node", "--check", str(DEPLOY / script)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr

    def test_the_init_script_shards_what_the_table_says(self) -> None:
        script = (DEPLOY / "init.js").read_text()
        assert "shard-keys.json" in script
        assert "shardCollection" in script
        assert "addShard" in script


# --- The checker itself ------------------------------------------------------------------------

KEY_RECORDS = SHARDING["records"].key
KEY_PROFILES = SHARDING["profiles"].key


@pytest.mark.parametrize(
    ("query", "key", "expected"),
    [
        ({"profile_id": "p"}, KEY_RECORDS, True),
        ({"profile_id": {"$in": ["p", "q"]}, "kind": "order"}, KEY_RECORDS, True),
        ({"profile_id": None}, KEY_RECORDS, True),  # a missing shard key field counts as null
        ({"$and": [{"kind": "x"}, {"profile_id": {"$eq": "p"}}]}, KEY_RECORDS, True),
        ({"$or": [{"profile_id": "p"}, {"profile_id": "q"}]}, KEY_RECORDS, True),
        ({"$or": [{"profile_id": "p"}, {"kind": "q"}]}, KEY_RECORDS, False),
        ({"_id": "shop:order:1"}, KEY_RECORDS, False),  # _id does not lead this key
        ({"_id": {"$in": ["a", "b"]}}, KEY_RECORDS, False),
        ({"profile_id": {"$gte": "a", "$lte": "b"}}, KEY_RECORDS, False),  # hashed: no ranges
        ({"profile_id": {"$exists": False}}, KEY_RECORDS, False),
        ({"profile_id": {"$in": []}}, KEY_RECORDS, False),
        ({"profile_id": re.compile("^p")}, KEY_RECORDS, False),
        ({"kind": "person"}, KEY_RECORDS, False),
        ({"_id": "p"}, KEY_PROFILES, True),
        ({"_id": {"$in": ["p", "q"]}}, KEY_PROFILES, True),
        ({"_id": {"$gt": "p"}}, KEY_PROFILES, False),
        ({"_id": {"$gte": "a", "$lt": "b"}}, (("_id", 1),), True),  # ranged: a bounded range
        ({"_id": {"$gte": "a"}}, (("_id", 1),), False),
    ],
)
def test_targeting_follows_mongos(query: dict[str, Any], key: Any, expected: bool) -> None:
    assert targeted(query, key) is expected


def problems(command_name: str, command: dict[str, Any]) -> list[tuple[str, str]]:
    found = Checker().check(command_name, command, "c360.x.repository:Repo.method")
    return [(finding.problem, finding.detail) for finding in found]


class TestChecker:
    """The checker bites on the commands a repository would send if it dropped the key."""

    def test_a_timeline_read_without_the_profile_is_a_broadcast(self) -> None:
        found = problems("find", {"find": "records", "filter": {"timeline_key": {"$lt": "9"}}})
        assert [p for p, _ in found] == ["broadcast"]
        assert "does not narrow profile_id" in found[0][1]
        assert problems("find", {"find": "records", "filter": {"profile_id": "p"}}) == []

    def test_a_record_read_by_id_alone_is_a_broadcast(self) -> None:
        found = problems("find", {"find": "records", "filter": {"_id": {"$in": ["a"]}}})
        assert [p for p, _ in found] == ["broadcast"]

    def test_each_union_branch_is_judged_on_its_own(self) -> None:
        pipeline = [
            {"$match": {"profile_id": "p"}},
            {"$unionWith": {"coll": "records", "pipeline": [{"$match": {"kind": "order"}}]}},
        ]
        found = problems("aggregate", {"aggregate": "records", "pipeline": pipeline})
        assert [p for p, _ in found] == ["broadcast"]

    def test_an_aggregation_not_led_by_a_match_is_a_broadcast(self) -> None:
        pipeline = [{"$sort": {"_id": 1}}, {"$match": {"profile_id": "p"}}]
        found = problems("aggregate", {"aggregate": "records", "pipeline": pipeline})
        assert [p for p, _ in found] == ["broadcast"]

    def test_counts_and_deletes_are_judged_by_their_filter(self) -> None:
        count = {"aggregate": "profile_metrics", "pipeline": [{"$match": {"version": 1}}]}
        assert [p for p, _ in problems("aggregate", count)] == ["broadcast"]
        delete = {"delete": "records", "deletes": [{"q": {"kind": "x"}, "limit": 0}]}
        assert [p for p, _ in problems("delete", delete)] == ["broadcast"]

    def test_moving_records_between_profiles_in_one_multi_update_is_refused(self) -> None:
        update = {
            "update": "records",
            "updates": [
                {
                    "q": {"profile_id": "a", "_id": {"$in": ["x", "y"]}},
                    "u": {"$set": {"profile_id": "b"}},
                    "multi": True,
                }
            ],
        }
        assert [p for p, _ in problems("update", update)] == ["refused"]

    def test_moving_a_record_needs_its_whole_key_and_a_command_of_its_own(self) -> None:
        def move(filter_: dict[str, Any], count: int) -> list[str]:
            statement = {"q": filter_, "u": {"$set": {"profile_id": "b"}}}
            command = {"update": "records", "updates": [statement] * count}
            return [p for p, _ in problems("update", command)]

        assert move({"_id": "x"}, 1) == ["refused"]  # no profile_id: not the whole key
        assert move({"_id": "x", "profile_id": "a"}, 2) == ["refused", "refused"]
        assert move({"_id": "x", "profile_id": "a"}, 1) == []
        assert move({"_id": "x", "profile_id": None}, 1) == []  # linking an unlinked record

    def test_a_replacement_keeping_its_profile_may_share_a_command(self) -> None:
        doc = {"_id": "x", "profile_id": "a", "kind": "order"}
        statement = {"q": {"_id": "x", "profile_id": "a", "content_hash": "h"}, "u": doc}
        command = {"update": "records", "updates": [statement, statement]}
        assert problems("update", command) == []
        moved = {**statement, "u": {**doc, "profile_id": "b"}}
        command = {"update": "records", "updates": [statement, moved]}
        assert [p for p, _ in problems("update", command)] == ["refused"]
        by_id = {**statement, "q": {"_id": "x", "content_hash": "h"}}
        assert [p for p, _ in problems("update", {"update": "records", "updates": [by_id]})] == [
            "refused"
        ]

    def test_upserts_need_the_whole_key(self) -> None:
        def upsert(collection: str, filter_: dict[str, Any]) -> list[str]:
            statement = {"q": filter_, "u": {"$inc": {"n": 1}}, "upsert": True}
            return [
                p for p, _ in problems("update", {"update": collection, "updates": [statement]})
            ]

        assert upsert("profiles", {"_id": "p"}) == []
        assert upsert("records", {"_id": "x"}) == ["broadcast"]  # by _id: every shard first
        assert upsert("records", {"kind": "x"}) == ["refused"]
        assert upsert("records", {"_id": "x", "profile_id": "p"}) == []

    def test_unsharded_collections_never_fan_out_and_unknown_ones_are_reported(self) -> None:
        assert problems("find", {"find": "identities", "filter": {"profile_id": "p"}}) == []
        found = problems("find", {"find": "audit_trail", "filter": {}})
        assert found == [("unplaced", "not in SHARDING")]

    def test_a_broadcast_is_deliberate_only_where_the_table_names_its_call_site(self) -> None:
        site = "c360.records.repository:RecordRepository.revisions"
        finding = Finding("records", "find", site, "broadcast", "by id")
        assert deliberate(finding)
        assert not deliberate(Finding("records", "find", site + "x", "broadcast", "by id"))
        assert not deliberate(Finding("records", "update", site, "refused", "multi"))


# --- The hot paths, as a command listener on the application's client sees them ---------------

AGENT_VIEW = """query($type: IdentifierType!, $value: String!) {
  profileByIdentifier(type: $type, value: $value) {
    __typename
    ... on Profile {
      id displayName emails phones
      identifiers { type value source }
      preferredChannel { channel basis reason allowedNow nextAllowedAt }
      metrics { orderCount lifetimeValue { amount currency } openCases returnRate lastNps }
      lifecycleStage { stage reason } valueTier { tier } churnRisk { score }
      openCases { externalId subject status }
      pastProblems { externalId subject solvedAt }
      consents { channel contactPoint purpose status }
      timeline(first: 4) {
        edges { cursor node { __typename occurredAt source } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}"""
TIMELINE_PAGE = """query($id: ID!, $after: String) {
  profile(id: $id) {
    ... on Profile {
      timeline(first: 3, after: $after, kinds: [ORDER, SERVICE_CASE, SITE_EVENT]) {
        edges { cursor node { __typename occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}"""
DECISION = """query($id: ID!) {
  contactDecision(profileId: $id, channel: EMAIL, purpose: "marketing") {
    __typename
    ... on ContactDecision { allowed contactPoint reasons { code } nextAllowedAt }
  }
}"""
AUDIENCE = """query($after: String) {
  audience(channel: EMAIL, purpose: "service", first: 2, after: $after) {
    edges { node { profileId contactPoint } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@asynccontextmanager
async def listened(settings: Settings, mongo_uri: str) -> AsyncIterator[tuple[Services, Any]]:
    """Services over a client of their own whose commands a :class:`RoutingListener` judges."""
    listener = RoutingListener(settings.database)
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[listener]
    )
    try:
        db = client.get_database(settings.database, codec_options=CodecOptions(tz_aware=True))
        yield Services.build(db, settings), listener
    finally:
        await client.close()


async def execute(services: Services, role: Role, query: str, **variables: Any) -> dict[str, Any]:
    context = Context(services=services, caller=Caller(key_id="t", name="test", role=role))
    result = await roomy_schema().execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


ANONYMOUS = {"type": "anonymous", "value": "anon-zz"}


def later_batch() -> list[f.Record | str]:
    """A later batch: an amended order, a return before its order and the order, a new person
    (matching, name words) and the anonymous visitor of an earlier batch identifying herself
    (a merge)."""
    ana = [f.email("ana.garcia@example.com")]
    return [
        f.order(
            source="shopify",
            external_id="5001",
            identifiers=[*ana, f.external("shopify", "cust-8812")],
            occurred_at="2024-04-28T18:09:30Z",
            updated_at="2024-04-29T10:00:00Z",
        ),
        {
            "kind": "return",
            "source": "shop",
            "external_id": "r-early",
            "occurred_at": "2024-06-02T10:00:00Z",
            "order_external_id": "o-late",
            "amount": {"amount": 500, "currency": "EUR"},
        },
        f.order(source="shop", external_id="o-late", identifiers=[f.email("zoe@example.com")]),
        f.person(
            external_id="C-2001",
            identifiers=[f.email("zoe@example.com")],
            given_name="Zoe",
            family_name="Martín",
        ),
        visit("w-2", [ANONYMOUS, f.email("zoe@example.com")]),
    ]


def visit(external_id: str, identifiers: list[f.Record]) -> f.Record:
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": external_id,
        "occurred_at": "2024-06-03T10:00:00Z",
        "identifiers": identifiers,
        "event_type": "page",
        "name": "Trail running shoes",
    }


async def ingest(services: Services, tmp_path: Path, records: list[f.Record | str]) -> None:
    path = f.write_jsonl(tmp_path / "batch.jsonl", records)
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors


async def hot_paths(services: Services, tmp_path: Path) -> None:
    """Ingest batches, the agent view, a timeline page, a contact decision, audience pages."""
    demo = await import_file(
        services.ingest, "canonical", str(DEMO_FILE), parse_options(default_region="ES")
    )
    assert demo.inserted > 0
    await ingest(services, tmp_path, [visit("w-1", [ANONYMOUS])])
    await ingest(services, tmp_path, later_batch())

    view = await execute(services, Role.AGENT, AGENT_VIEW, type="PHONE", value="0034 600 123 456")
    ana = view["profileByIdentifier"]
    assert ana["__typename"] == "Profile"
    assert ana["pastProblems"]
    assert ana["consents"]
    assert ana["timeline"]["edges"]
    assert ana["preferredChannel"] is not None

    cursor = ana["timeline"]["pageInfo"]["endCursor"]
    page = await execute(services, Role.AGENT, TIMELINE_PAGE, id=ana["id"], after=cursor)
    assert page["profile"]["timeline"]["edges"]

    decision = await execute(services, Role.MARKETING, DECISION, id=ana["id"])
    assert decision["contactDecision"]["__typename"] == "ContactDecision"

    first = (await execute(services, Role.AGENT, AUDIENCE))["audience"]
    assert first["edges"]
    assert first["pageInfo"]["hasNextPage"]
    after = first["pageInfo"]["endCursor"]
    second = (await execute(services, Role.AGENT, AUDIENCE, after=after))["audience"]
    assert second["edges"]


def report(findings: list[Finding]) -> str:
    return "\n".join(sorted({str(finding) for finding in findings}))


class TestHotPaths:
    async def test_every_hot_query_reaches_one_shard_but_the_deliberate_broadcasts(
        self, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        async with listened(settings, mongo_uri) as (services, listener):
            await hot_paths(services, tmp_path)
        assert not listener.unexpected(), report(listener.unexpected())
        assert set(await store.db.list_collection_names()) <= set(SHARDING)
        # It did look: reads and writes of the sharded collections went past it.
        for collection, command in [
            ("records", "find"),
            ("records", "aggregate"),
            ("records", "update"),
            ("profiles", "find"),
            ("profiles", "update"),
            ("profile_metrics", "find"),
            ("profile_metrics", "update"),
        ]:
            assert listener.judged.get((collection, command)), (collection, command)

    async def test_a_timeline_that_drops_the_profile_fails_it(
        self,
        store: Store,
        settings: Settings,
        mongo_uri: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        keep = records_repository.TimelineQuery.filter

        def without_profile(query: records_repository.TimelineQuery) -> Document:
            # The same records, but one branch of the $or does not name the profile: what a
            # change letting other records into a timeline would do.
            found = keep(query)
            either = [{"profile_id": found.pop("profile_id")}, {"linked_by": "nobody"}]
            return {"$or": either, **found}

        monkeypatch.setattr(records_repository.TimelineQuery, "filter", without_profile)
        async with listened(settings, mongo_uri) as (services, listener):
            await hot_paths(services, tmp_path)
        unexpected = listener.unexpected()
        assert unexpected
        assert {(f.collection, f.call_site, f.problem) for f in unexpected} == {
            ("records", "c360.records.repository:RecordRepository.timelines", "broadcast")
        }

    async def test_merges_and_unmerges_send_nothing_a_cluster_refuses(
        self, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        async with listened(settings, mongo_uri) as (services, listener):
            await hot_paths(services, tmp_path)
            [entry] = await store.db.merges.find({"status": "done"}).to_list()
            await services.merges.unmerge(entry["_id"], dt.datetime.now(dt.UTC), actor="admin")
        visit = await store.db.records.find_one({"_id": "web:site_event:w-1"})
        assert visit is not None
        assert visit["profile_id"] == entry["absorbed"]  # handed back
        refused = [f for f in listener.findings if f.problem != "broadcast"]
        assert not refused, report(refused)


FIND_PROFILES = """query($text: String!) {
  findProfiles(text: $text) { matches { profile { id } } }
}"""


class TestLookup:
    """findProfiles: order numbers and references of other sources are not keyed by profile,
    so they may go everywhere (declared); everything else stays on one shard."""

    async def test_references_go_everywhere_only_as_the_table_says_they_may(
        self, store: Store, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        async with listened(settings, mongo_uri) as (services, listener):
            demo = await import_file(
                services.ingest, "canonical", str(DEMO_FILE), parse_options(default_region="ES")
            )
            assert demo.inserted
            for text in ("#1042", "5001", "88123", "ana garc", "0034 600 123 456"):
                found = await execute(services, Role.AGENT, FIND_PROFILES, text=text)
                assert found["findProfiles"]["matches"], text
        assert not listener.unexpected(), report(listener.unexpected())
        sites = {f.call_site for f in listener.findings if f.problem == "broadcast"}
        assert "c360.lookup.repository:ReferenceRepository.orders_numbered" in sites
        assert "c360.lookup.repository:ReferenceRepository.by_ids" in sites
