"""The follow-up worker against the real store and a real local webhook receiver: escalation
exactly once under concurrent tickers, the store lease, and signed deliveries to a receiver that
fails, stalls and recovers — none lost, none unsigned, dead after the last attempt and visible."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from c360.api.app import create_app
from c360.followups.model import EventType, Status, Target
from c360.followups.relay import RELAY_STEP
from c360.followups.rules import Priority
from c360.followups.states import Action
from c360.notifications.delivery import Deliverer
from c360.notifications.repository import DeliveryStatus
from c360.notifications.signing import signature, verify
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType
from c360.services import Services, followups_config
from c360.settings import Settings, TeamSettings
from c360.steps import no_hook
from c360.store import Store
from schemas.identifiers import IdentifierType
from tests.followups.helpers import SECRET, Receiver, ingest, nps, raw, serving
from tests.helpers import Crash, crash_at, reviewed
from tests.served import run_c360

CARE = "customer-care"


def team_settings(settings: Settings, url: str, **more: Any) -> Settings:
    teams = {
        CARE: TeamSettings.model_validate(
            {
                "members": ["ana.agent", "luis.agent"],
                "escalation_team": "care-leads",
                "webhook_url": url,
                "webhook_secret": SECRET,
            }
        ),
        "care-leads": TeamSettings.model_validate(
            {"members": ["marta.lead"], "webhook_url": url, "webhook_secret": SECRET}
        ),
    }
    return settings.model_copy(update={"followup_teams": teams, **more})


def at(hours: float) -> dt.datetime:
    """Hours after the follow-ups were opened (they are opened at the wall clock's now)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)


async def detractors(services: Services, tmp_path: Path, count: int) -> None:
    answers = [nps(f"S-{i}", f"d{i}@example.com", 2, "2024-05-01T12:00:00Z") for i in range(count)]
    await ingest(services, tmp_path / "detractors.jsonl", answers)


class TestEscalation:
    async def test_two_concurrent_tickers_escalate_each_target_once(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        configured = team_settings(settings, "http://127.0.0.1:9/nobody")
        first, second = (Services.build(store.db, configured) for _ in range(2))
        await detractors(first, tmp_path, 12)

        # Past the first response (48 h), not the resolution (168 h); no lease: the conditional
        # write alone must hold. Then both again, later still: nothing more.
        for _ in range(2):
            reports = await asyncio.gather(
                first.followups.worker.tick(now=at(49), lease=False),
                second.followups.worker.tick(now=at(49), lease=False),
            )
            assert all(r.ran for r in reports)

        docs = await raw(store, "follow_ups")
        assert len(docs) == 12
        [fu] = await first.followups.service.of_profiles([docs[0]["profile_id"]])
        escalations = [e for e in fu[0].events if e.type is EventType.ESCALATED]
        assert [e.target for e in escalations] == [Target.FIRST_RESPONSE]
        for doc in docs:
            (stored,) = await first.followups.service.of_profiles([doc["profile_id"]])
            events = [e for e in stored[0].events if e.type is EventType.ESCALATED]
            assert len(events) == 1
            assert stored[0].team == "care-leads"
            assert stored[0].owner == "marta.lead"
            assert stored[0].priority is Priority.HIGH  # raised once, from normal
        # One notification per escalation, however many tickers saw it.
        escalated = [e for e in await raw(store, "outbox") if e["type"] == "follow_up.escalated"]
        assert len(escalated) == 12
        assert {e["team"] for e in escalated} == {"care-leads"}  # told to the team it went to

    async def test_a_follow_up_answered_in_time_is_not_escalated_for_it(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, team_settings(settings, "http://127.0.0.1:9/x"))
        await detractors(services, tmp_path, 1)
        [doc] = await raw(store, "follow_ups")
        await services.followups.service.act(
            doc["_id"], Action.START, "ana.agent", at(1), note=None
        )

        report = await services.followups.worker.tick(now=at(49), lease=False)

        assert report.escalated == 0
        [fu] = (await services.followups.service.of_profiles([doc["profile_id"]]))[0]
        assert fu.status is Status.IN_PROGRESS
        assert not [e for e in fu.events if e.type is EventType.ESCALATED]

    async def test_the_lease_lets_one_process_work_at_a_time(
        self, store: Store, settings: Settings
    ) -> None:
        configured = team_settings(settings, "http://127.0.0.1:9/x", alerts_lease_s=60)
        first, second = (Services.build(store.db, configured) for _ in range(2))

        taken = await first.followups.worker.tick(now=at(0))
        refused = await second.followups.worker.tick(now=at(0))
        after_lapse = await second.followups.worker.tick(now=at(1))

        assert taken.ran
        assert not refused.ran
        assert refused.holder == first.followups.worker.holder
        assert after_lapse.ran  # the first stopped renewing: another takes over


class TestDueSoon:
    """A target three quarters through its window (C360_FOLLOWUP_DUE_SOON_FRACTION 0.25 left)
    and not met: its owner, or its team while nobody owns it, is told once."""

    async def test_a_target_due_soon_is_warned_of_once_to_its_owner_then_escalated(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        async with serving(Receiver()) as receiver:
            configured = team_settings(settings, receiver.url, notify_backoff_base_s=0)
            first, second = (Services.build(store.db, configured) for _ in range(2))
            await detractors(first, tmp_path, 3)
            [met] = [d["_id"] for d in await raw(store, "follow_ups")][:1]
            await first.followups.service.act(met, Action.START, "ana.agent", at(1))
            await first.followups.worker.tick(now=at(0.01), lease=False)  # the openings

            early = await first.followups.worker.tick(now=at(35.9), lease=False)
            # 36 of 48 hours gone: two tickers at once, and both again.
            rounds = [
                await asyncio.gather(
                    first.followups.worker.tick(now=at(36.5), lease=False),
                    second.followups.worker.tick(now=at(36.5), lease=False),
                )
                for _ in range(2)
            ]
            later_on = await first.followups.worker.tick(now=at(47), lease=False)
            overdue = await first.followups.worker.tick(now=at(49), lease=False)

        assert early.warned == 0
        assert sum(r.warned for r in rounds[0]) == 2  # the started one has met its target
        assert sum(r.warned for r in rounds[1]) == later_on.warned == overdue.warned == 0
        assert overdue.escalated == 2
        docs = await raw(store, "follow_ups")
        for doc in docs:
            [fu] = (await first.followups.service.of_profiles([doc["profile_id"]]))[0]
            warnings = [e for e in fu.events if e.type is EventType.DUE_SOON]
            if fu.id == met:
                assert warnings == []
                continue
            [warning] = warnings
            assert warning.target is Target.FIRST_RESPONSE
            assert warning.actor == "c360"
            assert warning.owner in ("ana.agent", "luis.agent")
            assert warning.note is not None
            assert "first response due soon" in warning.note
            assert fu.warned == {Target.FIRST_RESPONSE: warning.at}
            # The escalation after it is an event of its own, later.
            [escalation] = [e for e in fu.events if e.type is EventType.ESCALATED]
            assert escalation.n > warning.n
        told = [r for r in receiver.requests if r.event == "follow_up.due_soon"]
        assert len(told) == 2  # one a follow-up, however many tickers saw it
        assert all(r.signed for r in told)
        owners = {d["_id"]: d.get("owner") for d in docs}
        for request in told:
            event = request.body["event"]
            assert event["target"] == "first_response"
            assert event["type"] == "due_soon"
            # Told to its owner then (it has moved to the care leads since).
            assert event["for"]["owner"] in ("ana.agent", "luis.agent")
            assert request.body["followUp"]["id"] in owners
            assert next(c["state"] for c in request.body["followUp"]["sla"]) == "due_soon"

    async def test_follow_ups_an_older_version_stored_are_given_their_times_and_warned(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        # Stored before due-soon times were kept: no due_soon, no due_soon_ms, and the worker's
        # next alarm at the first target's due time (what an upgrade finds; the store's shape
        # is what this test is about).
        configured = team_settings(settings, "http://127.0.0.1:9/", alerts_tick_s=0)
        services = Services.build(store.db, configured)
        await detractors(services, tmp_path, 2)
        for doc in await raw(store, "follow_ups"):
            await store.db["follow_ups"].update_one(
                {"_id": doc["_id"]},
                {
                    "$unset": {"due_soon": "", "due_soon_ms": ""},
                    "$set": {"alarm_ms": doc["next_due_ms"]},
                },
            )

        upgraded = Services.build(store.db, configured)  # a process of this version
        first_round = await upgraded.followups.worker.tick(now=at(36.5), lease=False)

        assert first_round.warned == 2
        assert await upgraded.followups.service.keep_due_soon_times() == 0  # done, once
        queue = upgraded.followups.service
        for doc in await raw(store, "follow_ups"):
            [fu] = (await queue.of_profiles([doc["profile_id"]]))[0]
            assert fu.due_soon_at[Target.FIRST_RESPONSE] == fu.opened_at + dt.timedelta(hours=36)
            assert [e.type for e in fu.events].count(EventType.DUE_SOON) == 1

    async def test_one_nobody_owns_is_told_to_its_team(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        async with serving(Receiver()) as receiver:
            configured = team_settings(settings, receiver.url)
            teams = dict(configured.followup_teams)
            teams[CARE] = teams[CARE].model_copy(update={"members": []})
            configured = configured.model_copy(update={"followup_teams": teams})
            services = Services.build(store.db, configured)
            await detractors(services, tmp_path, 1)

            report = await services.followups.worker.tick(now=at(37), lease=False)

        assert report.warned == 1
        [doc] = await raw(store, "follow_ups")
        assert "owner" not in doc
        [request] = [r for r in receiver.requests if r.event == "follow_up.due_soon"]
        assert request.body["event"]["for"] == {"team": CARE}
        [fu] = (await services.followups.service.of_profiles([doc["profile_id"]]))[0]
        [warning] = [e for e in fu.events if e.type is EventType.DUE_SOON]
        assert warning.owner is None
        assert warning.note is not None
        assert f"team {CARE} told" in warning.note

    async def test_a_round_cut_short_after_the_warning_is_stored_tells_once(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, team_settings(settings, "http://127.0.0.1:9/x"))
        await detractors(services, tmp_path, 1)
        await services.followups.worker.tick(now=at(0.01), lease=False)
        services.followups.service.before_step = crash_at(RELAY_STEP)

        with pytest.raises(Crash):  # the outbox written, the follow-up's list not cleared
            await services.followups.worker.tick(now=at(37), lease=False)
        services.followups.service.before_step = no_hook
        again = await services.followups.worker.tick(now=at(38), lease=False)

        assert again.warned == 0
        [doc] = await raw(store, "follow_ups")
        assert doc["unsent"] == []
        assert [e["target"] for e in doc["events"] if e["type"] == "due_soon"] == ["first_response"]
        due_soon = [e for e in await raw(store, "outbox") if e["type"] == "follow_up.due_soon"]
        assert len(due_soon) == 1


async def his_notifications(store: Store) -> list[dict[str, Any]]:
    """The outbox entries about d0 (one of ``detractors``)."""
    [his] = [d for d in await raw(store, "identities") if d["_id"] == "email:d0@example.com"]
    theirs = {
        d["_id"] for d in await raw(store, "follow_ups") if d["profile_id"] == his["profile_id"]
    }
    return [entry for entry in await raw(store, "outbox") if entry["follow_up_id"] in theirs]


async def erasure(services: Services) -> str:
    """A verified request to erase d0; its id."""
    given = [GivenIdentifier(IdentifierType.EMAIL, "d0@example.com")]
    request = await services.privacy.create(RequestType.ERASURE, given, actor="dpo", now=at(0))
    await services.privacy.verify(request.id, actor="dpo", now=at(0))
    return request.id


class TestDelivery:
    async def test_a_receiver_that_fails_stalls_and_recovers_gets_everything_signed(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        receiver = Receiver(plan=["fail", "stall", "busy", "fail"], stall_s=2.0)
        async with serving(receiver):
            configured = team_settings(
                settings,
                receiver.url,
                notify_timeout_s=0.5,
                notify_backoff_base_s=0,
                notify_max_attempts=10,
                notify_concurrency=1,
            )
            services = Services.build(store.db, configured)
            await detractors(services, tmp_path, 3)
            worker = services.followups.worker
            for hour in range(1, 12):
                report = await worker.tick(now=at(hour / 100), lease=False)
                assert report.delivery is not None
                if report.delivery.attempted == 0:
                    break

        outbox = await raw(store, "outbox")
        follow_ups = await raw(store, "follow_ups")
        assert len(outbox) == 3
        assert {e["status"] for e in outbox} == {DeliveryStatus.DELIVERED.value}
        assert {e["follow_up_id"] for e in outbox} == {d["_id"] for d in follow_ups}
        assert receiver.delivered == {e["_id"] for e in outbox}
        assert all(r.signed for r in receiver.requests)  # every attempt, failed ones too
        failures = [a for e in outbox for a in e["log"] if a.get("error")]
        assert {a["error"] for a in failures} >= {"HTTP 500", "no answer within 0.5 s", "HTTP 429"}
        # The body delivered is the one stored: what the receiver can check and deduplicate.
        for request in receiver.requests:
            assert request.body["followUp"]["id"] in {d["_id"] for d in follow_ups}

    async def test_an_erased_persons_notification_left_by_a_crash_is_removed_unsent(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """A relay that wrote a notification after the erasure had removed the person's (and
        died before asking whether they were erased) left one nothing can find through its
        follow-up: the delivery withholds it."""
        async with serving(Receiver()) as receiver:
            services = Services.build(store.db, team_settings(settings, receiver.url))
            await detractors(services, tmp_path, 2)
            left = await his_notifications(store)
            request_id = await erasure(services)
            acknowledged = await reviewed(services, request_id)
            await services.privacy.run(
                request_id, actor="dpo", now=at(0), acknowledged=acknowledged
            )
            await store.db["outbox"].insert_many(left)  # as the crashed relay left them

            report = await services.followups.worker.tick(now=at(0.01), lease=False)

        assert left
        assert report.delivery is not None
        assert report.delivery.withheld == len(left)
        assert report.delivery.delivered == 1  # the other customer's
        assert receiver.delivered.isdisjoint(e["_id"] for e in left)
        assert {e["_id"] for e in left}.isdisjoint(e["_id"] for e in await raw(store, "outbox"))

    async def test_nothing_is_sent_about_a_customer_whose_erasure_has_begun(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """An erasure stopped after suppressing his profile, before removing anything: his
        follow-up and its notification are still there, and the delivery sends it not."""
        async with serving(Receiver()) as receiver:
            services = Services.build(store.db, team_settings(settings, receiver.url))
            await detractors(services, tmp_path, 2)
            his = await his_notifications(store)
            services.privacy.before_step = crash_at("suppress records")
            request_id = await erasure(services)
            acknowledged = await reviewed(services, request_id)
            cut = await services.privacy.run(
                request_id, actor="dpo", now=at(0), acknowledged=acknowledged
            )
            assert cut.error == Crash.__name__

            report = await services.followups.worker.tick(now=at(0.01), lease=False)

        follow_ups = {d["_id"] for d in await raw(store, "follow_ups")}
        assert his
        assert {e["follow_up_id"] for e in his} <= follow_ups  # the erasure removed nothing
        assert report.delivery is not None
        assert report.delivery.withheld == len(his)
        assert report.delivery.delivered == 1  # the other customer's
        assert receiver.delivered.isdisjoint(e["_id"] for e in his)

    async def test_dead_after_the_last_attempt_and_visible_then_sent_again(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        receiver = Receiver(plan=["fail"] * 3)
        async with serving(receiver):
            configured = team_settings(
                settings, receiver.url, notify_backoff_base_s=0, notify_max_attempts=3
            )
            services = Services.build(store.db, configured)
            await detractors(services, tmp_path, 1)
            worker = services.followups.worker
            reports = [await worker.tick(now=at(i / 100), lease=False) for i in range(1, 5)]

            [entry] = await raw(store, "outbox")
            assert entry["status"] == DeliveryStatus.DEAD.value
            assert [r.delivery.dead for r in reports if r.delivery] == [0, 0, 1, 0]
            assert len(entry["log"]) == 3
            counts = await services.followups.outbox.counts()
            assert counts.get(DeliveryStatus.DEAD.value) == 1

            assert await services.followups.outbox.retry(None, at(0.05)) == 1
            await worker.tick(now=at(0.06), lease=False)

        [entry] = await raw(store, "outbox")
        assert entry["status"] == DeliveryStatus.DELIVERED.value
        assert len(receiver.requests) == 4
        assert len({r.key for r in receiver.requests}) == 1  # one key: the receiver dedupes

    async def test_a_team_without_a_secret_is_never_sent_anything(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        receiver = Receiver()
        async with serving(receiver):
            services = Services.build(store.db, team_settings(settings, receiver.url))
            await detractors(services, tmp_path, 1)
            # A process whose settings lost the secret after the entry was written.
            config = followups_config(settings).delivery
            unsigned = Deliverer(services.followups.outbox, lambda team: None, config)
            report = await unsigned.deliver_due(at(0.01))

        assert report.failed == 1
        assert receiver.requests == []
        [entry] = await raw(store, "outbox")
        assert "not sent unsigned" in entry["log"][0]["error"]


class TestSignature:
    @pytest.mark.parametrize(
        ("secret", "timestamp", "body", "valid"),
        [
            (SECRET, 1_700_000_000, b'{"a":1}', True),
            ("another-secret-of-16+", 1_700_000_000, b'{"a":1}', False),
            (SECRET, 1_700_000_001, b'{"a":1}', False),
            (SECRET, 1_700_000_000, b'{"a":2}', False),
        ],
    )
    def test_hmac_over_timestamp_and_body(
        self, secret: str, timestamp: int, body: bytes, valid: bool
    ) -> None:
        signed = signature(SECRET, 1_700_000_000, b'{"a":1}')
        assert verify(secret, signed, str(timestamp), body, 1_700_000_010) is valid

    def test_an_old_timestamp_is_refused(self) -> None:
        signed = signature(SECRET, 1_700_000_000, b"{}")
        assert not verify(SECRET, signed, "1700000000", b"{}", 1_700_000_000 + 3600)


class TestSlaComplianceByTeam:
    async def test_a_missed_target_counts_against_the_team_that_missed_it(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """Customer care lets a first response pass its due time; the follow-up escalates to
        the care leads. The miss is customer care's in SLA compliance by team, not the leads'
        (who were handed it after it was missed)."""
        env = {
            **env,
            "C360_KPI_MIN_GROUP_SIZE": "1",
            "C360_FOLLOWUP_TEAMS": json.dumps(
                {
                    CARE: {"members": ["ana.agent"], "escalation_team": "care-leads"},
                    "care-leads": {"members": ["marta.lead"]},
                }
            ),
        }
        rules = tmp_path / "rules.toml"
        rules.write_text(  # a first response due within two seconds
            '[[rule]]\nid = "nps-detractor"\nname = "NPS detractor"\nteam = "customer-care"\n'
            'conditions = [{ kind = "survey_score_at_most", survey_type = "nps", score = 6 }]\n'
            "sla = { first_response_hours = 0.0005, resolution_hours = 0.0005 }\n"
        )
        today = dt.datetime.now(dt.UTC).replace(microsecond=0)
        answers = tmp_path / "answers.csv"
        answers.write_text(
            "response_id,responded_at,email,type,score\n"
            f"S-1,{(today - dt.timedelta(minutes=5)).isoformat()},d1@example.com,nps,2\n"
        )
        assert run_c360("alerts", "rules", "apply", str(rules), env=env).returncode == 0
        assert run_c360("import", "surveys-csv", str(answers), env=env).returncode == 0
        await asyncio.sleep(2.5)
        ticked = run_c360("alerts", "tick", env=env)
        assert ticked.stdout.startswith("escalated: 1"), ticked.stdout + ticked.stderr

        span = (
            "--from",
            f"{today.date() - dt.timedelta(days=1)}",
            "--to",
            f"{today.date() + dt.timedelta(days=2)}",
        )
        answer = run_c360(
            "kpis",
            *span,
            "--kpi",
            "sla_compliance",
            "--group-by",
            "team",
            "--format",
            "json",
            env=env,
        )

        assert answer.returncode == 0, answer.stderr
        rows = {row["team"]: row for row in map(json.loads, answer.stdout.splitlines())}
        assert (rows[CARE]["numerator"], rows[CARE]["denominator"]) == (0.0, 1.0)
        assert "care-leads" not in rows or rows["care-leads"]["denominator"] in (0.0, None)


class TestCommandLine:
    async def test_rules_apply_list_evaluate_and_tick(
        self, store: Store, settings: Settings, env: dict[str, str], tmp_path: Path
    ) -> None:
        services = Services.build(store.db, settings)
        await detractors(services, tmp_path, 2)
        env = {**env, "C360_FOLLOWUP_TEAMS": '{"loyalty": {"members": ["lee"]}}'}
        rules = tmp_path / "rules.toml"
        rules.write_text(
            '[[rule]]\nid = "nps-passive"\nname = "NPS passive"\nteam = "loyalty"\n'
            'conditions = [{ kind = "survey_score_at_most", survey_type = "nps", score = 8 }]\n'
        )
        bad = tmp_path / "bad.toml"
        bad.write_text(
            '[[rule]]\nid = "x"\nname = "X"\nteam = "t"\nconditions = [{ kind = "mvel" }]\n'
        )

        applied = run_c360("alerts", "rules", "apply", str(rules), env=env)
        again = run_c360("alerts", "rules", "apply", str(rules), env=env)
        refused = run_c360("alerts", "rules", "apply", str(bad), env=env)
        listed = run_c360("alerts", "rules", "list", "--json", env=env)
        evaluated = run_c360("alerts", "evaluate", "--all", env=env)
        ticked = run_c360("alerts", "tick", env=env)

        assert applied.returncode == 0, applied.stderr
        assert "nps-passive: created (version 1)" in applied.stdout
        assert "nps-passive: unchanged (version 1)" in again.stdout
        assert refused.returncode != 0
        assert "rule 1 (x)" in refused.stderr
        ids = {json.loads(line)["id"] for line in listed.stdout.splitlines()}
        assert ids == {
            "nps-detractor",
            "complaint-high-value",
            "csat-bad",
            "contact-requested",
            "nps-passive",
        }
        assert evaluated.returncode == 0, evaluated.stderr
        assert "customers: 2, opened: 2" in evaluated.stdout
        assert ticked.returncode == 0, ticked.stderr
        assert ticked.stdout.startswith("escalated: 0")
        assert "withheld (erased): 0" in ticked.stdout
        passive = [d for d in await raw(store, "follow_ups") if d["rule_id"] == "nps-passive"]
        assert [d["owner"] for d in passive] == ["lee", "lee"]

    async def test_tick_warns_of_a_target_due_soon_once_as_the_setting_says(
        self, store: Store, env: dict[str, str], tmp_path: Path
    ) -> None:
        """A first response due in 36 s that turns due soon once 1 % of it is gone
        (C360_FOLLOWUP_DUE_SOON_FRACTION=0.99): the first round warns, the next does not. Each
        round gives the worker's lease back, so the next command, run at once, works too."""
        env = {
            **env,
            "C360_FOLLOWUP_DUE_SOON_FRACTION": "0.99",
            "C360_FOLLOWUP_TEAMS": json.dumps({CARE: {"members": ["ana.agent"]}}),
        }
        rules = tmp_path / "rules.toml"
        rules.write_text(
            '[[rule]]\nid = "nps-detractor"\nname = "NPS detractor"\nteam = "customer-care"\n'
            'conditions = [{ kind = "survey_score_at_most", survey_type = "nps", score = 6 }]\n'
            "sla = { first_response_hours = 0.01, resolution_hours = 1 }\n"
        )
        answered = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
        answers = tmp_path / "answers.csv"
        answers.write_text(
            f"response_id,responded_at,email,type,score\nS-1,{answered.isoformat()},d1@example.com,nps,2\n"
        )
        assert run_c360("alerts", "rules", "apply", str(rules), env=env).returncode == 0
        assert run_c360("import", "surveys-csv", str(answers), env=env).returncode == 0
        await asyncio.sleep(0.5)

        first = run_c360("alerts", "tick", env=env)
        second = run_c360("alerts", "tick", env=env)

        assert first.stdout.endswith(", warned (due soon): 1\n"), first.stdout + first.stderr
        assert second.stdout.endswith(", warned (due soon): 0\n"), second.stdout + second.stderr
        [doc] = await raw(store, "follow_ups")
        [warning] = [e for e in doc["events"] if e["type"] == "due_soon"]
        assert (warning["target"], warning["owner"]) == ("first_response", "ana.agent")

    async def test_evaluating_with_every_rule_disabled_says_so(
        self, store: Store, settings: Settings, env: dict[str, str], tmp_path: Path
    ) -> None:
        services = Services.build(store.db, settings)
        await detractors(services, tmp_path, 1)  # the import opens one, its rules enabled
        opened = await raw(store, "follow_ups")
        now = dt.datetime.now(dt.UTC)
        for rule in await services.followups.service.rules.all():
            await services.followups.service.rules.set_enabled(rule.id, False, "admin", now)

        evaluated = run_c360("alerts", "evaluate", "--all", env=env)

        assert evaluated.returncode == 0, evaluated.stderr
        assert evaluated.stdout == (
            "no alert rule is enabled: nothing to evaluate (c360 alerts rules list)\n"
        )
        assert await raw(store, "follow_ups") == opened


class TestServe:
    async def test_the_api_runs_the_worker_under_its_lease_and_gives_it_up_at_shutdown(
        self, store: Store, settings: Settings
    ) -> None:
        app = create_app(settings.model_copy(update={"alerts_tick_s": 0.05}))
        async with app.router.lifespan_context(app):
            worker = app.state.services.followups.worker
            for _ in range(200):  # the first round runs as the app starts
                if await raw(store, "leases"):
                    break
                await asyncio.sleep(0.05)
            [lease] = await raw(store, "leases")
            assert lease["_id"] == "followups-worker"
            assert lease["holder"] == worker.holder

        assert await raw(store, "leases") == []  # released: another process need not wait
