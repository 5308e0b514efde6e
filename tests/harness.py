"""The tests' Airflow harness: the wheel's sandbox, and what only this project's own tests need.

:class:`Sandbox` adds to :class:`~airflow_provider_realtime.testing.sandbox.AirflowSandbox` an API server
(Airflow 3) or webserver (Airflow 2) open to anyone as an admin, a REST client for it, background
processes (schedulers, Celery workers), ``dags test --use-executor`` runs whose tasks write real task log
files, with a watch for the rare command that hangs after its run. Not shipped: users' DAG tests need
none of it (the pytest plugin runs DAGs with ``DAG.test()``).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_realtime.testing.sandbox import (
    AirflowSandbox,
    CommandResult,
    DagRunOutcome,
    _end_group,
    _outcome,
    free_port,
)

API_PAGE_SIZE = 100  # entries asked of the REST API per page (the server's cap by default)
SETTLED_POLL_SECONDS = 10  # how often a command's run is looked up while it runs (see AirflowSandbox.airflow)
# Looking a run up through Airflow's models costs an Airflow process (3-4 s of CPU): only once its command has
# run this long. The look-ups catch a rare hang after the run; most commands end well before.
SETTLED_GRACE_SECONDS = 60


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


def _runs_path(dag_id: str) -> str:
    """The REST API's path of ``dag_id``'s runs."""
    from urllib.parse import quote

    return f"/api/v2/dags/{quote(dag_id)}/dagRuns"


def _iso_datetime(text: str) -> datetime:
    """A date and time of the REST API (``2026-12-02T10:52:01.287229Z``). Python 3.10's fromisoformat takes
    neither "Z" nor a fraction of other than 6 (or 3) digits."""
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Sandbox(AirflowSandbox):
    """An :class:`AirflowSandbox` that can also run Airflow's servers, executors and workers."""

    def __init__(self, home: str | Path, dags_folder: str | Path) -> None:
        super().__init__(home, dags_folder)
        # One signing key for every process of this sandbox (API server and task supervisors).
        self._jwt_secret = secrets.token_hex(32)
        self._server_env: dict[str, str] = {}
        self._api_url: str | None = None  # the running API server's, while api_server() runs
        self._api_token: str | None = None

    def environ(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """The sandbox's environment, with the API server's signing key and address for its commands."""
        return super().environ(
            {"AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret, **self._server_env, **(env or {})}
        )

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
            with urllib.request.urlopen(f"{self._api_url}/auth/token", timeout=30) as answer:
                self._api_token = str(json.load(answer)["access_token"])
        headers = {"Authorization": f"Bearer {self._api_token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self._api_url}{path}", data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as answer:
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
                    with urllib.request.urlopen(ready_url, timeout=2):
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

    def read_run(self, dag_id: str, run_id: str | None = None) -> DagRunOutcome | None:
        """A run, through the running API server's REST API where runs can be looked up there (see
        :meth:`_runs_via_api`: a few requests), else as :meth:`AirflowSandbox.read_run` reads it."""
        if self._runs_via_api():
            return self._read_run_via_api(dag_id, run_id)
        return super().read_run(dag_id, run_id)

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
