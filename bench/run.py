"""make bench: the provider against the alternatives, side by side, against the local emulator.

1. per-mint latency (wall and client CPU; median and p99) for plain requests (the floor), the hook, the
   operator's whole execute (connection lookup, hook, request, shaping, XCom push), the openai SDK and
   apache-airflow-providers-http's HttpHook, each as a ratio to the floor;
2. the import cost the operator module adds on top of ``airflow.sdk`` (``python -X importtime``);
3. wall time of ``airflow dags test`` for example 1 versus the same job written with HttpOperator;
4. per-mint cost over many mints in one process: first 10 % versus last 10 %;
5. the same in one task run by a real executor (LocalExecutor, the supervised task process of Airflow 3),
   which logs and prints every token: first block versus last, and no token in the task log file;
6. fleet minting against the emulator with 50 ms added to every answer: many tokens through the bulk path
   (hook, operator execute, and the operator as one task under LocalExecutor) against the network limit
   (tokens x 50 ms / concurrency), the openai SDK's AsyncOpenAI at the same concurrency, and mapped
   single-token task instances under LocalExecutor (a tenth of the tokens run, the rest extrapolated).

The emulator runs in its own process, so the client's CPU time is the benchmark process's own.
Writes a JSON result file (and CONTRIBUTING.md's table next to it, as .md) and prints a table. ``--smoke`` runs
small sizes to keep the harness working (its `dags test` section the HttpOperator twin only).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench-" + os.urandom(12).hex()
SESSION = {
    "input_audio_format": "pcm16",
    "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
}
WIRE_SESSION = {
    "type": "transcription",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
        }
    },
}
WIRE_BODY = {"session": WIRE_SESSION, "expires_after": {"anchor": "created_at", "seconds": 600}}


def start_emulator(latency_ms: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "airflow_provider_realtime.testing", "--port", "0", "--api-key", API_KEY),
            *("--latency-ms", str(latency_ms)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def measure(mint: Callable[[], Any], count: int, warmup: int) -> dict[str, float]:
    """Per-mint wall and CPU time (this thread) in microseconds."""
    for _ in range(warmup):
        mint()
    gc.collect()
    walls, cpus = [], []
    clock, cpu_clock = time.perf_counter, time.thread_time
    for _ in range(count):
        start_cpu, start = cpu_clock(), clock()
        mint()
        walls.append(clock() - start)
        cpus.append(cpu_clock() - start_cpu)
    walls.sort()
    return {
        "mints": count,
        "wall_median_us": statistics.median(walls) * 1e6,
        "wall_p99_us": walls[int(len(walls) * 0.99) - 1] * 1e6,
        "cpu_mean_us": statistics.fmean(cpus) * 1e6,
        "cpu_median_us": statistics.median(cpus) * 1e6,
    }


def clients(base_url: str) -> dict[str, Callable[[], Any]]:
    """One zero-argument mint per contender, each doing the same POST and parsing the answer."""
    import requests

    os.environ["AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT"] = json.dumps(
        {"conn_type": "openai_realtime", "host": base_url, "password": API_KEY}
    )
    os.environ["AIRFLOW_CONN_OPENAI_HTTP"] = json.dumps(
        {"conn_type": "http", "host": base_url, "extra": {"Authorization": f"Bearer {API_KEY}"}}
    )

    floor_session = requests.Session()
    url = f"{base_url}/realtime/client_secrets"
    headers = {"Authorization": f"Bearer {API_KEY}"}

    def plain_requests() -> Any:
        response = floor_session.post(url, json=WIRE_BODY, headers=headers, timeout=(5, 60))
        response.raise_for_status()
        return response.json()

    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    hook = OpenAIRealtimeHook()

    def provider_hook() -> Any:
        return hook.create("transcription", SESSION, expires_after_seconds=600).body

    class TaskInstance:
        def xcom_push(self, key: str, value: Any) -> None:
            self.pushed = (key, value)

    from airflow.sdk.bases.operator import ExecutorSafeguard

    context = {"ti": TaskInstance()}
    # What the Task Runner passes to execute; without it Airflow logs a warning on every call.
    inside_task_runner = {"CreateTranscriptionSessionOperator__sentinel": ExecutorSafeguard.sentinel_value}

    def fresh_operators() -> Iterator[CreateTranscriptionSessionOperator]:
        # A new operator per mint, as each task run has, built ahead so that only execute is timed
        # (construction happens when Airflow loads the task, not in execute).
        while True:
            yield from [
                CreateTranscriptionSessionOperator(task_id="mint", session=SESSION, expires_after_seconds=600)
                for _ in range(100)
            ]

    operators = fresh_operators()

    def operator_execute() -> Any:
        return next(operators).execute(context, **inside_task_runner)  # type: ignore[arg-type]

    import openai

    sdk = openai.OpenAI(api_key=API_KEY, base_url=base_url, max_retries=2)

    def openai_sdk() -> Any:
        return sdk.realtime.client_secrets.create(
            session=WIRE_SESSION,  # type: ignore[arg-type]
            expires_after={"anchor": "created_at", "seconds": 600},
        )

    from airflow.providers.http.hooks.http import HttpHook

    http_hook = HttpHook(method="POST", http_conn_id="openai_http")

    def airflow_http_hook() -> Any:
        return http_hook.run("realtime/client_secrets", json=WIRE_BODY).json()

    return {
        "plain requests (floor)": plain_requests,
        "provider hook": provider_hook,
        "provider operator execute": operator_execute,
        "openai SDK": openai_sdk,
        "HttpHook (providers-http)": airflow_http_hook,
    }


def import_cost(runs: int) -> dict[str, float]:
    """Extra import time of the operator module after airflow.sdk, from python -X importtime (best of runs)."""
    module = "airflow_provider_realtime.operators.transcription_session"
    costs, sdk_costs = [], []
    for _ in range(runs):
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import airflow.sdk; import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        cumulative = {}
        for line in completed.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if match and not match.group(3).strip() and len(match.group(3)) == 1:
                cumulative[match.group(4)] = int(match.group(2))
        costs.append(cumulative.get(module, 0) / 1000)
        sdk_costs.append(cumulative.get("airflow.sdk", 0) / 1000)
    return {"operator_module_extra_ms": min(costs), "airflow_sdk_ms": min(sdk_costs)}


BENCH_DAGS = ROOT / "bench" / "dags"


def probe_sandbox(*dag_files: Path) -> tuple[Path, Any]:
    """A throwaway Airflow (SQLite, migrated) whose DAGs folder holds ``dag_files``; the caller removes
    the returned folder."""
    sys.path.insert(0, str(ROOT / "tests"))  # the tests' harness: executor runs, task log files
    from harness import Sandbox as AirflowSandbox

    work = Path(tempfile.mkdtemp(prefix="realtime-bench-"))
    dags = work / "dags"
    dags.mkdir()
    for dag_file in dag_files:
        shutil.copy(dag_file, dags)
    sandbox = AirflowSandbox(work / "home", dags)
    sandbox.migrate()
    return work, sandbox


DAGS_TEST = {  # label -> the DAG `airflow dags test` runs, its file
    "provider operator": ("realtime_mint_one_token", ROOT / "example_dags" / "realtime_mint_one_token.py"),
    "HttpOperator": ("http_operator_mint", BENCH_DAGS / "http_operator_mint.py"),
}
DAGS_TEST_NAMES = {"provider operator": "this operator", "HttpOperator": "`HttpOperator`"}


def dags_test_wall(base_url: str, runs: int, labels: Sequence[str] = tuple(DAGS_TEST)) -> dict[str, float]:
    """Wall time of `airflow dags test` for example 1 and for its HttpOperator twin (best of runs)."""

    work, sandbox = probe_sandbox(*(DAGS_TEST[label][1] for label in labels))
    env = {
        key: os.environ[key] for key in ("AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT", "AIRFLOW_CONN_OPENAI_HTTP")
    }
    timings: dict[str, float] = {}
    for label in labels:
        dag_id = DAGS_TEST[label][0]
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            result = sandbox.dags_test(dag_id, env=env)
            elapsed = time.perf_counter() - start
            if result.returncode != 0:
                raise RuntimeError(f"airflow dags test {dag_id} failed:\n{result.output[-2000:]}")
            best = min(best, elapsed)
        timings[label] = best
    shutil.rmtree(work, ignore_errors=True)
    return timings


def supervised_masking(sandbox: Any, tokens: int, block: int) -> dict[str, Any]:
    """Mint ``tokens`` in one task run by a real executor, logging and printing each one.

    LocalExecutor runs the task in its own process; on Airflow 3 that process sends its logs to a
    supervisor process, which writes the task log file. The task times each block of ``block`` tokens
    (mint, log, print); the first block is compared with the last, and the log file is searched for any
    token-shaped text.
    """
    from airflow_provider_realtime.masking import TOKEN_SHAPE

    env = {"AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": os.environ["AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT"]}
    start = time.perf_counter()
    run = sandbox.dags_test(
        "supervised_mask_probe",
        env=env,
        conf={"tokens": tokens, "block": block},
        use_executor=True,
        timeout=3600,
    )
    wall = time.perf_counter() - start
    blocks = sandbox.xcoms("supervised_mask_probe", run.run_id).get(("mint_and_log", -1, "return_value"))
    if run.returncode != 0 or not blocks:
        raise RuntimeError(f"the masking run failed:\n{run.output[-3000:]}")
    logs = "".join(
        path.read_text() for path in sandbox.task_log_files() if f"run_id={run.run_id}" in str(path)
    )
    return {
        "tokens": tokens,
        "block": block,
        "first_block_s": blocks[0],
        "last_block_s": blocks[-1],
        "ratio_last_to_first": blocks[-1] / blocks[0],
        "blocks_s": blocks,
        "run_wall_s": wall,
        "masked_lines": logs.count("token=***"),
        "tokens_in_log_file": len(TOKEN_SHAPE.findall(logs)),
    }


FLEET_LATENCY_S = 0.05
FLEET_CONCURRENCY = 16


def fleet(sandbox: Any, tokens: int, mapped: int) -> dict[str, Any]:
    """``tokens`` tokens at concurrency 16 against an emulator that answers each request after 50 ms."""
    import asyncio

    import openai

    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook, RealtimeResponse
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    process, base_url = start_emulator(FLEET_LATENCY_S * 1000)
    connection = json.dumps({"conn_type": "openai_realtime", "host": base_url, "password": API_KEY})
    os.environ["AIRFLOW_CONN_OPENAI_REALTIME_FLEET"] = connection
    sessions = [SESSION] * tokens
    rows: dict[str, float] = {"network limit": tokens * FLEET_LATENCY_S / FLEET_CONCURRENCY}
    try:
        hook = OpenAIRealtimeHook("openai_realtime_fleet")
        hook.create_many("transcription", sessions[:FLEET_CONCURRENCY], concurrency=FLEET_CONCURRENCY)  # warm
        start = time.perf_counter()
        answers = hook.create_many(
            "transcription", sessions, concurrency=FLEET_CONCURRENCY, expires_after_seconds=600
        )
        rows["provider hook, create_many"] = time.perf_counter() - start
        assert all(isinstance(answer, RealtimeResponse) for answer in answers)

        class TaskInstance:
            def xcom_push(self, key: str, value: Any) -> None:
                self.pushed = (key, value)

        from airflow.sdk.bases.operator import ExecutorSafeguard

        operator = CreateTranscriptionSessionOperator(
            task_id="fleet",
            conn_id="openai_realtime_fleet",
            session=SESSION,
            count=tokens,
            concurrency=FLEET_CONCURRENCY,
            expires_after_seconds=600,
        )
        sentinel = {"CreateTranscriptionSessionOperator__sentinel": ExecutorSafeguard.sentinel_value}
        start = time.perf_counter()
        results = operator.execute({"ti": TaskInstance()}, **sentinel)  # type: ignore[arg-type]
        rows["provider operator execute, count"] = time.perf_counter() - start
        assert len(results) == tokens
        assert all(result["client_secret"] for result in results)

        async def async_openai() -> float:
            client = openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=2)
            gate = asyncio.Semaphore(FLEET_CONCURRENCY)

            async def one() -> Any:
                async with gate:
                    return await client.realtime.client_secrets.create(
                        session=WIRE_SESSION,  # type: ignore[arg-type]
                        expires_after={"anchor": "created_at", "seconds": 600},
                    )

            await asyncio.gather(*(one() for _ in range(FLEET_CONCURRENCY)))  # warm
            began = time.perf_counter()
            created = await asyncio.gather(*(one() for _ in range(tokens)))
            elapsed = time.perf_counter() - began
            assert all(secret.value for secret in created)
            await client.close()
            return elapsed

        # The SDK's HTTP client logs every request at INFO, which Airflow's logging set-up shows; a script
        # of its own would not, so it is measured without those lines.
        import logging

        quiet = [logging.getLogger(name) for name in ("httpx", "httpx2")]
        levels = [logger.level for logger in quiet]
        for logger in quiet:
            logger.setLevel(logging.WARNING)
        try:
            rows["openai SDK, AsyncOpenAI"] = asyncio.run(async_openai())
        finally:
            for logger, level in zip(quiet, levels, strict=True):
                logger.setLevel(level)
        print("  measured the fleet in process", file=sys.stderr, flush=True)
        in_airflow = fleet_under_executor(sandbox, connection, tokens, mapped)
    finally:
        process.terminate()
        process.communicate(timeout=10)
    return {
        "tokens": tokens,
        "concurrency": FLEET_CONCURRENCY,
        "latency_ms": FLEET_LATENCY_S * 1000,
        "seconds": rows,
        **in_airflow,
    }


def fleet_under_executor(sandbox: Any, connection: str, tokens: int, mapped: int) -> dict[str, Any]:
    """One task with ``count=tokens``, and ``mapped`` single-token task instances, under LocalExecutor:
    how long the tasks took (first start to last end, from the metadata database) and the whole run."""
    import sqlite3

    env = {"AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": connection}
    measured: dict[str, Any] = {}
    for dag_id, count in (("fleet_bulk_probe", tokens), ("fleet_mapped_probe", mapped)):
        start = time.perf_counter()
        run = sandbox.dags_test(dag_id, env=env, conf={"tokens": count}, use_executor=True, timeout=3600)
        wall = time.perf_counter() - start
        # The metadata database read directly (a benchmark's own probe; the sandbox's read_run would
        # start an Airflow process for each): every task instance's state, and the mint tasks' span.
        with sqlite3.connect(sandbox.database) as database:
            states = {
                state
                for (state,) in database.execute(
                    "SELECT state FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run.run_id)
                )
            }
            (span,) = database.execute(
                "SELECT (julianday(MAX(end_date)) - julianday(MIN(start_date))) * 86400 FROM task_instance "
                "WHERE dag_id = ? AND run_id = ? AND task_id = 'mint'",
                (dag_id, run.run_id),
            ).fetchone()
        if run.returncode != 0 or states != {"success"}:
            raise RuntimeError(f"{dag_id} failed: {states}\n{run.output[-3000:]}")
        measured[dag_id] = {"tokens": count, "task_seconds": span, "run_wall_seconds": wall}
        logs = "".join(
            path.read_text() for path in sandbox.task_log_files() if f"run_id={run.run_id}" in str(path)
        )
        # The bulk task's own log line (the hook's create_many): the minting alone, without the task's
        # start and XCom push.
        minted = re.search(r"Transcription client secrets in ([0-9.]+) s", logs)
        if minted:
            measured[dag_id]["minting_seconds"] = float(minted.group(1))
        print(f"  measured {dag_id}", file=sys.stderr, flush=True)
    bulk, each = measured["fleet_bulk_probe"], measured["fleet_mapped_probe"]
    return {
        "operator_task_minting_seconds": bulk["minting_seconds"],
        "operator_task_seconds": bulk["task_seconds"],
        "operator_run_wall_seconds": bulk["run_wall_seconds"],
        "mapped_instances_run": mapped,
        "mapped_task_seconds": each["task_seconds"],
        "mapped_run_wall_seconds": each["run_wall_seconds"],
        "mapped_extrapolated_seconds": each["task_seconds"] * tokens / mapped,
    }


def fleet_rows(result: dict[str, Any]) -> list[tuple[str, float, str]]:
    """The fleet table's rows: what, seconds for all the tokens, how it was measured."""
    seconds = result["seconds"]
    tokens, mapped = result["tokens"], result["mapped_instances_run"]
    return [
        *((name, value, "in one process") for name, value in seconds.items()),
        (
            "provider operator, one task (count): minting",
            result["operator_task_minting_seconds"],
            "under LocalExecutor, from the task's log line",
        ),
        (
            "provider operator, one task (count): whole task",
            result["operator_task_seconds"],
            "task start to end (start-up, XCom push of every result)",
        ),
        (
            "mapped single-token task instances",
            result["mapped_extrapolated_seconds"],
            f"{mapped} run under LocalExecutor in {result['mapped_task_seconds']:.1f} s, × {tokens / mapped:g}",
        ),
    ]


def client_sessions(emulator_pid: int, base_url: str, count: int) -> dict[str, Any]:
    """Open ``count`` client sessions at once on the emulator (a WebSocket each, as the SDK opens them, 32
    opening at a time), all held open together: sessions opened per second, and the emulator's memory."""
    import concurrent.futures
    import contextlib

    import requests
    from websockets.sync.client import connect

    def resident_mib() -> float:
        for line in Path(f"/proc/{emulator_pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    with requests.Session() as http:
        tokens = [
            http.post(
                f"{base_url}/realtime/client_secrets",
                json={"session": {"type": "realtime"}},
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=30,
            ).json()["value"]
            for _ in range(count)
        ]
    url = base_url.replace("http://", "ws://") + "/realtime"

    held_open = contextlib.ExitStack()  # every session stays open until all are counted

    def open_one(token: str) -> Any:
        opening = connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60)
        connection = held_open.enter_context(opening)
        assert json.loads(connection.recv(timeout=60))["type"] == "session.created"
        return connection

    before = resident_mib()
    started = time.perf_counter()
    with held_open:
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            connections = list(pool.map(open_one, tokens))
        seconds = time.perf_counter() - started
        held = resident_mib()
        connections[-1].send(json.dumps({"type": "response.create"}))  # the last one opened still answers
        assert json.loads(connections[-1].recv(timeout=60))["type"] == "response.created"
    return {
        "sessions": count,
        "seconds": seconds,
        "opened_per_second": count / seconds,
        "emulator_rss_mib_before": before,
        "emulator_rss_mib_all_open": held,
        "kib_per_session": (held - before) * 1024 / count,
    }


def growth(mint: Callable[[], Any], count: int) -> dict[str, float]:
    """Per-mint wall and CPU of the first and last tenth of `count` mints in one process."""
    tenth = count // 10
    first = measure(mint, tenth, warmup=0)
    middle = count - 2 * tenth
    for _ in range(middle):
        mint()
    last = measure(mint, tenth, warmup=0)
    return {
        "mints": count,
        "first_wall_median_us": first["wall_median_us"],
        "last_wall_median_us": last["wall_median_us"],
        "first_cpu_mean_us": first["cpu_mean_us"],
        "last_cpu_mean_us": last["cpu_mean_us"],
        "wall_ratio_last_to_first": last["wall_median_us"] / first["wall_median_us"],
        "cpu_ratio_last_to_first": last["cpu_mean_us"] / first["cpu_mean_us"],
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import airflow
    import requests

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "airflow": airflow.__version__,
        "requests": requests.__version__,
        "os": platform.platform(),
    }


def table(results: dict[str, Any]) -> str:
    floor = results["latency"]["plain requests (floor)"]
    lines = [
        f"Per-mint latency, {floor['mints']} sequential mints each (emulator in its own process, keep-alive)",
        f"{'client':<28}{'wall median':>13}{'wall p99':>11}{'CPU/mint':>11}{'wall x floor':>14}{'CPU x floor':>13}",
    ]
    for name, row in results["latency"].items():
        lines.append(
            f"{name:<28}{row['wall_median_us']:>10.0f} us{row['wall_p99_us']:>8.0f} us{row['cpu_mean_us']:>8.0f} us"
            f"{row['wall_median_us'] / floor['wall_median_us']:>13.2f}x{row['cpu_mean_us'] / floor['cpu_mean_us']:>12.2f}x"
        )
    imports = results["imports"]
    lines.append(
        f"\nImport: airflow.sdk {imports['airflow_sdk_ms']:.0f} ms; the operator module adds "
        f"{imports['operator_module_extra_ms']:.1f} ms (python -X importtime, best of runs)"
    )
    if results.get("dags_test"):
        measured = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in results["dags_test"].items())
        lines.append(f"airflow dags test, one-token DAG: {measured} (best of runs)")
    emulator = results["emulator"]
    lines.append(
        f"Emulator: {emulator['requests']:.0f} requests on {emulator['connections']:.0f} connections, "
        f"{emulator['server_us_per_request']:.0f} us of server time per request"
    )
    grow = results["growth"]
    lines.append(
        f"Growth over {grow['mints']} hook mints in one process: wall median {grow['first_wall_median_us']:.0f} -> "
        f"{grow['last_wall_median_us']:.0f} us ({grow['wall_ratio_last_to_first']:.2f}x), CPU "
        f"{grow['first_cpu_mean_us']:.0f} -> {grow['last_cpu_mean_us']:.0f} us ({grow['cpu_ratio_last_to_first']:.2f}x)"
    )
    masking = results["supervised_masking"]
    lines.append(
        f"One task under LocalExecutor minting, logging and printing {masking['tokens']} tokens: "
        f"first {masking['block']} in {masking['first_block_s']:.2f} s, last {masking['block']} in "
        f"{masking['last_block_s']:.2f} s ({masking['ratio_last_to_first']:.2f}x); task log file: "
        f"{masking['masked_lines']} lines masked, {masking['tokens_in_log_file']} tokens"
    )
    fleet_result = results["fleet"]
    limit = fleet_result["seconds"]["network limit"]
    lines.append(
        f"\nFleet: {fleet_result['tokens']} tokens, concurrency {fleet_result['concurrency']}, "
        f"{fleet_result['latency_ms']:.0f} ms added to every answer"
    )
    for name, value, how in fleet_rows(fleet_result):
        lines.append(f"{name:<40}{value:>9.2f} s{value / limit:>8.2f}x limit   {how}")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """CONTRIBUTING.md's performance section body, from a results file."""
    m, i, d, g, e = (results[key] for key in ("machine", "imports", "dags_test", "growth", "emulator"))
    lines = [
        f"Taken on {m['cpu']}, {m['cores']} cores, Python {m['python']}, Airflow {m['airflow']}, "
        f"requests {m['requests']}, with `make bench` ({results['latency']['plain requests (floor)']['mints']:,} "
        "sequential mints per client, the emulator in its own process, kept-alive connections):",
        "",
        "| client | wall median | wall p99 | client CPU / mint | wall × floor | CPU × floor |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["latency"].items():
        lines.append(
            f"| {name} | {row['wall_median_us']:.0f} µs | {row['wall_p99_us']:.0f} µs | {row['cpu_mean_us']:.0f} µs "
            f"| {row['wall_ratio']:.2f}× | {row['cpu_ratio']:.2f}× |"
        )
    lines += [
        "",
        f"- Import: the operator module adds **{i['operator_module_extra_ms']:.1f} ms** on top of `airflow.sdk` "
        f"({i['airflow_sdk_ms']:.0f} ms), `python -X importtime`, best of runs.",
        "- `airflow dags test` of the one-token DAG: "
        + ", ".join(f"{seconds:.1f} s with {DAGS_TEST_NAMES[label]}" for label, seconds in d.items())
        + " (best of runs; Airflow's own start-up dominates).",
        f"- Growth over {g['mints']:,} hook mints in one process: wall median {g['first_wall_median_us']:.0f} → "
        f"{g['last_wall_median_us']:.0f} µs, CPU {g['first_cpu_mean_us']:.0f} → {g['last_cpu_mean_us']:.0f} µs "
        "per mint: flat. (Airflow's own `mask_secret` would make it quadratic: 27 ms per token after 1,000.)",
        f"- Emulator: {e['server_us_per_request']:.0f} µs of server time per request.",
    ]
    if "sessions" in results:
        c = results["sessions"]
        lines.append(
            f"- Emulator client sessions: {c['sessions']:,} WebSocket sessions held open at once, opened at "
            f"{c['opened_per_second']:.0f} a second (32 opening at a time); the emulator's memory "
            f"{c['emulator_rss_mib_before']:.0f} → {c['emulator_rss_mib_all_open']:.0f} MiB "
            f"({c['kib_per_session']:.0f} KiB a session)."
        )
    s = results["supervised_masking"]
    lines.append(
        f"- Masking in a task run by a real executor (LocalExecutor; on Airflow 3 the supervisor process "
        f"writes the log file): one task mints {s['tokens']:,} tokens and logs and prints each. The first "
        f"{s['block']:,} take {s['first_block_s']:.2f} s, the last {s['block']:,} {s['last_block_s']:.2f} s "
        f"({s['ratio_last_to_first']:.2f}×): flat. The task log file has {s['masked_lines']:,} lines with "
        f"`token=***` and {s['tokens_in_log_file']} tokens."
    )
    f = results["fleet"]
    limit = f["seconds"]["network limit"]
    lines += [
        "",
        f"Fleet minting: {f['tokens']:,} tokens at concurrency {f['concurrency']} from an emulator that adds "
        f"{f['latency_ms']:.0f} ms to every answer (so the network limit is {f['tokens']:,} × "
        f"{f['latency_ms']:.0f} ms / {f['concurrency']} = {limit:.2f} s):",
        "",
        "| path | seconds | × network limit | measured |",
        "|---|---|---|---|",
    ]
    for name, value, how in fleet_rows(f):
        lines.append(f"| {name} | {value:.2f} s | {value / limit:.2f}× | {how} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, to check the harness works")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    mints, warmup, growth_mints, dag_runs, import_runs, masked_tokens, block = (
        (100, 20, 500, 1, 2, 500, 100) if args.smoke else (2000, 200, 10_000, 3, 7, 10_000, 1_000)
    )
    # smoke: `dags test` of the HttpOperator twin only, which nothing else runs (each is an Airflow start,
    # about 10 s of CPU; example 1 runs in the suite on every Airflow version)
    dags_test_labels = ("HttpOperator",) if args.smoke else tuple(DAGS_TEST)
    # smoke: 2 mapped instances prove the mapping path; each costs a task process start (3-4 s of CPU)
    fleet_tokens, mapped_instances = (200, 2) if args.smoke else (1_000, 100)
    client_session_count = 50 if args.smoke else 1_000  # client sessions held open at once

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="realtime-bench-home-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    process, base_url = start_emulator()
    try:
        contenders = clients(base_url)
        results: dict[str, Any] = {"machine": machine(), "smoke": args.smoke, "latency": {}}
        for name, mint in contenders.items():
            results["latency"][name] = measure(mint, mints, warmup)
            print(f"  measured {name}", file=sys.stderr, flush=True)
        sections: list[tuple[str, Callable[[], Any]]] = [
            ("sessions", lambda: client_sessions(process.pid, base_url, client_session_count)),
            ("growth", lambda: growth(contenders["provider hook"], growth_mints)),
            ("imports", lambda: import_cost(import_runs)),
            ("dags_test", lambda: dags_test_wall(base_url, dag_runs, dags_test_labels)),
        ]
        # The sections that run tasks under an executor share one Airflow (and on 3.x one API server).
        work, runner = probe_sandbox(BENCH_DAGS / "supervised_mask_probe.py", BENCH_DAGS / "fleet_probe.py")
        with runner.executor():
            sections += [
                ("supervised_masking", lambda: supervised_masking(runner, masked_tokens, block)),
                ("fleet", lambda: fleet(runner, fleet_tokens, mapped_instances)),
            ]
            for name, section in sections:
                started = time.perf_counter()
                results[name] = section()
                print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        shutil.rmtree(work, ignore_errors=True)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    results["emulator"] = json.loads(errors.strip().splitlines()[-1])
    floor = results["latency"]["plain requests (floor)"]
    for row in results["latency"].values():
        row["wall_ratio"] = row["wall_median_us"] / floor["wall_median_us"]
        row["cpu_ratio"] = row["cpu_mean_us"] / floor["cpu_mean_us"]
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    Path(args.output).with_suffix(".md").write_text(markdown(results) + "\n")
    print(table(results))
    print(f"\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
