"""Run DAGs in a real, throwaway Airflow (SQLite metadata DB) and read their XComs back.

What the pytest plugin's ``realtime_dag_test`` stands on, and ``make demo``; usable in your own tests::

    sandbox = AirflowSandbox(tmp_path / "airflow", dags_folder="dags")
    sandbox.migrate()
    connection = {"AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": emulator.connection_json()}
    outcome = sandbox.run_dags([DagRunRequest("my_dag", env=connection)])["my_dag"]
    result = outcome.xcoms[("mint", -1, "return_value")]

Runs are read through what Airflow publishes (its own models ``DagRun`` and ``XCom``), never its tables,
so a new Airflow's schema does not break a test built on this.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

RUNNER = "airflow_provider_realtime.testing.dag_runner"  # runs DAGs and reads runs in an Airflow process
TIMED_OUT = -9  # the return code of a command ended for running past its timeout


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process started with its own session, and everything it left in its group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


LINGER_SECONDS = 10  # how long a command may outlive its finished work before it is ended


def _wait(process: subprocess.Popen[bytes], timeout: float, settled: Callable[[], int | None] | None) -> int:
    """The command's exit code; TIMED_OUT past ``timeout``; ``settled()``'s once it has held for a while."""
    deadline = time.monotonic() + timeout
    settled_since: float | None = None
    while True:
        try:
            return process.wait(timeout=1 if settled else max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if now >= deadline:
                return TIMED_OUT
            outcome = settled() if settled else None
            if outcome is None:
                settled_since = None
            elif settled_since is None:
                settled_since = now
            elif now - settled_since >= LINGER_SECONDS:
                return outcome


def _run(
    argv: list[str],
    env: dict[str, str],
    timeout: float,
    settled: Callable[[], int | None] | None = None,
    cwd: Path | None = None,
) -> tuple[int, str]:
    """Run ``argv`` in a process group of its own, ended afterwards; its exit code (see :func:`_wait`) and
    combined output."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = _wait(process, timeout, settled)
        finally:
            _end_group(process)
        output.seek(0)
        return returncode, output.read().decode("utf-8", errors="replace")


def _fresh_database() -> Path:
    """Where a just-migrated SQLite metadata database of this Python environment is kept.

    Migrating is the same work for every sandbox of one environment: its key is the environment's path and
    every installed distribution's version (a provider can add tables). The folder is
    ``$REALTIME_SANDBOX_CACHE``, else ``$XDG_CACHE_HOME/airflow-provider-realtime`` (``~/.cache/…``).
    """
    import hashlib
    from importlib import metadata

    installed = sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in metadata.distributions())
    key = hashlib.sha256("\n".join([sys.prefix, *installed]).encode()).hexdigest()[:16]
    folder = os.environ.get("REALTIME_SANDBOX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "airflow-provider-realtime"
    )
    return Path(folder) / f"metadata-{key}.db"


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class CommandResult:
    """What an ``airflow`` command did: exit code, combined output, and the run id it printed."""

    returncode: int
    output: str
    run_id: str | None


@dataclass(frozen=True)
class DagRunRequest:
    """One run of :meth:`AirflowSandbox.run_dags`: the DAG, the environment variables it runs with (its
    connections: ``AIRFLOW_CONN_…``), and its run configuration (params)."""

    dag_id: str
    env: dict[str, str] = field(default_factory=dict)
    conf: dict[str, Any] | None = None


@dataclass(frozen=True)
class DagRunOutcome:
    """How one run of :meth:`AirflowSandbox.run_dags` went.

    :param state: ``success`` or ``failed`` (None when the run could not start: see ``error``).
    :param output: what the run logged and printed.
    :param error: the traceback of an exception ``DAG.test()`` raised, or why the DAG was not found.
    :param states: each task instance's state, keyed by ``(task_id, map_index)`` (-1 when not mapped).
    :param xcoms: each XCom's value, keyed by ``(task_id, map_index, key)``.
    :param start_date: when the run started.
    :param import_errors: the DAG files of the folder that failed to import, with their errors
        (:meth:`AirflowSandbox.run_dags` only).
    """

    dag_id: str
    run_id: str | None
    state: str | None
    output: str
    error: str | None
    states: dict[tuple[str, int], str | None] = field(default_factory=dict)
    xcoms: dict[tuple[str, int, str], Any] = field(default_factory=dict)
    start_date: datetime | None = None
    import_errors: dict[str, str] = field(default_factory=dict)


class AirflowSandbox:
    """An ``AIRFLOW_HOME`` of its own, with examples off and a chosen DAGs folder.

    :param home: folder for ``airflow.cfg``, the SQLite database and logs (created if missing).
    :param dags_folder: the folder holding the DAG files to run.
    """

    def __init__(self, home: str | os.PathLike[str], dags_folder: str | os.PathLike[str]) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.home.mkdir(parents=True, exist_ok=True)

    @property
    def database(self) -> Path:
        return self.home / "airflow.db"

    def environ(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """The process environment for an ``airflow`` command in this sandbox: this process's, less its
        Airflow configuration (``AIRFLOW__…``, which belongs to another home), with its connections and
        variables (``AIRFLOW_CONN_…``, ``AIRFLOW_VAR_…``: a test's emulator connection reaches the DAG),
        and ``env`` on top."""
        environ = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW__")}
        # Airflow 2's executors start `airflow tasks run` by name: the one beside this interpreter.
        bin_dir = str(Path(sys.executable).parent)
        environ["PATH"] = os.pathsep.join([bin_dir, *environ.get("PATH", "").split(os.pathsep)])
        environ.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            }
        )
        environ.update(env or {})
        return environ

    def airflow(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 300,
        settled: Callable[[], int | None] | None = None,
    ) -> CommandResult:
        """Run ``airflow ARGS`` with this sandbox's environment.

        The command gets a process group of its own, ended afterwards: ``dags test --use-executor`` leaves
        idle LocalExecutor workers behind, which would otherwise live on (and hold a pipe open).

        :param settled: polled while the command runs; once it has returned an exit code for
            ``LINGER_SECONDS`` in a row (the work is done, as the metadata database says), the command is
            ended and that code returned. LocalExecutor's shutdown has been seen to hang after its run
            finished, once in many runs.
        """
        returncode, text = _run([sys.executable, "-m", "airflow", *args], self.environ(env), timeout, settled)
        match = re.search(r"run_id=(manual__[^\s,]+)", text)
        return CommandResult(returncode, text, match.group(1) if match else None)

    def migrate(self) -> None:
        """Create the metadata database, once: ``airflow db migrate`` the first time in this Python
        environment (a few seconds), a copy of that fresh database every later time (see
        :func:`_fresh_database`). Sandboxes made at once (test workers) wait for the one that migrates:
        each migrating would cost its own Airflow start and migration."""
        import fcntl

        if self.database.exists():
            return
        template = _fresh_database()
        template.parent.mkdir(parents=True, exist_ok=True)
        with open(template.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its process ends
            if not template.exists():
                result = self.airflow("db", "migrate")
                if result.returncode != 0:
                    raise RuntimeError(f"airflow db migrate failed:\n{result.output[-3000:]}")
                partial = template.with_suffix(f".{os.getpid()}.partial")
                shutil.copyfile(self.database, partial)
                os.replace(partial, template)  # whole or not at all
                return
        shutil.copyfile(template, self.database)

    def dags_test(
        self,
        dag_id: str,
        *,
        env: dict[str, str] | None = None,
        conf: dict[str, Any] | None = None,
        timeout: float = 300,
    ) -> CommandResult:
        """Run a whole DAG once with ``airflow dags test`` (``conf``: the run's configuration, params).

        Each call starts Airflow (several seconds): :meth:`run_dags` runs several DAGs in one start.
        """
        args = ("dags", "test", dag_id) + (("--conf", json.dumps(conf)) if conf is not None else ())
        return self.airflow(*args, env=env, timeout=timeout)

    def run_dags(self, runs: Sequence[DagRunRequest], timeout: float = 600) -> dict[str, DagRunOutcome]:
        """Run each DAG once with ``DAG.test()``, all in one Airflow process, keyed by ``dag_id``.

        Airflow starts once for all of them (an ``airflow dags test`` each costs its start-up again, about
        7 s): the first run takes that, each later one a fraction of a second. Each run gets its own
        environment variables on top of the sandbox's, so each can have connections of its own (an
        emulator each). Use :meth:`dags_test` for the command itself.
        """
        from airflow_provider_realtime.testing.dag_runner import MARKER

        if len({run.dag_id for run in runs}) != len(runs):
            raise ValueError("run_dags runs each DAG once: a dag_id is repeated")
        work = Path(tempfile.mkdtemp(prefix="realtime-dag-runs-", dir=self.home))
        plan = [{"dag_id": run.dag_id, "env": run.env, "conf": run.conf} for run in runs]
        (work / "plan.json").write_text(json.dumps(plan))
        runner = [sys.executable, "-m", RUNNER, "plan.json", "results.json"]
        returncode, text = _run(runner, self.environ(), timeout, cwd=work)
        results_file = work / "results.json"
        if returncode != 0 or not results_file.exists():
            raise RuntimeError(f"the DAG runs failed (exit code {returncode}):\n{text[-4000:]}")
        outputs = dict.fromkeys(run.dag_id for run in runs)
        for part in text.split(MARKER)[1:]:
            dag_id, _, log = part.partition("\n")
            outputs[dag_id.strip()] = log
        return {
            result["dag_id"]: _outcome(result, outputs.get(result["dag_id"]) or "")
            for result in json.loads(results_file.read_text())
        }

    def read_run(self, dag_id: str, run_id: str | None = None) -> DagRunOutcome | None:
        """A run of ``dag_id`` (the latest when ``run_id`` is None) as Airflow gives it: its state, each
        task instance's state and each XCom (None when there is no such run), read from Airflow's own
        models in one short Airflow process (a few seconds): read a run once, then look in what it
        returned."""
        from airflow_provider_realtime.testing.dag_runner import RECORD

        reader = [sys.executable, "-m", RUNNER, "--read", dag_id]
        returncode, text = _run(reader + ([run_id] if run_id else []), self.environ(), timeout=120)
        lines = [line for line in text.splitlines() if line.startswith(RECORD)]
        if returncode != 0 or not lines:
            raise RuntimeError(f"reading the runs of {dag_id} failed (exit {returncode}):\n{text[-3000:]}")
        record = json.loads(lines[-1].removeprefix(RECORD))
        return _outcome(record, output="") if record else None


def _outcome(record: dict[str, Any], output: str) -> DagRunOutcome:
    """A :class:`DagRunOutcome` from what ``dag_runner`` wrote of a run."""
    start = record.get("start_date")
    return DagRunOutcome(
        dag_id=record["dag_id"],
        run_id=record["run_id"],
        state=record["state"],
        output=output,
        error=record["error"],
        states={(task, index): state for task, index, state in record.get("states", [])},
        xcoms={(task, index, key): value for task, index, key, value in record.get("xcoms", [])},
        start_date=datetime.fromisoformat(start) if start else None,
        import_errors=record.get("import_errors", {}),
    )
