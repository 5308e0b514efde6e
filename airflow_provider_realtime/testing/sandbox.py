"""Run DAGs in a real, throwaway Airflow (SQLite metadata DB) and read their XComs back.

Used by this provider's tests and ``make demo``, and meant for users' own DAG tests::

    sandbox = AirflowSandbox(tmp_path / "airflow", dags_folder="dags")
    sandbox.migrate()
    connection = {"AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": emulator.connection_json()}
    run = sandbox.dags_test("my_dag", env=connection)
    assert run.returncode == 0
    result = sandbox.read_run("my_dag", run.run_id).xcoms[("mint", -1, "return_value")]

Runs are read through what Airflow publishes (its REST API while an API server runs, else its own models
``DagRun`` and ``XCom``), never its tables, so a new Airflow's schema does not break a test built on this.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RUNNER = "airflow_provider_realtime.testing.dag_runner"  # runs DAGs and reads runs in an Airflow process
TIMED_OUT = -9  # the return code of a command ended for running past its timeout
API_PAGE_SIZE = 100  # entries asked of the REST API per page (the server's cap by default)


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
SETTLED_POLL_SECONDS = 10  # how often a command's run is looked up while it runs (see AirflowSandbox.airflow)
# Looking a run up through Airflow's models costs an Airflow process (3-4 s of CPU): only once its command has
# run this long. The look-ups catch a rare hang after the run; most commands end well before.
SETTLED_GRACE_SECONDS = 60


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


def _every(seconds: float, check: Callable[[], int | None], after: float = 0) -> Callable[[], int | None]:
    """``check``, asked at most once every ``seconds``: in between, its last answer again (an answer
    that holds must go on holding for :func:`_wait` to count it as settled). Not asked before ``after``
    seconds have passed (None until then)."""
    started = time.monotonic()
    asked_at: float | None = None
    answer: int | None = None

    def ask() -> int | None:
        nonlocal asked_at, answer
        now = time.monotonic()
        if now - started < after:
            return None
        if asked_at is None or now - asked_at >= seconds:
            asked_at, answer = now, check()
        return answer

    return ask


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


def _runs_path(dag_id: str) -> str:
    """The REST API's path of ``dag_id``'s runs."""
    from urllib.parse import quote

    return f"/api/v2/dags/{quote(dag_id)}/dagRuns"


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
        # One signing key for every process of this sandbox (API server and task supervisors).
        self._jwt_secret = secrets.token_hex(32)
        self._server_env: dict[str, str] = {}
        self._api_url: str | None = None  # the running API server's, while api_server() runs
        self._api_token: str | None = None

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
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                **self._server_env,
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

    @contextlib.contextmanager
    def api_server(
        self, port: int | None = None, timeout: float = 90, env: dict[str, str] | None = None
    ) -> Iterator[str]:
        """Run ``airflow api-server`` (Airflow 3) on loopback: the UI, the REST API and the execution API,
        open to anyone as an admin (the simple auth manager's all-admins mode: a throwaway sandbox).

        With it ``dags test --use-executor`` runs tasks in their own supervised processes that write task
        log files, as in production. Yields the server's base URL; commands run meanwhile are pointed at
        it, and runs are looked up through its REST API. ``env`` is added to the server's environment.
        """
        port = port or free_port()
        url = f"http://127.0.0.1:{port}"
        outer = self._server_env, self._api_url, self._api_token  # a server already running, if any
        self._server_env = {"AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/"}
        env = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True", **(env or {})}
        try:
            args = ("api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
            with self._serve(args, f"{url}/api/v2/version", timeout, env):
                self._api_url, self._api_token = url, None
                yield url
        finally:
            self._server_env, self._api_url, self._api_token = outer

    def api_get(self, path: str) -> Any:
        """``GET path`` of the running API server's REST API (``/api/v2/…``), as JSON."""
        return self.api_request("GET", path)

    def api_request(self, method: str, path: str, body: Any = None) -> Any:
        """``METHOD path`` of the running API server's REST API (``/api/v2/…``), ``body`` sent as JSON;
        the answer as JSON (None when it has no body). An error status raises ``urllib.error.HTTPError``."""
        if self._api_url is None:
            raise RuntimeError("no API server runs: use api_server() or executor()")
        if self._api_token is None:  # all admins: a token for the asking
            with urllib.request.urlopen(f"{self._api_url}/auth/token", timeout=30) as answer:  # noqa: S310
                self._api_token = str(json.load(answer)["access_token"])
        headers = {"Authorization": f"Bearer {self._api_token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self._api_url}{path}", data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            content = answer.read()
        return json.loads(content) if content else None

    @contextlib.contextmanager
    def web_ui(self, timeout: float = 90, env: dict[str, str] | None = None) -> Iterator[str]:
        """Run Airflow's web UI on loopback, open to anyone as an admin; yields its base URL.

        Airflow 3: the API server with the simple auth manager's all-admins mode. Airflow 2: the Flask
        webserver, with FAB's public role made Admin (in this sandbox's ``webserver_config.py``).
        """
        from airflow_provider_realtime.compat import airflow_version

        if airflow_version() >= (3, 0):
            with self.api_server(timeout=timeout, env=env) as url:
                yield url
            return
        (self.home / "webserver_config.py").write_text('AUTH_ROLE_PUBLIC = "Admin"\n')
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        args = ("webserver", "--hostname", "127.0.0.1", "--port", str(port), "--workers", "1")
        with self._serve(args, f"{url}/health", timeout, env):
            yield url

    @contextlib.contextmanager
    def background(
        self, *args: str, env: dict[str, str] | None = None, log_name: str | None = None
    ) -> Iterator[subprocess.Popen[bytes]]:
        """Run ``airflow ARGS`` (a scheduler, a Celery worker, …) until the block ends, its output in
        ``HOME/LOG_NAME.log`` (default: the command's name)."""
        log = open(self.home / f"{log_name or args[0]}.log", "ab")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=self.environ(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _end_group(process)
            log.close()

    @contextlib.contextmanager
    def _serve(
        self, args: tuple[str, ...], ready_url: str, timeout: float, env: dict[str, str] | None
    ) -> Iterator[None]:
        """Run ``airflow ARGS`` as a server until the block ends, once ``ready_url`` answers."""
        with self.background(*args, env=env) as process:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(ready_url, timeout=2):  # noqa: S310 - loopback
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"airflow {args[0]} did not start; see {args[0]}.log") from None
                    time.sleep(0.5)
            yield

    @contextlib.contextmanager
    def executor(self) -> Iterator[None]:
        """Make ``dags test --use-executor`` run tasks for real, in processes that write task log files.

        Airflow 3's tasks talk to an API server, which this starts (:meth:`api_server`) unless one of this
        sandbox runs already (starting one costs about 10 s of CPU); Airflow 2 runs them with the
        configured executor directly.
        """
        from airflow_provider_realtime.compat import airflow_version

        if airflow_version() < (3, 0) or self._api_url is not None:
            yield
            return
        with self.api_server():
            yield

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
        use_executor: bool = False,
        timeout: float = 300,
    ) -> CommandResult:
        """Run a whole DAG once with ``airflow dags test`` (``conf``: the run's configuration, params).

        With ``use_executor`` (inside :meth:`executor`) its tasks run in processes of their own that write
        task log files; once the run has finished in the metadata database, a command that does not exit
        is then ended (see :meth:`airflow`'s ``settled``).
        """
        args = ("dags", "test", dag_id) + (("--conf", json.dumps(conf)) if conf is not None else ())
        if use_executor:
            args += ("--use-executor",)
        started = datetime.now(timezone.utc)

        def finished() -> int | None:
            run = self._run_since(dag_id, started)
            return None if run is None else {"success": 0, "failed": 1}.get(run[1] or "")

        # Asked of the API server (Airflow 3.1+) every second; of Airflow's models, a process start each
        # time (Airflow 2 and 3.0), every SETTLED_POLL_SECONDS at most, after SETTLED_GRACE_SECONDS.
        if self._runs_via_api():
            settled = finished
        else:
            settled = _every(SETTLED_POLL_SECONDS, finished, after=SETTLED_GRACE_SECONDS)
        result = self.airflow(*args, env=env, timeout=timeout, settled=settled if use_executor else None)
        if result.run_id is None and (run := self._run_since(dag_id, started)) is not None:
            result = CommandResult(result.returncode, result.output, run[0])
        return result

    def run_dags(self, runs: Sequence[DagRunRequest], timeout: float = 600) -> dict[str, DagRunOutcome]:
        """Run each DAG once with ``DAG.test()``, all in one Airflow process, keyed by ``dag_id``.

        Airflow starts once for all of them (an ``airflow dags test`` each costs its start-up again, about
        7 s): the first run takes that, each later one a fraction of a second. Each run gets its own
        environment variables on top of the sandbox's, so each can have connections of its own (an
        emulator each). Use :meth:`dags_test` for the command itself, and ``use_executor`` runs.
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
        task instance's state and each XCom (None when there is no such run). Through the running API
        server's REST API where runs can be looked up there (see :meth:`_runs_via_api`), else from
        Airflow's own models in one short Airflow process (a few seconds): read a run once, then look in
        what it returned."""
        from airflow_provider_realtime.testing.dag_runner import RECORD

        if self._runs_via_api():
            return self._read_run_via_api(dag_id, run_id)
        reader = [sys.executable, "-m", RUNNER, "--read", dag_id]
        returncode, text = _run(reader + ([run_id] if run_id else []), self.environ(), timeout=120)
        lines = [line for line in text.splitlines() if line.startswith(RECORD)]
        if returncode != 0 or not lines:
            raise RuntimeError(f"reading the runs of {dag_id} failed (exit {returncode}):\n{text[-3000:]}")
        record = json.loads(lines[-1].removeprefix(RECORD))
        return _outcome(record, output="") if record else None

    def _api_run(self, dag_id: str, run_id: str | None = None) -> dict[str, Any] | None:
        """The REST API's record of a run of ``dag_id`` (the latest when ``run_id`` is None, as
        ``dag_runner --read`` takes it), None when there is none."""
        from urllib.error import HTTPError
        from urllib.parse import quote

        runs = _runs_path(dag_id)
        try:
            if run_id is not None:
                return dict(self.api_get(f"{runs}/{quote(run_id, safe='')}"))
            latest = self.api_get(f"{runs}?order_by=-id&limit=1")["dag_runs"]
        except HTTPError as error:
            if error.code == 404:
                return None
            raise
        return dict(latest[0]) if latest else None

    def _read_run_via_api(self, dag_id: str, run_id: str | None) -> DagRunOutcome | None:
        from urllib.parse import quote

        run = self._api_run(dag_id, run_id)
        if run is None:
            return None
        this_run = f"{_runs_path(dag_id)}/{quote(run['dag_run_id'], safe='')}/taskInstances"
        instances = self._api_list(this_run, "task_instances")
        entries = self._api_list(f"{this_run}/~/xcomEntries", "xcom_entries")
        xcoms = [
            [
                entry["task_id"],
                entry["map_index"],
                entry["key"],
                self.api_get(
                    f"{this_run}/{quote(entry['task_id'])}/xcomEntries/{quote(entry['key'], safe='')}"
                    f"?map_index={entry['map_index']}&deserialize=true&stringify=false"
                )["value"],
            ]
            for entry in entries
        ]
        start = run.get("start_date")
        record = {
            "dag_id": dag_id,
            "run_id": run["dag_run_id"],
            "state": run["state"],
            "start_date": _iso_datetime(start).isoformat() if start else None,
            "error": None,
            "states": [[ti["task_id"], ti["map_index"], ti["state"]] for ti in instances],
            "xcoms": xcoms,
        }
        return _outcome(record, output="")

    def _api_list(self, path: str, key: str) -> list[Any]:
        """Every entry of a REST collection, page by page (the server caps a page: ``[api]
        maximum_page_limit``, 100 by default)."""
        entries: list[Any] = []
        while True:
            page = self.api_get(f"{path}?limit={API_PAGE_SIZE}&offset={len(entries)}")
            entries += page[key]
            if not page[key] or len(entries) >= page["total_entries"]:
                return entries

    def _runs_via_api(self) -> bool:
        """Whether runs can be looked up through the running API server: from Airflow 3.1 (3.0's ``dags
        test`` writes no DAG row, and its REST API lists no run of a DAG without one)."""
        from airflow_provider_realtime.compat import airflow_version

        return self._api_url is not None and airflow_version() >= (3, 1)

    def _run_since(self, dag_id: str, started: datetime) -> tuple[str, str | None] | None:
        """``(run_id, state)`` of the latest run of ``dag_id`` if it started at ``started`` or later, else
        None (also when it cannot be read just now: a busy SQLite database, while an executor's processes
        write to it). Asked of the running API server's REST API if there is one (a request), else of
        Airflow's models (a short Airflow process)."""
        if self._runs_via_api():
            try:
                run = self._api_run(dag_id)
                if run is None or not run.get("start_date"):
                    return None
                run_id, state, began = run["dag_run_id"], run["state"], _iso_datetime(run["start_date"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        else:
            try:
                record = self.read_run(dag_id)
            except RuntimeError:
                return None
            if record is None or record.run_id is None or record.start_date is None:
                return None
            run_id, state, began = record.run_id, record.state, record.start_date
        return (run_id, state) if began >= started else None

    def xcoms(self, dag_id: str, run_id: str | None = None) -> dict[tuple[str, int, str], Any]:
        """XComs of a run (the latest when ``run_id`` is None) keyed by (task_id, map_index, key)."""
        run = self.read_run(dag_id, run_id)
        return run.xcoms if run else {}

    def task_log_files(self) -> list[Path]:
        """Task log files the supervisors wrote (only runs with an executor write them)."""
        return sorted(path for path in (self.home / "logs").rglob("*.log") if path.is_file())

    def task_states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
        """State of each task instance of a run, keyed by (task_id, map_index)."""
        run = self.read_run(dag_id, run_id)
        return run.states if run else {}


def _iso_datetime(text: str) -> datetime:
    """A date and time of the REST API (``2026-12-02T10:52:01.287229Z``). Python 3.10's fromisoformat takes
    neither "Z" nor a fraction of other than 6 (or 3) digits."""
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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
