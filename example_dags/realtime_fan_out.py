"""Example 3: fan-out with dynamic task mapping, one token per language, collected downstream."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

LANGUAGES = ["en", "de", "ja"]


@dag(
    dag_id="realtime_fan_out",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai-realtime", "example"],
)
def realtime_fan_out() -> None:
    @task
    def sessions_per_language() -> list[dict]:
        return [
            {"input_audio_transcription": {"model": "gpt-4o-transcribe", "language": language}}
            for language in LANGUAGES
        ]

    minted = CreateTranscriptionSessionOperator.partial(task_id="mint", expires_after_seconds=300).expand(
        session=sessions_per_language()
    )

    @task
    def collect(results: list[dict]) -> dict:
        """One entry per language: its session and expiry (the tokens go to clients, not here)."""
        return {
            result["input_audio_transcription"]["language"]: {
                "session_id": result["session_id"],
                "expires_at": result["expires_at"],
            }
            for result in results
        }

    collect(minted.output)


realtime_fan_out()
