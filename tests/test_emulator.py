"""The emulator answers in the shapes of the reference, errs in OpenAI's error shape, and runs three ways."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_realtime.testing import Fault, RealtimeEmulator

pytestmark = pytest.mark.version_independent


def _post(emulator: RealtimeEmulator, path: str, body: object, **headers: str) -> requests.Response:
    return requests.post(
        f"{emulator.base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {emulator.api_key}", **headers},
        timeout=5,
    )


def _assert_unix_seconds(value: object) -> None:
    assert isinstance(value, int) and abs(value - time.time()) < 3 * 3600


def assert_current_answer_shape(body: dict) -> None:
    """The GA client_secrets answer, as the reference describes it."""
    assert body["value"].startswith("ek_")
    _assert_unix_seconds(body["expires_at"])
    session = body["session"]
    assert session["type"] == "transcription"
    assert session["object"] == "realtime.transcription_session"
    assert session["id"].startswith("sess_")
    _assert_unix_seconds(session["expires_at"])
    assert isinstance(session["include"], list)
    audio_input = session["audio"]["input"]
    # Settings not given are left out rather than null (the event schemas allow no null there).
    assert (
        {"format", "turn_detection"}
        <= set(audio_input)
        <= {"format", "transcription", "noise_reduction", "turn_detection"}
    )
    assert audio_input["format"]["type"] in {"audio/pcm", "audio/pcmu", "audio/pcma"}


def assert_beta_answer_shape(body: dict) -> None:
    """The legacy transcription_sessions answer, as the reference describes it."""
    assert body["id"].startswith("sess_")
    assert body["object"] == "realtime.transcription_session"
    _assert_unix_seconds(body["expires_at"])
    assert body["input_audio_format"] in {"pcm16", "g711_ulaw", "g711_alaw"}
    for key in (
        "modalities",
        "input_audio_transcription",
        "turn_detection",
        "input_audio_noise_reduction",
        "include",
    ):
        assert key in body
    assert body["client_secret"]["value"].startswith("ek_")
    _assert_unix_seconds(body["client_secret"]["expires_at"])


def assert_openai_error_shape(
    response: requests.Response, status: int, param: str | None, code: str | None
) -> None:
    assert response.status_code == status
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    assert (error["param"], error["code"]) == (param, code)


def test_client_secrets_answer_has_the_reference_shape_and_honours_the_lifetime(
    emulator: RealtimeEmulator,
) -> None:
    body = {
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "session": {
            "type": "transcription",
            "audio": {"input": {"format": {"type": "audio/pcmu"}, "transcription": {"model": "whisper-1"}}},
        },
    }
    response = _post(emulator, "/realtime/client_secrets", body)
    assert response.status_code == 200 and response.headers["x-request-id"].startswith("req_")
    answer = response.json()
    assert_current_answer_shape(answer)
    assert abs(answer["expires_at"] - (time.time() + 120)) < 3
    assert answer["session"]["expires_at"] > answer["expires_at"]
    assert answer["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert answer["session"]["audio"]["input"]["transcription"] == {"model": "whisper-1"}


def test_transcription_sessions_answer_has_the_reference_shape(emulator: RealtimeEmulator) -> None:
    body = {
        "input_audio_format": "g711_alaw",
        "client_secret": {"expires_at": {"anchor": "created_at", "seconds": 30}},
    }
    answer = _post(emulator, "/realtime/transcription_sessions", body).json()
    assert_beta_answer_shape(answer)
    assert answer["input_audio_format"] == "g711_alaw"
    assert abs(answer["client_secret"]["expires_at"] - (time.time() + 30)) < 3


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "param", "code"),
    [
        (
            "/realtime/client_secrets",
            {"session": {"type": "transcription", "audio": {"input": {"format": {"type": "audio/opus"}}}}},
            {},
            400,
            "session.audio.input.format.type",
            "invalid_value",
        ),
        (
            "/realtime/client_secrets",
            {"expires_after": {"anchor": "created_at", "seconds": 5}},
            {},
            400,
            "expires_after.seconds",
            "integer_below_min_value",
        ),
        ("/realtime/client_secrets", {"expires_after": 600}, {}, 400, "expires_after", "invalid_type"),
        ("/realtime/client_secrets", {"model": "gpt-4o-transcribe"}, {}, 400, "model", "unknown_parameter"),
        (
            "/realtime/client_secrets",
            {"session": {"type": "transcription", "model": "x"}},
            {},
            400,
            "session.model",
            "unknown_parameter",
        ),
        (
            "/realtime/transcription_sessions",
            {"input_audio_format": "mp3"},
            {},
            400,
            "input_audio_format",
            "invalid_value",
        ),
        (
            "/realtime/transcription_sessions",
            {"client_secret": {"expires_at": {"seconds": 9000}}},
            {},
            400,
            "client_secret.expires_at.seconds",
            "integer_above_max_value",
        ),
        (
            "/realtime/transcription_sessions",
            {"model": "gpt-4o-transcribe"},
            {},
            400,
            "model",
            "unknown_parameter",
        ),
        (
            "/realtime/transcription_sessions",
            {"input_audio_transcription": {"model": "nope"}},
            {},
            400,
            "input_audio_transcription.model",
            "model_not_found",
        ),
        (
            "/realtime/client_secrets",
            {"session": {"type": "transcription", "audio": {"input": {"dialect": "en-GB"}}}},
            {},
            400,
            "session.audio.input.dialect",
            "unknown_parameter",
        ),
        (
            "/realtime/client_secrets",
            {"session": {"type": "realtime", "tools": [{"type": "plugin"}]}},
            {},
            400,
            "session.tools[0].type",
            "invalid_value",
        ),
        (
            "/realtime/client_secrets",
            {"session": {"type": "transcription", "audio": {"input": {"transcription": {"model": 5}}}}},
            {},
            400,
            "session.audio.input.transcription.model",
            "invalid_type",
        ),
        ("/realtime/client_secrets", {"session": {}}, {}, 400, "session.type", "missing_required_parameter"),
        (
            "/realtime/translations/client_secrets",
            {"session": {"type": "translation", "model": "gpt-realtime-translate"}},
            {},
            400,
            "session.type",
            "unknown_parameter",
        ),
        (
            "/realtime/client_secrets",
            {},
            {"OpenAI-Beta": "realtime=v1"},
            400,
            None,
            "beta_api_shape_disabled",
        ),
        ("/realtime/sessions", {}, {}, 404, None, "unknown_url"),
    ],
)
def test_invalid_requests_get_openai_errors(
    emulator: RealtimeEmulator,
    path: str,
    body: object,
    headers: dict,
    status: int,
    param: str | None,
    code: str,
) -> None:
    assert_openai_error_shape(_post(emulator, path, body, **headers), status, param, code)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        # What the published spec allows, the emulator takes (its hand-written rules of before refused these).
        (
            "/realtime/client_secrets",
            {"session": {"type": "transcription", "audio": {"input": {"format": {}}}}},
        ),
        ("/realtime/client_secrets", {"session": {"type": "realtime", "tools": [{"name": "lookup"}]}}),
        ("/realtime/client_secrets", {"session": {"type": "realtime", "output_modalities": []}}),
        # A bound the spec states only in prose is not checked (the README says so).
        (
            "/realtime/client_secrets",
            {
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 5}}},
                }
            },
        ),
        (
            "/realtime/client_secrets",
            {"session": {"type": "transcription", "audio": {"input": {"noise_reduction": None}}}},
        ),
    ],
)
def test_requests_the_published_spec_allows_are_answered(
    emulator: RealtimeEmulator, path: str, body: dict
) -> None:
    answer = _post(emulator, path, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"].startswith("ek_")


def test_a_wrong_key_gets_401_in_openai_error_shape(emulator: RealtimeEmulator) -> None:
    response = requests.post(
        f"{emulator.base_url}/realtime/client_secrets",
        json={},
        headers={"Authorization": "Bearer sk-wrong-key-123456"},
        timeout=5,
    )
    assert_openai_error_shape(response, 401, None, "invalid_api_key")
    assert "sk-wrong-key-123456" not in response.text


def test_models_list_for_connection_tests(emulator: RealtimeEmulator) -> None:
    response = requests.get(
        f"{emulator.base_url}/models", headers={"Authorization": f"Bearer {emulator.api_key}"}, timeout=5
    )
    assert response.status_code == 200
    assert {model["id"] for model in response.json()["data"]} >= {"gpt-4o-transcribe", "whisper-1"}


def test_scripted_faults_carry_their_headers_and_error_shape(emulator: RealtimeEmulator) -> None:
    emulator.script(Fault.error(429, retry_after_ms=250, should_retry=True), Fault.non_json(502), None)
    limited = _post(emulator, "/realtime/client_secrets", {})
    assert (limited.headers["retry-after-ms"], limited.headers["x-should-retry"]) == ("250", "true")
    assert_openai_error_shape(limited, 429, None, "rate_limit_exceeded")
    html = _post(emulator, "/realtime/client_secrets", {})
    assert html.status_code == 502 and html.headers["content-type"].startswith("text/html")
    assert _post(emulator, "/realtime/client_secrets", {}).status_code == 200
    assert (emulator.request_count, emulator.fault_count, emulator.pending_faults) == (3, 2, 0)


def test_counts_requests_and_connections(emulator: RealtimeEmulator) -> None:
    with requests.Session() as session:
        for _ in range(3):
            session.post(
                f"{emulator.base_url}/realtime/client_secrets",
                json={},
                headers={"Authorization": f"Bearer {emulator.api_key}"},
                timeout=5,
            )
    requests.post(f"{emulator.base_url}/realtime/client_secrets", json={}, timeout=5)
    assert emulator.request_count == 4
    assert emulator.connection_count == 2


@dataclasses.dataclass
class CommandLineEmulator:
    process: subprocess.Popen[str]
    base_url: str
    errors: str = ""  # what it wrote to standard error, once stopped


@contextlib.contextmanager
def command_line_emulator(*arguments: str) -> Iterator[CommandLineEmulator]:
    """The emulator run as its command, with ``arguments``, stopped (SIGTERM) on the way out."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_realtime.testing", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    running = CommandLineEmulator(process, process.stdout.readline().strip())
    try:
        yield running
    finally:
        process.terminate()
        _, running.errors = process.communicate(timeout=10)


def test_runs_from_the_command_line() -> None:
    with command_line_emulator("--port", "0", "--api-key", "sk-cli-key-0123456789") as running:
        assert running.base_url.startswith("http://127.0.0.1:") and running.base_url.endswith("/v1")
        response = requests.post(
            f"{running.base_url}/realtime/client_secrets",
            json={},
            headers={"Authorization": "Bearer sk-cli-key-0123456789"},
            timeout=5,
        )
        assert_current_answer_shape(response.json())
    assert running.process.returncode == 0
    errors = running.errors
    stats = json.loads(errors.strip().splitlines()[-1])
    assert (stats["requests"], stats["connections"]) == (1, 1)
    assert stats["server_us_per_request"] > 0


def ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_the_command_line_emulator_serves_ipv6_loopback_and_the_hook_mints_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

    key = "sk-ipv6-key-0123456789"
    with command_line_emulator("--host", "::1", "--api-key", key) as running:
        base_url = running.base_url
        assert base_url.startswith("http://[::1]:") and base_url.endswith("/v1"), base_url
        connection = {"conn_type": "openai_realtime", "host": base_url, "password": key}
        monkeypatch.setenv("AIRFLOW_CONN_REALTIME_IPV6", json.dumps(connection))
        token = OpenAIRealtimeHook(conn_id="realtime_ipv6").create("transcription").body["value"]
        assert token.startswith("ek_")
    assert running.process.returncode == 0


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        *[("realtime", name) for name in ("gpt-realtime-2.1", "gpt-realtime-2.1-mini", "gpt-audio-1.5")],
        *[("transcription", name) for name in ("gpt-transcribe", "gpt-live-transcribe", "whisper-1")],
    ],
)
def test_the_emulator_accepts_the_models_the_published_spec_lists(
    realtime_connection: RealtimeEmulator, kind: str, model: str
) -> None:
    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

    session = {"model": model} if kind == "realtime" else {"input_audio_transcription": {"model": model}}
    assert OpenAIRealtimeHook().create(kind, session).status == 200


def test_every_model_of_the_shipped_spec_is_accepted_and_others_are_not() -> None:
    from airflow_provider_realtime.testing.emulator import published_models

    models = published_models()
    assert {"gpt-realtime-2.1", "gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-translate"} <= set(
        models
    )
    with RealtimeEmulator() as emulator:
        answer = requests.post(
            f"{emulator.base_url}/realtime/client_secrets",
            json={"session": {"type": "realtime", "model": "gpt-made-up"}},
            headers={"Authorization": f"Bearer {emulator.api_key}"},
            timeout=5,
        )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "model_not_found"


def test_the_command_line_emulator_accepts_the_models_it_is_told_of() -> None:
    key = "sk-cli-key-0123456789"
    with command_line_emulator("--api-key", key, "--model", "my-azure-deployment") as running:
        answer = requests.post(
            f"{running.base_url}/realtime/client_secrets",
            json={"session": {"type": "realtime", "model": "my-azure-deployment"}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
        )
    assert answer.status_code == 200, answer.text


def test_a_busy_port_is_a_clear_one_line_error() -> None:
    with RealtimeEmulator() as running:
        port = running.port
        result = subprocess.run(
            [sys.executable, "-m", "airflow_provider_realtime.testing", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"realtime-emulator: cannot listen on 127.0.0.1 port {port}: Address already in use"
    )


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "airflow_provider_realtime.testing", "--help"],
        [sys.executable, "-m", "airflow_provider_realtime.testing.emulator", "--help"],
        [sys.executable, "scripts/demo.py", "--help"],
        ["bash", ".ci/run", "--help"],
    ],
    ids=["emulator", "emulator-module", "demo", "ci"],
)
def test_every_command_answers_help_without_doing_its_work(command: list[str]) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=root, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() and "===" not in result.stdout  # .ci/run's steps print "=== …"
    assert "Running example DAG" not in result.stdout  # what the demo prints once it starts
