"""Example: hand a token to the next task safely.

A token rendered into a templated string (``bash_command="curl … {{ ti.xcom_pull('mint')['client_secret']
}}"``) is written in clear to that task's log and to Airflow's rendered-fields table (the UI's Rendered
Template view): the downstream task's process never learned it is a secret. Instead:

* pass the **result** (``mint.output``, a dict) to a Python task, never the token as text: Airflow masks a
  value under a key named like ``client_secret`` wherever it renders or logs it;
* in that task, call :func:`~airflow_provider_realtime.masking.mask_client_secrets` first, so anything it
  logs shows ``***``, then deliver the token where the client reads it (here a file only its owner can
  read);
* give later tasks a **reference** (the file's path), never the token.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task
    from airflow.operators.bash import BashOperator

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator


@dag(
    dag_id="realtime_deliver_safely",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai-realtime", "example"],
)
def realtime_deliver_safely() -> None:
    mint = CreateTranscriptionSessionOperator(
        task_id="mint",
        session={"input_audio_transcription": {"model": "gpt-4o-mini-transcribe"}},
        expires_after_seconds=300,
    )

    @task
    def deliver(result: dict) -> dict:
        """Mask the token in this process, write it for the client; return where, not the token."""
        import json
        import os
        import tempfile

        from airflow_provider_realtime.masking import mask_client_secrets

        mask_client_secrets(result)
        folder = os.environ.get("REALTIME_TOKEN_DIR", tempfile.gettempdir())
        descriptor, staging = tempfile.mkstemp(dir=folder, prefix=".realtime_token.")
        with os.fdopen(descriptor, "w") as handle:  # mkstemp creates the file with mode 0600
            json.dump(
                {"client_secret": result["client_secret"], "expires_at": result["expires_at"]},
                handle,
            )
        path = os.path.join(folder, "realtime_delivered_token.json")
        os.replace(staging, path)
        return {"path": path, "expires_at": result["expires_at"]}

    delivered = deliver(mint.output)
    BashOperator(
        task_id="notify",
        bash_command='echo \'a token for the client is at {{ ti.xcom_pull(task_ids="deliver")["path"] }}\'',
    ).set_upstream(delivered)


realtime_deliver_safely()
