"""Distributed Airflow, as teams that refresh fleets run it: CeleryExecutor with a real Redis broker, a real
PostgreSQL metadata database, a scheduler (on Airflow 3 also a DAG processor and an API server) and two
Celery workers, each with a task log folder of its own (as on two machines). The fleet example runs on
its schedule; the fan-out example and a task that logs and prints every token it mints are triggered.
Their XComs and the Redis keys are read back, and no worker's task log holds a token or the API key.

Every server is started by this test on loopback, in temporary directories, and stopped after. Without
redis-server, PostgreSQL or the Celery provider (``pip install -e '.[distributed]'``) it is skipped,
saying which is missing; ``.ci/run`` installs them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from harness import Sandbox as AirflowSandbox
from servers import postgres_bin_or_skip, postgres_server, redis_server, redis_server_or_skip

from airflow_provider_realtime.compat import airflow_version
from airflow_provider_realtime.testing import RealtimeEmulator

pytestmark = [pytest.mark.airflow_process, pytest.mark.distributed]

ROOT = Path(__file__).resolve().parent.parent
FLEET, FAN_OUT, CARELESS = "realtime_fleet_refresh", "realtime_fan_out", "realtime_careless_fleet"
ALL_DAGS = (FLEET, FAN_OUT, CARELESS)
DESKS = [f"desk-{number:03d}" for number in range(1, 21)]  # the fleet example's default clients
WORKERS = ("worker1", "worker2")
RUN_TIMEOUT = 300.0

AIRFLOW_3 = airflow_version() >= (3, 0)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The whole deployment, up until the module's tests are done."""
    pytest.importorskip("airflow.providers.celery", reason="the Celery provider is not installed")
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed")
    redis_server_or_skip()
    postgres_bin_or_skip()
    home = tmp_path_factory.mktemp("distributed")
    dags = home / "dags"
    dags.mkdir()
    for source in (ROOT / "example_dags" / f"{FLEET}.py", ROOT / "example_dags" / f"{FAN_OUT}.py"):
        (dags / source.name).write_text(source.read_text())
    (dags / f"{CARELESS}.py").write_text((ROOT / "tests" / "dags" / f"{CARELESS}.py").read_text())
    api_key = "sk-distributed-" + os.urandom(12).hex()
    with (
        RealtimeEmulator(api_key, keep_requests=1000) as emulator,
        postgres_server() as postgres,
        redis_server(home / "redis") as redis,
    ):
        sandbox = AirflowSandbox(home / "airflow", dags)
        env = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.sqlalchemy_url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis.port}/1",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.sqlalchemy_url,
            # The scheduler gives a send to the broker 1 s by default; on a loaded CI machine (the suite
            # runs on both cores) that ran out, and the alarm broke its half-imported redis client.
            "AIRFLOW__CELERY__OPERATION_TIMEOUT": "30",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": emulator.connection_json(),
            "AIRFLOW_CONN_REDIS_DEFAULT": redis.url,
        }
        if AIRFLOW_3:
            env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "5"
        else:  # Airflow 2's scheduler parses the DAG files itself
            env["AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL"] = "5"
        migrated = sandbox.airflow("db", "migrate", env=env)
        assert migrated.returncode == 0, migrated.output[-3000:]
        with contextlib.ExitStack() as running:
            if AIRFLOW_3:  # tasks talk to the API server; DAG files are parsed by the DAG processor
                running.enter_context(sandbox.api_server(env=env))
            processes = {"scheduler": running.enter_context(sandbox.background("scheduler", env=env))}
            if AIRFLOW_3:
                processes["dag-processor"] = running.enter_context(
                    sandbox.background("dag-processor", env=env)
                )
            for name in WORKERS:
                processes[name] = running.enter_context(worker(sandbox, env, name))
            wait_for_dags(postgres.port, postgres.user, processes)
            trigger(sandbox, env, (FAN_OUT, CARELESS))
            runs = wait_for_runs(postgres.port, postgres.user, processes)
            stop_together(processes)
        client = redis.client()
        yield {
            "sandbox": sandbox,
            "emulator": emulator,
            "runs": runs,
            "xcoms": read_xcoms(postgres.port, postgres.user, runs),
            "states": read_states(postgres.port, postgres.user, runs),
            "redis": {desk: (client.get(KEY + desk), client.ttl(KEY + desk)) for desk in DESKS},
        }


KEY = "realtime:client-token:"


def stop_together(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Ask every process to stop at once: each takes seconds to shut down, and one after the other they
    took 15 s (the sandbox then waits for each, and kills what is left)."""
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)


def trigger(sandbox: AirflowSandbox, env: dict[str, str], dag_ids: tuple[str, ...]) -> None:
    """A run of each DAG: on Airflow 3 a request to the running API server, on Airflow 2 (no API server in
    the deployment) ``airflow dags trigger``, both at once (an Airflow start each, 3-4 s of CPU)."""
    if AIRFLOW_3:
        for dag_id in dag_ids:
            sandbox.api_request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
        return
    with ThreadPoolExecutor(2) as pool:
        for triggered in pool.map(
            lambda dag_id: sandbox.airflow("dags", "trigger", dag_id, env=env), dag_ids
        ):
            assert triggered.returncode == 0, triggered.output[-3000:]


def worker(sandbox: AirflowSandbox, env: dict[str, str], name: str) -> Any:
    """A Celery worker with a task log folder of its own, as if on a machine of its own."""
    logs = sandbox.home / f"{name}-logs"
    logs.mkdir(exist_ok=True)
    worker_env = {**env, "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs)}
    args = ("celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2", "--skip-serve-logs")
    return sandbox.background(*args, env=worker_env, log_name=name)


def query(port: int, user: str, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname="airflow")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return list(cursor.fetchall())
    finally:
        connection.close()


def check_alive(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Fail at once, naming it, when a process of the deployment has died (its log is HOME/NAME.log)."""
    dead = [name for name, process in processes.items() if process.poll() is not None]
    assert not dead, f"{', '.join(dead)} exited; see its log in the sandbox's home"


def wait_for_dags(port: int, user: str, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        check_alive(processes)
        rows = query(port, user, "SELECT dag_id FROM serialized_dag WHERE dag_id IN %s", ALL_DAGS)
        if len(rows) == len(ALL_DAGS):
            return
        time.sleep(1)
    raise AssertionError("the DAG processor did not serialize both DAGs in time")


def wait_for_runs(
    port: int, user: str, processes: dict[str, subprocess.Popen[bytes]]
) -> dict[str, tuple[str, str]]:
    """The first run of each DAG (the fleet's scheduled, the fan-out's triggered) once finished:
    dag_id -> (run_id, state)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        check_alive(processes)
        rows = query(
            port,
            user,
            "SELECT DISTINCT ON (dag_id) dag_id, run_id, state FROM dag_run ORDER BY dag_id, id",
        )
        runs = {dag_id: (run_id, state) for dag_id, run_id, state in rows}
        if set(runs) == set(ALL_DAGS) and all(state in ("success", "failed") for _, state in runs.values()):
            return runs
        time.sleep(1)
    raise AssertionError(f"the runs did not finish in {RUN_TIMEOUT:.0f} s: {rows}")


def of_runs(
    port: int, user: str, runs: dict[str, tuple[str, str]], columns: str, table: str
) -> Iterator[Any]:
    """``(dag_id, *columns)`` of ``table``'s rows that belong to ``runs``."""
    for dag_id, (run_id, _) in runs.items():
        sql = f"SELECT {columns} FROM {table} WHERE dag_id = %s AND run_id = %s"  # noqa: S608 - our names
        for row in query(port, user, sql, dag_id, run_id):
            yield (dag_id, *row)


def read_xcoms(
    port: int, user: str, runs: dict[str, tuple[str, str]]
) -> dict[tuple[str, str, int, str], Any]:
    xcoms = {}
    for dag_id, task_id, map_index, key, value in of_runs(
        port, user, runs, 'task_id, map_index, "key", value', "xcom"
    ):
        if isinstance(value, (bytes, memoryview)):  # Airflow 2 stores JSON as bytes
            value = json.loads(bytes(value))
        xcoms[(dag_id, task_id, map_index, key)] = value  # Airflow 3's JSON column comes decoded
    return xcoms


def read_states(port: int, user: str, runs: dict[str, tuple[str, str]]) -> dict[tuple[str, str, int], str]:
    rows = of_runs(port, user, runs, "task_id, map_index, state", "task_instance")
    return {(dag_id, task_id, map_index): state for dag_id, task_id, map_index, state in rows}


def test_both_dags_succeed_under_celery(deployment: dict[str, Any]) -> None:
    assert {dag_id: state for dag_id, (_, state) in deployment["runs"].items()} == dict.fromkeys(
        ALL_DAGS, "success"
    ), deployment["states"]
    assert set(deployment["states"].values()) == {"success"}
    assert len(deployment["states"]) == 7  # refresh; sessions_per_language, 3 mapped mints, collect; careless


def test_the_fleet_tokens_are_in_redis_until_they_expire_and_not_in_xcom(deployment: dict[str, Any]) -> None:
    minted = set(deployment["emulator"].minted_tokens)
    stored = deployment["redis"]
    assert all(value for value, _ in stored.values()), [
        desk for desk, (value, _) in stored.items() if not value
    ]
    tokens = {json.loads(value)["client_secret"] for value, _ in stored.values()}
    assert len(tokens) == 20 and tokens <= minted
    assert all(0 < ttl <= 720 for _, ttl in stored.values())
    fleet_xcoms = {key: value for key, value in deployment["xcoms"].items() if key[0] == FLEET}
    assert fleet_xcoms[(FLEET, "refresh", -1, "return_value")]["refreshed"] == 20
    assert "ek_" not in json.dumps(list(fleet_xcoms.values()))


def test_the_fan_out_xcoms_come_back_from_the_workers(deployment: dict[str, Any]) -> None:
    xcoms = deployment["xcoms"]
    languages = [
        xcoms[(FAN_OUT, "mint", index, "return_value")]["input_audio_transcription"]["language"]
        for index in range(3)
    ]
    assert languages == ["en", "de", "ja"]
    assert set(xcoms[(FAN_OUT, "collect", -1, "return_value")]) == {"en", "de", "ja"}


def test_the_workers_task_logs_hold_no_token_and_no_key(deployment: dict[str, Any]) -> None:
    sandbox: AirflowSandbox = deployment["sandbox"]
    emulator: RealtimeEmulator = deployment["emulator"]
    logs = {name: sorted((sandbox.home / f"{name}-logs").rglob("*.log")) for name in WORKERS}
    ran = {name: [path for path in paths if "dag_id=" in str(path)] for name, paths in logs.items()}
    assert sum(len(paths) for paths in ran.values()) >= 5, (
        logs
    )  # every task instance wrote its log on a worker
    print({name: len(paths) for name, paths in ran.items()}, "task logs per worker")
    secrets = [*emulator.minted_tokens, emulator.api_key]
    for paths in ran.values():
        for path in paths:
            text = path.read_text(errors="replace")
            assert not any(secret in text for secret in secrets), path
