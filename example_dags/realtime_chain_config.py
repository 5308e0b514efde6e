"""Example 4: chaining. A second operator repeats the first one's request from its passthrough config.

The first task speaks the beta endpoint with beta-shaped settings; the second one is handed the first
one's ``config`` XCom and overrides only the endpoint, so the same settings are translated to the
current API. The passthrough config holds no API key and no token.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator


@dag(
    dag_id="realtime_chain_config",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai-realtime", "example"],
)
def realtime_chain_config() -> None:
    first = CreateTranscriptionSessionOperator(
        task_id="first",
        endpoint="transcription_sessions",
        session={
            "input_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "gpt-4o-mini-transcribe", "language": "fr"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 700},
        },
        expires_after_seconds=120,
    )
    second = CreateTranscriptionSessionOperator(
        task_id="second", config=first.output["config"], endpoint="client_secrets"
    )

    @task
    def compare(one: dict, two: dict) -> dict:
        same = ("input_audio_format", "input_audio_transcription", "turn_detection")
        return {
            "same_settings": all(one[key] == two[key] for key in same),
            "different_sessions": one["session_id"] != two["session_id"],
        }

    compare(first.output, second.output)


realtime_chain_config()
