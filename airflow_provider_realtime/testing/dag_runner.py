"""Run several DAGs once each with ``DAG.test()`` in one Airflow process (see
:meth:`AirflowSandbox.run_dags <airflow_provider_realtime.testing.sandbox.AirflowSandbox.run_dags>`).

Airflow's start-up (imports, configuration, its in-process execution API on 3.x) is most of what an
``airflow dags test`` costs: about 7 s for the first DAG run here, a fraction of a second for each one
after it. ``python -m airflow_provider_realtime.testing.dag_runner PLAN RESULTS`` reads the runs from the
JSON file PLAN (``[{"dag_id", "env", "conf"}, …]``), runs them in order, each with its own environment
variables (its connections), and writes ``[{"dag_id", "run_id", "state", "error"}, …]`` to RESULTS. A
line ``=== dag run: DAG_ID`` goes to standard output before each run, to tell their logs apart.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

MARKER = "=== dag run: "


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
        problems = "; ".join(f"{path}: {error.splitlines()[-1]}" for path, error in bag.import_errors.items())
        return {"dag_id": run["dag_id"], "run_id": None, "state": None, "error": f"no such DAG ({problems})"}
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
    state = getattr(dag_run.state, "value", dag_run.state)
    return {"dag_id": run["dag_id"], "run_id": dag_run.run_id, "state": str(state), "error": None}


def main(plan_path: str, results_path: str) -> int:
    with open(plan_path, encoding="utf-8") as plan_file:
        plan = json.load(plan_file)
    bag = _dag_bag()
    results = []
    for run in plan:
        for stream in (sys.stderr, sys.stdout):
            stream.flush()
        print(f"\n{MARKER}{run['dag_id']}", flush=True)
        results.append(_run(bag, run))
        for stream in (sys.stderr, sys.stdout):
            stream.flush()
    with open(results_path, "w", encoding="utf-8") as results_file:
        json.dump(results, results_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
