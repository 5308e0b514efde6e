"""Masking in a process of its own (the set-up happens once per process): whatever the batch's concurrency
and the tokens' lengths, every token past Airflow's own masking, and the token shape itself, stay masked."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap

import hostile
import pytest

from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT

KEY = "sk-masking-" + secrets.token_hex(12)

MINT_THEN_REDACT = textwrap.dedent(
    """
    import json, sys
    from airflow_provider_realtime.compat import secrets_masker
    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

    count, concurrency = int(sys.argv[1]), int(sys.argv[2])
    results = OpenAIRealtimeHook(conn_id="masking").create_many("transcription", [None] * count, concurrency=concurrency)
    tokens = [result.body["value"] for result in results]
    masker = secrets_masker()
    unknown = "ek_" + "Q" * 40
    print(json.dumps({
        "tokens": len(set(tokens)),
        "replacer": type(masker.replacer).__name__,
        "unmasked": [index for index, token in enumerate(tokens) if token in str(masker.redact(f"x {token} y"))],
        "shape": str(masker.redact(f"x {unknown} y")),
    }))
    """
)


def long_token(seen: hostile.Seen) -> bytes:
    """A 200 answer whose token is about 1,540 characters long, distinct per request."""
    token = "ek_" + (secrets.token_urlsafe(1152))[:1537]
    body = json.dumps({"value": token, "expires_at": 2_000_000_000, "session": {}}).encode()
    return hostile.head(200, length=len(body), keep_alive=True) + body


@pytest.mark.parametrize("run", range(3))
def test_masking_holds_after_a_concurrent_batch_of_long_tokens(run: int) -> None:
    """Eight threads mint at once across the 32nd token, where the flat-cost masking is set up while other
    threads still add their tokens to Airflow's masker: a race there once left the masker with its plain
    pattern, and every later token and the token shape unmasked."""
    with hostile.serving(hostile.keep_alive(long_token)) as server:
        connection = {"conn_type": "openai_realtime", "host": server.base_url, "password": KEY}
        env = {**os.environ, "AIRFLOW_CONN_MASKING": json.dumps(connection)}
        count = PUBLIC_MASK_LIMIT + 32
        result = subprocess.run(
            [sys.executable, "-c", MINT_THEN_REDACT, str(count), "8"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["tokens"] == count
    assert outcome["replacer"] == "_KnownTokenReplacer"
    assert outcome["unmasked"] == []
    assert outcome["shape"] == "x *** y"
