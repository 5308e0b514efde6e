"""Example 5: the raw result format, with error statuses returned instead of failing the task.

Probe which transcription models the account may use: one mapped task per model asks for a session in
raw format with ``raise_for_status=False`` and ``include_client_secret=False`` (the probe needs no
token in XCom). A model the account cannot use answers 4xx; the summary sorts them out.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

MODELS = ["gpt-4o-transcribe", "gpt-4o-mini-transcribe", "not-a-transcription-model"]


@dag(
    dag_id="realtime_raw_probe_models",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai-realtime", "example"],
)
def realtime_raw_probe_models() -> None:
    @task
    def probes() -> list[dict]:
        return [{"input_audio_transcription": {"model": model}} for model in MODELS]

    answers = CreateTranscriptionSessionOperator.partial(
        task_id="probe",
        result_format="raw",
        raise_for_status=False,
        include_client_secret=False,
        expires_after_seconds=10,
    ).expand(session=probes())

    @task
    def summarize(results: list[dict]) -> dict:
        usable, refused = [], {}
        for model, result in zip(MODELS, results, strict=True):
            if result["status"] == 200:
                usable.append(model)
            else:
                error = result["body"].get("error", {}) if isinstance(result["body"], dict) else {}
                refused[model] = {"status": result["status"], "code": error.get("code")}
        return {"usable": usable, "refused": refused}

    summarize(answers.output)


realtime_raw_probe_models()
