"""Failures against the emulator: each scenario says what is injected, how many attempts, and the outcome.

Also the soak: thousands of sequential mints with ~10 % injected 429/5xx, all succeeding on kept-alive
connections with flat memory.
"""

from __future__ import annotations

import email.utils
import gc
import logging
import random
import time
import tracemalloc
from collections.abc import Callable

import pytest

from airflow_provider_realtime.exceptions import (
    RealtimeAuthenticationError,
    RealtimeConflictError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeInvalidRequestError,
    RealtimeMalformedResponseError,
    RealtimeRateLimitError,
    RealtimeServerError,
    RealtimeTimeoutError,
)
from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
from airflow_provider_realtime.retry import (
    RetryPolicy,
    backoff_wait,
    server_requested_wait,
    wait_before_retry,
)
from airflow_provider_realtime.testing import Fault, RealtimeEmulator

# The transport and retry policy: the hook's own code. Reading its connection and masking, which do change
# between Airflow versions, are proved on every version in test_hook.py and the real-process tests.
pytestmark = pytest.mark.version_independent

MakeHook = Callable[..., OpenAIRealtimeHook]
OK = None  # a normal answer in a script
BAD_REQUEST = {
    "error": {
        "message": "Invalid value for 'x'.",
        "type": "invalid_request_error",
        "param": "session.x",
        "code": "invalid_value",
    }
}


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# id, script, connection extras, expected exception (None = success), expected attempts
SCENARIOS = [
    pytest.param([Fault.error(429, retry_after_ms=5), OK], {}, None, 2, id="429-retry-after-ms-then-ok"),
    pytest.param([Fault.error(429, retry_after="0"), OK], {}, None, 2, id="429-retry-after-seconds-then-ok"),
    pytest.param(
        [Fault.error(429, retry_after=_http_date(-5)), OK],
        {},
        None,
        2,
        id="429-retry-after-http-date-then-ok",
    ),
    pytest.param(
        [Fault.error(500), Fault.error(502), Fault.error(503), OK], {}, None, 4, id="500-502-503-then-ok"
    ),
    pytest.param([Fault.error(504), OK], {}, None, 2, id="504-then-ok"),
    pytest.param([Fault.error(408), Fault.error(409), OK], {}, None, 3, id="408-409-then-ok"),
    pytest.param([Fault.error(409)] * 4, {}, RealtimeConflictError, 4, id="409-exhausted"),
    pytest.param([Fault.error(408)] * 4, {}, RealtimeServerError, 4, id="408-exhausted"),
    pytest.param(
        [Fault.error(400, should_retry=True, body=BAD_REQUEST), OK],
        {},
        None,
        2,
        id="400-with-x-should-retry-true",
    ),
    pytest.param([Fault.drop(), OK], {}, None, 2, id="dropped-connection-then-ok"),
    # Clock margins wide enough for a loaded 2-core machine: the normal answer has a whole second.
    pytest.param([Fault.slow(3.0), OK], {"timeout": 1.0}, None, 2, id="read-timeout-then-ok"),
    pytest.param([Fault.non_json(502), OK], {}, None, 2, id="html-502-then-ok"),
    pytest.param(
        [Fault.error(503, should_retry=False)], {}, RealtimeServerError, 1, id="503-with-x-should-retry-false"
    ),
    pytest.param(
        [Fault.error(400, body=BAD_REQUEST)], {}, RealtimeInvalidRequestError, 1, id="400-not-retried"
    ),
    pytest.param([Fault.error(403)], {}, RealtimeAuthenticationError, 1, id="403-not-retried"),
    pytest.param([Fault.error(404)], {}, RealtimeInvalidRequestError, 1, id="404-not-retried"),
    pytest.param([Fault.error(422)], {}, RealtimeInvalidRequestError, 1, id="422-not-retried"),
    pytest.param([Fault.error(429)] * 4, {}, RealtimeRateLimitError, 4, id="429-exhausted"),
    pytest.param(
        [Fault.error(429, retry_after="3600")], {}, RealtimeRateLimitError, 1, id="429-asks-longer-than-cap"
    ),
    pytest.param(
        [Fault.error(503)] * 3, {"max_retries": 2}, RealtimeServerError, 3, id="503-exhausted-max-retries-2"
    ),
    pytest.param([Fault.non_json(502)] * 4, {}, RealtimeServerError, 4, id="html-502-exhausted"),
    pytest.param([Fault.error(500)], {"max_retries": 0}, RealtimeServerError, 1, id="retries-disabled"),
    pytest.param([Fault.drop()] * 4, {}, RealtimeConnectionError, 4, id="dropped-exhausted"),
    pytest.param(
        [Fault.slow(2.0)] * 2,
        {"timeout": 0.5, "max_retries": 1},
        RealtimeTimeoutError,
        2,
        id="read-timeout-exhausted",
    ),
    pytest.param([Fault.truncate()], {}, RealtimeMalformedResponseError, 1, id="truncated-body"),
    pytest.param([Fault.non_json(200)], {}, RealtimeMalformedResponseError, 1, id="non-json-200"),
    pytest.param([Fault.null_secret()], {}, RealtimeMalformedResponseError, 1, id="null-client-secret"),
    pytest.param(
        [Fault(status=200, body={"session": {}})],
        {},
        RealtimeMalformedResponseError,
        1,
        id="missing-client-secret",
    ),
]


@pytest.mark.parametrize("endpoint", ["client_secrets", "transcription_sessions"])
@pytest.mark.parametrize(("script", "extras", "expected", "attempts"), SCENARIOS)
def test_fault_scenario(
    make_hook: MakeHook,
    emulator: RealtimeEmulator,
    endpoint: str,
    script: list,
    extras: dict,
    expected: type[RealtimeError] | None,
    attempts: int,
) -> None:
    emulator.script(*script)
    hook = make_hook(**extras)
    if expected is None:
        response = hook.create("transcription", endpoint=endpoint)
        assert response.status == 200
        assert response.attempts == attempts
    else:
        with pytest.raises(expected) as caught:
            hook.create("transcription", endpoint=endpoint)
        error = caught.value
        assert error.attempts == attempts
        message = str(error)
        assert f"/realtime/{endpoint}" in message
        assert f"{attempts} attempt" in message
        assert "Hint:" in message
        if error.status is not None:
            assert f"status {error.status}" in message
            assert error.request_id and error.request_id in message
        for secret in (emulator.api_key, *emulator.minted_tokens):
            assert secret not in message
        assert len(message) < 1000, "an error message never carries a whole response body"
    assert emulator.request_count == attempts
    assert emulator.pending_faults == 0


def test_openai_error_fields_reach_the_exception(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    emulator.script(Fault.error(400, body=BAD_REQUEST))
    with pytest.raises(RealtimeInvalidRequestError) as caught:
        make_hook().create("transcription")
    error = caught.value
    assert (error.status, error.error_type, error.code, error.param) == (
        400,
        "invalid_request_error",
        "invalid_value",
        "session.x",
    )
    assert error.api_message == "Invalid value for 'x'."
    assert "param=session.x" in str(error)


def test_a_wrong_key_is_an_authentication_error_that_hides_the_key(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    wrong = "sk-proj-abcdefgh12345678"
    with pytest.raises(RealtimeAuthenticationError) as caught:
        make_hook(password=wrong).create("transcription")
    assert caught.value.attempts == 1 and caught.value.status == 401
    assert "sk-" not in str(caught.value) and "5678" not in str(caught.value)


def retry_warnings(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The hook's retry warnings, wherever this Airflow's logging put them (stdlib records, or structlog's
    console on Airflow 3)."""
    output = capsys.readouterr()
    for text in (caplog.text, output.out + output.err):  # Airflow 2 has both; the records, once each
        lines = [line for line in text.splitlines() if "retrying in" in line]
        if lines:
            return lines
    return []


def test_connection_refused_is_retried_then_reported(
    make_hook: MakeHook, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(RealtimeConnectionError) as caught:
        make_hook(host="http://127.0.0.1:9/v1", max_retries=2).create("transcription")
    assert caught.value.attempts == 3
    assert "NewConnectionError" in str(caught.value) or "ConnectionRefusedError" in str(caught.value)
    retries = retry_warnings(caplog, capsys)
    assert len(retries) == 2
    assert all("Nothing reached the server, so nothing was minted" in message for message in retries)


def test_a_retried_error_answer_warns_that_a_second_token_may_be_minted(
    make_hook: MakeHook,
    emulator: RealtimeEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.script(Fault.error(503))
    with caplog.at_level(logging.WARNING):
        make_hook().create("transcription")
    (retry,) = retry_warnings(caplog, capsys)
    assert "A retried POST may mint a second token" in retry


def test_openai_error_details_are_in_parentheses_which_airflows_console_keeps(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    """Airflow's console renders messages with Rich, which takes "[type=…]" for markup and drops it."""
    emulator.script(Fault.error(400, body=BAD_REQUEST))
    with pytest.raises(RealtimeInvalidRequestError) as caught:
        make_hook().create("transcription")
    assert "(type=" in str(caught.value) and "[" not in str(caught.value)


def test_raw_callers_can_have_the_error_answer_back(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    emulator.script(Fault.error(400, body=BAD_REQUEST))
    response = make_hook().create("transcription", raise_for_status=False)
    assert (response.status, response.body) == (400, BAD_REQUEST)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "garbage"}, None),
        ({}, None),
    ],
)
def test_server_requested_wait(headers: dict, expected: float | None) -> None:
    assert server_requested_wait(headers) == expected


def test_server_requested_wait_reads_http_dates() -> None:
    assert (
        server_requested_wait({"retry-after": email.utils.formatdate(1_000_030, usegmt=True)}, now=1_000_000)
        == 30
    )


def test_backoff_grows_exponentially_is_capped_and_jittered_down() -> None:
    policy = RetryPolicy(backoff_initial=0.5, backoff_max=8.0)
    rng = random.Random(7)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        waits = [backoff_wait(retry, policy, rng) for _ in range(50)]
        assert all(0.75 * ceiling <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 1


def test_a_longer_requested_wait_than_the_cap_means_give_up() -> None:
    policy = RetryPolicy(retry_after_max=60)
    assert wait_before_retry(1, {"retry-after": "61"}, policy) is None
    assert wait_before_retry(1, {"retry-after": "60"}, policy) == 60


# Why 2,000 mints suffice: 1,800 are counted, and memory may grow by at most 64 KiB over them, so anything
# kept per mint from 37 bytes up fails (a leaked token string is about 90 bytes, a dict or a response
# far more); and about 200 injected faults hit each fault kind of the script dozens of times. More mints
# would cost time without catching a smaller leak.
SOAK_MINTS = 2000


def _soak_script(mints: int, rng: random.Random) -> list[Fault | None]:
    """About 10 % of answers are 429/5xx, never more than two in a row (fewer than the retry budget)."""
    script: list[Fault | None] = []
    run = 0
    while sum(1 for item in script if item is None) < mints:
        if run < 2 and rng.random() < 0.1:
            status = rng.choice([429, 500, 502, 503, 504])
            script.append(Fault.error(status, retry_after_ms=0) if status == 429 else Fault.error(status))
            run += 1
        else:
            script.append(None)
            run = 0
    return script


# The transport's property, not Airflow's: the matrix versions check the transport against hostile servers.
@pytest.mark.version_independent
def test_soak_every_mint_succeeds_on_reused_connections_with_flat_memory(
    make_hook: MakeHook, emulator: RealtimeEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    script = _soak_script(SOAK_MINTS, random.Random(2026))
    faults = sum(1 for item in script if item is not None)
    emulator.script(*script)
    emulator.keep_sessions = 0  # the tokens open no sessions here: the emulator keeps nothing of them
    hook = make_hook()
    # The retry warnings' log records are kept by pytest for its report (on Airflow 2 through stdlib
    # logging, with Airflow's formatter strings): growth of the harness, not of the hook.
    caplog.set_level(logging.ERROR, logger="airflow.task.hooks")
    tokens: set[int] = set()  # hashes: keeping the strings would be growth of our own
    warmup = SOAK_MINTS // 10

    tracemalloc.start()  # before the warm-up, so bounded buffers that turn over cancel out
    for _ in range(warmup):
        tokens.add(hash(hook.create("transcription").body["value"]))
    gc.collect()
    before = tracemalloc.take_snapshot()
    for _ in range(SOAK_MINTS - warmup):
        tokens.add(hash(hook.create("transcription").body["value"]))
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()

    # Not counted: this test's own token set, the retry warnings' log records, which pytest keeps for
    # its report, and the masking registry, which keeps a hash of every token minted in the process
    # (about 120 bytes a token, by design: see masking.py).
    not_this_test = [
        tracemalloc.Filter(False, __file__),
        tracemalloc.Filter(False, "*/output_relay.py"),
        tracemalloc.Filter(False, "*/logging/__init__.py"),
        tracemalloc.Filter(False, "*/_pytest/*"),
    ]
    grown = sum(
        stat.size_diff
        for stat in after.filter_traces(not_this_test).compare_to(
            before.filter_traces(not_this_test), "filename"
        )
    )
    print(
        f"soak: {SOAK_MINTS} mints, {faults} faults injected ({faults / len(script):.1%} of answers), "
        f"{emulator.request_count} requests, {emulator.connection_count} TCP connection(s), "
        f"memory grew {grown / 1024:.1f} KiB over {SOAK_MINTS - warmup} mints",
    )
    assert len(tokens) == SOAK_MINTS
    assert emulator.request_count == len(script)
    assert 0.08 <= faults / len(script) <= 0.12
    assert emulator.connection_count == 1, "every mint and retry reuses one kept-alive connection"
    assert grown < 64 * 1024, f"memory grew by {grown} bytes over {SOAK_MINTS - warmup} mints"
