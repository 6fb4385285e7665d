"""How ``c360`` refuses, run as a user runs it: a bad argument, a bad setting or an unknown id is
one ``error:`` line and exit status 2, a store that cannot be reached one line and 75; never a
traceback. The many variants of a refusal made before the command starts anything run its
``main`` in this process (``in_process``); each kind is also refused by the installed command."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

from c360.cli import main as cli
from c360.followups.rules import ConditionKind
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import dead_letters, live_profiles
from tests.served import InProcess, Ran, free_port, run_c360

USAGE = 2
UNREACHABLE = 75
RESUME = "nothing is lost: run the same command again to resume"


Result = subprocess.CompletedProcess[str] | Ran


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "error:" in line]


def assert_refused(result: Result, *wanted: str) -> str:
    """Refused as a usage error, in one line that says each of ``wanted``; returns the line."""
    assert result.returncode == USAGE, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result)
    for text in wanted:
        assert text in line, line
    return line


class TestBadArguments:
    @pytest.mark.parametrize(
        ("args", "wanted"),
        [
            (("privacy", "request", "erasure", "--external", "nocolon"), "not 'nocolon'"),
            (("privacy", "request", "erasure", "--external", "shopify:"), "not 'shopify:'"),
            (("privacy", "request", "access", "--external", ":123"), "not ':123'"),
            (("privacy", "request", "access", "--external", "shopify: "), "not 'shopify: '"),
            (("privacy", "lift", "--external", "nocolon"), "not 'nocolon'"),
        ],
    )
    def test_an_external_id_names_its_source_and_its_id(
        self, args: tuple[str, ...], wanted: str, nowhere: dict[str, str], in_process: InProcess
    ) -> None:
        refused = in_process(*args, env=nowhere)

        assert_refused(refused, "argument --external: expected SOURCE:ID", wanted)
        assert refused.stdout == ""

    @pytest.mark.parametrize(
        "args",
        [
            ("deadletters", "list", "--limit", "0"),
            ("deadletters", "list", "--limit", "-1"),
            ("identity", "calibrate", "--pairs", "-1"),
            ("identity", "calibrate", "--records", "0"),
            ("audit", "--limit", "0"),
            ("alerts", "outbox", "--limit", "0"),
            ("sync", "zendesk-tickets", "--max-pages", "0"),
        ],
    )
    def test_counts_and_limits_are_positive(
        self, args: tuple[str, ...], nowhere: dict[str, str], in_process: InProcess
    ) -> None:
        option, value = args[-2:]

        refused = in_process(*args, env=nowhere)

        assert_refused(refused, f"argument {option}: must be 1 or more, not {int(value)}")

    @pytest.mark.parametrize(("port", "wanted"), [("70000", "1 to 65535"), ("0", "1 or more")])
    def test_serve_listens_on_a_port_that_exists(
        self, port: str, wanted: str, nowhere: dict[str, str], in_process: InProcess
    ) -> None:
        refused = in_process("serve", "--port", port, env=nowhere)

        assert_refused(refused, "argument --port:", wanted)

    def test_a_port_another_serve_has_taken_but_not_yet_served_on_is_refused(self) -> None:
        # Two starting at once: the first is still loading its demo data when the second binds.
        first = cli._listen("127.0.0.1", 0, 16)
        try:
            with pytest.raises(OSError, match="in use") as taken:
                cli._listen("127.0.0.1", first.getsockname()[1], 16).close()
            assert taken.value.errno == errno.EADDRINUSE
        finally:
            first.close()

    def test_the_installed_command_refuses_a_bad_argument_alike(
        self, nowhere: dict[str, str]
    ) -> None:
        refused = run_c360("privacy", "request", "erasure", "--external", "nocolon", env=nowhere)

        assert_refused(refused, "argument --external: expected SOURCE:ID", "not 'nocolon'")
        assert refused.stdout == ""

    def test_a_rule_file_lists_the_condition_kinds_by_their_names(
        self, nowhere: dict[str, str], tmp_path: Path
    ) -> None:
        rules = tmp_path / "rules.toml"
        rules.write_text(
            '[[rule]]\nid = "x"\nname = "X"\nteam = "care"\nconditions = [{ kind = "nosuch" }]\n'
        )

        line = assert_refused(run_c360("alerts", "rules", "apply", str(rules), env=nowhere))

        kinds = ", ".join(kind.value for kind in ConditionKind)
        assert line == (
            f"error: rule 1 (x): conditions.0: unknown condition kind 'nosuch'; the kinds: {kinds}"
        )


class TestBadSettings:
    @pytest.mark.parametrize(
        ("variable", "value", "reason"),
        [
            ("C360_RETENTION_DAYS", "not json", "not JSON (Expecting value"),
            ("C360_RETENTION_DAYS", '{"person": 30}', "no retention window for person:"),
            ("C360_PORT", "abc", "Input should be a valid integer"),
            ("C360_GRAPHQL_MAX_DEPTH", "-1", "Input should be greater than 0"),
            ("C360_IDENTITY_BLOCKED", '["("]', "'(' is not a regular expression"),
            ("C360_IDENTITY_PRIORITY", '["email", "fax"]', "unknown identifier types fax;"),
            ("C360_CONTACT_QUIET_HOURS", "25:00-08:00", "25:00 is not a time of day"),
            ("C360_DEFAULT_REGION", "ZZ", "'ZZ' is no region phone numbers are written in"),
            ("C360_PUBLIC_URL", "notaurl", "'notaurl' is not an http or https address"),
            ("C360_MONGODB_URI", "notauri", "'notauri' is not a mongodb:// or mongodb+srv://"),
            ("C360_DATABASE", "crm/c360", "'crm/c360' is no MongoDB database name: '/'"),
            ("C360_DATABASE", "c360 prod", "'c360 prod' is no MongoDB database name: ' '"),
            ("C360_DATABASE", "", "'' is no MongoDB database name: it is empty"),
            ("C360_DATABASE", "d" * 64, "is no MongoDB database name: 64 bytes, at most 63"),
            ("C360_EXCHANGE_RATES", '{"usd": "0.9"}', "'usd' is no ISO 4217 currency code"),
            ("C360_EXCHANGE_RATES", '{"XXX1": "1"}', "'XXX1' is no ISO 4217 currency code"),
            ("C360_EXCHANGE_RATES", '{"JPY": "-1"}', "the rate of JPY is -1: a rate is a positive"),
            ("C360_VALUE_TIER_PERCENTILES", "[0.95, 0.8, 0.5]", "three shares between 0 and 1"),
            ("C360_NPS_DETRACTOR_MAX", "9", "9 is not below C360_NPS_PROMOTER_MIN (9): a score"),
            ("C360_CONTACT_PURPOSES", '["Bad Purpose"]', "'Bad Purpose': a purpose is lower-case"),
            (
                "C360_CONTACT_MARKETING_PURPOSES",
                '["newsletter"]',
                "'newsletter' not in C360_CONTACT_PURPOSES (service, transactional, marketing",
            ),
            ("C360_VALUE_TIER_PERCENTILES", "[0.5, 0.8, 1.5]", "three shares between 0 and 1"),
            (
                "C360_FOLLOWUP_TEAMS",
                '{"care": {"members": ["ana\\nluis"]}}',
                "a member is one line of text, without control characters (U+000A)",
            ),
        ],
    )
    def test_a_bad_variable_is_named_with_the_reason(
        self,
        variable: str,
        value: str,
        reason: str,
        nowhere: dict[str, str],
        in_process: InProcess,
    ) -> None:
        refused = in_process("retention", "apply", env={**nowhere, variable: value})

        line = assert_refused(refused, reason)
        assert line.startswith(f"error: {variable}: ")

    def test_purposes_left_out_of_the_defaults_of_other_lists_are_no_error(
        self, nowhere: dict[str, str]
    ) -> None:
        # The default regime, marketing and tombstone lists name "surveys": an operator who
        # keeps no survey purpose is not made to set them all.
        narrowed = '["service", "transactional", "marketing"]'
        ran = run_c360("retention", "apply", env={**nowhere, "C360_CONTACT_PURPOSES": narrowed})

        assert ran.returncode == 0, ran.stderr  # past the settings: nothing to remove
        assert "error" not in ran.stderr

    def test_a_dot_env_file_is_read_the_same_way(
        self, nowhere: dict[str, str], tmp_path: Path
    ) -> None:
        (tmp_path / ".env").write_text(
            'C360_COMPLAINT_TAGS=["complaint", "queja"]\nC360_RETENTION_DAYS={"order": 0}\n'
        )

        refused = run_c360("retention", "apply", env=nowhere, cwd=tmp_path)

        line = assert_refused(refused, "a retention window is a positive number of days")
        assert line.startswith("error: C360_RETENTION_DAYS: ")

    @pytest.mark.parametrize(
        "command",
        [("serve", "--port", "8123"), ("keys", "list"), ("import", "canonical", "-")],
    )
    def test_every_command_names_every_bad_variable_before_it_starts(
        self, command: tuple[str, ...], nowhere: dict[str, str]
    ) -> None:
        bad = {
            "C360_RETENTION_DAYS": "not json",
            "C360_PORT": "abc",
            "C360_GRAPHQL_MAX_DEPTH": "-1",
        }

        refused = run_c360(*command, env={**nowhere, **bad}, stdin="")

        assert refused.returncode == USAGE
        assert refused.stdout == ""
        lines = refused.stderr.splitlines()
        assert sorted(line.split(":")[1].strip() for line in lines) == sorted(bad)
        assert all(line.startswith("error: C360_") for line in lines)


class TestUnknownVariables:
    def test_a_misspelt_variable_is_named_with_the_setting_it_resembles(
        self, nowhere: dict[str, str], tmp_path: Path
    ) -> None:
        """A typo would otherwise go unseen: ``C360_MONGO_URI`` left c360 on its embedded store
        (unset ``C360_MONGODB_URI``) without a word."""
        (tmp_path / ".env").write_text("C360_LOG_LEVELL=DEBUG\n")
        env = {**nowhere, "C360_MONGO_URI": "mongodb://db.example.com/", "C360_ZZZ": "1"}

        ran = run_c360("keys", "list", env=env, cwd=tmp_path)

        assert ran.returncode == UNREACHABLE, ran.stderr  # it still runs, on what is set
        warnings = [line for line in ran.stderr.splitlines() if line.startswith("warning:")]
        assert warnings == [
            "warning: C360_MONGO_URI is not a c360 setting, and is ignored "
            "(C360_MONGODB_URI is one)",
            "warning: C360_ZZZ is not a c360 setting, and is ignored",
            "warning: C360_LOG_LEVELL (in .env) is not a c360 setting, and is ignored "
            "(C360_LOG_LEVEL is one)",
        ], ran.stderr

    def test_a_secret_too_short_to_be_safe_is_named(self, nowhere: dict[str, str]) -> None:
        env = {**nowhere, "C360_SIGNING_SECRET": "x", "C360_PRIVACY_SECRET": "p" * 40}

        ran = run_c360("keys", "list", env=env)

        warnings = [line for line in ran.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, ran.stderr
        assert warnings[0].startswith(
            "warning: C360_SIGNING_SECRET is shorter than 32 characters (1): one that short"
        )
        assert "p" * 40 not in ran.stderr


class TestUnknownProfiles:
    async def test_evaluating_alerts_refuses_an_unknown_profile_as_recompute_does(
        self, env: dict[str, str]
    ) -> None:
        evaluated = run_c360("alerts", "evaluate", "--profile", "nosuch", env=env)
        recomputed = run_c360("profiles", "recompute", "nosuch", env=env)

        assert error_lines(evaluated) == error_lines(recomputed)
        assert assert_refused(evaluated) == "error: no profile with id 'nosuch'"
        assert "customers:" not in evaluated.stdout


class TestAFileItsConnectorCannotRead:
    """A header or mapping problem is the import's, not an item's: the run is refused whole and
    nothing of the file is kept, so running it again with the right mapping reads all of it."""

    HEADER = "response_id,responded_at,email,type,score"
    ROWS = ("R-1,2024-09-14T10:00:00Z,ana@example.com,nps,9", "R-2,2024-09-15,,csat,4")

    async def test_is_refused_whole_and_read_whole_once_the_mapping_is_right(
        self, env: dict[str, str], services: Services, store: Store, tmp_path: Path
    ) -> None:
        surveys = tmp_path / "surveys.csv"
        surveys.write_text("\n".join([self.HEADER, *self.ROWS]) + "\n")
        wrong = tmp_path / "wrong.toml"
        wrong.write_text('[columns]\nemail = "correo"\n')

        refused = run_c360("import", "surveys-csv", str(surveys), "--mapping", str(wrong), env=env)

        line = assert_refused(refused, f"surveys-csv cannot read {surveys} (line 1)")
        assert "missing columns: 'correo' (email);" in line
        assert line.endswith("; nothing of it was read")
        assert await dead_letters(services) == []
        assert await live_profiles(store) == []

        imported = run_c360("import", "surveys-csv", str(surveys), env=env)

        assert imported.returncode == 1, imported.stderr  # R-2 has no identifier
        assert "inserted: 1" in imported.stdout
        assert [letter.last_rejection.position for letter in await dead_letters(services)] == [
            "line 3"
        ]

    async def test_a_replay_with_a_mapping_no_file_could_be_read_with_touches_no_letter(
        self, env: dict[str, str], services: Services, tmp_path: Path
    ) -> None:
        surveys = tmp_path / "surveys.csv"
        surveys.write_text(f"{self.HEADER}\nR-3,14/09/2024,eva@example.com,nps,3\n")
        assert run_c360("import", "surveys-csv", str(surveys), env=env).returncode == 1
        (before,) = await dead_letters(services)
        unknown = tmp_path / "unknown.toml"
        unknown.write_text('[columns]\nemial = "email"\n')

        replay = run_c360(
            "deadletters", "replay", "surveys-csv", "--mapping", str(unknown), env=env
        )

        line = assert_refused(replay, "surveys-csv cannot read with these options (mapping)")
        assert "the mapping names unknown fields 'emial'" in line
        assert "no dead letter was replayed" in line
        assert await dead_letters(services) == [before]  # its reason and attempts as they were

        # A mapping naming a column its header lacks: that letter is left as it is, and said.
        lacking = tmp_path / "lacking.toml"
        lacking.write_text('[columns]\nscore = "puntos"\n')
        unfit = run_c360("deadletters", "replay", "surveys-csv", "--mapping", str(lacking), env=env)
        assert unfit.returncode == 1, unfit.stderr
        assert "replayed: 1, recovered: 0, still failing: 1" in unfit.stdout
        assert "not replayed, the options do not fit it: missing columns: 'puntos'" in unfit.stderr
        assert await dead_letters(services) == [before]

    async def test_a_letter_whose_bytes_were_not_text_is_not_replayed_into_a_record(
        self, env: dict[str, str], services: Services, store: Store, tmp_path: Path
    ) -> None:
        customers = tmp_path / "customers.csv"
        customers.write_bytes(
            b"customer_id,first_name,last_name,email,created_at\n"
            b"L-2,H\xe9l\xe8ne,Gar\xe7on,helene@example.fr,2025-01-02T10:00:00Z\n"
        )
        assert run_c360("import", "customers-csv", str(customers), env=env).returncode == 1
        (before,) = await dead_letters(services)  # not utf-8: its bytes are U+FFFD in it
        latin = tmp_path / "latin.toml"
        latin.write_text('[options]\nencoding = "latin-1"\n')

        # Neither as it was read nor in another encoding: the bytes are gone from the letter.
        for mapping in ((), ("--mapping", str(latin))):
            replay = run_c360("deadletters", "replay", "customers-csv", *mapping, env=env)
            assert replay.returncode == 1, replay.stderr
            assert "recovered: 0, still failing: 1" in replay.stdout
            assert "not replayed, its raw input is not all of the item as it came" in replay.stderr
            assert await dead_letters(services) == [before]
            assert await live_profiles(store) == []

        # Nor is a letter whose text the replay's encoding cannot write ("?" would be stored).
        greek = tmp_path / "greek.csv"
        greek.write_text(
            "customer_id,first_name,last_name,email,created_at\n"
            "G-1,Ωmega,Test,omega@example.com,yesterday\n"
        )
        assert run_c360("import", "customers-csv", str(greek), env=env).returncode == 1
        replay = run_c360(
            "deadletters", "replay", "customers-csv", "--mapping", str(latin), env=env
        )
        assert "not replayed, its raw input holds 'Ω', which latin-1 cannot write" in replay.stderr
        assert await live_profiles(store) == []

        # The file itself, read in its encoding, is.
        again = run_c360(
            "import", "customers-csv", str(customers), "--mapping", str(latin), env=env
        )
        assert again.returncode == 0, again.stderr
        helene = await services.profiles.by_identifier(IdentifierType.EMAIL, "helene@example.fr")
        (traits,) = await services.profiles.traits([helene.id])
        assert traits.display_name == "Hélène Garçon"


class TestStoreUnreachable:
    def test_only_commands_that_resume_say_that_running_them_again_resumes(
        self, nowhere: dict[str, str], tmp_path: Path
    ) -> None:
        orders = f.write_jsonl(tmp_path / "orders.jsonl", [f.order(external_id="1")])

        listed = run_c360("keys", "list", env=nowhere)
        imported = run_c360("import", "canonical", str(orders), env=nowhere)

        assert (listed.returncode, imported.returncode) == (UNREACHABLE, UNREACHABLE)
        (listing,) = error_lines(listed)
        (importing,) = error_lines(imported)
        assert listing.startswith("error: store unreachable (")
        assert RESUME not in listing
        assert importing.startswith("error: store unreachable (")
        assert importing.endswith(f"; {RESUME}")

    def test_serve_says_so_in_one_line_and_exits_75(self, nowhere: dict[str, str]) -> None:
        served = run_c360("serve", "--port", str(free_port()), env=nowhere)

        assert served.returncode == UNREACHABLE, served.stderr
        assert "Traceback" not in served.stderr
        assert " ERROR " not in served.stderr  # no log line of the failed start either
        (line,) = [line for line in served.stderr.splitlines() if line.startswith("error:")]
        assert line.startswith("error: store unreachable ("), served.stderr
        assert RESUME not in line
