"""Example 1: mint one client secret and hand its structured result to a downstream task.

The downstream task sees the session id and expiry (and the token, which it would give to one client);
it returns a summary without the token, so nothing secret reaches that task's XCom.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator


@dag(
    dag_id="realtime_mint_one_token",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai-realtime", "example"],
)
def realtime_mint_one_token() -> None:
    mint = CreateTranscriptionSessionOperator(
        task_id="mint",
        session={
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500},
            "input_audio_noise_reduction": {"type": "near_field"},
        },
        expires_after_seconds=600,
    )

    @task
    def describe(result: dict) -> dict:
        """Use the structured result: how long the client has, and what it was configured with."""
        expires_at = pendulum.parse(result["expires_at"])
        return {
            "session_id": result["session_id"],
            "expires_at": result["expires_at"],
            "seconds_left": int((expires_at - pendulum.now("UTC")).total_seconds()),
            "input_audio_format": result["input_audio_format"],
            "input_audio_transcription": result["input_audio_transcription"],
            "turn_detection": result["turn_detection"],
            "token_received": bool(result["client_secret"]),
        }

    describe(mint.output)


realtime_mint_one_token()
