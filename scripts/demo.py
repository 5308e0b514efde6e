"""make demo: mint one token in a real Airflow with example 1, then print a short summary.

With OPENAI_API_KEY set it calls the real API (OPENAI_BASE_URL overrides the base URL); otherwise it
starts the offline emulator and points the connection at it. The token itself is never printed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pendulum

from airflow_provider_realtime.testing import RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import AirflowSandbox

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "realtime_mint_one_token"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="make demo",
        description="Mint one token in a real Airflow with example 1 and print a summary (never the token). "
        "Uses the real API when OPENAI_API_KEY is set (OPENAI_BASE_URL overrides its base URL), else the "
        "offline emulator. The Airflow home is .demo/airflow-home.",
    )
    parser.parse_args(argv)
    api_key = os.environ.get("OPENAI_API_KEY")
    emulator = None
    if api_key:
        host = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
        where = f"the OpenAI API at {host}"
    else:
        emulator = RealtimeEmulator("sk-demo-" + os.urandom(16).hex()).start()
        host, api_key = emulator.base_url, emulator.api_key
        where = f"the offline emulator at {host} (set OPENAI_API_KEY to use the real API)"
    connection = json.dumps({"conn_type": "openai_realtime", "host": host, "password": api_key})
    try:
        print(f"Running example DAG {DAG_ID} in a real Airflow against {where} ...", flush=True)
        sandbox = AirflowSandbox(ROOT / ".demo" / "airflow-home", ROOT / "example_dags")
        sandbox.migrate()
        run = sandbox.dags_test(DAG_ID, env={"AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": connection})
        record = sandbox.read_run(DAG_ID, run.run_id) if run.run_id else None
        states = record.states if record else {}
        if record is None or run.returncode != 0 or not states or set(states.values()) != {"success"}:
            lines = run.output.replace(api_key, "***").splitlines()
            tail = "\n".join(lines[-40:])  # whole lines: the end of what Airflow printed
            print(f"FAILED: airflow dags test exited {run.returncode}, task states {states}\n{tail}")
            return 1
        result = record.xcoms[("mint", -1, "return_value")]
    finally:
        if emulator is not None:
            emulator.stop()

    expires = pendulum.parse(result["expires_at"])
    seconds_left = int((expires - pendulum.now("UTC")).total_seconds())
    token = result["client_secret"] or ""
    rows = [
        ("client secret", f"{token[:3]}*** ({len(token)} characters, masked)"),
        ("session id", result["session_id"]),
        ("secret expires", f"{result['expires_at']} ({seconds_left} s left)"),
        ("audio format", result["input_audio_format"]),
        ("transcription", json.dumps(result["input_audio_transcription"])),
        ("turn detection", json.dumps(result["turn_detection"])),
        ("noise reduction", json.dumps(result["input_audio_noise_reduction"])),
        ("run", f"{run.run_id} (AIRFLOW_HOME={sandbox.home})"),
    ]
    print("\nMinted a Realtime transcription client secret:")
    for label, value in rows:
        print(f"  {label:<16} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
