"""Run several DAGs once each with ``DAG.test()`` in one Airflow process (see
:meth:`AirflowSandbox.run_dags <airflow_provider_realtime.testing.sandbox.AirflowSandbox.run_dags>`).

Airflow's start-up (imports, configuration, its in-process execution API on 3.x) is most of what an
``airflow dags test`` costs: here it is paid once for all the runs.
``python -m airflow_provider_realtime.testing.dag_runner PLAN RESULTS`` reads the runs from the JSON file
PLAN (``[{"dag_id", "env", "conf"}, …]``), runs them in order, each with its own environment variables (its
connections), and writes ``[{"dag_id", "run_id", "state", "error", "states", "xcoms", "import_errors"},
…]`` to RESULTS: each task instance's state and each XCom, read through Airflow's own models
(``DagRun.get_task_instances``, ``XCom.get_many``), not its tables. A line ``=== dag run: DAG_ID`` goes
to standard output before each run, to tell their logs apart.

``python -m airflow_provider_realtime.testing.dag_runner --read DAG_ID [RUN_ID]`` prints the same record of
a run made some other way (``airflow dags test``, a scheduler), the latest when RUN_ID is omitted, with its
``start_date``: ``{}`` when the DAG has no run yet.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

MARKER = "=== dag run: "
RECORD = "=== run record: "  # before the JSON line --read prints


def _dag_bag() -> Any:
    """Every DAG of the configured DAGs folder, parsed once (DagBag moved in Airflow 3.2)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag()


def _run(bag: Any, run: dict[str, Any]) -> dict[str, Any]:
    dag = bag.get_dag(run["dag_id"])
    if dag is None:
        problems = "; ".join(
            f"{path}: {error.strip().splitlines()[-1]}" for path, error in bag.import_errors.items()
        )
        found = f"; files that failed to import: {problems}" if problems else ""
        hint = "" if problems else " (Airflow skips a file that says neither 'airflow' nor 'dag')"
        error = f"no such DAG in {bag.dag_folder}{found}{hint}"
        return {"dag_id": run["dag_id"], "run_id": None, "state": None, "error": error}
    saved = {key: os.environ.get(key) for key in run["env"]}
    os.environ.update(run["env"])
    try:
        dag_run = dag.test(run_conf=run.get("conf"))
    except Exception:
        return {"dag_id": run["dag_id"], "run_id": None, "state": None, "error": traceback.format_exc()}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return _record(dag_run)


def _record(dag_run: Any) -> dict[str, Any]:
    """What the caller learns of a run: its id, state, start, each task instance's state and each XCom."""
    return {
        "dag_id": dag_run.dag_id,
        "run_id": dag_run.run_id,
        "state": _text(dag_run.state),
        "start_date": dag_run.start_date.isoformat() if dag_run.start_date else None,
        "error": None,
        "states": [[ti.task_id, ti.map_index, _text(ti.state)] for ti in dag_run.get_task_instances()],
        "xcoms": _xcoms(dag_run.dag_id, dag_run.run_id),
    }


def read(dag_id: str, run_id: str | None = None) -> dict[str, Any]:
    """The record of a run of ``dag_id`` (the latest when ``run_id`` is None), through Airflow's models."""
    from airflow.models.dagrun import DagRun

    runs = DagRun.find(dag_id=dag_id, run_id=run_id)
    if not runs:
        return {}
    return _record(max(runs, key=lambda dag_run: dag_run.id))


def _text(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


def _xcoms(dag_id: str, run_id: str) -> list[list[Any]]:
    """``[task_id, map_index, key, value]`` of every XCom of the run (Airflow 3 names the model XComModel,
    and its ``get_many`` builds a select statement where Airflow 2's returns a query of deserialized rows)."""
    import airflow.models.xcom
    from airflow.utils.session import create_session

    model: Any = getattr(airflow.models.xcom, "XComModel", None)
    with create_session() as session:
        if model is not None:  # Airflow 3
            rows = session.scalars(model.get_many(run_id=run_id, dag_ids=dag_id))
            return [[row.task_id, row.map_index, row.key, model.deserialize_value(row)] for row in rows]
        # Airflow 2: a query, bound to the session given; its rows come back deserialized already.
        rows = airflow.models.xcom.XCom.get_many(run_id=run_id, dag_ids=dag_id, session=session)
        return [[row.task_id, row.map_index, row.key, row.value] for row in rows]


def main(plan_path: str, results_path: str) -> int:
    with open(plan_path, encoding="utf-8") as plan_file:
        plan = json.load(plan_file)
    from airflow_provider_realtime.compat import one_execution_api_per_process

    one_execution_api_per_process()
    bag = _dag_bag()
    import_errors = {str(path): str(error) for path, error in bag.import_errors.items()}
    results = []
    for run in plan:
        for stream in (sys.stderr, sys.stdout):
            stream.flush()
        print(f"\n{MARKER}{run['dag_id']}", flush=True)
        results.append({**_run(bag, run), "import_errors": import_errors})
        for stream in (sys.stderr, sys.stdout):
            stream.flush()
    with open(results_path, "w", encoding="utf-8") as results_file:
        json.dump(results, results_file, default=str)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--read":
        print(RECORD + json.dumps(read(*sys.argv[2:4]), default=str))
        sys.exit(0)
    sys.exit(main(sys.argv[1], sys.argv[2]))
