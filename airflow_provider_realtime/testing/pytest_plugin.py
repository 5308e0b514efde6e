"""Pytest fixtures for testing DAGs against the emulator, offline.

Enable them in your ``conftest.py``::

    pytest_plugins = ["airflow_provider_realtime.testing.pytest_plugin"]

then ask for ``realtime_emulator`` (the running emulator), ``realtime_connection`` (the emulator with
``AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT`` pointing at it for the test's duration) and
``realtime_dag_test`` (run a DAG of your DAGs folder once, in a throwaway Airflow, and read its XComs).
The DAGs folder is the ``realtime_dags_folder`` ini option (default ``dags``, beside the ini file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_realtime.testing.emulator import RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import AirflowSandbox, DagRunOutcome, DagRunRequest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("realtime_dags_folder", "the DAGs folder realtime_dag_test runs DAGs from", default="dags")
    parser.addini(
        "realtime_emulator_models",
        "model names the emulator accepts beside those OpenAI's published spec lists (Azure deployments)",
        type="linelist",
        default=[],
    )


@pytest.fixture
def realtime_emulator(request: pytest.FixtureRequest) -> Iterator[RealtimeEmulator]:
    """A running emulator on 127.0.0.1 with a free port, stopped after the test. It accepts every model
    OpenAI's published spec lists, and those of the ``realtime_emulator_models`` ini option."""
    extra_models = request.config.getini("realtime_emulator_models")
    with RealtimeEmulator(extra_models=extra_models) as emulator:
        yield emulator


@pytest.fixture
def realtime_connection(
    realtime_emulator: RealtimeEmulator, monkeypatch: pytest.MonkeyPatch
) -> RealtimeEmulator:
    """The emulator, with the default connection id pointing at it (fast retries for tests)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT",
        realtime_emulator.connection_json(backoff_initial=0.01, backoff_max=0.05),
    )
    return realtime_emulator


@dataclass(frozen=True)
class DagTestResult:
    """One run of :func:`realtime_dag_test`: how it went, its XComs keyed by ``(task_id, map_index,
    key)`` and its task states keyed by ``(task_id, map_index)`` (``map_index`` -1 when not mapped)."""

    outcome: DagRunOutcome
    xcoms: dict[tuple[str, int, str], Any]
    states: dict[tuple[str, int], str | None]


@pytest.fixture(scope="session")
def realtime_sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AirflowSandbox:
    """A throwaway Airflow (SQLite metadata database, migrated once per session) whose DAGs folder is
    the ``realtime_dags_folder`` ini option."""
    config = request.config
    base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
    dags = base / str(config.getini("realtime_dags_folder"))  # an absolute path stays as it is
    sandbox = AirflowSandbox(tmp_path_factory.mktemp("airflow-home"), dags)
    sandbox.migrate()
    return sandbox


@pytest.fixture
def realtime_dag_test(realtime_sandbox: AirflowSandbox) -> Callable[..., DagTestResult]:
    """``realtime_dag_test(dag_id, conf=None)`` runs the DAG once with ``DAG.test()`` in the sandbox, with
    this test's connections (``AIRFLOW_CONN_…``, as ``realtime_connection`` sets), and returns a
    :class:`DagTestResult`. Airflow starts for each call (several seconds). A DAG that could not run
    (an unknown dag id, a DAG file that fails to import, an error of ``DAG.test()`` itself) fails the
    test with that error; a task that fails is a run whose ``states`` say so."""

    def run(dag_id: str, conf: dict[str, Any] | None = None) -> DagTestResult:
        return run_dag_tests(realtime_sandbox, [dag_id], conf)[dag_id]

    return run


def run_dag_tests(
    sandbox: AirflowSandbox, dag_ids: Sequence[str], conf: dict[str, Any] | None = None
) -> dict[str, DagTestResult]:
    """Run each DAG once with ``DAG.test()``, all in one Airflow start, keyed by ``dag_id``.

    ``realtime_dag_test`` starts Airflow for each call (several seconds); a module whose tests read
    several DAGs' runs can share one start by running them in a module-scoped fixture (docs/testing.md).
    The connections are the environment's at the call (``AIRFLOW_CONN_…``). A DAG that could not run
    fails the test with its error, as ``realtime_dag_test`` does.
    """
    outcomes = sandbox.run_dags([DagRunRequest(dag_id, conf=conf) for dag_id in dag_ids])
    for dag_id, outcome in outcomes.items():
        if outcome.error is not None:
            pytest.fail(
                f"realtime_dag_test({dag_id!r}) could not run the DAG: {outcome.error}", pytrace=False
            )
    return {
        dag_id: DagTestResult(outcome, outcome.xcoms, outcome.states) for dag_id, outcome in outcomes.items()
    }
