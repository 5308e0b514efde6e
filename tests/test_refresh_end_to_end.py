"""The refresh promise, end to end: under a real scheduler, both refresh examples keep a token in their
store that opens a session, cycle after cycle, for a client that reads the store every half second: the
fleet refresh's Redis key of one desk, and the token refresh's file (handed out until its ``use_until``).

Short lifetimes (the examples read them from the environment): see ``REFRESH, OVERLAP, MARGIN``. A client
process reads both stores every 0.5 s and opens a session with each token it reads (a WebSocket to the
emulator, as the official SDK does); a session refused, a token read with less than the margin left, or a
read that finds no token to hand out, is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from harness import Sandbox as AirflowSandbox
from servers import redis_server

from airflow_provider_realtime.testing import RealtimeEmulator

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.airflow_process, pytest.mark.version_independent]
pytest.importorskip("websockets")

# A run every 10 s, tokens of 30 s, keys that expire 5 s before their tokens: 15 s for a run to start late.
REFRESH, OVERLAP, MARGIN = 10, 20, 5  # seconds
CYCLES = 3

CLIENT = textwrap.dedent(
    """
    import datetime, json, sys, time
    import redis
    from websockets.sync.client import connect

    port, token_file, ws_url, margin, until, out = sys.argv[1:7]
    margin, until = float(margin), float(until)
    store = redis.Redis(host="127.0.0.1", port=int(port), decode_responses=True)


    def from_redis():
        document = store.get("realtime:client-token:desk-001")
        return None if document is None else json.loads(document)


    def from_file():
        try:
            with open(token_file) as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return None
        usable = datetime.datetime.fromisoformat(document["use_until"]).timestamp() > time.time()
        return document if usable else None  # the service hands a token out only until use_until


    stores = {"redis": from_redis, "file": from_file}
    seen = {name: {"reads": 0, "sessions": 0, "failures": [], "tokens": []} for name in stores}
    while time.time() < until:
        for name, read in stores.items():
            result, token = seen[name], read()
            result["reads"] += 1
            if token is None:
                if result["sessions"]:  # after the first refresh there is always one to hand out
                    result["failures"].append("no usable token")
                continue
            left = datetime.datetime.fromisoformat(token["expires_at"]).timestamp() - time.time()
            if left < margin:
                result["failures"].append(f"read with {left:.1f} s left")
            try:
                with connect(ws_url, additional_headers={"Authorization": "Bearer " + token["client_secret"]}, open_timeout=5) as ws:
                    first = json.loads(ws.recv(timeout=5))
                assert first["type"] == "session.created", first
                result["sessions"] += 1
                if token["client_secret"] not in result["tokens"]:
                    result["tokens"].append(token["client_secret"])
            except Exception as error:
                result["failures"].append(f"{type(error).__name__}: {error}")
        time.sleep(0.5)
    for result in seen.values():
        result["tokens"] = len(result["tokens"])
    json.dump(seen, open(out, "w"))
    """
)


def test_a_client_reading_the_refreshed_store_always_opens_a_session(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    from airflow_provider_realtime import compat

    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "example_dags" / "realtime_fleet_refresh.py", dags)
    shutil.copy(ROOT / "example_dags" / "realtime_token_refresh.py", dags)
    token_dir = tmp_path / "tokens"
    token_dir.mkdir()
    with (
        RealtimeEmulator("sk-refresh-" + os.urandom(12).hex()) as emulator,
        redis_server(tmp_path / "redis") as redis,
    ):
        sandbox = AirflowSandbox(tmp_path / "airflow", dags)
        env = {
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": emulator.connection_json(),
            "AIRFLOW_CONN_REDIS_DEFAULT": redis.url,
            "REALTIME_REFRESH_SECONDS": str(REFRESH),
            "REALTIME_OVERLAP_SECONDS": str(OVERLAP),
            "REALTIME_MARGIN_SECONDS": str(MARGIN),
            "REALTIME_TOKEN_DIR": str(token_dir),
        }
        if compat.airflow_version() >= (3, 0):
            env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "5"
        else:
            env["AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL"] = "5"
        sandbox.migrate()
        desks = 20  # the example's default clients
        with contextlib.ExitStack() as running:
            if compat.airflow_version() >= (3, 0):
                running.enter_context(sandbox.api_server(env=env))
                running.enter_context(sandbox.background("dag-processor", env=env))
            running.enter_context(sandbox.background("scheduler", env=env))
            deadline = time.monotonic() + 180
            token_file = token_dir / "realtime_client_token.json"
            while (
                len(emulator.minted_tokens) < desks or not token_file.exists()
            ) and time.monotonic() < deadline:
                time.sleep(0.5)  # waiting for the first refresh, not a timing assertion
            assert emulator.minted_tokens, "the scheduler never ran the refresh (see the sandbox's logs)"
            out = tmp_path / "client.json"
            ws_url = emulator.base_url.replace("http://", "ws://") + "/realtime"
            client_until = time.time() + CYCLES * REFRESH + MARGIN
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CLIENT,
                    str(redis.port),
                    str(token_file),
                    ws_url,
                    str(MARGIN),
                    str(client_until),
                    str(out),
                ],
                check=True,
                timeout=CYCLES * REFRESH + OVERLAP + 60,
            )
        results = json.loads(out.read_text())
        minted = len(emulator.minted_tokens)
    for store, result in results.items():
        print(
            f"refresh end to end, {store}: {result['reads']} reads, {result['sessions']} sessions, "
            f"{result['tokens']} tokens ({minted} minted in all)"
        )
        assert result["failures"] == [], store
        assert result["tokens"] >= CYCLES, f"{store}: the client saw a new token each cycle"
        assert result["sessions"] == result["reads"], (
            f"{store}: every read found a token that opened its session"
        )
