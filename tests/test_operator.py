"""The operator's execute path with a stand-in task instance (the real Airflow runs are in test_airflow.py)."""

from __future__ import annotations

import json

import pytest
from operator_runs import run

from airflow_provider_realtime.exceptions import RealtimeInvalidRequestError
from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator
from airflow_provider_realtime.testing import Fault, RealtimeEmulator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG

STRUCTURED_KEYS = {
    "client_secret",
    "expires_at",
    "modalities",
    "input_audio_format",
    "input_audio_transcription",
    "turn_detection",
    "input_audio_noise_reduction",
    "include",
    "session_id",
    "session_expires_at",
    "session_type",
    "endpoint",
}
SESSION = {
    "input_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "whisper-1", "language": "en"},
}


@pytest.mark.parametrize("endpoint", ["client_secrets", "transcription_sessions"])
def test_structured_result_has_the_same_keys_for_both_endpoints(
    realtime_connection: RealtimeEmulator, endpoint: str
) -> None:
    result, ti = run(
        CreateTranscriptionSessionOperator(
            task_id="mint", session=SESSION, endpoint=endpoint, expires_after_seconds=60
        )
    )
    assert set(result) == STRUCTURED_KEYS
    assert result["client_secret"] == realtime_connection.minted_tokens[-1]
    assert result["input_audio_format"] == "g711_ulaw"
    assert result["input_audio_transcription"] == {"model": "whisper-1", "language": "en"}
    assert result["session_id"].startswith("sess_")
    assert result["expires_at"].endswith("+00:00")
    assert ti.pushed["config"] == {
        "conn_id": "openai_realtime_default",
        "kind": "transcription",
        "endpoint": endpoint,
        "session": SESSION,
        "expires_after_seconds": 60,
        "base_url": realtime_connection.base_url,
        "count": None,
        "extra_body": None,
    }


def test_extra_body_reaches_the_wire_and_the_config_repeats_it(realtime_connection: RealtimeEmulator) -> None:
    extra = {"session": {"include": ["item.input_audio_transcription.logprobs"]}}
    _, ti = run(CreateTranscriptionSessionOperator(task_id="first", session=SESSION, extra_body=extra))
    assert realtime_connection.requests[-1].body["session"]["include"] == extra["session"]["include"]
    assert ti.pushed["config"]["extra_body"] == extra
    run(CreateTranscriptionSessionOperator(task_id="second", config=ti.pushed["config"]))
    assert realtime_connection.requests[-1].body == realtime_connection.requests[-2].body


def test_config_holds_no_key_and_no_token(realtime_connection: RealtimeEmulator) -> None:
    _, ti = run(CreateTranscriptionSessionOperator(task_id="mint", session=SESSION))
    text = json.dumps(ti.pushed["config"])
    assert realtime_connection.api_key not in text
    assert realtime_connection.minted_tokens[-1] not in text


def test_config_repeats_the_same_request(realtime_connection: RealtimeEmulator) -> None:
    _, ti = run(
        CreateTranscriptionSessionOperator(
            task_id="first", session=SESSION, endpoint="transcription_sessions", expires_after_seconds=90
        )
    )
    first_request = realtime_connection.requests[-1]
    second, ti2 = run(CreateTranscriptionSessionOperator(task_id="second", config=ti.pushed["config"]))
    repeat = realtime_connection.requests[-1]
    assert (repeat.path, repeat.body) == (first_request.path, first_request.body)
    assert ti2.pushed["config"] == ti.pushed["config"]
    assert second["session_id"].startswith("sess_")


def test_explicit_arguments_override_the_config(realtime_connection: RealtimeEmulator) -> None:
    _, ti = run(
        CreateTranscriptionSessionOperator(
            task_id="first", session=SESSION, endpoint="transcription_sessions"
        )
    )
    run(
        CreateTranscriptionSessionOperator(
            task_id="second", config=ti.pushed["config"], endpoint="client_secrets"
        )
    )
    repeat = realtime_connection.requests[-1]
    assert repeat.path == "/v1/realtime/client_secrets"
    assert repeat.body["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}


def test_a_config_pointing_elsewhere_is_refused_before_the_key_is_sent(
    realtime_connection: RealtimeEmulator,
) -> None:
    config = {
        "conn_id": "openai_realtime_default",
        "endpoint": "client_secrets",
        "session": None,
        "expires_after_seconds": None,
        "base_url": "https://attacker.example/v1",
    }
    with pytest.raises(ValueError, match=r"config\.base_url"):
        run(CreateTranscriptionSessionOperator(task_id="again", config=config))
    assert realtime_connection.request_count == 0


def test_raw_result_is_status_and_body(realtime_connection: RealtimeEmulator) -> None:
    result, _ = run(CreateTranscriptionSessionOperator(task_id="mint", result_format="raw"))
    assert result["status"] == 200
    assert result["body"]["value"] == realtime_connection.minted_tokens[-1]


def test_raw_can_return_an_error_status_instead_of_failing(realtime_connection: RealtimeEmulator) -> None:
    result, ti = run(
        CreateTranscriptionSessionOperator(
            task_id="probe",
            session={"input_audio_transcription": {"model": "not-a-model"}},
            result_format="raw",
            raise_for_status=False,
        )
    )
    assert result["status"] == 400
    assert result["body"]["error"]["code"] == "model_not_found"
    assert "config" in ti.pushed


def test_raw_raises_for_an_error_status_by_default(realtime_connection: RealtimeEmulator) -> None:
    realtime_connection.script(Fault.error(400))
    with pytest.raises(RealtimeInvalidRequestError):
        run(CreateTranscriptionSessionOperator(task_id="mint", result_format="raw"))


def test_raw_passes_a_null_secret_through(realtime_connection: RealtimeEmulator) -> None:
    realtime_connection.script(Fault.null_secret())
    result, _ = run(CreateTranscriptionSessionOperator(task_id="mint", result_format="raw"))
    assert result["status"] == 200 and result["body"]["value"] is None


@pytest.mark.parametrize("result_format", ["structured", "raw"])
def test_the_token_can_be_kept_out_of_xcom(realtime_connection: RealtimeEmulator, result_format: str) -> None:
    result, ti = run(
        CreateTranscriptionSessionOperator(
            task_id="mint", result_format=result_format, include_client_secret=False
        )
    )
    token = realtime_connection.minted_tokens[-1]
    assert token not in json.dumps(result) and token not in json.dumps(ti.pushed)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            {"session": {"input_audio_format": "mp3"}}, "session.input_audio_format", id="bad-format"
        ),
        pytest.param(
            {"session": {"turn_detection": {"threshold": "high"}}},
            "session.turn_detection.threshold must be a number",
            id="bad-threshold",
        ),
        pytest.param(
            {"session": {"model": "gpt-4o-transcribe"}}, "session.model is not allowed", id="top-level-model"
        ),
        pytest.param(
            {"expires_after_seconds": 5},
            "expires_after_seconds must be between 10 and 7200",
            id="short-lifetime",
        ),
        pytest.param(
            {"expires_after_seconds": "ten"}, "expires_after_seconds must be an integer", id="lifetime-text"
        ),
        pytest.param(
            {"endpoint": "sessions"},
            "endpoint must be one of client_secrets, transcription_sessions",
            id="endpoint",
        ),
        pytest.param(
            {"result_format": "table"}, "result_format must be one of structured, raw", id="result-format"
        ),
        pytest.param(
            {"raise_for_status": False},
            "raise_for_status=False needs result_format='raw'",
            id="structured-without-raise",
        ),
        pytest.param({"config": ["x"]}, "config must be a dict", id="config-type"),
        pytest.param({"config": {"api_key": "x"}}, "config.api_key is not a known key", id="config-key"),
        pytest.param({"conn_id": 7}, "conn_id must be a string", id="conn-id-type"),
        pytest.param({"timeout": "soon"}, r"timeout \(read\) must be a number of seconds", id="timeout-text"),
        pytest.param({"timeout": (1, 2, 3)}, "timeout must be read seconds, or a", id="timeout-triple"),
        pytest.param({"max_retries": -2}, "max_retries must be a whole number", id="negative-retries"),
        pytest.param(
            {"include_client_secret": "false"},
            "include_client_secret must be True or False, got 'false'",
            id="include-client-secret-text",
        ),
        pytest.param(
            {"result_format": "raw", "raise_for_status": "no"},
            "raise_for_status must be True or False",
            id="raise-for-status-text",
        ),
        pytest.param(
            {"expires_after_seconds": "6²"}, "expires_after_seconds must be an integer", id="lifetime-6²"
        ),
        pytest.param(
            {"timeout": 0}, r"timeout \(read\) must be a number of seconds, more than 0", id="timeout-0"
        ),
        pytest.param(
            {"session": {"x": {}}, "config": {"conn_id": ["a"]}},
            "conn_id must be a string",
            id="config-conn-id-list",
        ),
    ],
)
def test_bad_arguments_fail_before_any_network_call(
    realtime_connection: RealtimeEmulator, arguments: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(CreateTranscriptionSessionOperator(task_id="mint", **arguments))
    assert realtime_connection.request_count == 0


def test_the_constructor_reads_no_connection() -> None:
    operator = CreateTranscriptionSessionOperator(
        task_id="mint", conn_id="does_not_exist", session={"input_audio_format": "g711_ulaw"}
    )
    assert "hook" not in vars(operator), "the hook is built in execute, not at DAG parse time"


def test_settings_written_in_the_dag_file_are_checked_when_it_is_parsed_every_problem_at_once() -> None:
    with pytest.raises(ValueError, match="Task 'mint': 4 problems") as refused:
        CreateTranscriptionSessionOperator(
            task_id="mint",
            session={"input_audio_format": "mp3", "turn_detection": {"type": "server_vad", "treshold": 0.5}},
            expires_after_seconds=5,
            result_format="structure",
        )
    message = str(refused.value)
    for problem in (
        "result_format must be",
        "expires_after_seconds must be between 10 and 7200, got 5",
        "session.input_audio_format must be one of pcm16, g711_ulaw, g711_alaw, got 'mp3'",
        "session.turn_detection.treshold is not a known field; did you mean session.turn_detection.threshold?",
    ):
        assert problem in message


@pytest.mark.parametrize(
    "arguments",
    [
        {"session": {"input_audio_format": "{{ params.format }}"}},  # a template: known when the task runs
        {
            "session": {"input_audio_format": "mp3"},
            "config": {"kind": "transcription"},
        },  # config may override
        {"expires_after_seconds": "{{ params.ttl }}", "session": {"input_audio_format": "mp3"}},
    ],
)
def test_what_is_known_only_when_the_task_runs_is_checked_then(arguments: dict[str, object]) -> None:
    operator = CreateTranscriptionSessionOperator(task_id="mint", **arguments)
    assert operator.session == arguments["session"]


def test_templated_fields_render(realtime_connection: RealtimeEmulator) -> None:
    from jinja2 import Environment

    with DAG("templating", schedule=None):
        operator = CreateTranscriptionSessionOperator(
            task_id="mint",
            session={
                "input_audio_transcription": {
                    "model": "{{ params.model }}",
                    "language": "{{ params.language }}",
                }
            },
            expires_after_seconds="{{ params.ttl }}",
        )
    context = {"params": {"model": "whisper-1", "language": "de", "ttl": 45}}
    operator.render_template_fields(context, jinja_env=Environment(autoescape=False))  # noqa: S701 - as Airflow renders  # type: ignore[arg-type]
    result, ti = run(operator)
    assert realtime_connection.requests[-1].body["expires_after"]["seconds"] == 45
    assert result["input_audio_transcription"] == {"model": "whisper-1", "language": "de"}
    assert ti.pushed["config"]["expires_after_seconds"] == 45


PUBLIC_PARAMETERS = {
    "conn_id": ["a", "b"],
    "session": [{}, None],
    "endpoint": ["client_secrets", "transcription_sessions"],
    "expires_after_seconds": [60, 120],
    "result_format": ["structured", "raw"],
    "config": [{}, {}],
    "include_client_secret": [True, False],
    "raise_for_status": [True, False],
    "max_retries": [0, 1],
    "timeout": [5, 10],
    "count": [1, 2],
    "concurrency": [4, 8],
    "allow_partial": [True, False],
    "extra_body": [{"session": {"a": 1}}, None],
}


@pytest.mark.parametrize("parameter", sorted(PUBLIC_PARAMETERS))
@pytest.mark.parametrize("operator_class", ["transcription", "realtime", "translation"])
def test_every_public_parameter_can_be_mapped(parameter: str, operator_class: str) -> None:
    from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator
    from airflow_provider_realtime.operators.translation_session import CreateTranslationSessionOperator

    operator = {
        "transcription": CreateTranscriptionSessionOperator,
        "realtime": CreateRealtimeSessionOperator,
        "translation": CreateTranslationSessionOperator,
    }[operator_class]
    if parameter == "endpoint" and operator is not CreateTranscriptionSessionOperator:
        pytest.skip("only transcription sessions have a choice of endpoint")
    with DAG(f"map_{operator_class}_{parameter}", schedule=None):
        mapped = operator.partial(task_id="mint").expand(**{parameter: PUBLIC_PARAMETERS[parameter]})
    assert parameter in mapped.expand_input.value
