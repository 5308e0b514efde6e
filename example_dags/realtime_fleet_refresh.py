"""Example 8: fleet refresh. Every 10 minutes one task mints a token per client (call-centre desks,
kiosks, devices) and writes each to Redis, where a client-facing service reads it; no token enters XCom.

Each client's token goes under ``realtime:client-token:<client>`` as JSON (``client_secret``,
``expires_at``, ``session_id``) with ``SET … EX``: the key expires ``MARGIN`` before its token does, so a
client never reads a token with less than ``MARGIN`` of life left, enough to open its session.

How to choose: tokens live the schedule plus an overlap (12 minutes here), and the overlap must be at
least ``MARGIN`` plus the longest the scheduler may start a run late, or a client can find no token
between one token's key expiring and the next run's; the DAG file warns when the overlap is shorter than
the margin. The three can be set from the environment (``REALTIME_REFRESH_SECONDS``,
``REALTIME_OVERLAP_SECONDS``, ``REALTIME_MARGIN_SECONDS``), as the tests do to run many cycles quickly.

The clients are the ``clients`` param (trigger with ``{"clients": [...]}`` or change the default); Redis
is the ``redis_default`` connection of Airflow's Redis provider. One task mints them all, concurrently,
instead of one mapped task instance per client: hundreds of tokens take seconds, not hundreds of task starts.
If some clients get no new token, the others are still written (the failed ones keep their current
token until it expires), then the task fails naming them.
"""

from __future__ import annotations

import datetime
import os
import warnings

import pendulum

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

REFRESH_EVERY = datetime.timedelta(seconds=int(os.environ.get("REALTIME_REFRESH_SECONDS", "600")))
OVERLAP = datetime.timedelta(seconds=int(os.environ.get("REALTIME_OVERLAP_SECONDS", "120")))
MARGIN = datetime.timedelta(
    seconds=int(os.environ.get("REALTIME_MARGIN_SECONDS", "30"))
)  # life left, at least
if OVERLAP < MARGIN:
    warnings.warn(
        f"realtime_fleet_refresh: the schedule ({REFRESH_EVERY}) plus the margin ({MARGIN}) exceeds the "
        f"tokens' lifetime ({REFRESH_EVERY + OVERLAP}): clients will find no token for part of every cycle",
        stacklevel=1,
    )
KEY_PREFIX = "realtime:client-token:"
SESSION = {"input_audio_transcription": {"model": "gpt-4o-mini-transcribe"}}


@dag(
    dag_id="realtime_fleet_refresh",
    schedule=REFRESH_EVERY,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"clients": [f"desk-{number:03d}" for number in range(1, 21)]},
    tags=["openai-realtime", "example"],
)
def realtime_fleet_refresh() -> None:
    @task
    def refresh(params: dict | None = None) -> dict:
        """Mint a token per client, store each under its key until it expires; return counts, not tokens."""
        import json
        import time

        from airflow.providers.redis.hooks.redis import RedisHook

        from airflow_provider_realtime.exceptions import RealtimeBatchError, RealtimeError
        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        clients = (params or {})["clients"]
        if not all(isinstance(client, str) and client for client in clients):
            raise ValueError("params.clients must be a list of client ids (non-empty text)")
        answers = OpenAIRealtimeHook().create_many(
            "transcription",
            [SESSION] * len(clients),
            concurrency=16,
            expires_after_seconds=int((REFRESH_EVERY + OVERLAP).total_seconds()),
        )
        redis = RedisHook(redis_conn_id="redis_default").get_conn()
        writes = redis.pipeline(transaction=False)
        failures: list[tuple[int, RealtimeError]] = []
        earliest_expiry = None
        for index, (client, answer) in enumerate(zip(clients, answers, strict=True)):
            if isinstance(answer, RealtimeError):
                failures.append((index, answer))
                continue
            token = answer.structured()
            expires_at = datetime.datetime.fromisoformat(token["expires_at"])
            handed_out_for = int(expires_at.timestamp() - time.time() - MARGIN.total_seconds())
            if handed_out_for <= 0:
                continue  # too little life left on arrival (a clock far off): nothing worth storing
            document = {key: token[key] for key in ("client_secret", "session_id")}
            document["expires_at"] = token["expires_at"]
            writes.set(KEY_PREFIX + client, json.dumps(document), ex=handed_out_for)
            earliest_expiry = min(earliest_expiry or expires_at, expires_at)
        writes.execute()
        if failures:
            print("No new token for:", ", ".join(clients[index] for index, _ in failures))
            raise RealtimeBatchError(failures, len(clients))
        return {
            "refreshed": len(clients),
            "key_prefix": KEY_PREFIX,
            "earliest_expiry": earliest_expiry.isoformat() if earliest_expiry else None,
        }

    refresh()


realtime_fleet_refresh()
