"""A DAG for the masking edge tests, run under an executor so that Airflow 3's supervisor writes the log.

``relay_killed`` mints past the tokens Airflow's own masking handles (so the output relay starts), kills
the relay process, then goes on minting and printing every way a task can: nothing may fail, and no
token may reach the log in clear.

``fleet`` mints past the tokens Airflow's own masking handles with the operator, and ``downstream``
receives its result from XCom, masks it with ``mask_client_secrets`` and prints two of its tokens every
way: the log must show ``***``.

``descriptor_copies`` writes a token of each part of a fleet through copies of file descriptor 1 made
before and after the relay started; ``captured_mint`` mints inside a capture that then restores the
descriptor it saved. The README's security section says what each shows: the log file must agree.
"""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT
from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator


def _relay_pids() -> list[int]:
    """The output relay processes this task process started (its children running output_relay.py)."""
    import os
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"output_relay" in command:
            found.append(int(entry.name))
    return found


@dag(
    dag_id="realtime_masking_edges",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def realtime_masking_edges() -> None:
    @task
    def relay_killed() -> dict:
        import os
        import signal
        import subprocess
        import time

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
        from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT

        hook = OpenAIRealtimeHook()
        before = hook.create_many("transcription", [None] * (PUBLIC_MASK_LIMIT + 8))
        relays = _relay_pids()
        for pid in relays:
            os.kill(pid, signal.SIGKILL)
        until = time.monotonic() + 30
        while _relay_pids() and time.monotonic() < until:
            time.sleep(0.05)
        single = hook.create("transcription").body["value"]
        after = hook.create_many("transcription", [None] * 8)
        tokens = [before[-1].body["value"], single, after[-1].body["value"]]  # type: ignore[union-attr]
        for token in tokens:
            print(f"printed after the kill {token}", flush=True)
            os.write(1, f"os.write after the kill {token}\n".encode())
            subprocess.run(["echo", f"a child after the kill {token}"], check=True)
        return {"relays_killed": len(relays), "minted": len(before) + 1 + len(after)}

    @task
    def descriptor_copies() -> dict:
        import os

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
        from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT

        early = os.dup(1)  # before the first mint
        # One at a time, so that the last item is the last minted: past the 32nd.
        answers = OpenAIRealtimeHook().create_many(
            "transcription", [None] * (PUBLIC_MASK_LIMIT + 8), concurrency=1
        )
        late = os.dup(1)  # after the mint
        first, last = answers[0].body["value"], answers[-1].body["value"]  # type: ignore[union-attr]
        for name, token in (("first", first), ("last", last)):
            os.write(early, f"copied before the mint, {name}: {token}\n".encode())
            os.write(late, f"copied after the mint, {name}: {token}\n".encode())
        return {"minted": len(answers)}

    @task
    def captured_mint() -> dict:
        import os
        import tempfile

        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
        from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT

        saved = os.dup(1)  # a capture around the mint, as output-capturing helpers do
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 1)
            fleet = [None] * (PUBLIC_MASK_LIMIT + 8)
            answers = OpenAIRealtimeHook().create_many(
                "transcription", fleet, concurrency=1
            )  # the last, last
            os.dup2(saved, 1)
        first, last = answers[0].body["value"], answers[-1].body["value"]  # type: ignore[union-attr]
        for name, token in (("first", first), ("last", last)):
            os.write(1, f"restored after a capture, {name}: {token}\n".encode())
            print(f"printed after a capture, {name}: {token}", flush=True)
        return {"minted": len(answers)}

    @task
    def downstream(results: list) -> int:
        import os
        import subprocess

        from airflow_provider_realtime.masking import mask_client_secrets

        mask_client_secrets(results)
        for item in (results[0], results[-1]):
            print(f"downstream printed {item['client_secret']}", flush=True)
            os.write(1, f"downstream os.write {item['client_secret']}\n".encode())
            subprocess.run(["echo", f"downstream child {item['client_secret']}"], check=True)
        return len(results)

    fleet = CreateTranscriptionSessionOperator(task_id="fleet", count=PUBLIC_MASK_LIMIT + 8)
    downstream(fleet.output)
    relay_killed()
    descriptor_copies()
    captured_mint()


realtime_masking_edges()
