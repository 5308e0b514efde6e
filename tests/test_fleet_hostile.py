"""A fleet never loses, duplicates or misdelivers a token, and a stopped fleet stops.

Each way a server or a stop can break a fleet is a test here, against small scripted servers on 127.0.0.1
(``hostile.py``) that mint a token derived from each request (``hostile.token_for``), so every test can
tell which request's answer each item got. Each asserts what reached the server, what each item ended
as, and, where a server tries to blow it up, the memory bound.
"""

from __future__ import annotations

import json
import signal
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import hostile
import pytest
from hostile import HostileServer, Seen
from operator_runs import RecordingTaskInstance, run

from airflow_provider_realtime.exceptions import (
    RealtimeError,
    RealtimeMalformedResponseError,
    RealtimeRateLimitError,
    RealtimeStoppedError,
)
from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook, RealtimeResponse

KEY = "sk-fleet-" + "3f9a" * 10
MIB = 1024 * 1024
FAST = {"timeout": 5, "connect_timeout": 2, "backoff_initial": 0.01, "backoff_max": 0.02}


def sessions(count: int) -> list[dict[str, Any]]:
    return [
        {"input_audio_transcription": {"model": "gpt-4o-transcribe", "prompt": f"item {i}"}}
        for i in range(count)
    ]


def item_of(seen: Seen) -> int:
    prompt = json.loads(seen.body)["session"]["audio"]["input"]["transcription"]["prompt"]
    return int(prompt.removeprefix("item "))


@pytest.fixture
def connect(connection_to: Callable[..., str]) -> Callable[..., OpenAIRealtimeHook]:
    def make(base_url: str, **extra: Any) -> OpenAIRealtimeHook:
        return OpenAIRealtimeHook(
            conn_id=connection_to(base_url, password=KEY, name="fleet", **{**FAST, **extra})
        )

    return make


def per_item(odd: dict[int, Callable[[Seen], bytes]]) -> hostile.Behaviour:
    """Mint each item's own token, except the items in ``odd``, answered their own way."""

    def behave(server: HostileServer, client: Any, seen: Seen) -> None:
        client.sendall(odd.get(item_of(seen), hostile.minted)(seen))

    return behave


def tokens_by_item(results: list[RealtimeResponse | RealtimeError]) -> dict[int, str]:
    return {i: r.body["value"] for i, r in enumerate(results) if isinstance(r, RealtimeResponse)}


def expected_tokens(server: HostileServer, items: range) -> dict[int, str]:
    """Each item's own token, as the server minted it for that item's request."""
    return {item_of(seen): hostile.token_for(seen) for seen in server.requests if item_of(seen) in items}


# --------------------------------------------------------------------------------------------------
# 2-6: whatever one answer does, it ends as that item's error; the others keep their own tokens.
# --------------------------------------------------------------------------------------------------


def content_length(value: str) -> Callable[[Seen], bytes]:
    """A whole 200 answer framed by ``value`` as its Content-Length, the connection closed after it."""

    def respond(seen: Seen) -> bytes:
        body = hostile.minted(seen).partition(b"\r\n\r\n")[2]
        return hostile.head(200, {"Content-Length": value.replace("LENGTH", str(len(body)))}) + body

    return respond


def many_headers(seen: Seen) -> bytes:
    headers = {f"X-Filler-{n}": "x" for n in range(150)}
    return hostile.minted(seen, headers=headers)


def long_header_line(seen: Seen) -> bytes:
    return hostile.minted(seen, headers={"X-Huge": "x" * (70 * 1024)})


def echoes_the_key(seen: Seen) -> bytes:
    body = json.dumps(
        {"value": hostile.token_for(seen), "expires_at": 1, "session": {"instructions": KEY}}
    ).encode()
    return hostile.head(200, length=len(body)) + body


# id, the odd answer for item 3, what item 3 ends as (None: its own token), requests item 3 makes
ODD_ANSWERS = [
    # An invalid Content-Length is an unrecoverable framing error (RFC 9112 6.3): the answer is discarded.
    pytest.param(content_length("²"), RealtimeMalformedResponseError, 1, id="content-length-superscript-two"),
    pytest.param(content_length("4_2"), RealtimeMalformedResponseError, 1, id="content-length-underscored"),
    pytest.param(
        content_length("LENGTH, 7"), RealtimeMalformedResponseError, 1, id="content-length-two-values"
    ),
    pytest.param(content_length("LENGTH, LENGTH"), None, 1, id="content-length-repeated-alike-is-valid"),
    pytest.param(many_headers, RealtimeMalformedResponseError, 1, id="150-headers-not-retried"),
    pytest.param(long_header_line, RealtimeMalformedResponseError, 1, id="70-KiB-header-line-not-retried"),
    pytest.param(echoes_the_key, RealtimeMalformedResponseError, 1, id="200-echoing-the-key-is-an-error"),
]


@pytest.mark.parametrize(("odd", "outcome", "attempts"), ODD_ANSWERS)
def test_one_odd_answer_costs_only_its_own_item(
    connect: Callable[..., OpenAIRealtimeHook],
    odd: Callable[[Seen], bytes],
    outcome: type | None,
    attempts: int,
) -> None:
    with hostile.serving(per_item({3: odd})) as server:
        results = connect(server.base_url, max_retries=2).create_many(
            "transcription", sessions(8), concurrency=4
        )

    others = [i for i in range(8) if i != 3]
    assert {i: tokens_by_item(results)[i] for i in others} == {
        i: t for i, t in expected_tokens(server, range(8)).items() if i != 3
    }
    assert sum(item_of(seen) == 3 for seen in server.requests) == attempts
    if outcome is None:
        assert tokens_by_item(results)[3] == expected_tokens(server, range(3, 4))[3]
    else:
        assert isinstance(results[3], outcome), results[3]
        assert "not retried" in str(results[3]) or "not used" in str(results[3])
        assert KEY not in str(results[3]) and "***" not in json.dumps(tokens_by_item(results))


def test_a_negative_chunk_size_cannot_bypass_the_size_cap(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    """Chunk size -1 makes http.client read to the end of the stream in one call: the server offers
    400 MiB; what is read stays within the wire cap (16 MiB), and only that item fails."""

    def endless(seen: Seen) -> bytes:
        return hostile.head(200, {"Transfer-Encoding": "chunked"}) + b"-1\r\n"

    def behave(server: HostileServer, client: Any, seen: Seen) -> None:
        if item_of(seen) != 0:
            client.sendall(hostile.minted(seen))
            return
        client.sendall(endless(seen))
        block = b"x" * MIB
        for _ in range(400):
            if server.stopped.is_set():
                return
            client.sendall(block)

    tracemalloc.start()
    try:
        with hostile.serving(behave) as server:
            results = connect(server.base_url).create_many("transcription", sessions(4), concurrency=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(results[0], RealtimeMalformedResponseError) and "larger than" in str(results[0])
    assert tokens_by_item(results) == expected_tokens(server, range(1, 4))
    assert peak < 64 * MIB, f"peak {peak / MIB:.0f} MiB"


def test_early_hints_are_skipped_and_every_item_gets_its_own_token(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    """103 Early Hints before each 200, on one kept-alive connection: http.client alone would take the
    103 as the answer and leave the 200 for the next request (item 1 would get item 0's token)."""
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"

    with hostile.serving(
        hostile.keep_alive(lambda seen: hints + hostile.minted(seen, keep_alive=True))
    ) as server:
        results = connect(server.base_url).create_many("transcription", sessions(6), concurrency=1)

    assert tokens_by_item(results) == expected_tokens(server, range(6))
    assert len(tokens_by_item(results)) == 6 and len(server.requests) == 6
    assert server.connections == 1  # the answers were read whole: the connection stayed in use


def early_hints_then_token(hints: int) -> hostile.Behaviour:
    """``hints`` 103 Early Hints, then the request's token."""
    hint = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    return hostile.keep_alive(lambda seen: hint * hints + hostile.minted(seen, keep_alive=True))


def test_sixteen_early_hints_before_the_answer_are_skipped(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    with hostile.serving(early_hints_then_token(16)) as server:
        results = connect(server.base_url).create_many("transcription", sessions(2), concurrency=1)
    assert tokens_by_item(results) == expected_tokens(server, range(2))


def test_more_early_hints_than_allowed_fail_the_item_without_a_retry(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    """The server answered (it may have minted), so the POST is not sent again."""
    with hostile.serving(early_hints_then_token(17)) as server:
        (result,) = connect(server.base_url, max_retries=3).create_many("transcription", sessions(1))
    assert isinstance(result, RealtimeMalformedResponseError), result
    assert "more than 16 informational (1xx) answers" in str(result) and "not retried" in str(result)
    assert len(server.requests) == 1


# --------------------------------------------------------------------------------------------------
# 7 and 1: a long requested wait stops the batch; a stopped batch sends nothing more, at once.
# --------------------------------------------------------------------------------------------------


def test_a_wait_longer_than_retry_after_max_stops_the_batch(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    limited = hostile.answer(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "120"})
    with hostile.serving(limited) as server:
        results = connect(server.base_url, retry_after_max=60).create_many(
            "transcription", sessions(40), concurrency=4
        )

    assert len(server.requests) <= 4, f"{len(server.requests)} requests after the server asked for 120 s"
    assert all(isinstance(r, (RealtimeRateLimitError, RealtimeStoppedError)) for r in results)
    stopped = [r for r in results if isinstance(r, RealtimeStoppedError)]
    assert len(stopped) >= 36 and "asked for a wait of 120 s" in str(stopped[-1])


@contextmanager
def alarm_after(seconds: float, handler: Callable[[], None]) -> Iterator[list[float]]:
    """Call ``handler`` in the main thread after ``seconds`` (as Airflow's execution_timeout does with
    SIGALRM); yields a list that receives the moment it fired."""
    fired: list[float] = []

    def on_alarm(*_: object) -> None:
        fired.append(time.monotonic())
        handler()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Stopped(Exception):
    """What Airflow's timeout handler raises (AirflowTaskTimeout), as a test's own class."""


def raise_stopped() -> None:
    raise Stopped


def mint_five_then_rate_limit(wait: str) -> hostile.Behaviour:
    """Items 0-4 mint at once; every other request is answered 429 with ``Retry-After: wait``."""

    def behave(server: HostileServer, client: Any, seen: Seen) -> None:
        if item_of(seen) < 5:
            client.sendall(hostile.minted(seen))
        else:
            client.sendall(hostile.head(429, {"Retry-After": wait}, length=0))

    return behave


def test_a_stopped_batch_sends_nothing_after_the_stop_and_hands_back_what_it_minted(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    """The server asks for 2 s pauses (honoured: under retry_after_max) that would hold the batch for
    minutes; the stop at 0.5 s ends it at once, nothing is sent after it, and the tokens minted before
    it reach the caller."""
    received: dict[int, RealtimeResponse | RealtimeError] = {}
    started = time.monotonic()
    with hostile.serving(mint_five_then_rate_limit("2")) as server:
        hook = connect(server.base_url, max_retries=3, retry_after_max=60)
        with alarm_after(0.5, raise_stopped) as fired, pytest.raises(Stopped):
            hook.create_many("transcription", sessions(60), concurrency=5, on_result=received.__setitem__)
        ended = time.monotonic()
        time.sleep(0.3)  # anything still on its way would arrive meanwhile
    assert [arrival for arrival in server.arrivals if arrival > fired[0]] == []
    # Left to go on, the batch would take minutes (55 items, 2 s pauses, 3 retries each).
    assert ended - started < 5.0, f"the stop surfaced {ended - fired[0]:.1f} s after it"
    minted = {i: r.body["value"] for i, r in received.items() if isinstance(r, RealtimeResponse)}
    assert minted == expected_tokens(server, range(5))


def test_a_hook_stopped_from_on_kill_hands_back_what_it_minted_then_raises(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    """Airflow 3 calls on_kill on SIGTERM without raising: hook.stop() ends the batch, whose tokens reach
    on_result, and create_many raises, so the task cannot end as a success."""
    handed: dict[int, Any] = {}
    with hostile.serving(mint_five_then_rate_limit("2")) as server:
        hook = connect(server.base_url, max_retries=3, retry_after_max=60)
        stop = alarm_after(0.5, lambda: hook.stop("the task was killed (SIGTERM)"))
        with stop as fired, pytest.raises(RealtimeStoppedError, match=r"killed \(SIGTERM\) \(5 minted"):
            hook.create_many("transcription", sessions(60), concurrency=5, on_result=handed.__setitem__)
        time.sleep(0.3)
    assert [arrival for arrival in server.arrivals if arrival > fired[0]] == []
    assert tokens_by_item([handed[i] for i in sorted(handed)][:5]) == expected_tokens(server, range(5))
    stopped = [r for r in handed.values() if isinstance(r, RealtimeStoppedError)]
    assert len(stopped) == 55 and all("killed (SIGTERM)" in str(r) for r in stopped)


def test_on_kill_ends_a_batch_whose_requests_are_held_in_flight_within_the_grace(
    connect: Callable[..., OpenAIRealtimeHook],
) -> None:
    """Requests the server holds do not hold the stop: the batch ends STOP_GRACE_SECONDS after on_kill.
    The server holds its answers until the test ends, so a batch that waited for them would never end
    before its 30 s deadline; the test's own pytest timeout is not what is asserted, the outcome is."""
    answered = 0

    def mint_four_then_hold(server: HostileServer, client: Any, seen: Seen) -> None:
        nonlocal answered
        answered += 1
        if answered > 4:
            server.stopped.wait(60)
            return
        client.sendall(hostile.minted(seen))

    handed: dict[int, Any] = {}
    with hostile.serving(mint_four_then_hold) as server:
        hook = connect(server.base_url, max_retries=0, timeout=30)
        stop = alarm_after(0.5, lambda: hook.stop("the task was killed (SIGTERM)"))
        with stop, pytest.raises(RealtimeStoppedError, match=r"4 minted, 0 failed, 4 not sent, 4 in flight"):
            hook.create_many("transcription", sessions(12), concurrency=4, on_result=handed.__setitem__)
        sent = len(server.requests)
    # The 4 minted came back; the 4 held were given up after the grace, and the other 4 never sent.
    assert len(handed) == 4 and sent == 8
    assert all(not isinstance(result, RealtimeError) for result in handed.values())


def test_a_stopped_fleet_task_pushes_the_tokens_it_minted(
    connect: Callable[..., OpenAIRealtimeHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    with hostile.serving(mint_five_then_rate_limit("2")) as server:
        hook = connect(server.base_url, max_retries=3)
        operator = CreateTranscriptionSessionOperator(
            task_id="fleet", conn_id=hook.conn_id, session=sessions(1)[0], count=0
        )
        operator.session = sessions(60)  # a list: one token each
        operator.count = None
        ti = RecordingTaskInstance()
        with alarm_after(0.5, raise_stopped), pytest.raises(Stopped):
            run(operator, ti)
    pushed = ti.pushed["return_value"]
    assert len(pushed) == 60
    assert {i: r["client_secret"] for i, r in enumerate(pushed) if r} == expected_tokens(server, range(5))
    assert ti.pushed["config"]["conn_id"] == hook.conn_id


# --------------------------------------------------------------------------------------------------
# 13-14: sloppy input fails before any request, naming the problem.
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        pytest.param(
            "https://api.openai.com/v1?", None, "must not have a query", id="trailing-question-mark"
        ),
        pytest.param(
            "https://api.openai.com/v1#", None, "must not have a query or fragment", id="trailing-hash"
        ),
        pytest.param("api.openai.com", None, "has no path", id="bare-host"),
        pytest.param("https://api.openai.com", None, "has no path", id="no-path"),
        pytest.param("https://api.openai.com:8443/v1", 443, "names port 8443", id="two-ports"),
    ],
)
def test_a_sloppy_base_url_is_a_value_error_before_any_request(
    monkeypatch: pytest.MonkeyPatch, host: str, port: int | None, message: str
) -> None:
    connection = {"conn_type": "openai_realtime", "host": host, "port": port, "password": KEY}
    monkeypatch.setenv("AIRFLOW_CONN_SLOPPY", json.dumps(connection))
    with pytest.raises(ValueError, match=message):
        OpenAIRealtimeHook(conn_id="sloppy").create("transcription")


def test_a_port_goes_after_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {"conn_type": "openai_realtime", "host": "api.openai.com/v1", "port": 443, "password": KEY}
    monkeypatch.setenv("AIRFLOW_CONN_PORTED", json.dumps(connection))
    assert OpenAIRealtimeHook(conn_id="ported").base_url == "https://api.openai.com:443/v1"


@pytest.mark.parametrize(
    "body",
    [{"a", "b"}, b"{}", object(), {"x": float("nan")}, {"x": {1, 2}}],
    ids=["set", "bytes", "object", "nan", "nested-set"],
)
def test_a_body_that_is_not_json_is_a_value_error_before_any_request(
    connect: Callable[..., OpenAIRealtimeHook], body: Any
) -> None:
    with hostile.serving(hostile.minted_behaviour()) as server, pytest.raises(ValueError, match="body"):
        connect(server.base_url).post("client_secrets", body)
    assert server.requests == []
