"""A DAG for the SIGTERM test: a fleet task that writes its process id where the test reads it
(``REALTIME_TEST_PID_FILE``), then mints from a server that answers four requests and holds the rest.
The test sends the task process SIGTERM while requests are held: the task must end at once, fail, and
push the four tokens it minted, although ``allow_partial`` would let a finished batch succeed."""

from __future__ import annotations

import os
from typing import Any

import pendulum

try:
    from airflow.sdk import dag
except ImportError:  # Airflow 2
    from airflow.decorators import dag

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator


class PidWritingFleet(CreateTranscriptionSessionOperator):
    def execute(self, context: Any) -> Any:
        path = os.environ["REALTIME_TEST_PID_FILE"]
        with open(f"{path}.partial", "w") as file:
            file.write(str(os.getpid()))
        os.replace(f"{path}.partial", path)
        return super().execute(context)


@dag(
    dag_id="realtime_killed_fleet",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_killed_fleet() -> None:
    PidWritingFleet(
        task_id="fleet",
        conn_id="openai_realtime_held",
        count=12,
        concurrency=4,
        allow_partial=True,
        retries=0,
    )


realtime_killed_fleet()
