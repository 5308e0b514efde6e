"""Example 2: scheduled token refresh.

Every 10 minutes a fresh client secret is minted with a lifetime of 12 minutes (the schedule plus two
minutes of overlap, so a client never holds an expired token while the next run is on its way) and
written where a client-facing service reads it: a JSON file, replaced atomically, readable only by its
owner. Set ``REALTIME_TOKEN_DIR`` to choose the folder (default: the system's temporary folder).
"""

from __future__ import annotations

import datetime

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

REFRESH_EVERY = datetime.timedelta(minutes=10)
OVERLAP = datetime.timedelta(minutes=2)


@dag(
    dag_id="realtime_token_refresh",
    schedule=REFRESH_EVERY,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["openai-realtime", "example"],
)
def realtime_token_refresh() -> None:
    mint = CreateTranscriptionSessionOperator(
        task_id="mint",
        session={"input_audio_transcription": {"model": "gpt-4o-mini-transcribe"}},
        expires_after_seconds=int((REFRESH_EVERY + OVERLAP).total_seconds()),
    )

    @task
    def publish(result: dict) -> dict:
        """Write the token for the client-facing service; return where, and until when (not the token)."""
        import json
        import os
        import tempfile

        folder = os.environ.get("REALTIME_TOKEN_DIR", tempfile.gettempdir())
        path = os.path.join(folder, "realtime_client_token.json")
        document = {
            "client_secret": result["client_secret"],
            "expires_at": result["client_secret_expires_at"],
            "session_id": result["session_id"],
        }
        descriptor, staging = tempfile.mkstemp(dir=folder, prefix=".realtime_token.")
        with os.fdopen(descriptor, "w") as handle:  # mkstemp creates the file with mode 0600
            json.dump(document, handle)
        os.replace(staging, path)
        return {"path": path, "expires_at": result["client_secret_expires_at"]}

    publish(mint.output)


realtime_token_refresh()
