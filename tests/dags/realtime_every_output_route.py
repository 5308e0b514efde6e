"""A DAG for the Airflow 2 masking test: ``every_route`` mints a fleet (one token of Airflow's own masking,
one past it) and writes each token every way a task's output can reach its log file or the worker's
console: log arguments that are bytes or objects, exception texts built from a file name or a command,
exception notes, a child process, ``os.write`` and ``sys.__stdout__``. ``fails`` mints a token and fails
with it in an ``OSError``'s file name: the traceback and Airflow's own failure line hold it."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(
    dag_id="realtime_every_output_route",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_every_output_route() -> None:
    @task
    def every_route() -> int:
        import dataclasses
        import logging
        import os
        import subprocess
        import sys

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
        from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT

        @dataclasses.dataclass
        class Desk:
            token: str

        log = logging.getLogger("airflow.task")
        fleet = [None] * (PUBLIC_MASK_LIMIT + 8)
        answers = OpenAIRealtimeHook().create_many("transcription", fleet, concurrency=1)  # in order
        for token in (answers[0].body["value"], answers[-1].body["value"]):  # type: ignore[union-attr]
            log.warning("as bytes %s", token.encode())
            log.warning("as an object %s", Desk(token))
            try:
                open(f"/nonexistent/{token}.json")  # noqa: SIM115
            except OSError:
                log.exception("an OSError")
            try:
                subprocess.run(["false", token], check=True)
            except subprocess.CalledProcessError:
                log.exception("a failed command")
            error = RuntimeError("with a note")
            if hasattr(error, "add_note"):  # Python 3.11+
                error.add_note(f"note {token}")
            log.error("a noted error", exc_info=error)
            subprocess.run(["echo", f"from a child {token}"], check=True)
            os.write(1, f"os.write {token}\n".encode())
            print(f"to sys.__stdout__ {token}", file=sys.__stdout__, flush=True)
        return len(answers)

    @task(retries=0)
    def fails() -> None:
        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        token = OpenAIRealtimeHook().create("transcription").body["value"]
        open(f"/nonexistent/{token}.json")  # noqa: SIM115 - raises, with the token in its file name

    every_route()
    fails()


realtime_every_output_route()
