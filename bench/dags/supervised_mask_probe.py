"""One task that mints many tokens with the hook and logs and prints each one, for the benchmark of
masking under a real executor: the task returns the seconds each block of 1,000 tokens took (never a
token), and the task log file must hold none of them."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(
    dag_id="supervised_mask_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"tokens": 1000, "block": 1000},
)
def supervised_mask_probe() -> None:
    @task
    def mint_and_log(params: dict | None = None) -> list[float]:
        import logging
        import time

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        assert params is not None
        hook = OpenAIRealtimeHook()
        log = logging.getLogger("supervised_mask_probe")
        blocks: list[float] = []
        start = time.perf_counter()
        for index in range(1, int(params["tokens"]) + 1):
            token = hook.create("transcription", expires_after_seconds=600).body["value"]
            log.info("minted token=%s", token)
            print(f"printed token={token}", flush=True)
            if index % int(params["block"]) == 0:
                blocks.append(time.perf_counter() - start)
                start = time.perf_counter()
        return blocks

    mint_and_log()


supervised_mask_probe()
