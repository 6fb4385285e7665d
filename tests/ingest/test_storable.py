"""Values the store cannot hold cost their item alone, on every way in, before anything of the
batch is written: the item is dead-lettered with its raw input and the reason, the others are
stored, and no identity or profile is made for a record that is not stored."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from pymongo import MongoClient

from c360.ingest.service import UnstorableRecord
from c360.ingest.storable import MAX_NESTING, Unstorable, check_record, refuse_unstorable
from c360.services import Services
from c360.settings import Settings
from c360.store import Database, Store
from c360.sync.zendesk import sync_zendesk
from connectors import Parsed, ParseResult, get_connector
from connectors._json import MAX_INHERITING_DOCUMENT
from schemas import parse_record
from tests import factories as f
from tests.fake_zendesk import FakeZendesk, export_pages, serve
from tests.helpers import all_profiles, dead_letters, find_record, owner, record
from tests.served import environment, run_c360

FIXTURES = Path(__file__).parent.parent / "fixtures"
SHOPIFY_SECRET = "shpss_hostile"
ZENDESK_SECRET = "zendesk-hostile"


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


REFUSED = {
    "an integer past 64 bits": "123456789012345678901",
    "a negative one": "-9223372036854775809",
    "a number past a float": "1e999999",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "450 levels deep": deep(450),
    "100 levels deep": deep(100),
    "a lone surrogate": '"a\\ud800b"',
    "a lone surrogate in a key": '{"\\udc00": 1}',
    "a NUL in a key": '{"a\\u0000b": 1}',
    "a key starting with $": '{"$where": "sleep(1000)"}',
    "a DBRef-looking object": '{"x": {"$ref": "profiles", "$id": 1}}',
}
"""What a canonical site event's property may not be (as JSON text)."""

KEPT = {
    "the largest 64-bit integer": "9223372036854775807",
    "a large float": "1.5e308",
    "a long fraction": "0." + "3" * 3000,
    "a dotted key": '{"a.b": {"c.d": 1}}',
    "a NUL in a text": '"a\\u0000b"',
    "64 levels deep (with the record and its properties)": deep(62),
}
"""What it may be: the store holds these as they are."""


def site_event(email: str, value: str | None = None) -> str:
    """A canonical site event whose properties hold ``value`` (JSON text) under ``v``."""
    record = {
        "kind": "site_event",
        "source": "web",
        "external_id": email,
        "occurred_at": "2024-05-01T10:00:00Z",
        "identifiers": [f.email(email)],
        "event_type": "track",
        "name": "Viewed",
        "properties": "@PROPERTIES@",
    }
    properties = "{}" if value is None else f'{{"v": {value}}}'
    return json.dumps(record).replace('"@PROPERTIES@"', properties)


async def ghosts(db: Database) -> dict[str, list[str]]:
    """Live profiles and identities with no stored record behind them (read off the
    collections themselves: an identity whose profile is not there is a ghost too)."""
    linked = {
        doc["profile_id"]
        async for doc in db.records.find({"profile_id": {"$exists": True}}, {"profile_id": 1})
    }
    live = db.profiles.find({"merged_into": {"$exists": False}}, {"_id": 1})
    identities = db.identities.find({}, {"profile_id": 1})
    return {
        "profiles": sorted({doc["_id"] async for doc in live} - linked),
        "identities": sorted(
            [doc["_id"] async for doc in identities if doc["profile_id"] not in linked]
        ),
    }


def post_ndjson(client: httpx.AsyncClient, connector: str, lines: list[str]) -> Any:
    return client.post(
        f"/ingest/{connector}",
        content="\n".join(lines).encode(),
        headers={"content-type": "application/x-ndjson"},
    )


class TestTheCheck:
    """The stage alone: what it refuses and where it says the value is."""

    def record(self, value: str) -> Any:
        return parse_record(json.loads(site_event("a@example.com", value)))

    def test_names_where_the_value_is(self) -> None:
        record = self.record('{"cart": [1, {"total": 123456789012345678901}]}')
        with pytest.raises(Unstorable) as caught:
            check_record(record)
        assert str(caught.value) == (
            "properties.v.cart.1.total: 123456789012345678901 is outside the 64-bit integers "
            "the store holds"
        )

    def test_nesting_is_counted_from_the_record(self) -> None:
        check_record(self.record(deep(MAX_NESTING - 2)))  # under the record and properties
        with pytest.raises(Unstorable, match=f"nested deeper than {MAX_NESTING} levels"):
            check_record(self.record(deep(MAX_NESTING - 1)))

    def test_an_items_records_are_refused_together(self) -> None:
        good = parse_record(json.loads(site_event("a@example.com")))
        bad = self.record('{"$x": 1}')
        parsed = [
            Parsed("line 1", good, "one"),
            Parsed("line 2", good, "two"),
            Parsed("line 2", bad, "two"),
            Parsed("line 2", good, "two"),
            Parsed("line 3", good, "three"),
        ]
        kept, docs, errors = refuse_unstorable(parsed, lambda r: {"_id": r.record_id})
        assert [p.position for p in kept] == ["line 1", "line 3"]
        assert len(docs) == 2
        assert [(e.position, e.raw) for e in errors] == [("line 2", "two")]


class TestPushedBodies:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"ingest_max_body_bytes": 40 * 2**20})

    @pytest.mark.parametrize("shape", ["ndjson", "array"])
    @pytest.mark.parametrize("name", REFUSED)
    async def test_the_value_costs_its_item_alone(
        self,
        connector_client: httpx.AsyncClient,
        services: Services,
        store: Store,
        name: str,
        shape: str,
    ) -> None:
        lines = [
            site_event("one@example.com"),
            site_event("two@example.com", REFUSED[name]),
            site_event("three@example.com"),
            site_event("four@example.com"),
        ]
        if shape == "ndjson":
            response = await post_ndjson(connector_client, "canonical", lines)
            position = "line 2"
        else:
            body = ("[" + ",\n".join(lines) + "]").encode()
            response = await connector_client.post(
                "/ingest/canonical", content=body, headers={"content-type": "application/json"}
            )
            position = "item 2"
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["inserted"], report["rejected"]) == (3, 1)
        [error] = report["errors"]
        assert error["position"] == position
        [letter] = await dead_letters(services)
        assert letter.last_rejection.reason == error["reason"]
        if shape == "ndjson":
            assert letter.raw == lines[1]
        assert await owner(store, "email:two@example.com") is None
        assert len(await all_profiles(services, store)) == 3
        assert await ghosts(store.db) == {"profiles": [], "identities": []}

    async def test_a_streamed_array_too(
        self, connector_client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        padding = json.dumps("x" * 150_000)  # past what is read whole: streamed
        lines = [
            site_event("one@example.com", padding),
            site_event("two@example.com", '{"$where": 1, "pad": ' + padding + "}"),
            site_event("three@example.com", padding),
            site_event("four@example.com", "123456789012345678901"),
            site_event("five@example.com", padding),
        ]
        body = ("[" + ",".join(lines) + "]").encode()
        assert len(body) > MAX_INHERITING_DOCUMENT
        response = await connector_client.post(
            "/ingest/canonical", content=body, headers={"content-type": "application/json"}
        )
        report = response.json()
        assert (report["inserted"], report["rejected"]) == (3, 2), report
        assert [e["position"] for e in report["errors"]] == ["item 2", "item 4"]
        assert len(await dead_letters(services)) == 2
        assert await ghosts(store.db) == {"profiles": [], "identities": []}

    @pytest.mark.parametrize("name", KEPT)
    async def test_what_the_store_holds_is_stored_as_it_is(
        self, connector_client: httpx.AsyncClient, store: Store, name: str
    ) -> None:
        line = site_event("two@example.com", KEPT[name])
        response = await post_ndjson(connector_client, "canonical", [line])
        assert response.json()["inserted"] == 1, response.text
        stored = await record(store, "web:site_event:two@example.com")
        assert stored.payload["properties"] == json.loads(line)["properties"]

    async def test_a_document_over_16_mib_is_refused(
        self, connector_client: httpx.AsyncClient, store: Store
    ) -> None:
        big = json.dumps("x" * (17 * 2**20))
        lines = [site_event("two@example.com", big), site_event("one@example.com")]
        response = await post_ndjson(connector_client, "canonical", lines)
        report = response.json()
        assert (report["inserted"], report["rejected"]) == (1, 1), response.text
        assert (
            "the store holds documents of up to 16,777,216 bytes" in report["errors"][0]["reason"]
        )
        assert await ghosts(store.db) == {"profiles": [], "identities": []}

    @pytest.mark.parametrize(
        ("field", "value", "reason"),
        [
            ("occurred_at", '"0001-01-01T00:00:00+14:00"', "outside years 1 to 9999 in UTC"),
            ("updated_at", '"9999-12-31T23:59:59-14:00"', "outside years 1 to 9999 in UTC"),
        ],
    )
    async def test_a_date_out_of_range_is_an_item_error(
        self,
        connector_client: httpx.AsyncClient,
        store: Store,
        field: str,
        value: str,
        reason: str,
    ) -> None:
        hostile = json.loads(site_event("two@example.com"))
        hostile[field] = "@VALUE@"
        lines = [site_event("one@example.com"), json.dumps(hostile).replace('"@VALUE@"', value)]
        report = (await post_ndjson(connector_client, "canonical", lines)).json()
        assert (report["inserted"], report["rejected"]) == (1, 1)
        assert reason in report["errors"][0]["reason"]

    async def test_an_amount_past_any_sum_is_an_item_error(
        self, connector_client: httpx.AsyncClient, store: Store
    ) -> None:
        hostile = json.dumps(f.order(external_id="2", identifiers=[f.email("two@example.com")]))
        hostile = hostile.replace('"amount": 2500', '"amount": 123456789012345678901')
        lines = [json.dumps(f.order(external_id="1")), hostile]
        report = (await post_ndjson(connector_client, "canonical", lines)).json()
        assert (report["inserted"], report["rejected"]) == (1, 1)
        assert (
            "total.amount: Input should be less than or equal to" in (report["errors"][0]["reason"])
        )
        assert await ghosts(store.db) == {"profiles": [], "identities": []}

    @pytest.mark.parametrize(
        "properties",
        ['{"$browser": "Chrome"}', '{"a\\u0000": 1}', '{"title": "\\ud83d"}', deep(450)],
    )
    async def test_segment_events_too(
        self, connector_client: httpx.AsyncClient, store: Store, properties: str
    ) -> None:
        def event(n: int, props: str = "{}") -> str:
            return (
                f'{{"type": "track", "event": "Viewed", "messageId": "m-{n}", '
                f'"userId": "u-{n}", "timestamp": "2024-05-01T10:00:00Z", "properties": {props}}}'
            )

        lines = [event(1), event(2, properties), event(3)]
        report = (await post_ndjson(connector_client, "segment", lines)).json()
        assert (report["inserted"], report["rejected"]) == (2, 1), report
        assert report["errors"][0]["position"] == "line 2"
        assert await ghosts(store.db) == {"profiles": [], "identities": []}

    async def test_a_csv_row_with_an_amount_past_any_sum(
        self, connector_client: httpx.AsyncClient, store: Store
    ) -> None:
        body = (
            "order_id,ordered_at,quantity,unit_price,currency,email\n"
            "A-1,2024-05-01T10:00:00Z,1,12.50,EUR,one@example.com\n"
            "A-2,2024-05-01T10:00:00Z,1,123456789012345678901.00,EUR,two@example.com\n"
            "A-3,2024-05-01T10:00:00Z,1,3.00,EUR,three@example.com\n"
        )
        response = await connector_client.post(
            "/ingest/pos-csv", content=body.encode(), headers={"content-type": "text/csv"}
        )
        report = response.json()
        assert (report["inserted"], report["rejected"]) == (2, 1), report
        assert report["errors"][0]["position"] == "line 3"
        assert await ghosts(store.db) == {"profiles": [], "identities": []}


def sign(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class TestWebhooks:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={
                "shopify_webhook_secret": SecretStr(SHOPIFY_SECRET),
                "zendesk_webhook_secret": SecretStr(ZENDESK_SECRET),
            }
        )

    async def test_a_shopify_order_with_a_lone_surrogate_stores_nothing(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        order = json.loads((FIXTURES / "shopify" / "order_webhook.json").read_text())
        order["line_items"][0]["title"] = "@TITLE@"
        body = json.dumps(order).replace('"@TITLE@"', '"Blender \\ud800"').encode()
        response = await client.post(
            "/webhooks/shopify",
            content=body,
            headers={
                "x-shopify-topic": "orders/create",
                "x-shopify-hmac-sha256": sign(SHOPIFY_SECRET, body),
                "content-type": "application/json",
            },
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["inserted"], report["rejected"]) == (0, 1)
        assert report["errors"][0]["reason"].startswith("line_items.0.title:")
        # The order came with its customer and consents: none of them is stored.
        assert await store.db.records.count_documents({}) == 0
        assert await store.db.identities.count_documents({}) == 0
        assert await store.db.profiles.count_documents({}) == 0
        assert await store.db.dead_letters.count_documents({}) == 1

    async def test_a_zendesk_page_with_one_hostile_ticket(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        page = json.loads((FIXTURES / "zendesk" / "page1.json").read_text())
        page["tickets"][1]["subject"] = "@SUBJECT@"
        for metric_set in page["metric_sets"]:  # the first ticket's reply time: 1e300 minutes
            if metric_set["ticket_id"] == page["tickets"][0]["id"]:
                metric_set["reply_time_in_minutes"] = {"calendar": 1e300}
        body = json.dumps(page).replace('"@SUBJECT@"', '"\\udfff"').encode()
        now = dt.datetime.now(dt.UTC).isoformat()
        response = await client.post(
            "/webhooks/zendesk",
            content=body,
            headers={
                "x-zendesk-webhook-signature": sign(ZENDESK_SECRET, now.encode() + body),
                "x-zendesk-webhook-signature-timestamp": now,
                "content-type": "application/json",
            },
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert {e["position"] for e in report["errors"]} == {
            "line 1 ticket 1",
            "line 1 ticket 2",
        }, report
        assert report["inserted"] > 0
        for ticket in page["tickets"][:2]:
            record_id = f"zendesk:service_case:{ticket['id']}"
            assert await find_record(store, record_id) is None
        assert await ghosts(store.db) == {"profiles": [], "identities": []}


class TestPull:
    @pytest.fixture
    def zendesk(self) -> Iterator[FakeZendesk]:
        pages = export_pages(2)
        pages[None]["tickets"][1]["subject"] = "\udc80"  # sent as the escape \udc80
        with serve(FakeZendesk(pages=pages)) as fake:
            yield fake

    async def test_a_hostile_ticket_is_dead_lettered_and_the_pull_goes_on(
        self, services: Services, store: Store, settings: Settings, zendesk: FakeZendesk
    ) -> None:
        configured = settings.model_copy(
            update={
                "zendesk_base_url": zendesk.url,
                "zendesk_email": "agent@example.com",
                "zendesk_api_token": SecretStr("secret-token"),
            }
        )
        result = await sync_zendesk(services, store, configured)
        assert result.summary.rejected == 1
        assert result.summary.errors[0].position == "page 1 ticket 2"
        assert result.cursor == "cursor-2"
        assert await find_record(store, "zendesk:service_case:101") is None
        assert await find_record(store, "zendesk:service_case:102") is not None
        assert len(await dead_letters(services)) == 1
        assert await ghosts(store.db) == {"profiles": [], "identities": []}


class TestReplayAndApi:
    async def test_a_replayed_dead_letter_that_still_cannot_be_stored_stays(
        self, services: Services, store: Store, settings: Settings
    ) -> None:
        lines = [site_event("one@example.com", "123456789012345678901")]
        summary = await services.ingest.ingest(
            "canonical",
            list(_parsed(lines, settings)),
            origin="test",
        )
        assert summary.rejected == 1
        [before] = await dead_letters(services)
        result = await services.dead_letters.replay("canonical", settings.parse_options())
        assert (result.recovered, result.still_failing) == (0, 1)
        [letter] = await dead_letters(services)
        assert letter.attempts == 2
        # Still where it came from, with the reason the store gave again.
        where = letter.last_rejection
        assert (where.origin, where.position, where.reason) == (
            before.last_rejection.origin,
            before.last_rejection.position,
            before.last_rejection.reason,
        )
        assert [(f.origin, f.position) for f in result.failures] == [("test", where.position)]
        assert await store.db.records.count_documents({}) == 0

    async def test_a_record_made_through_the_api_is_refused_whole(self, services: Services) -> None:
        record = parse_record(json.loads(site_event("one@example.com", '{"$x": 1}')))
        with pytest.raises(UnstorableRecord, match=r"properties\.v: a key starting with '\$'"):
            await services.ingest.append("profile-1", [record], [None])


def _parsed(lines: list[str], settings: Settings) -> Iterator[ParseResult]:
    body = io.BytesIO("\n".join(lines).encode())
    return get_connector("canonical").parse(body, settings.parse_options())


class TestImportCommand:
    def test_no_traceback_and_a_rerun_passes_the_line(self, mongo_uri: str, tmp_path: Path) -> None:
        path = tmp_path / "hostile.jsonl"
        lines = [
            site_event("one@example.com"),
            site_event("two@example.com", "123456789012345678901"),
            site_event("three@example.com", deep(450)),
            site_event("four@example.com", "NaN"),
            site_event("five@example.com"),
        ]
        path.write_text("\n".join(lines) + "\n")
        database = f"hostile_{uuid.uuid4().hex[:8]}"
        env = environment(C360_MONGODB_URI=mongo_uri, C360_DATABASE=database)
        try:
            first = run_c360("import", "canonical", str(path), env=env)
            assert first.returncode == 1, first.stderr
            assert "Traceback" not in first.stderr
            assert "rejected line 2: cannot be stored: properties.v:" in first.stderr
            assert "inserted: 2," in first.stdout
            again = run_c360("import", "canonical", str(path), env=env)
            assert again.returncode == 1, again.stderr
            assert "Traceback" not in again.stderr
            assert "inserted: 0, updated: 0, duplicates: 2, rejected: 3" in again.stdout
            client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
            try:
                db = client[database]
                assert db.profiles.count_documents({}) == 2
                assert db.identities.count_documents({}) == 2
                assert db.dead_letters.count_documents({}) == 3
            finally:
                client.close()
        finally:
            client = MongoClient(mongo_uri)
            client.drop_database(database)
            client.close()


# --- the property: generated values, item errors only, no ghosts -------------------------------

_ODD_CHARACTERS = st.sampled_from(["$", ".", "\x00", "\ud800", "\udfff", "é", "\U0001f600"])
_KEYS = st.text(st.one_of(st.characters(), _ODD_CHARACTERS), max_size=5)
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included
    st.text(st.one_of(st.characters(), _ODD_CHARACTERS), max_size=8),
)
_NESTED = st.integers(min_value=1, max_value=120).map(lambda n: json.loads(deep(n)))
_VALUES = st.one_of(
    _NESTED,
    st.recursive(
        _LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
        max_leaves=12,
    ),
)


class TestProperty:
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(values=st.lists(_VALUES, min_size=1, max_size=3), where=st.integers(0, 3))
    async def test_item_errors_only_and_no_ghosts(
        self,
        connector_client: httpx.AsyncClient,
        store: Store,
        values: list[Any],
        where: int,
    ) -> None:
        run = uuid.uuid4().hex[:8]
        valid = [site_event(f"ok{n}-{run}@example.com") for n in range(3)]
        hostile = [
            site_event(f"odd{n}-{run}@example.com", json.dumps(value, allow_nan=True))
            for n, value in enumerate(values)
        ]
        lines = valid[:where] + hostile + valid[where:]
        response = await post_ndjson(connector_client, "canonical", lines)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["items_read"] == len(lines)
        assert report["inserted"] + report["rejected"] == len(lines)
        refused = {error["position"] for error in report["errors"]}
        event(f"{len(refused)} of {len(hostile)} generated items refused")
        for number, line in enumerate(lines, start=1):
            record = json.loads(line)
            stored = await find_record(store, f"web:site_event:{record['external_id']}")
            if f"line {number}" in refused:
                assert stored is None
                assert await owner(store, f"email:{record['external_id']}") is None
            else:
                assert stored is not None, line
                assert stored.payload["properties"] == record["properties"]
        assert all(line in valid or line in hostile for line in lines)
        assert not refused & {f"line {lines.index(v) + 1}" for v in valid}
        assert await ghosts(store.db) == {"profiles": [], "identities": []}
