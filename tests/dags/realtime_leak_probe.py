"""A DAG for the leak test: it mints with the operator, then mints with the hook and carelessly logs and
prints the token in the same task. Every copy of the token in the task logs must come out as ***.

``pasted_key`` mints on a connection whose key was pasted with a trailing newline: it must fail with a
ValueError that names the connection, and neither its log nor its traceback may hold the key."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator


@dag(
    dag_id="realtime_leak_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_leak_probe() -> None:
    mint = CreateTranscriptionSessionOperator(
        task_id="mint",
        session={"input_audio_transcription": {"model": "whisper-1"}},
        expires_after_seconds=60,
    )

    @task
    def careless() -> int:
        import logging

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        token = OpenAIRealtimeHook().create_client_secret().body["value"]
        logging.getLogger("careless").warning("the token is %s", token)
        print(f"printed token={token}")
        return len(token)

    pasted_key = CreateTranscriptionSessionOperator(task_id="pasted_key", conn_id="openai_realtime_pasted")

    mint >> careless()
    mint >> pasted_key


realtime_leak_probe()
