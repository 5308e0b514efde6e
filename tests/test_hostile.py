"""The key never leaves and the task never hangs: hostile servers, sloppy connections and bad input.

Every attack an adversarial probe of the hook found is a row here, against small hostile servers on
127.0.0.1 (``hostile.py``). Each row asserts the exception class, how many requests reached each server,
the time taken against a deadline far below what the server would hold us for, the memory bound where
the server tries to blow it up, and that neither the key nor any fragment of it is in any message or
log line.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import hostile
import pytest
from hostile import HostileServer, Seen

from airflow_provider_realtime.exceptions import (
    RealtimeAuthenticationError,
    RealtimeError,
    RealtimeInvalidRequestError,
    RealtimeMalformedResponseError,
    RealtimeRedirectError,
    RealtimeServerError,
    RealtimeTimeoutError,
)
from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
from airflow_provider_realtime.testing import RealtimeEmulator

# The transport and retry policy: the hook's own code. Reading its connection and masking, which do change
# between Airflow versions, are proved on every version in test_hook.py and the real-process tests.
pytestmark = pytest.mark.version_independent

# Random, and ending in letters no URL, port or request id here contains, so fragment checks are exact.
KEY = f"sk-{secrets.token_hex(20)}qzxw"
AZURE_KEY = f"{secrets.token_hex(14)}qzxw"  # Azure keys have no prefix
MIB = 1024 * 1024
# Deadline per attempt = connect + read timeouts = 2 s; hostile servers would hold us for minutes.
TIGHT = {"timeout": 1, "connect_timeout": 1, "max_retries": 0, "backoff_initial": 0.01, "backoff_max": 0.02}
OK_BODY = json.dumps({"value": "ek_" + "a" * 32, "expires_at": 2_000_000_000, "session": {}}).encode()


def secret_pieces(secret: str) -> set[str]:
    """The secret's last four characters, and every 6-character piece of its private part, folded."""
    private = secret.removeprefix("sk-").lower()
    return {private[-4:], *(private[i : i + 6] for i in range(len(private) - 5))}


def assert_nothing_leaks(*texts: str, secret: str = KEY) -> None:
    pieces = secret_pieces(secret)
    for text in texts:
        folded = text.lower()
        found = sorted(piece for piece in pieces if piece in folded)
        assert not found, f"fragments of the key {found} in: {text[:300]}"


@pytest.fixture
def connect(connection_to: Callable[..., str]) -> Callable[..., OpenAIRealtimeHook]:
    """A hook on a fresh connection: ``connect(host, password=KEY, conn_type=..., **extras)``."""

    def make(
        host: str, *, password: str = KEY, conn_type: str = "openai_realtime", **extra: Any
    ) -> OpenAIRealtimeHook:
        conn_id = connection_to(
            host, password=password, conn_type=conn_type, name="hostile", **{**TIGHT, **extra}
        )
        return OpenAIRealtimeHook(conn_id=conn_id)

    return make


def redirect_to(target: Callable[[HostileServer], str], status: int) -> hostile.Behaviour:
    def behave(server: HostileServer, client: Any, seen: Seen) -> None:
        client.sendall(hostile.head(status, {"Location": target(server)}, length=0))

    return behave


DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
ECHO_BODY = json.dumps(
    {
        "error": {
            "message": f"Incorrect API key provided: {KEY}. Also {KEY.upper()} and ...{KEY[-4:]}",
            "type": f"invalid_{KEY[3:20]}",
            "param": KEY.upper(),
            "code": KEY[-12:],
        }
    }
).encode()

# id, behaviour, connection extras, expected exception, requests, seconds at most, MiB of memory at most
ROWS = [
    pytest.param(
        hostile.trickle(b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 3000),
        {},
        RealtimeTimeoutError,
        1,
        10,
        None,
        id="headers-trickle-one-byte-at-a-time",
    ),
    pytest.param(
        hostile.trickle(hostile.head(200, length=3000), b"a" * 3000),
        {"max_retries": 3},
        RealtimeTimeoutError,
        1,
        10,
        None,
        id="body-trickles-after-200-headers-not-retried",
    ),
    pytest.param(
        hostile.stall(hostile.head(200, length=500) + b'{"value": "ek_'),
        {"max_retries": 3},
        RealtimeTimeoutError,
        1,
        10,
        None,
        id="body-stalls-after-200-headers-not-retried",
    ),
    pytest.param(
        hostile.stall(hostile.head(503, length=500) + b'{"error": '),
        {"max_retries": 1},
        RealtimeServerError,
        2,
        15,
        None,
        id="body-stalls-after-503-retried-no-token-exists",
    ),
    pytest.param(
        hostile.answer(400, hostile.gzip_bomb(256), {"Content-Encoding": "gzip"}),
        {},
        RealtimeInvalidRequestError,
        1,
        20,
        24,
        id="gzip-bomb-on-400",
    ),
    pytest.param(
        hostile.answer(200, hostile.gzip_bomb(256), {"Content-Encoding": "gzip"}),
        {"max_retries": 3},
        RealtimeMalformedResponseError,
        1,
        20,
        24,
        id="gzip-bomb-on-200",
    ),
    pytest.param(
        hostile.declared_huge(400), {}, RealtimeInvalidRequestError, 1, 10, 24, id="100-MB-declared-on-400"
    ),
    pytest.param(
        hostile.endless_chunks(200),
        {"max_retries": 3},
        RealtimeMalformedResponseError,
        1,
        20,
        24,
        id="endless-chunked-200",
    ),
    pytest.param(
        hostile.endless_chunks(500),
        {"max_retries": 1},
        RealtimeServerError,
        2,
        20,
        24,
        id="endless-chunked-500",
    ),
    pytest.param(
        hostile.answer(200, DEEP_JSON),
        {"max_retries": 3},
        RealtimeMalformedResponseError,
        1,
        10,
        None,
        id="json-100000-deep-200",
    ),
    pytest.param(
        hostile.answer(400, DEEP_JSON),
        {},
        RealtimeInvalidRequestError,
        1,
        10,
        None,
        id="json-100000-deep-400",
    ),
    pytest.param(
        hostile.answer(500, DEEP_JSON),
        {"max_retries": 1},
        RealtimeServerError,
        2,
        10,
        None,
        id="json-100000-deep-500",
    ),
    pytest.param(
        hostile.answer(200, b'{"value": "ek_abcdefghijklmnop", "expires_at": NaN}'),
        {},
        RealtimeMalformedResponseError,
        1,
        10,
        None,
        id="nan-in-a-200",
    ),
    pytest.param(
        hostile.answer(200, b'{"value": "ek_abcdefghijklmnop", "expires_at": ' + b"9" * 5000 + b"}"),
        {},
        RealtimeMalformedResponseError,
        1,
        10,
        None,
        id="5000-digit-number-in-a-200",
    ),
    pytest.param(
        hostile.answer(503, headers={"Retry-After": "Sat, 01 Jan 10000 00:00:00 GMT"}),
        {"max_retries": 1},
        RealtimeServerError,
        2,
        10,
        None,
        id="retry-after-in-the-year-10000",
    ),
    pytest.param(
        hostile.answer(503, headers={"Retry-After": "nan", "retry-after-ms": "inf"}),
        {"max_retries": 1},
        RealtimeServerError,
        2,
        10,
        None,
        id="retry-after-nan-and-inf",
    ),
    pytest.param(
        hostile.answer(401, ECHO_BODY, {"Content-Type": "application/json"}),
        {},
        RealtimeAuthenticationError,
        1,
        10,
        None,
        id="key-echoed-in-every-error-field",
    ),
    pytest.param(
        redirect_to(lambda server: server.base_url + "/realtime/client_secrets", 307),
        {"max_retries": 3},
        RealtimeRedirectError,
        1,
        10,
        None,
        id="redirect-loop",
    ),
    pytest.param(
        redirect_to(lambda server: "file:///etc/passwd", 302),
        {},
        RealtimeRedirectError,
        1,
        10,
        None,
        id="redirect-to-a-file-url",
    ),
    pytest.param(
        redirect_to(lambda server: "http://[::1", 302),
        {},
        RealtimeRedirectError,
        1,
        10,
        None,
        id="redirect-to-garbage",
    ),
]


@pytest.mark.parametrize(("behaviour", "extras", "expected", "requests", "seconds", "mib"), ROWS)
def test_a_hostile_server_gets_a_bounded_clear_failure(
    connect: Callable[..., OpenAIRealtimeHook],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    behaviour: hostile.Behaviour,
    extras: dict[str, Any],
    expected: type[RealtimeError],
    requests: int,
    seconds: float,
    mib: int | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    with hostile.serving(behaviour) as server:
        hook = connect(server.base_url, **extras)
        hook.settings  # noqa: B018 - read the connection before measuring
        if mib:
            tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(expected) as caught:
                hook.create("transcription")
        finally:
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1] if mib else 0
            tracemalloc.stop()
        assert len(server.requests) == requests
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    if mib:
        assert peak < mib * MIB, f"peak {peak / MIB:.1f} MiB"
    error = caught.value
    message = str(error)
    assert len(message) < 2000, "never a whole body"
    assert error.attempts == requests
    if error.status is not None:
        assert error.request_id == "req_hostile"
    output = capsys.readouterr()
    assert_nothing_leaks(message, repr(error), caplog.text, output.out, output.err)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("api_type", ["azure", "openai"])
def test_credentials_never_follow_a_redirect_to_another_origin(
    connect: Callable[..., OpenAIRealtimeHook], status: int, api_type: str
) -> None:
    with RealtimeEmulator(KEY) as elsewhere:  # would mint with this key, if the key ever got there
        origin = elsewhere.base_url.removesuffix("/v1")
        behaviour = redirect_to(lambda server: elsewhere.base_url + "/elsewhere-path?x=marker", status)
        with hostile.serving(behaviour) as server:
            hook = connect(server.base_url, api_type=api_type, max_retries=3)
            with pytest.raises(RealtimeRedirectError) as caught:
                hook.create("transcription")
            ok, test_message = hook.test_connection()
            assert len(server.requests) == 2
        assert elsewhere.request_count == 0, "nothing reached the other origin"
    message = str(caught.value)
    assert f"Redirected to {origin};" in message, message
    assert "elsewhere-path" not in message and "marker" not in message, "no path or query of the Location"
    assert caught.value.status == status
    assert not ok and "Redirected to" in test_message
    assert_nothing_leaks(message, test_message)


@pytest.mark.parametrize(
    ("password", "extras", "problem"),
    [
        pytest.param(KEY + "\n", {}, "leading or trailing whitespace", id="trailing-newline"),
        pytest.param(
            " " + KEY, {"api_type": "azure"}, "leading or trailing whitespace", id="azure-leading-space"
        ),
        pytest.param(KEY + "\r\n", {}, "leading or trailing whitespace", id="trailing-crlf"),
        pytest.param(KEY[:20] + "\n" + KEY[20:], {}, "control or non-ASCII", id="newline-inside"),
        pytest.param(KEY[:20] + " " + KEY[20:], {}, "spaces", id="space-inside"),
        pytest.param(KEY + "é", {}, "non-ASCII", id="non-ascii"),
    ],
)
def test_a_malformed_key_is_a_value_error_naming_the_connection_never_the_key(
    connect: Callable[..., OpenAIRealtimeHook],
    caplog: pytest.LogCaptureFixture,
    password: str,
    extras: dict[str, Any],
    problem: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    with hostile.serving(hostile.answer(200, OK_BODY)) as server:
        hook = connect(server.base_url, password=password, **extras)
        with pytest.raises(
            ValueError, match=f"connection 'hostile_0': the API key \\(password\\).*{problem}"
        ) as caught:
            hook.create("transcription")
        ok, message = connect(server.base_url, password=password, **extras).test_connection()
        assert server.requests == []
    assert not ok and "the API key (password)" in message
    assert_nothing_leaks(str(caught.value), message, caplog.text)


def test_a_connection_of_another_type_is_refused_before_any_request(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    with hostile.serving(hostile.answer(200, OK_BODY)) as server:
        hook = connect(server.base_url, conn_type="postgres")
        with pytest.raises(
            ValueError, match="connection 'hostile_0' is of type 'postgres', not 'openai_realtime'"
        ):
            hook.create("transcription")
        ok, message = hook.test_connection()
        assert server.requests == []
    assert not ok and "postgres" in message
    assert_nothing_leaks(message)


def test_the_operator_never_sends_another_connections_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from test_operator import run

    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    with hostile.serving(hostile.answer(200, OK_BODY)) as warehouse:
        monkeypatch.setenv(
            "AIRFLOW_CONN_WAREHOUSE_DB",
            json.dumps({"conn_type": "postgres", "host": warehouse.base_url, "password": KEY}),
        )
        operator = CreateTranscriptionSessionOperator(task_id="mint", config={"conn_id": "warehouse_db"})
        with pytest.raises(ValueError, match="is of type 'postgres'"):
            run(operator)
        assert warehouse.requests == []


def test_an_azure_key_echoed_back_is_scrubbed_everywhere(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    body = json.dumps(
        {
            "error": {
                "message": f"key {AZURE_KEY} / {AZURE_KEY.upper()}",
                "param": AZURE_KEY[4:],
                "code": AZURE_KEY,
            }
        }
    ).encode()
    with hostile.serving(hostile.answer(401, body)) as server:
        hook = connect(server.base_url, password=AZURE_KEY, api_type="azure")
        with pytest.raises(RealtimeAuthenticationError) as caught:
            hook.create("transcription")
        raw = hook.create("transcription", raise_for_status=False)
        assert server.requests[0].headers["api-key"] == AZURE_KEY
    assert raw.status == 401
    assert_nothing_leaks(str(caught.value), json.dumps(raw.body), secret=AZURE_KEY)
    assert caught.value.param == "***" and caught.value.code == "***"


def test_a_key_echoed_in_an_error_answer_is_scrubbed_from_the_raw_result(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    with hostile.serving(hostile.answer(401, ECHO_BODY)) as server:
        raw = connect(server.base_url).create("transcription", raise_for_status=False)
    assert raw.status == 401 and raw.body["error"]["message"].startswith("Incorrect API key provided: ***")
    assert_nothing_leaks(json.dumps(raw.body))


def test_the_hook_still_mints_through_a_well_behaved_gzip_answer(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    with hostile.serving(
        hostile.answer(200, hostile.gzipped(OK_BODY), {"Content-Encoding": "gzip"})
    ) as server:
        response = connect(server.base_url).create("transcription")
        assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"
    assert response.body["value"] == "ek_" + "a" * 32


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        pytest.param(
            {"timeout": 0}, "extra 'timeout' must be a number of seconds, more than 0", id="timeout-0"
        ),
        pytest.param(
            {"connect_timeout": -1},
            "extra 'connect_timeout' must be a number of seconds",
            id="connect-negative",
        ),
        pytest.param(
            {"backoff_initial": 1e300},
            "extra 'backoff_initial' must be a number of seconds, at least 0 and at most 600",
            id="backoff-1e300",
        ),
        pytest.param(
            {"max_retries": 1.5},
            "extra 'max_retries' must be a whole number, at least 0 and at most 100",
            id="retries-1.5",
        ),
        pytest.param(
            {"retry_after_max": "inf"},
            "extra 'retry_after_max' must be a number of seconds",
            id="retry-after-max-inf",
        ),
        pytest.param(
            {"organization": "org-1\nX-Evil: 1"},
            "extra 'organization' holds spaces, control",
            id="header-injection",
        ),
    ],
)
def test_bad_connection_extras_are_value_errors_naming_the_field(
    connect: Callable[..., OpenAIRealtimeHook], extras: dict[str, Any], message: str
) -> None:
    with hostile.serving(hostile.answer(200, OK_BODY)) as server:
        with pytest.raises(ValueError, match=message):
            connect(server.base_url, **extras).create("transcription")
        assert server.requests == []


@pytest.mark.parametrize(
    ("host", "message"),
    [
        pytest.param(
            "http://user:pass@127.0.0.1:9/v1", "must not hold a user name or password", id="userinfo"
        ),
        pytest.param("file:///etc/passwd", "must start with https://", id="file-scheme"),
        pytest.param("https://api.openai.com/v1?key=1", "must not have a query", id="query"),
        pytest.param("https://[::1/v1", "is not a valid URL", id="bad-ipv6"),
        pytest.param("https://api.openai.com/v 1", "holds spaces", id="space"),
    ],
)
def test_a_bad_base_url_is_a_value_error_that_does_not_echo_it(
    connect: Callable[..., OpenAIRealtimeHook], host: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        connect(host).create("transcription")
    assert "user:pass" not in str(caught.value) and "passwd" not in str(caught.value)
