"""No key or token leaks from a real task: ``airflow tasks test`` runs that mint, fail after a retry, are
denied a wrong key and refuse a pasted key, and ``airflow connections test``, each claim a test, then every
secret searched in their outputs, the task log files and the metadata database. A file of its own, so
that the test runner puts it on the other core from ``test_airflow.py`` (the executor run has one too:
``test_airflow_executor.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

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
    task_failed,
)

from airflow_provider_realtime.testing import Fault, RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import AirflowSandbox, CommandResult

pytestmark = pytest.mark.airflow_process


@dataclass(frozen=True)
class LeakRuns:
    """The CLI commands the leak tests search, each run once."""

    runs: dict[str, CommandResult]
    secrets: dict[str, str]


# A task minting and one failing (its traceback printed) are searched on every version: what Airflow's CLI
# prints of a task changes between versions. How the hook answers a wrong or pasted key is its own code:
# proved once, on the primary version (the executor run refuses a pasted key on every version).
ONCE = pytest.mark.version_independent


@pytest.fixture(scope="module")
def leak_runs(sandbox: AirflowSandbox, request: pytest.FixtureRequest) -> Iterator[LeakRuns]:
    """``airflow tasks test`` minting, failing after a retry, denied a wrong key and refusing a pasted
    key, and ``airflow connections test`` of the pasted key: each against an emulator of its own where
    what it is answered matters; only those the selected tests read (``uses_run``). One at a time: two
    Airflow commands starting at once both write their DAGs to the SQLite database, and one fails."""
    wanted = selected_runs(request)

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
