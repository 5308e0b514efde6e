"""A DAG for the leak test: it mints with the operator, then mints with the hook and carelessly logs and
prints the token in the same task. Every copy of the token in the task logs must come out as ***.

``every_route`` mints a fleet (past the tokens Airflow's own mask_secret handles) and writes a token of
each part every way a task can reach its log file: children, raw file descriptors, ``sys.__stdout__``,
handlers and streams saved before the first mint, pieces, escapes and neighbouring word characters.

``stopped_fleet`` mints a fleet from a server that rate-limits all but its first answers, and is stopped
by its execution_timeout: it must end at once, sending nothing more, after pushing what it minted.

``pasted_key`` mints on a connection whose key was pasted with a trailing newline: it must fail with a
ValueError that names the connection, and neither its log nor its traceback may hold the key."""

from __future__ import annotations

from datetime import timedelta

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator


@dag(
    dag_id="realtime_leak_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_leak_probe() -> None:
    mint = CreateTranscriptionSessionOperator(
        task_id="mint",
        session={"input_audio_transcription": {"model": "whisper-1"}},
        expires_after_seconds=60,
    )

    @task
    def careless() -> int:
        import logging

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        token = OpenAIRealtimeHook().create("transcription").body["value"]
        logging.getLogger("careless").warning("the token is %s", token)
        print(f"printed token={token}")
        return len(token)

    pasted_key = CreateTranscriptionSessionOperator(task_id="pasted_key", conn_id="openai_realtime_pasted")

    @task
    def every_route() -> dict:
        import json
        import logging
        import os
        import subprocess
        import sys
        import time

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
        from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT

        saved_stderr = sys.stderr  # as progress bars keep it, before the first mint
        handler_log = logging.getLogger("every_route.saved_handler")
        handler_log.addHandler(logging.StreamHandler(sys.stdout))
        handler_log.propagate = False
        answers = OpenAIRealtimeHook().create_many("transcription", [None] * (PUBLIC_MASK_LIMIT + 8))
        tokens = [answers[0].body["value"], answers[-1].body["value"]]  # type: ignore[union-attr]
        for token in tokens:
            subprocess.run(["echo", f"from a child {token}"], check=True)
            subprocess.run(["sh", "-c", f"echo from a grandchild {token} >&2"], check=True)
            os.write(1, f"os.write {token}\n".encode())
            print(f"to sys.__stdout__ {token}", file=sys.__stdout__, flush=True)
            handler_log.warning("to a handler made before the mint %s", token)
            saved_stderr.write(f"to a saved stderr {token}\n")
            saved_stderr.flush()
            print(f"ansi \x1b[32m{token}\x1b[0m url key%3D{token} word desk_7_{token}", flush=True)
            logging.getLogger("every_route").warning("json %s", json.dumps({"v": "\n" + token}))
            try:
                raise RuntimeError(f"in a traceback {token}")
            except RuntimeError:
                logging.getLogger("every_route").exception("a handled error")
            sys.stdout.write(f"in pieces {token[:12]}")
            sys.stdout.flush()
            sys.stdout.write(f"{token[12:]} end\n")
            if hasattr(sys.stdout, "buffer"):  # Airflow 2 replaces sys.stdout with a writer without one
                sys.stdout.buffer.write(f"to sys.stdout.buffer {token}\n".encode())
                sys.stdout.flush()
        started = time.perf_counter()
        for _ in range(100_000):
            sys.stdout.write("x")
        sys.stdout.write("\n")
        sys.stdout.flush()
        seconds = time.perf_counter() - started
        return {
            "tokens": len(answers),
            "stdout_attributes": [
                name
                for name in ("buffer", "reconfigure", "line_buffering", "name")
                if hasattr(sys.stdout, name)
            ],
            "100k_writes_seconds": round(seconds, 3),
        }

    stopped_fleet = CreateTranscriptionSessionOperator(
        task_id="stopped_fleet",
        conn_id="openai_realtime_limited",
        count=500,
        concurrency=5,
        execution_timeout=timedelta(seconds=3),
        retries=0,
    )

    mint >> careless()
    mint >> pasted_key
    mint >> [every_route(), stopped_fleet]


realtime_leak_probe()
