"""A DAG for the leak tests: four independent tasks, each on a connection of its own, so that one run
shows how a real task ends in each case, and every secret involved can be searched for in what it left.

``mint`` mints (its structured result, token included, goes to ``describe``, which returns no token);
``refused_after_a_retry`` is answered 503, then 400; ``wrong_key`` is refused by the server (401);
``pasted_key`` has a key pasted with a trailing newline, refused before any request."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

SESSION = {"input_audio_transcription": {"model": "whisper-1"}}


@dag(
    dag_id="realtime_task_outcomes",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_task_outcomes() -> None:
    mint = CreateTranscriptionSessionOperator(
        task_id="mint", conn_id="openai_realtime_default", session=SESSION, expires_after_seconds=600
    )

    @task
    def describe(result: dict) -> dict:
        return {"session_id": result["session_id"], "token_received": bool(result["client_secret"])}

    describe(mint.output)
    for task_id, conn_id in (
        ("refused_after_a_retry", "openai_realtime_failing"),
        ("wrong_key", "openai_realtime_denied"),
        ("pasted_key", "openai_realtime_pasted"),
    ):
        CreateTranscriptionSessionOperator(task_id=task_id, conn_id=conn_id, session=SESSION)


realtime_task_outcomes()
