"""The fleet benchmark's two ways to mint many tokens under a real executor: one task with ``count``
(``fleet_bulk_probe``), and one mapped task instance per token (``fleet_mapped_probe``). Both take the
number from the run's conf; neither pushes a token anywhere but its own XCom."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

SESSION = {"input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"}}


@dag(
    dag_id="fleet_bulk_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"tokens": 100},
)
def fleet_bulk_probe() -> None:
    CreateTranscriptionSessionOperator(
        task_id="mint", session=SESSION, count="{{ params.tokens }}", expires_after_seconds=600
    )


@dag(
    dag_id="fleet_mapped_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"tokens": 10},
)
def fleet_mapped_probe() -> None:
    @task
    def sessions(params: dict | None = None) -> list[dict]:
        assert params is not None
        return [SESSION] * int(params["tokens"])

    CreateTranscriptionSessionOperator.partial(task_id="mint", expires_after_seconds=600).expand(
        session=sessions()
    )


fleet_bulk_probe()
fleet_mapped_probe()
