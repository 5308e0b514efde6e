"""A DAG for the partial-failure test: one task mints a token per session, and the server refuses one of
them (an unknown model). The task must fail, naming it, with every other token pushed to XCom first;
``tolerant`` mints the same with ``allow_partial=True`` and succeeds."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag
except ImportError:  # Airflow 2
    from airflow.decorators import dag

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

SESSIONS = [
    {"input_audio_transcription": {"model": model}}
    for model in ["whisper-1", "gpt-4o-transcribe", "gpt-4o-transcribe-unknown", "gpt-4o-mini-transcribe"]
]


@dag(
    dag_id="realtime_partial_fleet",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_partial_fleet() -> None:
    CreateTranscriptionSessionOperator(task_id="strict", session=SESSIONS, max_retries=0)
    CreateTranscriptionSessionOperator(task_id="tolerant", session=SESSIONS, allow_partial=True)


realtime_partial_fleet()
