"""Real Airflow (SQLite metadata DB) against the emulator on loopback: registration, the form, ``airflow
connections test``, and every DAG run the selected tests read, all in one Airflow process (``DAG.test()``:
the examples, and four tasks that mint, fail after a retry, are denied a wrong key and refuse a pasted
key), each claim a test, and every secret of the runs searched for in their outputs, the task log files and
the metadata database. The executor run is in ``test_airflow_executor.py``."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import pytest
from airflow_runs import (
    CONN,
    PASTED,
    REFUSED_PASTED_KEY,
    connection_for,
    haystacks,
    leaks,
    plain,
    selected_runs,
)
from harness import Sandbox as AirflowSandbox
from servers import RedisServer, redis_server

from airflow_provider_realtime.testing import Fault, RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import (
    CommandResult,
    DagRunOutcome,
    DagRunRequest,
)

pytestmark = pytest.mark.airflow_process


@pytest.fixture
def env(shared_emulator: RealtimeEmulator, tmp_path: Path) -> dict[str, str]:
    shared_emulator.reset()
    return {
        CONN: shared_emulator.connection_json(backoff_initial=0.01, backoff_max=0.05),
        "REALTIME_TOKEN_DIR": str(tmp_path),
    }


@dataclass(frozen=True)
class ExampleRun:
    """One DAG of the batch: how its run went, and the emulator it minted from (its own)."""

    outcome: DagRunOutcome
    emulator: RealtimeEmulator
    xcoms: dict[tuple[str, int, str], Any]
    states: dict[tuple[str, int], str | None]

    def succeeded(self) -> dict[tuple[str, int, str], Any]:
        """The run's XComs, once every task of it succeeded."""
        assert self.outcome.error is None, self.outcome.error
        assert self.states and set(self.states.values()) == {"success"}, (
            self.states,
            self.outcome.output[-4000:],
        )
        return self.xcoms


# What each example does with its settings is the provider's behaviour, not Airflow's: proved once, on the
# primary version. The Airflow features the examples rely on (XCom, templates, mapping, chaining, a failed
# task pushing what it minted) are proved on every version by mint_one_token, fan_out, chain_config and
# partial_fleet, and every DAG file's import by test_every_dag_file_imports_on_this_airflow.
ONCE = pytest.mark.version_independent
FLEET_CLIENTS = [f"kiosk-{number}" for number in range(60)]
# The DAGs the example tests check, run once for all of them (Airflow starts once: see run_dags).
BATCH = {
    "realtime_mint_one_token": None,
    "realtime_token_refresh": None,
    "realtime_fleet_refresh": {"clients": FLEET_CLIENTS},
    "realtime_partial_fleet": None,
    "realtime_fan_out": None,
    "realtime_voice_agent": None,
    "realtime_translation_tokens": None,
    "realtime_chain_config": None,
    "realtime_raw_probe_models": None,
}


@dataclass(frozen=True)
class TaskOutcomes:
    """The run of ``realtime_task_outcomes``, the commands run beside it, and the secrets to search for."""

    run: DagRunOutcome
    commands: dict[str, CommandResult]
    secrets: dict[str, str]

    def state(self, task_id: str) -> str | None:
        return self.run.states.get((task_id, -1))

    def states_text(self) -> str:
        """Each task's state, then the end of the run's output: what a failed assertion shows."""
        return f"{self.run.states}\n{self.run.output[-3000:]}"


OUTCOMES = "realtime_task_outcomes"  # tests/dags: four tasks, each on a connection of its own


@contextlib.contextmanager
def task_outcome_connections() -> Iterator[
    tuple[dict[str, str], dict[str, str], Callable[[], dict[str, str]]]
]:
    """The connections of ``realtime_task_outcomes``' tasks: minting, failing after a retry (a 503, then a
    400), a wrong key, a key pasted with a trailing newline. Yields the run's environment, the pasted
    connection's, and the secrets to search for (the tokens minted so far among them)."""
    wrong_key = "sk-wrong-" + os.urandom(12).hex()
    pasted_key = "sk-pasted-" + os.urandom(12).hex()
    with (
        RealtimeEmulator("sk-" + os.urandom(16).hex()) as minting,
        RealtimeEmulator("sk-" + os.urandom(16).hex()) as failing,
    ):
        refused = {
            "error": {"message": "bad", "type": "invalid_request_error", "param": "session", "code": None}
        }
        failing.script(Fault.error(503), Fault.error(400, body=refused))
        pasted = {PASTED: connection_for(minting, pasted_key + "\n")}
        env = {
            CONN: minting.connection_json(),
            "AIRFLOW_CONN_OPENAI_REALTIME_FAILING": failing.connection_json(
                backoff_initial=0.01, backoff_max=0.05
            ),
            "AIRFLOW_CONN_OPENAI_REALTIME_DENIED": connection_for(minting, wrong_key),
            **pasted,
        }

        def secrets() -> dict[str, str]:
            found = {"API key": minting.api_key, "failing API key": failing.api_key}
            found.update({"wrong API key": wrong_key, "pasted key": pasted_key})
            found.update({f"token {index}": token for index, token in enumerate(minting.minted_tokens)})
            return found

        yield env, pasted, secrets


@pytest.fixture(scope="session")
def dag_runs(
    sandbox: AirflowSandbox, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Any]]:
    """Every DAG run the selected tests read (``uses_run``), each once with ``DAG.test()``, all in one
    Airflow process (one Airflow start for all of them): the examples of ``BATCH``, each against an emulator
    of its own (the fleet example writes to a real Redis when redis-server is installed, else it is not
    run), and ``realtime_task_outcomes`` (see :func:`task_outcome_connections`), then ``airflow
    connections test`` of its pasted key when a test reads it (``pasted_test``). Yields ``dag_id ->
    ExampleRun``, ``realtime_task_outcomes -> TaskOutcomes``, and ``"token_dir"``, ``"redis"`` and
    ``"import_errors"`` (of the DAGs folder) for the tests to look in."""
    wanted = selected_runs(request)
    with contextlib.ExitStack() as stack:
        token_dir = tmp_path_factory.mktemp("tokens")
        redis = None
        if shutil.which("redis-server") and "realtime_fleet_refresh" in wanted:
            redis = stack.enter_context(redis_server(tmp_path_factory.mktemp("redis")))
        requests, emulators = [], {}
        for dag_id, conf in BATCH.items():
            if dag_id not in wanted or (dag_id == "realtime_fleet_refresh" and redis is None):
                continue
            emulator = stack.enter_context(RealtimeEmulator("sk-" + os.urandom(16).hex()))
            env = {CONN: emulator.connection_json(backoff_initial=0.01, backoff_max=0.05)}
            env["REALTIME_TOKEN_DIR"] = str(token_dir)
            if redis is not None:
                env["AIRFLOW_CONN_REDIS_DEFAULT"] = redis.url
            requests.append(DagRunRequest(dag_id, env=env, conf=conf))
            emulators[dag_id] = emulator
        if OUTCOMES in wanted:
            outcome_env, pasted, outcome_secrets = stack.enter_context(task_outcome_connections())
            requests.append(DagRunRequest(OUTCOMES, env=outcome_env))
        outcomes = sandbox.run_dags(requests)
        runs: dict[str, Any] = {"token_dir": token_dir, "redis": redis}
        runs["import_errors"] = next(iter(outcomes.values())).import_errors if outcomes else {}
        for dag_id, outcome in outcomes.items():
            if dag_id in emulators:
                runs[dag_id] = ExampleRun(outcome, emulators[dag_id], outcome.xcoms, outcome.states)
        if OUTCOMES in outcomes:
            commands = {}
            if "pasted_test" in wanted:
                test_env = {**pasted, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
                commands["pasted_test"] = sandbox.airflow(
                    "connections", "test", "openai_realtime_pasted", env=test_env
                )
            runs[OUTCOMES] = TaskOutcomes(outcomes[OUTCOMES], commands, outcome_secrets())
        yield runs


def test_airflow_lists_the_provider(sandbox: AirflowSandbox) -> None:
    result = sandbox.airflow("providers", "list")
    assert result.returncode == 0, result.output[-2000:]
    assert "airflow-provider-realtime" in result.output


@pytest.mark.uses_run("realtime_mint_one_token")
def test_every_dag_file_imports_on_this_airflow(dag_runs: dict[str, Any]) -> None:
    """Every example DAG and test DAG, parsed by this Airflow version (each one's run is proved once, on
    the primary version, where its features do not differ between versions)."""
    assert dag_runs["import_errors"] == {}


def test_airflow_connections_test_uses_the_hook(
    sandbox: AirflowSandbox, env: dict[str, str], shared_emulator: RealtimeEmulator
) -> None:
    result = sandbox.airflow(
        "connections",
        "test",
        "openai_realtime_default",
        env={**env, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"},
    )
    assert result.returncode == 0, result.output[-2000:]
    assert "Connection success!" in result.output
    assert [r.path for r in shared_emulator.requests] == ["/v1/models"]


@pytest.mark.uses_run("realtime_mint_one_token")
def test_example_mint_one_token(dag_runs: dict[str, Any]) -> None:
    run = dag_runs["realtime_mint_one_token"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    minted = xcoms[("mint", -1, "return_value")]
    assert minted["client_secret"] == shared_emulator.minted_tokens[-1]
    assert minted["input_audio_format"] == "pcm16"
    summary = xcoms[("describe", -1, "return_value")]
    assert summary["session_id"] == minted["session_id"]
    assert 540 <= summary["seconds_left"] <= 600, "the secret's expiry, not the session's (an hour later)"
    assert summary["token_received"] is True
    assert minted["client_secret"] not in json.dumps(summary)
    config = xcoms[("mint", -1, "config")]
    assert config["base_url"] == shared_emulator.base_url and config["expires_after_seconds"] == 600


@ONCE
@pytest.mark.uses_run("realtime_token_refresh")
def test_example_token_refresh(dag_runs: dict[str, Any]) -> None:
    run = dag_runs["realtime_token_refresh"]
    xcoms, shared_emulator, tmp_path = run.succeeded(), run.emulator, dag_runs["token_dir"]
    assert shared_emulator.requests[-1].body["expires_after"]["seconds"] == 12 * 60, (
        "10 min schedule + 2 min overlap"
    )
    published = xcoms[("publish", -1, "return_value")]
    path = Path(published["path"])
    assert path.parent == tmp_path
    document = json.loads(path.read_text())
    assert document["client_secret"] == shared_emulator.minted_tokens[-1]
    use_until = datetime.datetime.fromisoformat(document["use_until"])
    assert datetime.datetime.fromisoformat(document["expires_at"]) - use_until == datetime.timedelta(
        seconds=30
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert document["client_secret"] not in json.dumps(published)


@ONCE
@pytest.mark.uses_run("realtime_fleet_refresh")
def test_example_fleet_refresh_writes_each_token_to_redis_until_it_expires(
    dag_runs: dict[str, Any],
) -> None:
    if dag_runs["redis"] is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    run = dag_runs["realtime_fleet_refresh"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    stored = fleet_tokens(dag_runs["redis"], FLEET_CLIENTS)
    assert xcoms[("refresh", -1, "return_value")]["refreshed"] == 60
    assert {document["client_secret"] for document, _ in stored.values()} == set(
        shared_emulator.minted_tokens
    )
    assert len(shared_emulator.minted_tokens) == 60
    # Each key expires 30 s (the margin) before its token (12 min), less the time since the run.
    assert all(570 <= ttl <= 690 for _, ttl in stored.values()), [ttl for _, ttl in stored.values()]
    assert "ek_" not in json.dumps(list(xcoms.values())), "the tokens never enter XCom"


@pytest.mark.uses_run("realtime_partial_fleet")
def test_a_fleet_task_with_failed_items_fails_after_pushing_every_token_it_minted(
    dag_runs: dict[str, Any],
) -> None:
    run = dag_runs["realtime_partial_fleet"]
    assert run.outcome.error is None, run.outcome.error
    shared_emulator, xcoms = run.emulator, run.xcoms
    assert run.states == {("strict", -1): "failed", ("tolerant", -1): "success"}
    assert "1 of 4 client secrets failed (items 2)" in plain(run.outcome.output)
    for task_id in ("strict", "tolerant"):
        results = xcoms[(task_id, -1, "return_value")]
        assert results[2] is None and all(
            result["client_secret"] for index, result in enumerate(results) if index != 2
        )
        [failure] = xcoms[(task_id, -1, "failures")]
        assert (failure["index"], failure["error"], failure["status"]) == (
            2,
            "RealtimeInvalidRequestError",
            400,
        )
    pushed = {
        r["client_secret"]
        for task_id in ("strict", "tolerant")
        for r in xcoms[(task_id, -1, "return_value")]
        if r
    }
    assert pushed == set(shared_emulator.minted_tokens) and len(pushed) == 6, "nothing minted is lost"


def fleet_tokens(redis: RedisServer, clients: list[str]) -> dict[str, tuple[dict, int]]:
    """What the fleet example stored for each client: its document and the key's seconds to live."""
    client = redis.client()
    stored = {name: client.get(f"realtime:client-token:{name}") for name in clients}
    assert all(stored.values()), [name for name, value in stored.items() if not value]
    return {
        name: (json.loads(value), client.ttl(f"realtime:client-token:{name}"))
        for name, value in stored.items()
    }


@pytest.mark.uses_run("realtime_fan_out")
def test_example_fan_out(dag_runs: dict[str, Any]) -> None:
    run = dag_runs["realtime_fan_out"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    mapped = [xcoms[("mint", index, "return_value")] for index in range(3)]
    assert [result["input_audio_transcription"]["language"] for result in mapped] == ["en", "de", "ja"]
    collected = xcoms[("collect", -1, "return_value")]
    assert set(collected) == {"en", "de", "ja"}
    assert len({entry["session_id"] for entry in collected.values()}) == 3
    assert len(shared_emulator.minted_tokens) == 3


@pytest.mark.uses_run("realtime_fan_out")
def test_a_run_read_through_the_rest_api_is_the_run_airflows_models_gave(
    dag_runs: dict[str, Any],
    sandbox: AirflowSandbox,
    api_server: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``read_run`` asks the API server from Airflow 3.1 (no Airflow process): the same states, XComs and
    start as the run's own process read through Airflow's models, a mapped task's included, and every
    page of them (two entries a page here)."""
    if not sandbox._runs_via_api():
        pytest.skip("runs are read through the REST API from Airflow 3.1, while an API server runs")
    monkeypatch.setattr(harness, "API_PAGE_SIZE", 2)
    given = dag_runs["realtime_fan_out"].outcome
    read = sandbox.read_run("realtime_fan_out", given.run_id)
    assert read is not None
    assert (read.state, read.start_date, read.states) == (given.state, given.start_date, given.states)
    assert read.xcoms == given.xcoms and len(read.xcoms) > 2
    assert sandbox.read_run("realtime_fan_out") == read, "the latest run, when no run id is given"


@ONCE
@pytest.mark.uses_run("realtime_voice_agent")
def test_example_voice_agent(dag_runs: dict[str, Any]) -> None:
    run = dag_runs["realtime_voice_agent"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    agent, second = xcoms[("agent", -1, "return_value")], xcoms[("second_desk", -1, "return_value")]
    assert agent["session_type"] == "realtime" and agent["client_secret"].startswith("ek_")
    assert agent["instructions"].startswith("You are the front desk")
    assert agent["tools"][0]["name"] == "book_appointment"
    assert (agent["voice"], second["voice"]) == ("marin", "cedar")
    assert second["tools"] == agent["tools"] and second["session_id"] != agent["session_id"]
    first_config, second_config = xcoms[("agent", -1, "config")], xcoms[("second_desk", -1, "config")]
    assert first_config["kind"] == second_config["kind"] == "realtime"
    assert second_config["expires_after_seconds"] == 120, "repeated from the first task's config"
    bodies = [request.body for request in shared_emulator.requests]
    assert [body["session"]["type"] for body in bodies] == ["realtime", "realtime"]
    assert (
        bodies[0]["expires_after"] == bodies[1]["expires_after"] == {"anchor": "created_at", "seconds": 120}
    )


@ONCE
@pytest.mark.uses_run("realtime_translation_tokens")
def test_example_translation_tokens(dag_runs: dict[str, Any]) -> None:
    run = dag_runs["realtime_translation_tokens"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    mapped = [xcoms[("translate", index, "return_value")] for index in range(3)]
    assert [result["output_language"] for result in mapped] == ["es", "fr", "ja"]
    assert {result["session_type"] for result in mapped} == {"translation"}
    assert {result["client_secret"] for result in mapped} == set(shared_emulator.minted_tokens)
    assert set(xcoms[("by_language", -1, "return_value")]) == {"es", "fr", "ja"}
    assert {request.path for request in shared_emulator.requests} == {
        "/v1/realtime/translations/client_secrets"
    }


@pytest.mark.uses_run("realtime_chain_config")
def test_example_chain_config(dag_runs: dict[str, Any]) -> None:
    run = dag_runs["realtime_chain_config"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    first, second = xcoms[("first", -1, "config")], xcoms[("second", -1, "config")]
    assert first["endpoint"] == "transcription_sessions" and second["endpoint"] == "client_secrets"
    assert {**first, "endpoint": None} == {**second, "endpoint": None}
    assert xcoms[("compare", -1, "return_value")] == {"same_settings": True, "different_sessions": True}
    assert [r.path for r in shared_emulator.requests] == [
        "/v1/realtime/transcription_sessions",
        "/v1/realtime/client_secrets",
    ]


@ONCE
@pytest.mark.uses_run("realtime_raw_probe_models")
def test_example_raw_probe_models(dag_runs: dict[str, Any]) -> None:
    run = dag_runs["realtime_raw_probe_models"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    assert xcoms[("summarize", -1, "return_value")] == {
        "usable": ["gpt-4o-transcribe", "gpt-4o-mini-transcribe"],
        "refused": {"not-a-transcription-model": {"status": 400, "code": "model_not_found"}},
    }
    probes = json.dumps([value for (task, _, _), value in xcoms.items() if task == "probe"])
    assert not [token for token in shared_emulator.minted_tokens if token in probes], (
        "include_client_secret=False"
    )


@pytest.mark.uses_run("realtime_mint_one_token")  # at least one run to search, when selected alone
def test_no_key_or_token_of_the_example_runs_in_their_outputs_log_files_or_tables(
    dag_runs: dict[str, Any], sandbox: AirflowSandbox
) -> None:
    """Every key and token of the example DAG runs, searched in their outputs, the task log files and
    every table of the metadata database (but the XCom return values, which carry the token by design)."""
    secrets: dict[str, str] = {}
    outputs = []
    for dag_id in BATCH:
        run = dag_runs.get(dag_id)
        if run is None:
            continue
        secrets[f"{dag_id} API key"] = run.emulator.api_key
        secrets.update({f"{dag_id} token {i}": token for i, token in enumerate(run.emulator.minted_tokens)})
        outputs.append(run.outcome.output)
    assert len(secrets) >= 2, "the runs minted tokens to look for (a key and a token at least)"
    places = haystacks(sandbox, *outputs)
    found = leaks(secrets, places)
    print(f"leak search: {len(secrets)} secrets in {len(places)} places, {len(found)} leaks")
    assert found == []


# A task minting and one failing (its traceback printed) are searched on every version: what Airflow
# prints of a task changes between versions. How the hook answers a wrong or pasted key is its own code:
# proved once, on the primary version (the executor run refuses a pasted key on every version).
@pytest.mark.uses_run(OUTCOMES)
def test_a_task_that_mints_succeeds_and_logs_the_answer(dag_runs: dict[str, Any]) -> None:
    outcomes: TaskOutcomes = dag_runs[OUTCOMES]
    assert outcomes.state("mint") == "success", outcomes.states_text()
    assert outcomes.state("describe") == "success", "the token reached the downstream task"
    assert "answered 200" in outcomes.run.output, "the task log was captured"


@pytest.mark.uses_run(OUTCOMES)
def test_a_task_refused_after_a_retry_fails_with_the_servers_reason(dag_runs: dict[str, Any]) -> None:
    outcomes: TaskOutcomes = dag_runs[OUTCOMES]
    assert outcomes.state("refused_after_a_retry") == "failed", outcomes.states_text()
    assert "RealtimeInvalidRequestError" in outcomes.run.output, outcomes.run.output[-3000:]


@ONCE
@pytest.mark.uses_run(OUTCOMES)
def test_a_wrong_key_fails_the_task_with_an_authentication_error(dag_runs: dict[str, Any]) -> None:
    outcomes: TaskOutcomes = dag_runs[OUTCOMES]
    assert outcomes.state("wrong_key") == "failed", outcomes.states_text()
    assert "RealtimeAuthenticationError" in outcomes.run.output, outcomes.run.output[-3000:]


@ONCE
@pytest.mark.uses_run(OUTCOMES)
@pytest.mark.uses_run("pasted_test")
def test_a_pasted_key_is_refused_naming_the_connection_before_any_request(dag_runs: dict[str, Any]) -> None:
    """A key pasted with a trailing newline."""
    outcomes: TaskOutcomes = dag_runs[OUTCOMES]
    assert outcomes.state("pasted_key") == "failed", outcomes.states_text()
    assert REFUSED_PASTED_KEY in plain(outcomes.run.output), outcomes.run.output[-3000:]
    pasted_test = outcomes.commands["pasted_test"]
    assert "leading or trailing whitespace" in pasted_test.output, pasted_test.output[-2000:]


@pytest.mark.uses_run(OUTCOMES)
def test_no_key_or_token_of_the_task_outcomes_in_any_output_log_file_or_table(
    dag_runs: dict[str, Any], sandbox: AirflowSandbox
) -> None:
    """Every secret of those tasks and commands, searched in their outputs, the task log files and every
    table of the metadata database (but the XCom return values, which carry the token by design)."""
    outcomes: TaskOutcomes = dag_runs[OUTCOMES]
    assert len(outcomes.secrets) >= 5, "the run minted tokens to look for"
    places = haystacks(sandbox, outcomes.run.output, *(run.output for run in outcomes.commands.values()))
    found = leaks(outcomes.secrets, places)
    print(f"leak search: {len(outcomes.secrets)} secrets in {len(places)} places, {len(found)} leaks")
    assert found == []


def _hook_meta(sandbox: AirflowSandbox) -> dict[str, Any]:
    """What Airflow 3's UI is told of the connection type: its REST answer, from the running API server."""
    entries = sandbox.api_get("/ui/connections/hook_meta")
    return next(entry for entry in entries if entry["connection_type"] == "openai_realtime")


def test_the_connection_form_is_registered(sandbox: AirflowSandbox, request: pytest.FixtureRequest) -> None:
    """On every version with a form: declaratively (conn-fields) from 3.2, through the hook's classmethods
    before; on Airflow 3 as its running API server describes it to the UI."""
    from airflow_provider_realtime import compat
    from airflow_provider_realtime.connection_fields import EXTRA_FIELDS

    names = {extra.name for extra in EXTRA_FIELDS}
    if compat.airflow_version()[:2] == (3, 0):
        pytest.skip("Airflow 3.0 builds custom connection fields only with flask_appbuilder installed")
    if compat.airflow_version() >= (3, 0):
        request.getfixturevalue("api_server")  # started once for every test that needs it
        meta = _hook_meta(sandbox)
        assert meta["hook_class_name"].endswith("OpenAIRealtimeHook")
        assert names <= {key.rsplit("__", 1)[-1] for key in meta["extra_fields"]}
        standard = meta["standard_fields"]
        assert (standard["host"]["title"], standard["password"]["title"]) == ("Base URL", "API Key")
        assert all(standard[name]["hidden"] for name in ("login", "url_schema"))
        assert not (standard["port"] or {}).get("hidden"), "a way round 3.3.2's Test button (see the form)"
        # No bounds for the form to clamp a typed value to (3.3 saved -1 as 0): the hook names the range.
        assert not {"minimum", "maximum", "exclusiveMinimum"} & set(
            json.dumps(meta["extra_fields"]).split('"')
        )
        return
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    hook_info = manager.hooks["openai_realtime"]
    assert hook_info is not None and hook_info.hook_class_name.endswith("OpenAIRealtimeHook")
    assert {f"extra__openai_realtime__{name}" for name in names} <= set(manager.connection_form_widgets)
    behaviour = manager.field_behaviours["openai_realtime"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API Key"}
    assert {"login", "schema"} <= set(behaviour["hidden_fields"]) and "port" not in behaviour["hidden_fields"]
    assert "org-..." in behaviour["placeholders"].values()


def test_this_airflow_is_one_the_versions_file_lists() -> None:
    """Each environment CI runs is a line of requirements/airflow-versions.txt (the one list of them)."""
    from importlib.metadata import version
    from pathlib import Path

    listed = Path(__file__).resolve().parent.parent / "requirements" / "airflow-versions.txt"
    versions = {
        line.split()[0] for line in listed.read_text().splitlines() if line.strip() and line[0] != "#"
    }
    assert version("apache-airflow") in versions
