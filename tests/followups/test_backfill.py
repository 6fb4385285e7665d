"""Importing history opens no follow-ups for what is too old to act on: a record older than
its rule's ``max_trigger_age_days`` (default ``C360_FOLLOWUP_MAX_TRIGGER_AGE_DAYS``) stays in
the customer's history and opens nothing, on a first import, a re-import and a sweep of every
record; a recent one still opens its follow-up; and the preview says which it would not open."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from c360.auth.service import Role
from c360.ingest.files import import_file
from c360.settings import Settings
from c360.store import Store
from tests import factories as f
from tests.followups.helpers import nps, raw
from tests.helpers import app_for, asgi_client, gql, parse_options
from tests.served import run_c360

NOW = dt.datetime.now(dt.UTC)


def days_ago(days: int) -> str:
    return (NOW - dt.timedelta(days=days)).isoformat().replace("+00:00", "Z")


def history() -> list[f.Record | str]:
    return [
        nps("S-OLD", "old@example.com", 2, days_ago(550)),  # 18 months ago
        nps("S-NEW", "new@example.com", 3, days_ago(2)),
        nps("S-ASK", "asked@example.com", 9, days_ago(400), contact_requested=True),
    ]


class TestImportingHistory:
    async def test_an_old_answer_opens_nothing_on_import_re_import_or_a_sweep(
        self, store: Store, env: dict[str, str], tmp_path: Path
    ) -> None:
        env = {**env, "C360_FOLLOWUP_MAX_TRIGGER_AGE_DAYS": "30"}
        path = tmp_path / "surveys.jsonl"
        f.write_jsonl(path, history())

        first = run_c360("import", "canonical", str(path), env=env)
        opened = await raw(store, "follow_ups")
        again = run_c360("import", "canonical", str(path), env=env)
        swept = run_c360("alerts", "evaluate", "--all", "--every-record", env=env)

        assert first.returncode == 0, first.stderr
        assert again.returncode == 0, again.stderr
        assert swept.returncode == 0, swept.stderr
        assert [(d["rule_id"], d["status"]) for d in opened] == [("nps-detractor", "open")]
        [fu] = opened
        [trigger] = fu["triggers"]
        assert trigger["id"] in {r["_id"] for r in await raw(store, "records")}
        [new] = [r for r in await raw(store, "records") if r["_id"] == trigger["id"]]
        assert "S-NEW" in json.dumps(new, default=str)
        assert "opened: 0" in swept.stdout
        assert await raw(store, "follow_ups") == opened
        assert len(await raw(store, "records")) == 3  # every answer kept in the history

    async def test_a_rule_sets_its_own_age_limit(
        self, store: Store, env: dict[str, str], tmp_path: Path
    ) -> None:
        env = {**env, "C360_FOLLOWUP_MAX_TRIGGER_AGE_DAYS": "30"}
        rules = tmp_path / "rules.toml"
        rules.write_text(
            '[[rule]]\nid = "contact-requested"\nname = "Asked to be contacted"\n'
            'team = "customer-care"\nmax_trigger_age_days = 500\n'
            'conditions = [{ kind = "contact_requested" }]\n'
        )
        path = tmp_path / "surveys.jsonl"
        f.write_jsonl(path, history())
        bad = tmp_path / "bad.toml"
        bad.write_text(rules.read_text().replace("= 500", "= 0"))

        applied = run_c360("alerts", "rules", "apply", str(rules), env=env)
        refused = run_c360("alerts", "rules", "apply", str(bad), env=env)
        imported = run_c360("import", "canonical", str(path), env=env)

        assert applied.returncode == 0, applied.stderr
        assert refused.returncode != 0
        assert "max_trigger_age_days" in refused.stderr
        assert imported.returncode == 0, imported.stderr
        opened = sorted((d["rule_id"], d["status"]) for d in await raw(store, "follow_ups"))
        assert opened == [("contact-requested", "open"), ("nps-detractor", "open")]


class TestPreview:
    async def test_the_preview_counts_what_an_import_now_would_not_open(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        app = app_for(
            settings.model_copy(update={"alerts_tick_s": 0, "followup_max_trigger_age_days": 30})
        )
        async with app.router.lifespan_context(app):
            services = app.state.services
            f.write_jsonl(tmp_path / "s.jsonl", history())
            await import_file(
                services.ingest, "canonical", str(tmp_path / "s.jsonl"), parse_options()
            )
            admin = await f.api_key(services, Role.ADMIN)
            rule = {
                "id": "nps-low",
                "name": "NPS low",
                "team": "customer-care",
                "conditions": [{"kind": "SURVEY_SCORE_AT_MOST", "surveyType": "NPS", "score": 6}],
            }
            preview = """query($rule: AlertRuleInput!, $from: DateTime!, $to: DateTime!) {
              alertRulePreview(rule: $rule, from: $from, to: $to) {
                __typename ... on AlertRulePreview { wouldOpen tooOld sample { tooOld } } } }"""
            async with asgi_client(app, admin) as client:
                data = await gql(
                    client, preview, rule=rule, **{"from": days_ago(600), "to": days_ago(0)}
                )

        assert data["alertRulePreview"] == {
            "__typename": "AlertRulePreview",
            "wouldOpen": 2,
            "tooOld": 1,
            "sample": [{"tooOld": True}, {"tooOld": False}],
        }
        assert [d["rule_id"] for d in await raw(store, "follow_ups")] == ["nps-detractor"]
