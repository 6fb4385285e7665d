"""An import from a shell without ``C360_FOLLOWUP_TEAMS``, beside a ``c360 serve`` that has it,
loses nothing: the follow-ups it opens are left for the server's worker, which assigns them to
the team's members and sends their notifications, signed, once."""

from __future__ import annotations

from pathlib import Path

from c360.followups.model import EventType
from c360.settings import Settings, TeamSettings
from c360.store import Store
from tests import factories as f
from tests.followups.helpers import SECRET, Receiver, nps, raw, serving
from tests.helpers import app_for
from tests.served import run_c360

CARE = "customer-care"


class TestImportWithoutTheTeams:
    async def test_the_servers_worker_assigns_and_notifies_what_the_import_left(
        self, store: Store, settings: Settings, env: dict[str, str], tmp_path: Path
    ) -> None:
        path = tmp_path / "surveys.jsonl"
        f.write_jsonl(path, [nps("S-1", "ana@example.com", 2, "2024-05-01T12:00:00Z")])
        async with serving(Receiver()) as receiver:
            care = TeamSettings.model_validate(
                {
                    "members": ["ana.agent", "luis.agent"],
                    "webhook_url": receiver.url,
                    "webhook_secret": SECRET,
                }
            )
            served = settings.model_copy(
                update={"followup_teams": {CARE: care}, "alerts_tick_s": 0}
            )
            app = app_for(served)
            async with app.router.lifespan_context(app):
                imported = run_c360("import", "canonical", str(path), env=env)  # no teams
                assert imported.returncode == 0, imported.stderr
                worker = app.state.services.followups.worker
                first = await worker.tick(lease=False)
                second = await worker.tick(lease=False)

        [fu] = await raw(store, "follow_ups")
        assert fu["owner"] in {"ana.agent", "luis.agent"}
        assert [e["type"] for e in fu["events"]] == [
            EventType.OPENED.value,
            EventType.ASSIGNED.value,
        ]
        assert fu["unsent"] == []
        assert (first.relayed, second.relayed) == (1, 0)
        assert [(r.event, r.signed) for r in receiver.requests] == [("follow_up.opened", True)]
        assert receiver.requests[0].body["followUp"]["owner"] == fu["owner"]
        [entry] = await raw(store, "outbox")
        assert entry["status"] == "delivered"
