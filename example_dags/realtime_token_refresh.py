"""Example 2: scheduled token refresh.

Every 10 minutes a fresh client secret is minted with a lifetime of 12 minutes (the schedule plus two
minutes of overlap) and written where a client-facing service reads it: a JSON file, replaced atomically,
readable only by its owner. Set ``REALTIME_TOKEN_DIR`` to choose the folder (default: the system's
temporary folder).

A token must still have enough life when a client gets it to open its session: the file says
``use_until``, ``MARGIN`` (30 s) before the token expires, and the service hands the token out only until
then. Choose the three so that the overlap (lifetime minus schedule) is at least ``MARGIN`` plus the
longest the scheduler may start a run late; otherwise there are moments with no usable token, and the DAG
file warns. They can be set from the environment (``REALTIME_REFRESH_SECONDS``,
``REALTIME_OVERLAP_SECONDS``, ``REALTIME_MARGIN_SECONDS``), as the tests do to run many cycles quickly.
"""

from __future__ import annotations

import datetime
import os
import warnings

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

REFRESH_EVERY = datetime.timedelta(seconds=int(os.environ.get("REALTIME_REFRESH_SECONDS", "600")))
OVERLAP = datetime.timedelta(seconds=int(os.environ.get("REALTIME_OVERLAP_SECONDS", "120")))
MARGIN = datetime.timedelta(
    seconds=int(os.environ.get("REALTIME_MARGIN_SECONDS", "30"))
)  # life left, at least
if OVERLAP < MARGIN:
    warnings.warn(
        f"realtime_token_refresh: the schedule ({REFRESH_EVERY}) plus the margin ({MARGIN}) exceeds the "
        f"token's lifetime ({REFRESH_EVERY + OVERLAP}): no usable token for part of every cycle",
        stacklevel=1,
    )


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
        import tempfile

        folder = os.environ.get("REALTIME_TOKEN_DIR", tempfile.gettempdir())
        path = os.path.join(folder, "realtime_client_token.json")
        expires_at = datetime.datetime.fromisoformat(result["expires_at"])
        document = {
            "client_secret": result["client_secret"],
            "expires_at": result["expires_at"],
            "use_until": (expires_at - MARGIN).isoformat(),  # hand it out no later: it must open a session
            "session_id": result["session_id"],
        }
        descriptor, staging = tempfile.mkstemp(dir=folder, prefix=".realtime_token.")
        with os.fdopen(descriptor, "w") as handle:  # mkstemp creates the file with mode 0600
            json.dump(document, handle)
        os.replace(staging, path)
        return {"path": path, "expires_at": result["expires_at"]}

    publish(mint.output)


realtime_token_refresh()
