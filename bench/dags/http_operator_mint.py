"""The one-token job of example 1 written with the generic HttpOperator, for the benchmark's comparison."""

from __future__ import annotations

import json

import pendulum
from airflow.providers.http.operators.http import HttpOperator
from airflow.sdk import dag, task

SESSION = {
    "type": "transcription",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500},
            "noise_reduction": {"type": "near_field"},
        }
    },
}


@dag(
    dag_id="http_operator_mint",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def http_operator_mint() -> None:
    mint = HttpOperator(
        task_id="mint",
        http_conn_id="openai_http",
        endpoint="realtime/client_secrets",
        method="POST",
        data=json.dumps({"session": SESSION, "expires_after": {"anchor": "created_at", "seconds": 600}}),
        headers={"Content-Type": "application/json"},
        response_filter=lambda response: response.json(),
    )

    @task
    def describe(result: dict) -> dict:
        return {"session_id": result["session"]["id"], "expires_at": result["expires_at"]}

    describe(mint.output)


http_operator_mint()
