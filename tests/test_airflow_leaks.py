"""No key or token leaks from a real task: ``airflow tasks test`` runs that mint, fail after a retry, are
denied a wrong key and refuse a pasted key, and ``airflow connections test``, each claim a test, then every
secret searched in their outputs, the task log files and the metadata database; and tasks run by an
executor in supervised processes, whose log files are searched. A file of its own, so that the test runner
puts it on the other core from ``test_airflow.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

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
    task_failed,
)

from airflow_provider_realtime.testing import Fault, RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import TIMED_OUT, AirflowSandbox, CommandResult

pytestmark = pytest.mark.airflow_process


@dataclass(frozen=True)
class LeakRuns:
    """The CLI commands the leak tests search, each run once."""

    runs: dict[str, CommandResult]
    secrets: dict[str, str]


# A task minting and one failing (its traceback printed) are searched on every version: what Airflow's CLI
# prints of a task changes between versions. How the hook answers a wrong or pasted key is its own code:
# proved once, on the primary version (the executor run below refuses a pasted key on every version).
ONCE = pytest.mark.version_independent


@pytest.fixture(scope="module")
def leak_runs(sandbox: AirflowSandbox, request: pytest.FixtureRequest) -> Iterator[LeakRuns]:
    """``airflow tasks test`` minting, failing after a retry, denied a wrong key and refusing a pasted
    key, and ``airflow connections test`` of the pasted key: each against an emulator of its own where
    what it is answered matters; only those the selected tests read (``uses_run``). One at a time: two
    Airflow commands starting at once both write their DAGs to the SQLite database, and one fails."""
    wanted = {mark.args[0] for item in request.session.items for mark in item.iter_markers("uses_run")}

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
        # A logical date each, so that each command makes a DAG run of its own.
        mint = ("tasks", "test", "realtime_mint_one_token", "mint")
        commands = {
            "ok": ((*mint, "2026-01-01"), {CONN: minting.connection_json()}),
            "failed": (
                (*mint, "2026-01-02"),
                {CONN: failing.connection_json(backoff_initial=0.01, backoff_max=0.05)},
            ),
            "denied": ((*mint, "2026-01-03"), {CONN: connection_for(minting, wrong_key)}),
            "pasted_task": (("tasks", "test", "realtime_leak_probe", "pasted_key", "2026-01-04"), pasted),
            "pasted_test": (
                ("connections", "test", "openai_realtime_pasted"),
                {**pasted, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"},
            ),
        }
        runs = {
            name: sandbox.airflow(*args, env=env) for name, (args, env) in commands.items() if name in wanted
        }
        secrets = {"API key": minting.api_key, "failing API key": failing.api_key}
        secrets.update({"wrong API key": wrong_key, "pasted key": pasted_key})
        secrets.update({f"token {index}": token for index, token in enumerate(minting.minted_tokens)})
        yield LeakRuns(runs, secrets)


@pytest.mark.uses_run("ok")
def test_a_task_that_mints_succeeds_and_logs_the_answer(leak_runs: LeakRuns) -> None:
    ok = leak_runs.runs["ok"]
    assert ok.returncode == 0, ok.output[-3000:]
    assert "answered 200" in ok.output, "the task log was captured"


@pytest.mark.uses_run("failed")
def test_a_task_refused_after_a_retry_fails_with_the_servers_reason(leak_runs: LeakRuns) -> None:
    failed = leak_runs.runs["failed"]
    assert task_failed(failed) and "RealtimeInvalidRequestError" in failed.output, failed.output[-3000:]


@ONCE
@pytest.mark.uses_run("denied")
def test_a_wrong_key_fails_the_task_with_an_authentication_error(leak_runs: LeakRuns) -> None:
    denied = leak_runs.runs["denied"]
    assert task_failed(denied) and "RealtimeAuthenticationError" in denied.output, denied.output[-3000:]


@ONCE
@pytest.mark.uses_run("pasted_task")
@pytest.mark.uses_run("pasted_test")
def test_a_pasted_key_is_refused_naming_the_connection_before_any_request(leak_runs: LeakRuns) -> None:
    """A key pasted with a trailing newline (issue 8, finding 1)."""
    pasted_task = leak_runs.runs["pasted_task"]
    assert task_failed(pasted_task), pasted_task.output[-3000:]
    assert REFUSED_PASTED_KEY in plain(pasted_task.output), pasted_task.output[-3000:]
    pasted_test = leak_runs.runs["pasted_test"]
    assert "leading or trailing whitespace" in pasted_test.output, pasted_test.output[-2000:]


def test_no_key_or_token_in_any_output_log_file_or_table(
    leak_runs: LeakRuns, sandbox: AirflowSandbox
) -> None:
    """Every secret of those commands, searched in their outputs, the task log files and every table of
    the metadata database (but the XCom return values, which carry the token by design)."""
    assert leak_runs.runs and len(leak_runs.secrets) >= 5, "the runs minted tokens to look for"
    places = haystacks(sandbox, *leak_runs.runs.values())
    found = leaks(leak_runs.secrets, places)
    print(f"leak search: {len(leak_runs.secrets)} secrets in {len(places)} places, {len(found)} leaks")
    assert found == []


def test_tokens_are_masked_in_the_task_log_files_of_an_executor_run(
    sandbox: AirflowSandbox, shared_emulator: RealtimeEmulator
) -> None:
    """Tasks run by the executor in supervised processes, which write the task log files (as in production):
    no token in any file, whatever route it took (see the DAG's every_route), and a fleet stopped by its
    execution_timeout sends nothing more and pushes what it minted."""
    from airflow_provider_realtime import compat

    shared_emulator.reset()
    pasted_key = "sk-pasted-" + os.urandom(12).hex()
    with RealtimeEmulator("sk-limited-" + os.urandom(12).hex()) as limited:
        # Five answers mint; every other asks for a 2 s pause, which the batch honours until it is stopped.
        limited.script(*[None] * 5, *[Fault.error(429, retry_after="2")] * 600)
        env = {
            CONN: shared_emulator.connection_json(backoff_initial=0.01, backoff_max=0.05),
            PASTED: connection_for(shared_emulator, pasted_key + "\n"),
            LIMITED: limited.connection_json(max_retries=5),
        }
        with sandbox.executor():
            run = sandbox.dags_test("realtime_leak_probe", env=env, use_executor=True)
        assert run.returncode != TIMED_OUT, run.output[-4000:]
        assert run.run_id, run.output[-4000:]
        record = sandbox.read_run("realtime_leak_probe", run.run_id)
        assert record is not None
        states, xcoms = dict(record.states), record.xcoms
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
    assert routes.count("in a traceback ***") >= 2, "a logged exception's message, for each token"

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
