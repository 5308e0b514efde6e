"""Example 7: live translation, one token per target language (dynamic task mapping over the sessions)."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.translation_session import CreateTranslationSessionOperator

TARGET_LANGUAGES = ["es", "fr", "ja"]


@dag(
    dag_id="realtime_translation_tokens",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai-realtime", "example"],
)
def realtime_translation_tokens() -> None:
    @task
    def sessions() -> list[dict]:
        return [
            {
                "model": "gpt-realtime-translate",
                "audio": {
                    "input": {"transcription": {"model": "gpt-realtime-whisper"}, "noise_reduction": None},
                    "output": {"language": language},
                },
            }
            for language in TARGET_LANGUAGES
        ]

    minted = CreateTranslationSessionOperator.partial(task_id="translate", expires_after_seconds=600).expand(
        session=sessions()
    )

    @task
    def by_language(results: list[dict]) -> dict:
        """Each target language's session and expiry (the tokens go to the clients, not here)."""
        return {
            result["output_language"]: {
                "session_id": result["session_id"],
                "expires_at": result["expires_at"],
            }
            for result in results
        }

    by_language(minted.output)


realtime_translation_tokens()
