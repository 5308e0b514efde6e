"""No key or token leaks from a real task: a run of tasks that mint, fail after a retry, are denied a
wrong key and refuse a pasted key (``DAG.test()`` in an Airflow process, one run for all four), and
``airflow connections test``, each claim a test, then every secret searched in their outputs, the task
log files and the metadata database. A file of its own, so that the test runner puts it on the other
core from ``test_airflow.py`` (the executor run has one too: ``test_airflow_executor.py``)."""

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
)

from airflow_provider_realtime.testing import Fault, RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import (
    AirflowSandbox,
    CommandResult,
    DagRunOutcome,
    DagRunRequest,
)

pytestmark = pytest.mark.airflow_process


@dataclass(frozen=True)
class LeakRuns:
    """What the leak tests search: the run of the four tasks, the CLI commands, and the secrets."""

    tasks: DagRunOutcome
    commands: dict[str, CommandResult]
    secrets: dict[str, str]

    def state(self, task_id: str) -> str | None:
        return self.tasks.states.get((task_id, -1))

    def states_text(self) -> str:
        """Each task's state, then the end of the run's output: what a failed assertion shows."""
        return f"{self.tasks.states}\n{self.tasks.output[-3000:]}"


# A task minting and one failing (its traceback printed) are searched on every version: what Airflow
# prints of a task changes between versions. How the hook answers a wrong or pasted key is its own code:
# proved once, on the primary version (the executor run refuses a pasted key on every version).
ONCE = pytest.mark.version_independent
DAG_ID = "realtime_task_outcomes"


@pytest.fixture(scope="module")
def leak_runs(sandbox: AirflowSandbox, request: pytest.FixtureRequest) -> Iterator[LeakRuns]:
    """One run of ``realtime_task_outcomes`` (its four tasks, each on a connection of its own: minting,
    failing after a retry, a wrong key, a pasted key), and, when a selected test reads it (``uses_run``),
    ``airflow connections test`` of the pasted key. One Airflow start for the four tasks: an ``airflow
    tasks test`` each cost one start-up each (and had to run one at a time: two Airflow commands starting
    at once both write their DAGs to the SQLite database, and one fails)."""
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
        tasks = sandbox.run_dags([DagRunRequest(DAG_ID, env=env)])[DAG_ID]
        commands = {}
        if "pasted_test" in selected_runs(request):
            commands["pasted_test"] = sandbox.airflow(
                "connections",
                "test",
                "openai_realtime_pasted",
                env={**pasted, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"},
            )
        secrets = {"API key": minting.api_key, "failing API key": failing.api_key}
        secrets.update({"wrong API key": wrong_key, "pasted key": pasted_key})
        secrets.update({f"token {index}": token for index, token in enumerate(minting.minted_tokens)})
        yield LeakRuns(tasks, commands, secrets)


def test_a_task_that_mints_succeeds_and_logs_the_answer(leak_runs: LeakRuns) -> None:
    assert leak_runs.state("mint") == "success", leak_runs.states_text()
    assert leak_runs.state("describe") == "success", "the token reached the downstream task"
    assert "answered 200" in leak_runs.tasks.output, "the task log was captured"


def test_a_task_refused_after_a_retry_fails_with_the_servers_reason(leak_runs: LeakRuns) -> None:
    assert leak_runs.state("refused_after_a_retry") == "failed", leak_runs.states_text()
    assert "RealtimeInvalidRequestError" in leak_runs.tasks.output, leak_runs.tasks.output[-3000:]


@ONCE
def test_a_wrong_key_fails_the_task_with_an_authentication_error(leak_runs: LeakRuns) -> None:
    assert leak_runs.state("wrong_key") == "failed", leak_runs.states_text()
    assert "RealtimeAuthenticationError" in leak_runs.tasks.output, leak_runs.tasks.output[-3000:]


@ONCE
@pytest.mark.uses_run("pasted_test")
def test_a_pasted_key_is_refused_naming_the_connection_before_any_request(leak_runs: LeakRuns) -> None:
    """A key pasted with a trailing newline (issue 8, finding 1)."""
    assert leak_runs.state("pasted_key") == "failed", leak_runs.states_text()
    assert REFUSED_PASTED_KEY in plain(leak_runs.tasks.output), leak_runs.tasks.output[-3000:]
    pasted_test = leak_runs.commands["pasted_test"]
    assert "leading or trailing whitespace" in pasted_test.output, pasted_test.output[-2000:]


def test_no_key_or_token_in_any_output_log_file_or_table(
    leak_runs: LeakRuns, sandbox: AirflowSandbox
) -> None:
    """Every secret of those commands, searched in their outputs, the task log files and every table of
    the metadata database (but the XCom return values, which carry the token by design)."""
    assert len(leak_runs.secrets) >= 5, "the run minted tokens to look for"
    places = haystacks(sandbox, leak_runs.tasks.output, *(run.output for run in leak_runs.commands.values()))
    found = leaks(leak_runs.secrets, places)
    print(f"leak search: {len(leak_runs.secrets)} secrets in {len(places)} places, {len(found)} leaks")
    assert found == []
