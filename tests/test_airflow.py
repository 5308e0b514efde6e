"""Real Airflow (SQLite metadata DB, separate ``airflow`` processes) against the emulator on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from airflow_runs import (
    CONN,
    LIMITED,
    PASTED,
    REFUSED_PASTED_KEY,
    connection_for,
    haystacks,
    leaks,
    plain,
)
from servers import RedisServer, redis_server

from airflow_provider_realtime.testing import Fault, RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import (
    TIMED_OUT,
    AirflowSandbox,
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


@pytest.fixture(scope="session")
def example_runs(
    sandbox: AirflowSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Every DAG of ``BATCH`` run once with ``DAG.test()`` in one Airflow process, each against an emulator
    of its own; the fleet example writes to a real Redis (when redis-server is installed, else it is not
    run). Yields ``dag_id -> ExampleRun``, and ``"token_dir"`` and ``"redis"`` for the tests to look in."""
    with contextlib.ExitStack() as stack:
        token_dir = tmp_path_factory.mktemp("tokens")
        redis = None
        if shutil.which("redis-server"):
            redis = stack.enter_context(redis_server(tmp_path_factory.mktemp("redis")))
        requests, emulators = [], {}
        for dag_id, conf in BATCH.items():
            if dag_id == "realtime_fleet_refresh" and redis is None:
                continue
            emulator = stack.enter_context(RealtimeEmulator("sk-" + os.urandom(16).hex()))
            env = {CONN: emulator.connection_json(backoff_initial=0.01, backoff_max=0.05)}
            env["REALTIME_TOKEN_DIR"] = str(token_dir)
            if redis is not None:
                env["AIRFLOW_CONN_REDIS_DEFAULT"] = redis.url
            requests.append(DagRunRequest(dag_id, env=env, conf=conf))
            emulators[dag_id] = emulator
        outcomes = sandbox.run_dags(requests)
        runs: dict[str, Any] = {"token_dir": token_dir, "redis": redis}
        for dag_id, outcome in outcomes.items():
            runs[dag_id] = ExampleRun(outcome, emulators[dag_id], outcome.xcoms, outcome.states)
        yield runs


def test_airflow_lists_the_provider(sandbox: AirflowSandbox) -> None:
    result = sandbox.airflow("providers", "list")
    assert result.returncode == 0, result.output[-2000:]
    assert "airflow-provider-realtime" in result.output
    hooks = sandbox.airflow("providers", "hooks")
    assert "openai_realtime" in hooks.output and "OpenAIRealtimeHook" in hooks.output


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


def test_example_mint_one_token(example_runs: dict[str, Any]) -> None:
    run = example_runs["realtime_mint_one_token"]
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


def test_example_token_refresh(example_runs: dict[str, Any]) -> None:
    run = example_runs["realtime_token_refresh"]
    xcoms, shared_emulator, tmp_path = run.succeeded(), run.emulator, example_runs["token_dir"]
    assert shared_emulator.requests[-1].body["expires_after"]["seconds"] == 12 * 60, (
        "10 min schedule + 2 min overlap"
    )
    published = xcoms[("publish", -1, "return_value")]
    path = Path(published["path"])
    assert path.parent == tmp_path
    document = json.loads(path.read_text())
    assert document["client_secret"] == shared_emulator.minted_tokens[-1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert document["client_secret"] not in json.dumps(published)


def test_example_fleet_refresh_writes_each_token_to_redis_until_it_expires(
    example_runs: dict[str, Any],
) -> None:
    if example_runs["redis"] is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    run = example_runs["realtime_fleet_refresh"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    stored = fleet_tokens(example_runs["redis"], FLEET_CLIENTS)
    assert xcoms[("refresh", -1, "return_value")]["refreshed"] == 60
    assert {document["client_secret"] for document, _ in stored.values()} == set(
        shared_emulator.minted_tokens
    )
    assert len(shared_emulator.minted_tokens) == 60
    # Each key expires with its token (12 min), less the time since the run (the batch ran before).
    assert all(600 <= ttl <= 720 for _, ttl in stored.values()), [ttl for _, ttl in stored.values()]
    assert "ek_" not in json.dumps(list(xcoms.values())), "the tokens never enter XCom"


def test_a_fleet_task_with_failed_items_fails_after_pushing_every_token_it_minted(
    example_runs: dict[str, Any],
) -> None:
    run = example_runs["realtime_partial_fleet"]
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


def test_example_fan_out(example_runs: dict[str, Any]) -> None:
    run = example_runs["realtime_fan_out"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    mapped = [xcoms[("mint", index, "return_value")] for index in range(3)]
    assert [result["input_audio_transcription"]["language"] for result in mapped] == ["en", "de", "ja"]
    collected = xcoms[("collect", -1, "return_value")]
    assert set(collected) == {"en", "de", "ja"}
    assert len({entry["session_id"] for entry in collected.values()}) == 3
    assert len(shared_emulator.minted_tokens) == 3


def test_example_voice_agent(example_runs: dict[str, Any]) -> None:
    run = example_runs["realtime_voice_agent"]
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


def test_example_translation_tokens(example_runs: dict[str, Any]) -> None:
    run = example_runs["realtime_translation_tokens"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    mapped = [xcoms[("translate", index, "return_value")] for index in range(3)]
    assert [result["output_language"] for result in mapped] == ["es", "fr", "ja"]
    assert {result["session_type"] for result in mapped} == {"translation"}
    assert {result["client_secret"] for result in mapped} == set(shared_emulator.minted_tokens)
    assert set(xcoms[("by_language", -1, "return_value")]) == {"es", "fr", "ja"}
    assert {request.path for request in shared_emulator.requests} == {
        "/v1/realtime/translations/client_secrets"
    }


def test_example_chain_config(example_runs: dict[str, Any]) -> None:
    run = example_runs["realtime_chain_config"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    first, second = xcoms[("first", -1, "config")], xcoms[("second", -1, "config")]
    assert first["endpoint"] == "transcription_sessions" and second["endpoint"] == "client_secrets"
    assert {**first, "endpoint": None} == {**second, "endpoint": None}
    assert xcoms[("compare", -1, "return_value")] == {"same_settings": True, "different_sessions": True}
    assert [r.path for r in shared_emulator.requests] == [
        "/v1/realtime/transcription_sessions",
        "/v1/realtime/client_secrets",
    ]


def test_example_raw_probe_models(example_runs: dict[str, Any]) -> None:
    run = example_runs["realtime_raw_probe_models"]
    xcoms, shared_emulator = run.succeeded(), run.emulator
    assert xcoms[("summarize", -1, "return_value")] == {
        "usable": ["gpt-4o-transcribe", "gpt-4o-mini-transcribe"],
        "refused": {"not-a-transcription-model": {"status": 400, "code": "model_not_found"}},
    }
    probes = json.dumps([value for (task, _, _), value in xcoms.items() if task == "probe"])
    assert not [token for token in shared_emulator.minted_tokens if token in probes], (
        "include_client_secret=False"
    )


def test_no_key_or_token_of_the_example_runs_in_their_outputs_log_files_or_tables(
    example_runs: dict[str, Any], sandbox: AirflowSandbox
) -> None:
    """Every key and token of the example DAG runs, searched in their outputs, the task log files and
    every table of the metadata database (but the XCom return values, which carry the token by design)."""
    secrets: dict[str, str] = {}
    outputs = []
    for dag_id in BATCH:
        run = example_runs.get(dag_id)
        if run is None:
            continue
        secrets[f"{dag_id} API key"] = run.emulator.api_key
        secrets.update({f"{dag_id} token {i}": token for i, token in enumerate(run.emulator.minted_tokens)})
        outputs.append(CommandResult(0, run.outcome.output, run.outcome.run_id))
    assert len(secrets) >= 20, "the runs minted tokens to look for"
    places = haystacks(sandbox, *outputs)
    found = leaks(secrets, places)
    print(f"leak search: {len(secrets)} secrets in {len(places)} places, {len(found)} leaks")
    assert found == []


def test_tokens_are_masked_in_the_task_log_files_of_an_executor_run(
    sandbox: AirflowSandbox, env: dict[str, str], shared_emulator: RealtimeEmulator
) -> None:
    """Tasks run by the executor in supervised processes, which write the task log files (as in production):
    no token in any file, whatever route it took (see the DAG's every_route), and a fleet stopped by its
    execution_timeout sends nothing more and pushes what it minted."""
    from airflow_provider_realtime import compat

    pasted_key = "sk-pasted-" + os.urandom(12).hex()
    with RealtimeEmulator("sk-limited-" + os.urandom(12).hex()) as limited:
        # Five answers mint; every other asks for a 2 s pause, which the batch honours until it is stopped.
        limited.script(*[None] * 5, *[Fault.error(429, retry_after="2")] * 600)
        env = {
            **env,
            PASTED: connection_for(shared_emulator, pasted_key + "\n"),
            LIMITED: limited.connection_json(max_retries=5),
        }
        with sandbox.executor():
            run = sandbox.dags_test("realtime_leak_probe", env=env, use_executor=True)
        assert run.returncode != TIMED_OUT, run.output[-4000:]
        assert run.run_id, run.output[-4000:]
        states = sandbox.task_states("realtime_leak_probe", run.run_id)
        xcoms = sandbox.xcoms("realtime_leak_probe", run.run_id)
        limited_requests, limited_tokens = limited.request_count, list(limited.minted_tokens)
    # Airflow 3.0's `dags test --use-executor` records a task that failed as "success" in some runs, as
    # "failed" in others; its log shows the error either way (checked below).
    failed = {"success", "failed"} if compat.airflow_version() == (3, 0) else {"failed"}
    refused = {key: states.pop(key, None) for key in (("pasted_key", -1), ("stopped_fleet", -1))}
    assert all(state in failed for state in refused.values()), refused
    assert states == {("mint", -1): "success", ("careless", -1): "success", ("every_route", -1): "success"}
    logs = {
        path.parent.name.removeprefix("task_id="): path.read_text()
        for path in sandbox.task_log_files()
        if f"run_id={run.run_id}" in str(path)
    }
    assert set(logs) == {"mint", "careless", "pasted_key", "every_route", "stopped_fleet"}
    assert REFUSED_PASTED_KEY in plain(logs["pasted_key"])
    assert "answered 200" in logs["mint"]
    assert "the token is ***" in logs["careless"], "a logged token is masked"
    assert "printed token=***" in logs["careless"], "a printed token is masked by the supervisor"

    # Every route, for a token Airflow's mask_secret handles and one of the flat-cost part of the fleet.
    routes = plain(logs["every_route"])
    expected = ["url key%3D***", "word desk_7_***", "to a handler made before the mint ***"]
    # Airflow 2 sends no child's or descriptor's output to the file, and its sys.stdout logs each flushed
    # piece of a line as a line of its own.
    if compat.airflow_version() >= (3, 0):
        expected += ["from a child ***", "from a grandchild ***", "os.write ***", "to sys.__stdout__ ***"]
        expected += ["to a saved stderr ***", "to sys.stdout.buffer ***", "in pieces *** end"]
        route_result = xcoms[("every_route", -1, "return_value")]
        assert route_result["stdout_attributes"] == ["buffer", "reconfigure", "line_buffering", "name"]
        print(f"100,000 one-character writes in a supervised task: {route_result['100k_writes_seconds']} s")
    missing = [line for line in expected if routes.count(line) != 2]
    assert not missing, f"not found twice (one token of each part of the fleet): {missing}"

    # The stopped fleet: the 5 tokens minted are pushed; nothing was sent after the stop.
    assert "Batch stopped" in logs["stopped_fleet"]
    pushed = xcoms[("stopped_fleet", -1, "return_value")]
    assert sorted(item["client_secret"] for item in pushed if item) == sorted(limited_tokens)
    assert len(limited_tokens) == 5
    # 5 mint at once, 5 more are told to wait 2 s, 5 more at 2 s are told to wait until 4 s: the stop at
    # 3 s leaves them waiting. Left to go on, the batch would send 500.
    assert limited_requests <= 15, f"{limited_requests} requests reached the server"

    secrets = [
        shared_emulator.api_key,
        limited.api_key,
        pasted_key,
        *shared_emulator.minted_tokens,
        *limited_tokens,
    ]
    assert len(shared_emulator.minted_tokens) == 2 + 40
    # Only the files: Airflow echoes the workers' log lines to the console of `airflow dags test` unmasked
    # (a local development command; the task log files it writes are masked).
    leaks = [name for name, text in logs.items() for secret in secrets if secret in text]
    print(f"executor run: {len(secrets)} secrets in {len(logs)} task log files, {len(leaks)} leaks")
    assert not [name for name, text in logs.items() if pasted_key[10:20] in text], "not even a fragment"
    assert leaks == []


def _connection_form() -> tuple[dict, dict]:
    """The form's widgets and field behaviours, as the running Airflow's UI builds them."""
    from airflow_provider_realtime import compat

    if compat.airflow_version() >= (3, 0):  # the React UI: Flask form classes stood in for
        from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

        _, widgets, behaviours = HookMetaService._get_hooks_with_mocked_fab()
        return widgets, behaviours
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    return manager.connection_form_widgets, manager.field_behaviours


def test_the_connection_form_is_registered() -> None:
    """On every version: declaratively (conn-fields) from 3.2, through the hook's classmethods before."""
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_realtime import compat
    from airflow_provider_realtime.connection_fields import EXTRA_FIELDS

    if compat.airflow_version()[:2] == (3, 0):
        pytest.skip("Airflow 3.0 builds custom connection fields only with flask_appbuilder installed")
    widgets, behaviours = _connection_form()  # first: it initialises the providers manager as the UI does
    hook_info = ProvidersManager().hooks["openai_realtime"]
    assert hook_info is not None and hook_info.hook_class_name.endswith("OpenAIRealtimeHook")
    for extra in EXTRA_FIELDS:
        assert f"extra__openai_realtime__{extra.name}" in widgets, extra.name
    behaviour = behaviours["openai_realtime"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API Key"}
    assert {"login", "schema", "port"} <= set(behaviour["hidden_fields"])
    assert "org-..." in behaviour["placeholders"].values()
