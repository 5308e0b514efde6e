"""Every kind of client secret: settings checked offline, every body valid against OpenAI's published spec,
the emulator's answers valid against the response schemas, and each operator's results and config."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import operator_runs
import pytest

from airflow_provider_realtime import kinds
from airflow_provider_realtime.exceptions import RealtimeInvalidRequestError, RealtimeMalformedResponseError
from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator
from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator
from airflow_provider_realtime.operators.translation_session import CreateTranslationSessionOperator
from airflow_provider_realtime.testing import Fault, RealtimeEmulator
from airflow_provider_realtime.testing.emulator import SPEC_FOLDER

pytestmark = pytest.mark.version_independent

# OpenAI's published spec (2.3.0), cut down to the three client-secret endpoints and their schemas.
SPEC = json.loads((SPEC_FOLDER / "openai-realtime-openapi.json").read_text())

# Where the spec's text says a field may be null ("set to null to turn off"), or its own examples answer
# null, but its type does not allow it: the one place that is reconciled, (schema, path to the property).
DOCUMENTED_NULLS = (
    ("RealtimeTranscriptionSessionCreateResponseGA", ("audio", "input", "transcription")),
    ("RealtimeTranscriptionSessionCreateResponse", ("input_audio_transcription",)),
    ("RealtimeSessionCreateRequestGA", ("audio", "input", "noise_reduction")),
    ("RealtimeSessionCreateRequestGA", ("audio", "input", "transcription")),
    ("RealtimeSessionCreateResponseGA", ("audio", "input", "noise_reduction")),
    ("RealtimeSessionCreateResponseGA", ("audio", "input", "transcription")),
    ("RealtimeTranscriptionSessionCreateRequestGA", ("audio", "input", "noise_reduction")),
    ("RealtimeTranscriptionSessionCreateResponseGA", ("audio", "input", "noise_reduction")),
    ("RealtimeSessionCreateResponseGA", ("tracing",)),
    ("RealtimeSessionCreateResponseGA", ("prompt",)),
    ("RealtimeSessionCreateResponseGA", ("include",)),
)


def _components() -> dict[str, Any]:
    components = copy.deepcopy(SPEC["components"])
    for schema_name, path in DOCUMENTED_NULLS:
        holder = components["schemas"][schema_name]
        for key in path[:-1]:
            holder = holder["properties"][key]
        prop = holder["properties"].get(path[-1])
        if prop is None:
            continue
        holder["properties"][path[-1]] = {"anyOf": [prop, {"type": "null"}]}
    return components


COMPONENTS = _components()


def _validator(pointer: str) -> jsonschema.Validator:
    """A validator for the schema at ``pointer`` in the spec, its $refs resolved in the same document."""
    schema = {"$ref": pointer, "components": COMPONENTS}
    return jsonschema.Draft202012Validator(schema)


def _operation(path: str) -> dict[str, Any]:
    return SPEC["paths"][path]["post"]


def _request_schema(endpoint_path: str) -> jsonschema.Validator:
    ref = _operation(endpoint_path)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return _validator(ref)


def _response_schema(endpoint_path: str) -> jsonschema.Validator:
    ref = _operation(endpoint_path)["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return _validator(ref)


def assert_valid(validator: jsonschema.Validator, document: Any) -> None:
    """No error; for a oneOf/anyOf, the reasons of the alternative that came closest are reported."""
    assert [_explain(error) for error in validator.iter_errors(document)] == []


def _explain(error: jsonschema.ValidationError) -> str:
    if not error.context:
        return f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
    by_alternative: dict[Any, list[jsonschema.ValidationError]] = {}
    for reason in error.context:
        by_alternative.setdefault(reason.relative_schema_path[0], []).append(reason)
    closest = min(by_alternative.values(), key=len)
    return "; ".join(_explain(reason) for reason in closest)


VOICE_AGENT = {
    "model": "gpt-realtime",
    "instructions": "You are the front desk of a clinic. Be brief.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": "pcm16",
            "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "noise_reduction": {"type": "near_field"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.1},
    },
    "tools": [
        {
            "type": "function",
            "name": "book_appointment",
            "description": "Book a slot",
            "parameters": {"type": "object", "properties": {"day": {"type": "string"}}},
        }
    ],
    "tool_choice": "auto",
    "max_output_tokens": 1024,
    "tracing": "auto",
    "include": ["item.input_audio_transcription.logprobs"],
}
TRANSLATOR = {
    "model": "gpt-realtime-translate",
    "audio": {
        "input": {"transcription": {"model": "gpt-realtime-whisper"}, "noise_reduction": None},
        "output": {"language": "es"},
    },
}
BODIES: list[tuple[str, Any, str | None]] = [
    ("realtime", None, None),
    ("realtime", {}, None),
    ("realtime", VOICE_AGENT, None),
    ("realtime", {"output_modalities": ["text"], "tool_choice": {"type": "function", "name": "f"}}, None),
    ("realtime", {"audio": {"output": {"voice": {"id": "voice_123"}}}, "max_output_tokens": "inf"}, None),
    ("translation", TRANSLATOR, None),
    ("translation", {"model": "gpt-realtime-translate"}, None),
    ("translation", {"model": "gpt-realtime-translate", "audio": {"input": {"transcription": None}}}, None),
    ("transcription", None, "client_secrets"),
    ("transcription", {"input_audio_format": "g711_alaw", "turn_detection": None}, "client_secrets"),
    (
        "transcription",
        {
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "de", "prompt": "x"},
            "turn_detection": {"type": "server_vad", "threshold": 0.4, "idle_timeout_ms": 6000},
            "input_audio_noise_reduction": {"type": "far_field"},
            "include": ["item.input_audio_transcription.logprobs"],
        },
        "client_secrets",
    ),
    ("transcription", None, "transcription_sessions"),
    (
        "transcription",
        {
            "input_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "prefix_padding_ms": 200},
            "modalities": ["text"],
        },
        "transcription_sessions",
    ),
]


@pytest.mark.parametrize(("kind", "session", "endpoint"), BODIES)
@pytest.mark.parametrize("lifetime", [None, 10, 7200])
def test_every_body_of_every_kind_is_valid_against_the_published_spec(
    kind: str, session: Any, endpoint: str | None, lifetime: int | None
) -> None:
    request = kinds.prepare(kind, session, lifetime, endpoint)
    path = "/" + "realtime/" + request.endpoint
    assert_valid(_request_schema(path), request.body)


@pytest.mark.parametrize(("kind", "session", "endpoint"), BODIES)
def test_the_emulator_answers_every_kind_as_the_spec_says(
    realtime_emulator: RealtimeEmulator, kind: str, session: Any, endpoint: str | None
) -> None:
    if '"voice": {' in json.dumps(session):
        pytest.skip("the response schema has a voice name only; what a custom voice echoes is not published")
    hook = _hook(realtime_emulator)
    response = hook.create(kind, session, endpoint=endpoint, expires_after_seconds=300)
    assert response.status == 200
    path = "/" + "realtime/" + (endpoint or kinds.prepare(kind, session).endpoint)
    assert_valid(_response_schema(path), response.body)


def _hook(emulator: RealtimeEmulator) -> OpenAIRealtimeHook:
    import os

    os.environ["AIRFLOW_CONN_OPENAI_REALTIME_KINDS"] = emulator.connection_json(
        backoff_initial=0.001, backoff_max=0.005
    )
    return OpenAIRealtimeHook(conn_id="openai_realtime_kinds")


@pytest.mark.parametrize(
    ("kind", "session", "message"),
    [
        ("translation", None, r"session\.model is required"),
        ("translation", {"audio": {}}, r"session\.model is required"),
        ("translation", {"model": "m", "type": "translation"}, r"session\.type is not a translation setting"),
        ("translation", {"model": "m", "audio": {"output": {"languag": "es"}}}, r"did you mean .*language\?"),
        (
            "translation",
            {"model": "m", "audio": {"input": {"transcription": {}}}},
            r"transcription\.model is requ",
        ),
        (
            "translation",
            {"model": "m", "audio": {"outptu": {}}},
            r"session\.audio\.outptu is not a known field",
        ),
        ("realtime", {"instructons": "x"}, r"session\.instructons .*did you mean session\.instructions\?"),
        (
            "realtime",
            {"voice": "alloy"},
            r"session\.voice is the beta shape; set session\.audio\.output\.voice",
        ),
        ("realtime", {"modalities": ["text"]}, r"set session\.output_modalities"),
        ("realtime", {"type": "transcription"}, r"session\.type must be one of realtime"),
        ("realtime", {"audio": {"output": {"speed": 2}}}, r"session\.audio\.output\.speed must be between"),
        (
            "realtime",
            {"audio": {"output": {"format": "mp3"}}},
            r"session\.audio\.output\.format must be one of",
        ),
        ("realtime", {"audio": {"input": {"turn_detection": {"treshold": 1}}}}, r"did you mean .*threshold"),
        ("realtime", {"tools": {"type": "function"}}, r"session\.tools must be a list"),
        ("realtime", {"tool_choice": "always"}, r"session\.tool_choice must be one of none, auto, required"),
        ("realtime", {"parallel_tool_calls": "yes"}, r"session\.parallel_tool_calls must be True or False"),
        ("realtime", {"instructions": None}, r"session\.instructions must not be null"),
        ("realtime", ["x"], r"session must be an object"),
        # What the published spec refuses : near misses of allowed values, wrong types,
        # a missing required field, and typos inside tools.
        (
            "realtime",
            {"include": ["item.input_audio_transcription.logprob"]},
            r"session\.include\[0\] must be one of item\.input_audio_transcription\.logprobs, .*did you mean",
        ),
        (
            "realtime",
            {"truncation": "disable"},
            r"session\.truncation must be one of auto, disabled, .*'disabled'\?",
        ),
        (
            "realtime",
            {"truncation": {"type": "retention_ratio"}},
            r"session\.truncation\.retention_ratio is required",
        ),
        ("realtime", {"tracing": "on"}, r"session\.tracing must be one of auto, got 'on'"),
        ("realtime", {"prompt": {"version": "2"}}, r"session\.prompt\.id is required"),
        ("realtime", {"prompt": "pmpt_1"}, r"session\.prompt must be an object"),
        (
            "realtime",
            {"reasoning": {"effort": "extreme"}},
            r"session\.reasoning\.effort must be one of minimal, ",
        ),
        (
            "realtime",
            {"tools": [{"type": "function", "name": "f", "paramters": {}}]},
            r"session\.tools\[0\]\.paramters is not a known field; did you mean session\.tools\[0\]\.parameters\?",
        ),
        (
            "realtime",
            {"tools": [{"type": "function", "name": "f", "descripton": "x"}]},
            r"did you mean session\.tools\[0\]\.description\?",
        ),
        ("realtime", {"tools": [{"type": "mcp"}]}, r"session\.tools\[0\]\.server_label is required"),
        (
            "realtime",
            {"tools": [{"type": "function", "server_label": "s"}]},
            r"session\.tools\[0\]\.server_label does not apply to a tool of type function",
        ),
        ("realtime", {"tool_choice": {"type": "function"}}, r"session\.tool_choice\.name is required"),
        ("realtime", {"max_output_tokens": "lots"}, r"session\.max_output_tokens must be one of inf"),
        (
            "realtime",
            {"max_output_tokens": 1.5},
            r"session\.max_output_tokens must be an integer or a string",
        ),
        (
            "realtime",
            {"audio": {"output": {"voice": {"id": "v", "name": "x"}}}},
            r"voice\.name is not a known field",
        ),
        (
            "translation",
            {"model": "m", "audio": {"input": {"noise_reduction": {}}}},
            r"session\.audio\.input\.noise_reduction\.type is required",
        ),
        ("sidetone", {}, r"kind must be one of transcription, realtime, translation"),
        (
            "transcription-beta",
            {"turn_detection": {"type": "semantic_vad", "eagerness": "fast"}},
            r"session\.turn_detection\.eagerness must be one of low, medium, high, auto",
        ),
    ],
)
def test_bad_settings_of_every_kind_are_value_errors_naming_the_field(
    kind: str, session: Any, message: str
) -> None:
    endpoint = None
    if kind == "transcription-beta":
        kind, endpoint = "transcription", "transcription_sessions"
    with pytest.raises(ValueError, match=message):
        kinds.prepare(kind, session, None, endpoint)


# The spec published while the beta endpoint was live (openai-openapi, 2025-04-29): what it accepted there
# is never refused before sending, whatever the later spec (written after the beta's retirement) narrows.
BETA_SPEC = json.loads((SPEC_FOLDER / "openai-realtime-openapi-2025-04-29.json").read_text())


@pytest.mark.parametrize("eagerness", ["low", "medium", "high", "auto"])
def test_semantic_vad_reaches_the_beta_endpoint_as_its_spec_allowed(eagerness: str) -> None:
    session = {
        "input_audio_format": "pcm16",
        "turn_detection": {"type": "semantic_vad", "eagerness": eagerness},
    }
    body = kinds.prepare("transcription", session, None, "transcription_sessions").body
    schema = {"$ref": "#/components/schemas/RealtimeTranscriptionSessionCreateRequest", **BETA_SPEC}
    jsonschema.Draft202012Validator(schema).validate(body)
    assert body["turn_detection"] == {"type": "semantic_vad", "eagerness": eagerness}


def test_unknown_settings_pass_through_and_lifetimes_are_checked() -> None:
    body = kinds.prepare(
        "realtime", {"future_setting": {"a": 1}, "audio": {"input": {"new": True}}}, "60"
    ).body
    assert body == {
        "session": {"type": "realtime", "future_setting": {"a": 1}, "audio": {"input": {"new": True}}},
        "expires_after": {"anchor": "created_at", "seconds": 60},
    }
    with pytest.raises(ValueError, match="expires_after_seconds must be between 10 and 7200"):
        kinds.prepare("translation", {"model": "m"}, 7201)
    with pytest.raises(ValueError, match="endpoint must be translations/client_secrets"):
        kinds.prepare("translation", {"model": "m"}, None, "client_secrets")


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/realtime/translations/client_secrets", {"session": {"audio": {}}}, "session.model"),
        (
            "/realtime/translations/client_secrets",
            {"session": {"model": "gpt-realtime-translate", "type": "x"}},
            "session.type",
        ),
        ("/realtime/client_secrets", {"session": {"type": "sidetone"}}, "session.type"),
        (
            "/realtime/client_secrets",
            {"session": {"type": "realtime"}, "expires_after": {"seconds": 5}},
            "expires_after.seconds",
        ),
        ("/realtime/translations/client_secrets", {"session": {"model": "nope"}}, "session.model"),
    ],
)
def test_the_emulator_rejects_what_openai_rejects(
    realtime_emulator: RealtimeEmulator, path: str, body: dict[str, Any], param: str
) -> None:
    hook = _hook(realtime_emulator)
    endpoint = path.removeprefix("/realtime/")
    response = hook.post(endpoint, body, raise_for_status=False)
    assert response.status == 400
    assert response.body["error"]["param"] == param
    with pytest.raises(RealtimeInvalidRequestError, match=param.replace(".", r"\.")):
        hook.post(endpoint, body)


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [
        ("client_secrets", "value"),
        ("transcription_sessions", "client_secret"),
        ("translations/client_secrets", "value"),
    ],
)
def test_an_answer_without_its_secret_names_the_missing_field(
    realtime_emulator: RealtimeEmulator, endpoint: str, field: str
) -> None:
    hook = _hook(realtime_emulator)
    realtime_emulator.script(Fault(action="null_secret"))
    kind = "translation" if endpoint.startswith("translations") else "transcription"
    session = {"model": "gpt-realtime-translate"} if kind == "translation" else None
    with pytest.raises(RealtimeMalformedResponseError, match=f"its field {field} is missing or null"):
        hook.create(kind, session, endpoint=None if kind == "translation" else endpoint)


def run(operator: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    result, ti = operator_runs.run(operator)
    return result, ti.pushed


SHARED_KEYS = {
    "client_secret",
    "expires_at",
    "session_id",
    "session_expires_at",
    "session_type",
    "endpoint",
}


def test_the_realtime_operator_pushes_the_structured_result_and_a_config_that_chains(
    realtime_connection: RealtimeEmulator,
) -> None:
    result, pushed = run(
        CreateRealtimeSessionOperator(task_id="agent", session=VOICE_AGENT, expires_after_seconds=120)
    )
    assert set(result) == SHARED_KEYS | set(kinds.REALTIME_KIND.result[kinds.REALTIME_KIND.endpoint])
    assert result["client_secret"] == realtime_connection.minted_tokens[-1]
    assert result["session_type"] == "realtime" and result["endpoint"] == "client_secrets"
    assert (result["input_audio_format"], result["output_audio_format"]) == ("pcm16", "g711_ulaw")
    assert result["voice"] == "marin" and result["model"] == "gpt-realtime"
    assert result["tools"][0]["name"] == "book_appointment" and result["tool_choice"] == "auto"
    assert result["turn_detection"] == {"type": "semantic_vad", "eagerness": "low"}
    assert pushed["config"] == {
        "conn_id": "openai_realtime_default",
        "kind": "realtime",
        "endpoint": "client_secrets",
        "session": VOICE_AGENT,
        "expires_after_seconds": 120,
        "base_url": realtime_connection.base_url,
        "count": None,
        "extra_body": None,
    }
    again, _ = run(CreateRealtimeSessionOperator(task_id="again", config=pushed["config"]))
    assert realtime_connection.requests[-1].body == realtime_connection.requests[-2].body
    assert again["client_secret"] != result["client_secret"]
    with pytest.raises(ValueError, match=r"config\.kind is 'realtime'"):
        run(CreateTranslationSessionOperator(task_id="wrong", config=pushed["config"]))
    with pytest.raises(ValueError, match=r"config\.kind is 'realtime'"):
        run(CreateTranscriptionSessionOperator(task_id="wrong", config=pushed["config"]))


def test_the_translation_operator_results_and_raw_format(realtime_connection: RealtimeEmulator) -> None:
    result, pushed = run(CreateTranslationSessionOperator(task_id="es", session=TRANSLATOR))
    assert set(result) == SHARED_KEYS | set(kinds.TRANSLATION_KIND.result[kinds.TRANSLATION_KIND.endpoint])
    assert result["output_language"] == "es" and result["model"] == "gpt-realtime-translate"
    assert result["input_audio_transcription"] == {"model": "gpt-realtime-whisper"}
    assert result["input_audio_noise_reduction"] is None
    assert result["session_type"] == "translation" and result["endpoint"] == "translations/client_secrets"
    assert "ek_" not in json.dumps(pushed["config"])
    raw, _ = run(
        CreateTranslationSessionOperator(
            task_id="raw", session=TRANSLATOR, result_format="raw", include_client_secret=False
        )
    )
    assert raw["status"] == 200 and raw["body"]["value"] is None
    assert raw["body"]["session"]["audio"]["output"]["language"] == "es"
    with pytest.raises(ValueError, match=r"session\.model is required"):
        run(CreateTranslationSessionOperator(task_id="bad", session={"audio": {}}))
