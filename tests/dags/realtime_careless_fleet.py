"""A DAG for the distributed masking test: one task mints a fleet of tokens with the hook, then carelessly
logs and prints every one. In the worker's task log each must come out as ***."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

TOKENS = 50


@dag(
    dag_id="realtime_careless_fleet",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_careless_fleet() -> None:
    @task
    def mint_and_leak() -> int:
        import logging

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        answers = OpenAIRealtimeHook().create_many("transcription", [None] * TOKENS)
        for number, answer in enumerate(answers):
            token = answer.body["value"]  # type: ignore[union-attr]
            logging.getLogger(__name__).info("careless log %d: %s", number, token)
            print(f"careless print {number}: {token}")
        return len(answers)

    mint_and_leak()


realtime_careless_fleet()
