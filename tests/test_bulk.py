"""Minting in bulk with the hook: order, isolation of failures, bounded concurrency on kept-alive
connections, one shared pause for a server's requested wait, validation before the first request."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from operator_runs import RecordingTaskInstance, run

from airflow_provider_realtime.batch import BatchGate
from airflow_provider_realtime.exceptions import RealtimeError, RealtimeInvalidRequestError
from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook, RealtimeResponse
from airflow_provider_realtime.testing import RealtimeEmulator
from airflow_provider_realtime.testing.emulator import Fault

MakeHook = Callable[..., OpenAIRealtimeHook]


def numbered(count: int, model: str = "gpt-4o-transcribe") -> list[dict[str, object]]:
    """Sessions told apart by their transcription prompt, as they arrive at the server."""
    return [{"input_audio_transcription": {"model": model, "prompt": f"item {i}"}} for i in range(count)]


def prompt_sent(body: dict[str, object]) -> object:
    return body["session"]["audio"]["input"]["transcription"]["prompt"]  # type: ignore[index]


def test_results_come_back_in_input_order_one_request_each(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    results = make_hook().create_many("transcription", numbered(40), concurrency=8, expires_after_seconds=300)

    assert all(isinstance(result, RealtimeResponse) for result in results)
    responses = [result for result in results if isinstance(result, RealtimeResponse)]
    assert [prompt_sent(r.request.body) for r in responses if r.request] == [f"item {i}" for i in range(40)]
    assert [r.body["session"]["audio"]["input"]["transcription"]["prompt"] for r in responses] == [
        f"item {i}" for i in range(40)
    ]
    tokens = [r.body["value"] for r in responses]
    assert len(set(tokens)) == 40
    assert sorted(tokens) == sorted(emulator.minted_tokens)
    assert emulator.request_count == 40
    assert {r.request.expires_after_seconds for r in responses if r.request} == {300}


def test_at_most_concurrency_requests_are_in_flight_on_kept_alive_connections(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    emulator.latency = 0.05  # long enough for requests to overlap when they can
    hook = make_hook()
    for _ in range(2):
        hook.create_many("transcription", numbered(24), concurrency=4)

    stats = emulator.stats()
    assert stats["requests"] == 48
    assert 2 <= stats["peak_in_flight"] <= 4
    assert stats["connections"] <= 4  # both batches reused the same kept-alive connections


def test_a_failed_item_loses_no_other_token(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    sessions = numbered(12)
    sessions[5] = {"input_audio_transcription": {"model": "gpt-4o-transcribe-unknown"}}  # the server says no

    results = make_hook().create_many("transcription", sessions, concurrency=4)

    failed = results[5]
    assert isinstance(failed, RealtimeInvalidRequestError)
    assert failed.status == 400 and failed.request_id and failed.param
    others = [result for index, result in enumerate(results) if index != 5]
    assert all(isinstance(result, RealtimeResponse) and result.body["value"] for result in others)
    assert len(emulator.minted_tokens) == 11


def test_retries_happen_per_item(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    emulator.script(Fault.error(500), Fault.drop(), Fault.error(503))

    results = make_hook().create_many("transcription", numbered(10), concurrency=3)

    assert all(isinstance(result, RealtimeResponse) for result in results)
    assert sum(r.attempts for r in results if isinstance(r, RealtimeResponse)) == 13
    assert emulator.request_count == 13


def test_a_requested_wait_pauses_the_whole_batch(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    """One 429 asking for 1 s: no request of the batch is sent until that second is over. The three
    requests already in flight take 0.5 s each, so without the shared pause their workers would mint the
    remaining tokens half-way through it. The pause starts when the client reads the 429, after the
    emulator recorded it (one clock, one process): every later request arrives at least 1 s after it."""
    emulator.script(Fault.error(429, retry_after_ms=1000), Fault.slow(0.5), Fault.slow(0.5), Fault.slow(0.5))

    results = make_hook().create_many("transcription", numbered(12), concurrency=4)

    assert all(isinstance(result, RealtimeResponse) for result in results)
    limited, *others = emulator.requests
    assert limited.fault is not None and limited.fault.status == 429
    sent_after_the_429 = [request for request in others if request.fault is None]
    early = [
        round(r.received_at - limited.received_at, 3)
        for r in sent_after_the_429
        if r.received_at - limited.received_at < 1.0
    ]
    assert not early, f"sent during the pause, seconds after the 429: {early}"
    assert len(sent_after_the_429) == 12 - 3  # every token, the limited one retried, the in-flight 3 apart


def test_a_stopped_batch_mints_nothing_more(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    """Airflow stops a task that runs past its execution_timeout with SIGALRM, raised in the main thread:
    the requests not yet sent must not go out after that."""
    import signal
    import threading

    class Stopped(Exception):
        pass

    def stop(*_: object) -> None:
        raise Stopped

    emulator.latency = 0.1
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(Stopped):
            make_hook().create_many("transcription", numbered(60), concurrency=2)  # 3 s if left to finish
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    for thread in threading.enumerate():
        if thread.name.startswith("realtime-mint"):
            thread.join()
    assert emulator.request_count < 30, f"{emulator.request_count} of 60 requests were sent"


def test_every_item_is_checked_before_the_first_request(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    sessions: list[object] = [*numbered(3), {"input_audio_transcription": {"modle": "x"}}]

    with pytest.raises(ValueError, match=r"sessions\[3\]\.input_audio_transcription\.modle .*did you mean"):
        make_hook().create_many("transcription", sessions)
    assert emulator.request_count == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"sessions": {"input_audio_transcription": {}}}, "sessions must be a list", id="dict"),
        pytest.param({"sessions": "abc"}, "sessions must be a list", id="text"),
        pytest.param({"sessions": [None], "concurrency": 0}, "between 1 and 64", id="zero"),
        pytest.param({"sessions": [None], "concurrency": 65}, "between 1 and 64", id="above-the-pool"),
        pytest.param({"sessions": [None], "concurrency": True}, "whole number", id="bool"),
        pytest.param({"sessions": [None], "endpoint": "sessions"}, "endpoint", id="endpoint"),
        pytest.param(
            {"sessions": [None], "expires_after_seconds": 5}, "expires_after_seconds", id="lifetime"
        ),
    ],
)
def test_bad_batch_arguments_fail_before_any_request(
    make_hook: MakeHook, emulator: RealtimeEmulator, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_hook().create_many("transcription", **arguments)  # type: ignore[arg-type]
    assert emulator.request_count == 0


def test_an_empty_batch_sends_nothing(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    assert make_hook().create_many("transcription", []) == []
    assert emulator.request_count == 0


def test_every_kind_mints_in_bulk(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    hook = make_hook()
    agents = hook.create_many("realtime", [{"instructions": f"desk {i}"} for i in range(3)])
    translators = hook.create_many(
        "translation",
        [
            {"model": "gpt-realtime-translate", "audio": {"output": {"language": lang}}}
            for lang in ("es", "fr")
        ],
    )

    assert [r.body["session"]["instructions"] for r in agents if isinstance(r, RealtimeResponse)] == [
        "desk 0",
        "desk 1",
        "desk 2",
    ]
    assert [r.request.kind for r in translators if isinstance(r, RealtimeResponse) and r.request] == [
        "translation",
        "translation",
    ]
    assert [
        r.body["session"]["audio"]["output"]["language"]
        for r in translators
        if isinstance(r, RealtimeResponse)
    ] == ["es", "fr"]


def test_every_token_of_a_batch_is_masked(make_hook: MakeHook) -> None:
    from airflow_provider_realtime.compat import secrets_masker

    results = make_hook().create_many("transcription", [None] * 20, concurrency=10)

    for result in results:
        assert isinstance(result, RealtimeResponse)
        assert str(secrets_masker().redact(f"got {result.body['value']}")) == "got ***"


def test_an_error_answer_is_returned_when_asked(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    emulator.script(Fault.error(400))

    results = make_hook().create_many("transcription", [None], raise_for_status=False)

    assert isinstance(results[0], RealtimeResponse) and results[0].status == 400
    assert not isinstance(results[0], RealtimeError)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_shared_pause_keeps_the_longest_wait_asked() -> None:
    clock = FakeClock()
    pause = BatchGate(clock=clock, sleep=clock.sleep)

    assert pause.wait() == 0.0
    pause.hold(2.0)
    pause.hold(0.5)  # a shorter wait asked later does not cut the longer one
    assert pause.wait() == pytest.approx(2.0)
    assert clock.slept == [pytest.approx(2.0)]
    assert pause.wait() == 0.0


# --------------------------------------------------------------------------------------------------
# The operators' count and list of sessions.
# --------------------------------------------------------------------------------------------------


def test_count_mints_that_many_alike(realtime_connection: RealtimeEmulator) -> None:
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    session = {"input_audio_transcription": {"model": "gpt-4o-mini-transcribe"}}
    results, ti = run(
        CreateTranscriptionSessionOperator(
            task_id="fleet", session=session, count=25, concurrency=5, expires_after_seconds=600
        )
    )

    assert len(results) == 25 and len({r["client_secret"] for r in results}) == 25
    assert sorted(r["client_secret"] for r in results) == sorted(realtime_connection.minted_tokens)
    # What every item shares is pushed once; each item keeps its own token's keys.
    assert ti.pushed["shared"]["input_audio_transcription"]["model"] == "gpt-4o-mini-transcribe"
    assert {frozenset(r) for r in results} == {
        frozenset({"client_secret", "expires_at", "session_id", "session_expires_at"})
    }
    assert ti.pushed["failures"] == []
    assert ti.pushed["config"]["count"] == 25 and ti.pushed["config"]["session"] == session
    assert "ek_" not in json.dumps(ti.pushed["config"])
    assert realtime_connection.stats()["peak_in_flight"] <= 5


def test_a_list_of_sessions_mints_one_each_in_order(realtime_connection: RealtimeEmulator) -> None:
    from airflow_provider_realtime.operators.translation_session import CreateTranslationSessionOperator

    languages = ["es", "fr", "ja", "de"]
    sessions = [
        {"model": "gpt-realtime-translate", "audio": {"output": {"language": lang}}} for lang in languages
    ]
    results, ti = run(CreateTranslationSessionOperator(task_id="fleet", session=sessions))

    assert [r["output_language"] for r in results] == languages  # differs per item: kept in each
    assert ti.pushed["shared"]["session_type"] == "translation"
    assert all("session_type" not in r for r in results)


def test_raw_results_and_tokens_left_out(realtime_connection: RealtimeEmulator) -> None:
    from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator

    results, _ = run(
        CreateRealtimeSessionOperator(
            task_id="fleet", count=3, result_format="raw", include_client_secret=False
        )
    )

    assert [r["status"] for r in results] == [200, 200, 200]
    assert "ek_" not in json.dumps(results)


def test_a_config_repeats_a_fleet(realtime_connection: RealtimeEmulator) -> None:
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    _, first = run(CreateTranscriptionSessionOperator(task_id="first", count=4))
    again, second = run(CreateTranscriptionSessionOperator(task_id="again", config=first.pushed["config"]))

    assert len(again) == 4 and second.pushed["config"] == first.pushed["config"]


def test_failed_items_fail_the_task_after_every_minted_token_is_pushed(
    realtime_connection: RealtimeEmulator,
) -> None:
    from airflow_provider_realtime.exceptions import RealtimeBatchError
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    sessions = numbered(10)
    for broken in (3, 7):
        sessions[broken] = {"input_audio_transcription": {"model": "gpt-4o-transcribe-unknown"}}
    ti = RecordingTaskInstance()

    with pytest.raises(RealtimeBatchError, match=r"2 of 10 client secrets failed \(items 3, 7\)") as raised:
        run(CreateTranscriptionSessionOperator(task_id="fleet", session=sessions), ti)

    pushed = ti.pushed["return_value"]
    assert [index for index, result in enumerate(pushed) if result is None] == [3, 7]
    minted = {r["client_secret"] for r in pushed if r is not None}
    assert minted == set(realtime_connection.minted_tokens) and len(minted) == 8
    assert [(f["index"], f["error"], f["status"]) for f in ti.pushed["failures"]] == [
        (3, "RealtimeInvalidRequestError", 400),
        (7, "RealtimeInvalidRequestError", 400),
    ]
    assert all(f["request_id"].startswith("req_") for f in ti.pushed["failures"])
    message = str(raised.value)
    assert "status 400" in message and "request id req_" in message and "allow_partial" in message
    assert not any(token in message for token in minted)


def test_allow_partial_succeeds_with_the_failures_listed(realtime_connection: RealtimeEmulator) -> None:
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    realtime_connection.script(Fault.error(401))  # not retried
    results, ti = run(
        CreateTranscriptionSessionOperator(task_id="fleet", count=5, concurrency=1, allow_partial=True)
    )

    assert results[0] is None and all(r["client_secret"] for r in results[1:])
    assert [(f["index"], f["error"]) for f in ti.pushed["failures"]] == [(0, "RealtimeAuthenticationError")]


def test_a_templated_count_renders_to_text_and_still_counts(realtime_connection: RealtimeEmulator) -> None:
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    results, ti = run(CreateTranscriptionSessionOperator(task_id="fleet", count="3"))

    assert len(results) == 3 and ti.pushed["config"]["count"] == 3


def test_count_zero_mints_nothing(realtime_connection: RealtimeEmulator) -> None:
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    results, ti = run(CreateTranscriptionSessionOperator(task_id="fleet", count=0))

    assert results == [] and ti.pushed["failures"] == []
    assert realtime_connection.request_count == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"count": "three"}, "count must be an integer", id="count-text"),
        pytest.param({"count": True}, "count must be an integer", id="count-bool"),
        pytest.param({"count": 10_001}, "count must be between 0 and 10000", id="count-too-many"),
        pytest.param({"count": 2, "session": [{}, {}]}, "count goes with one session", id="count-and-list"),
        pytest.param(
            {"count": 2, "concurrency": 0}, "concurrency must be between 1 and 64", id="concurrency"
        ),
        pytest.param(
            {"count": 2, "allow_partial": "yes"}, "allow_partial must be True or False", id="partial"
        ),
        pytest.param(
            {"session": [{}, {"input_audio_format": "mp3"}]}, r"session\[1\]\.input_audio_format", id="item"
        ),
    ],
)
def test_bad_fleet_arguments_fail_before_any_request(
    realtime_connection: RealtimeEmulator, arguments: dict[str, object], message: str
) -> None:
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    with pytest.raises(ValueError, match=message):
        run(CreateTranscriptionSessionOperator(task_id="fleet", **arguments))
    assert realtime_connection.request_count == 0


# What the operator pushes is its own logic (run() stands in for Airflow's push): once, on the primary
# version; the fleet's masking through Airflow's code is proved on every version by the other tests here.
@pytest.mark.version_independent
def test_a_realtime_fleets_xcom_grows_with_its_tokens_not_with_its_settings(
    realtime_connection: RealtimeEmulator,
) -> None:
    """200 voice-agent tokens with 10 KB of instructions and 10 tools: the settings every item echoes
    alike are pushed once (XCom shared), so the XComs hold about 200 x (token, ids, expiries). 200 is
    enough: each item's echoed settings are about 13 KB, so pushed per item they would be 2.6 MB, over
    the 1 MB bound, where shared they are about 0.1 MB (2,000 items took 8-12 s to prove the same)."""
    from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator

    tool = {"type": "function", "parameters": {"type": "object", "properties": {}}, "description": "d" * 200}
    session = {
        "model": "gpt-realtime",
        "instructions": "Be brief. " * 1000,
        "tools": [{**tool, "name": f"tool_{n}"} for n in range(10)],
    }
    results, ti = run(
        CreateRealtimeSessionOperator(task_id="fleet", session=session, count=200, concurrency=16)
    )

    assert len({r["client_secret"] for r in results}) == 200
    assert len(json.dumps(ti.pushed["shared"])) * 200 > 2_500_000, "settings that would not fit per item"
    assert ti.pushed["shared"]["instructions"] == session["instructions"]
    # return_value is what execute returned (run() stands in for Airflow's push of it).
    size = len(json.dumps(results)) + sum(len(json.dumps(ti.pushed[key])) for key in ("shared", "config"))
    print(f"fleet XCom: {size / 1e6:.2f} MB")
    assert size < 1_000_000, f"{size / 1e6:.1f} MB of XCom"
    merged = {**ti.pushed["shared"], **results[7]}  # an item's whole result, as documented
    assert merged["client_secret"] == results[7]["client_secret"] and len(merged["tools"]) == 10
