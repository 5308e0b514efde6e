"""The API contract: beta <-> current translation of every field, validation, and result shaping."""

from __future__ import annotations

import json
import re

import pytest

from airflow_provider_realtime import contract, kinds, response
from airflow_provider_realtime.operators.base import check_result_format

pytestmark = pytest.mark.version_independent


def build_request_body(endpoint: str, session: object = None, lifetime: object = None) -> dict:
    """A transcription request's body, as the hook would send it to ``endpoint``."""
    return kinds.prepare(kinds.TRANSCRIPTION, session, lifetime, endpoint).body


def shape_result(endpoint: str, body: object, **options: bool) -> dict:
    """A transcription answer's structured result."""
    return response.shape_result(kinds.TRANSCRIPTION, endpoint, body, **options)


LIFETIME = {"anchor": "created_at", "seconds": 120}

# (beta-shaped settings, the same settings in the current API's body) for every field in the reference.
TRANSLATIONS = [
    pytest.param(
        {"input_audio_format": "pcm16"},
        {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}}},
        id="format-pcm16",
    ),
    pytest.param(
        {"input_audio_format": "g711_ulaw"},
        {"audio": {"input": {"format": {"type": "audio/pcmu"}}}},
        id="format-ulaw",
    ),
    pytest.param(
        {"input_audio_format": "g711_alaw"},
        {"audio": {"input": {"format": {"type": "audio/pcma"}}}},
        id="format-alaw",
    ),
    pytest.param(
        {
            "input_audio_transcription": {
                "model": "gpt-4o-transcribe",
                "language": "en",
                "prompt": "names: Ada",
            }
        },
        {
            "audio": {
                "input": {
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": "names: Ada"}
                }
            }
        },
        id="transcription",
    ),
    pytest.param(
        {
            "input_audio_transcription": {
                "model": "gpt-realtime-whisper",
                "languages": ["en", "de"],
                "keywords": ["Airflow"],
                "delay": "minimal",
            },
            "turn_detection": None,
        },
        {
            "audio": {
                "input": {
                    "transcription": {
                        "model": "gpt-realtime-whisper",
                        "languages": ["en", "de"],
                        "keywords": ["Airflow"],
                        "delay": "minimal",
                    },
                    "turn_detection": None,
                }
            }
        },
        id="transcription-newer-fields",
    ),
    pytest.param(
        {
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.3,
                "prefix_padding_ms": 200,
                "silence_duration_ms": 400,
                "idle_timeout_ms": 6000,
            }
        },
        {
            "audio": {
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.3,
                        "prefix_padding_ms": 200,
                        "silence_duration_ms": 400,
                        "idle_timeout_ms": 6000,
                    }
                }
            }
        },
        id="server-vad",
    ),
    pytest.param(
        {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}},
        {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}},
        id="semantic-vad",
    ),
    pytest.param(
        {"turn_detection": None}, {"audio": {"input": {"turn_detection": None}}}, id="turn-detection-off"
    ),
    pytest.param(
        {"input_audio_noise_reduction": {"type": "far_field"}},
        {"audio": {"input": {"noise_reduction": {"type": "far_field"}}}},
        id="noise-reduction",
    ),
    pytest.param(
        {"input_audio_noise_reduction": None},
        {"audio": {"input": {"noise_reduction": None}}},
        id="noise-reduction-off",
    ),
    pytest.param(
        {"include": ["item.input_audio_transcription.logprobs"]},
        {"include": ["item.input_audio_transcription.logprobs"]},
        id="include",
    ),
    pytest.param({"modalities": ["text"]}, {}, id="modalities-not-in-current-api"),
]


@pytest.mark.parametrize(("beta", "current_session"), TRANSLATIONS)
def test_beta_settings_translate_to_the_current_body(beta: dict, current_session: dict) -> None:
    body = build_request_body("client_secrets", beta)
    assert body == {"session": {"type": "transcription", **current_session}}


@pytest.mark.parametrize(
    ("beta", "current_session"),
    [row for row in TRANSLATIONS if "modalities" not in row.values[0]],  # the current shape has none
)
def test_current_settings_translate_to_the_beta_body(beta: dict, current_session: dict) -> None:
    current = {"type": "transcription", **current_session}
    assert build_request_body("transcription_sessions", current) == beta


@pytest.mark.parametrize(("beta", "_"), TRANSLATIONS)
def test_beta_settings_reach_the_beta_endpoint_unchanged(beta: dict, _: dict) -> None:
    """semantic_vad included: the spec published while the beta endpoint was live (2025-04-29) lists it;
    only the later spec, written after the beta was retired, narrows it to server_vad."""
    assert build_request_body("transcription_sessions", beta) == beta


def test_a_format_object_without_type_is_the_default_format_on_the_beta_endpoint() -> None:
    """Found by the property test: the spec requires no type, and the server's default is audio/pcm."""
    body = build_request_body("transcription_sessions", {"audio": {"input": {"format": {}}}})
    assert body == {"input_audio_format": "pcm16"}
    assert build_request_body("transcription_sessions", {"input_audio_format": {}}) == {
        "input_audio_format": "pcm16"
    }


def test_client_secret_expiry_translates_to_expires_after() -> None:
    body = build_request_body("client_secrets", {"client_secret": {"expires_at": LIFETIME}})
    assert body == {"session": {"type": "transcription"}, "expires_after": LIFETIME}


def test_lifetime_parameter_lands_where_each_endpoint_expects_it() -> None:
    assert build_request_body("client_secrets", None, 120)["expires_after"] == LIFETIME
    assert build_request_body("transcription_sessions", {}, "120") == {
        "client_secret": {"expires_at": LIFETIME}
    }


def test_no_settings_means_server_defaults() -> None:
    assert build_request_body("client_secrets", None) == {"session": {"type": "transcription"}}
    assert build_request_body("transcription_sessions", None) == {}


def test_a_full_beta_session_translates_in_one_go() -> None:
    beta = {
        "input_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "whisper-1", "language": "de"},
        "turn_detection": {"type": "semantic_vad", "eagerness": "auto"},
        "input_audio_noise_reduction": {"type": "near_field"},
        "include": ["item.input_audio_transcription.logprobs"],
        "modalities": ["text"],
        "client_secret": {"expires_at": {"anchor": "created_at", "seconds": 3600}},
    }
    assert build_request_body("client_secrets", beta) == {
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcma"},
                    "transcription": {"model": "whisper-1", "language": "de"},
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {"type": "semantic_vad", "eagerness": "auto"},
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
        "expires_after": {"anchor": "created_at", "seconds": 3600},
    }


def test_unknown_fields_pass_through_for_forward_compatibility() -> None:
    beta = {
        "input_audio_transcription": {"model": "gpt-5-transcribe", "diarize": True},
        "future_knob": {"a": 1},
    }
    body = build_request_body("client_secrets", beta)
    assert body["session"]["future_knob"] == {"a": 1}
    assert body["session"]["audio"]["input"]["transcription"] == {
        "model": "gpt-5-transcribe",
        "diarize": True,
    }
    current = {"type": "transcription", "audio": {"input": {"new_input_knob": 3}}}
    assert build_request_body("client_secrets", current)["session"]["audio"]["input"] == {"new_input_knob": 3}


@pytest.mark.parametrize(
    "field", ["prompt_id", "instructions_id", "models", "parallel_tools", "max_output_token", "tool"]
)
def test_a_plausible_new_field_next_to_a_known_one_is_passed_through(field: str) -> None:
    """A known field with a word added, or in another number, may be one OpenAI added: not a typo."""
    body = kinds.prepare(kinds.REALTIME, {field: "x"}).body
    assert body["session"][field] == "x"


@pytest.mark.parametrize(
    ("field", "meant"),
    [
        pytest.param("instructons", "instructions", id="a-letter-dropped"),
        pytest.param("toolz", "tools", id="a-letter-changed"),
        pytest.param("outputmodalities", "output_modalities", id="words-run-together"),
        pytest.param("output_modalites", "output_modalities", id="a-word-misspelled"),
        pytest.param("max_output_tokesn", "max_output_tokens", id="two-letters-swapped"),
    ],
)
def test_a_likely_typo_of_a_known_field_is_refused_naming_it_and_the_way_through(
    field: str, meant: str
) -> None:
    with pytest.raises(
        ValueError, match=rf"session\.{field} is not a known field; did you mean session\.{meant}\?"
    ) as caught:
        kinds.prepare(kinds.REALTIME, {field: "x"})
    assert "extra_body" in str(caught.value)


def test_extra_body_sends_a_field_the_checks_would_refuse_merged_at_its_depth() -> None:
    extra = {"session": {"toolz": [1], "audio": {"input": {"treshold_v2": 0.4}}}}
    body = kinds.prepare(
        kinds.REALTIME, {"audio": {"input": {"format": {"type": "audio/pcmu"}}}}, 60, extra_body=extra
    ).body
    assert body["session"]["toolz"] == [1]
    assert body["session"]["audio"]["input"] == {"format": {"type": "audio/pcmu"}, "treshold_v2": 0.4}
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 60}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["x"], "extra_body must be an object", id="a-list"),
        pytest.param({"session": {"x": float("nan")}}, "extra_body.session.x", id="not-json"),
    ],
)
def test_extra_body_that_is_not_a_json_object_is_a_value_error(extra: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        kinds.prepare(kinds.REALTIME, None, extra_body=extra)


@pytest.mark.parametrize("kind", [kinds.REALTIME, kinds.TRANSCRIPTION, kinds.TRANSLATION])
def test_checking_free_text_does_not_grow_with_its_size(kind: str) -> None:
    """A 50 MB prompt is checked as quickly as a short one: the typo search (difflib) never reads free text.
    What is asserted is what difflib was handed, not a time."""
    import difflib
    from unittest import mock

    big = "x" * 50_000_000
    session = {
        kinds.REALTIME: {"instructions": big},
        kinds.TRANSCRIPTION: {"input_audio_transcription": {"prompt": big}},
        kinds.TRANSLATION: {
            "model": "gpt-realtime-translate",
            "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper", "prompt": big}}},
        },
    }[kind]
    searched: list[int] = []
    set_seq2 = difflib.SequenceMatcher.set_seq2

    def record(matcher: difflib.SequenceMatcher, text: str) -> None:
        searched.append(len(text))
        set_seq2(matcher, text)

    with mock.patch.object(difflib.SequenceMatcher, "set_seq2", record):
        kinds.prepare(kind, session)
    assert max(searched, default=0) < 100, "the typo search ran on the free text"


BAD_INPUTS = [
    pytest.param(
        {"input_audio_format": "mp3"},
        None,
        "session.input_audio_format must be one of pcm16",
        id="unknown-format",
    ),
    pytest.param(
        {"type": "transcription", "audio": {"input": {"format": {"type": "audio/opus"}}}},
        None,
        "session.audio.input.format.type must be one of",
        id="unknown-current-format",
    ),
    pytest.param(
        {"type": "transcription", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
        None,
        "session.audio.input.format.rate must be 24000",
        id="unsupported-rate",
    ),
    pytest.param(
        {"turn_detection": {"threshold": float("nan")}},
        None,
        "session.turn_detection.threshold must be a finite number",
        id="threshold-nan",
    ),
    pytest.param(
        {"turn_detection": {"threshold": "0.5"}},
        None,
        "session.turn_detection.threshold must be a number",
        id="threshold-string",
    ),
    pytest.param(
        {"turn_detection": {"type": "semantic_vad", "eagerness": "fast"}},
        None,
        "session.turn_detection.eagerness must be one of",
        id="bad-eagerness",
    ),
    pytest.param(
        {"turn_detection": {"type": "push_to_talk"}},
        None,
        "session.turn_detection.type must be one of",
        id="bad-vad-type",
    ),
    pytest.param(
        {"turn_detection": {"silence_duration_ms": 1.5}},
        None,
        "session.turn_detection.silence_duration_ms must be an integer",
        id="float-ms",
    ),
    pytest.param(
        {"turn_detection": {"treshold": 0.5}},
        None,
        "did you mean session.turn_detection.threshold",
        id="typo-threshold",
    ),
    pytest.param(
        {"input_audio_fromat": "pcm16"}, None, "did you mean session.input_audio_format", id="typo-top-level"
    ),
    pytest.param(
        {"input_audio_transcription": {"modle": "whisper-1"}},
        None,
        "did you mean session.input_audio_transcription.model",
        id="typo-nested",
    ),
    pytest.param(
        {"input_audio_transcription": "whisper-1"},
        None,
        "session.input_audio_transcription must be an object",
        id="transcription-not-object",
    ),
    pytest.param(
        {"input_audio_transcription": {"model": 4}},
        None,
        "session.input_audio_transcription.model must be a string",
        id="model-not-string",
    ),
    pytest.param(
        {"input_audio_transcription": {"delay": "slow"}},
        None,
        "session.input_audio_transcription.delay must be one of",
        id="bad-delay",
    ),
    pytest.param(
        {
            "input_audio_transcription": {"model": "gpt-realtime-whisper"},
            "turn_detection": {"type": "server_vad"},
        },
        None,
        "turn detection must be null",
        id="whisper-realtime-needs-no-vad",
    ),
    pytest.param(
        {"input_audio_noise_reduction": {"type": "studio"}},
        None,
        "session.input_audio_noise_reduction.type must be one of",
        id="bad-noise-reduction",
    ),
    pytest.param(
        {"include": "item.input_audio_transcription.logprobs"},
        None,
        "session.include must be a list",
        id="include-not-list",
    ),
    pytest.param(
        {"modalities": ["video"]}, None, "session.modalities[0] must be one of text, audio", id="bad-modality"
    ),
    pytest.param({"model": "gpt-4o-transcribe"}, None, "session.model is not allowed", id="top-level-model"),
    pytest.param(
        {"client_secret": {"expires_at": 600}},
        None,
        "session.client_secret.expires_at must be an object",
        id="bare-number-expiry",
    ),
    pytest.param(
        {"client_secret": {"expires_at": {"seconds": 5}}},
        None,
        "session.client_secret.expires_at.seconds must be between 10 and 7200",
        id="expiry-too-short",
    ),
    pytest.param(
        {"client_secret": {"expires_at": {"anchor": "now", "seconds": 60}}},
        None,
        "session.client_secret.expires_at.anchor must be one of created_at",
        id="bad-anchor",
    ),
    pytest.param(
        {"client_secret": {"value": "ek_x"}},
        None,
        "session.client_secret.value is not a known field; allowed: expires_at",
        id="secret-value-given",
    ),
    pytest.param(None, 9, "expires_after_seconds must be between 10 and 7200", id="lifetime-too-short"),
    pytest.param(None, 7201, "expires_after_seconds must be between 10 and 7200", id="lifetime-too-long"),
    pytest.param(None, True, "expires_after_seconds must be an integer", id="lifetime-bool"),
    pytest.param(None, 60.5, "expires_after_seconds must be an integer", id="lifetime-float"),
    pytest.param({"client_secret": {"expires_at": {"seconds": 60}}}, 120, "contradicts", id="two-lifetimes"),
    pytest.param(
        {"type": "realtime"},
        None,
        "session.type must be one of transcription, got 'realtime'",
        id="realtime-type",
    ),
    pytest.param(
        {"type": "transcription", "input_audio_format": "pcm16"},
        None,
        "mixes the beta shape",
        id="mixed-shapes",
    ),
    pytest.param(["pcm16"], None, "session must be an object", id="session-not-dict"),
    pytest.param({1: "x"}, None, "session must have string keys", id="non-string-key"),
    pytest.param({"future_knob": {1, 2}}, None, "session.future_knob must be JSON", id="unknown-not-json"),
    pytest.param(
        {"future_knob": float("inf")},
        None,
        "session.future_knob must be a finite number",
        id="unknown-infinite",
    ),
]


@pytest.mark.parametrize(("session", "lifetime", "message"), BAD_INPUTS)
@pytest.mark.parametrize("endpoint", contract.ENDPOINTS)
def test_bad_input_is_a_value_error_naming_the_field(
    session: object, lifetime: object, message: str, endpoint: str
) -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the message is checked below
        build_request_body(endpoint, session, lifetime)
    assert message in str(caught.value)


# Refused on the current endpoint only: the spec published while the beta endpoint was live (2025-04-29)
# has one turn-detection object for both VAD types, and no spec states idle_timeout_ms for the beta endpoint.
BAD_ON_THE_CURRENT_ENDPOINT = [
    pytest.param(
        {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}},
        None,
        "session.turn_detection.threshold does not apply",
        id="threshold-with-semantic-vad",
    ),
    pytest.param(
        {"turn_detection": {"type": "server_vad", "eagerness": "low"}},
        None,
        "session.turn_detection.eagerness does not apply",
        id="eagerness-with-server-vad",
    ),
    pytest.param(
        {"turn_detection": {"idle_timeout_ms": 100}},
        None,
        "session.turn_detection.idle_timeout_ms must be between 5000 and 30000",
        id="idle-timeout",
    ),
]


@pytest.mark.parametrize(("session", "lifetime", "message"), BAD_ON_THE_CURRENT_ENDPOINT)
def test_what_only_the_current_spec_refuses_is_refused_on_the_current_endpoint(
    session: object, lifetime: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_request_body(contract.CLIENT_SECRETS, session, lifetime)
    build_request_body(contract.TRANSCRIPTION_SESSIONS, session, lifetime)  # the beta spec accepts it


# Refused by earlier releases, valid against a published spec: sent for the server to judge.
SPEC_VALID = [
    pytest.param({"turn_detection": {"threshold": 1.5}}, id="threshold-range-only-in-prose"),
    pytest.param({"turn_detection": {"prefix_padding_ms": -1}}, id="no-minimum-stated"),
    pytest.param({"input_audio_transcription": {"language": ""}}, id="empty-language"),
    pytest.param({"modalities": []}, id="empty-modalities"),
    pytest.param({"type": "transcription", "audio": {"output": {"voice": "x"}}}, id="audio-output-passes"),
    pytest.param({"input_audio_noise_reduction": {}}, id="noise-reduction-type-not-required"),
]


@pytest.mark.parametrize("session", SPEC_VALID)
@pytest.mark.parametrize("endpoint", contract.ENDPOINTS)
def test_what_a_published_spec_accepts_is_not_refused(session: dict, endpoint: str) -> None:
    build_request_body(endpoint, session)


@pytest.mark.parametrize("endpoint", ["sessions", "", "CLIENT_SECRETS", 7])
def test_unknown_endpoint_is_rejected(endpoint: object) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        build_request_body(endpoint, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("result_format", ["table", "", None, "RAW"])
def test_unknown_result_format_is_rejected(result_format: object) -> None:
    with pytest.raises(ValueError, match="result_format must be one of structured, raw"):
        check_result_format(result_format)


CURRENT_ANSWER = {
    "value": "ek_abc123abc123abc123",
    "expires_at": 1_800_000_000,
    "session": {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": "sess_1",
        "expires_at": 1_800_003_600,
        "include": [],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "whisper-1"},
                "noise_reduction": None,
                "turn_detection": {"type": "server_vad"},
            }
        },
    },
}
BETA_ANSWER = {
    "id": "sess_2",
    "object": "realtime.transcription_session",
    "expires_at": 1_800_003_600,
    "modalities": ["text"],
    "input_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "whisper-1"},
    "turn_detection": {"type": "server_vad"},
    "input_audio_noise_reduction": None,
    "include": [],
    "client_secret": {"value": "ek_abc123abc123abc123", "expires_at": 1_800_000_000},
}


def test_both_endpoints_shape_into_the_same_structured_result() -> None:
    current = shape_result("client_secrets", CURRENT_ANSWER)
    beta = shape_result("transcription_sessions", BETA_ANSWER)
    assert current.keys() == beta.keys()
    for result in (current, beta):
        assert result["client_secret"] == "ek_abc123abc123abc123"
        assert result["expires_at"] == "2027-01-15T08:00:00+00:00"
        assert result["session_expires_at"] == "2027-01-15T09:00:00+00:00"
        assert result["input_audio_format"] == "g711_ulaw"
        assert result["input_audio_transcription"] == {"model": "whisper-1"}
        assert result["turn_detection"] == {"type": "server_vad"}
    assert (current["session_id"], beta["session_id"]) == ("sess_1", "sess_2")
    assert current["modalities"] is None, "the current API sends no modalities; none is invented"
    assert beta["modalities"] == ["text"]
    json.dumps(current)


def test_fields_the_server_did_not_send_are_none() -> None:
    result = shape_result("client_secrets", {"value": "ek_abc123abc123abc123"})
    assert result["client_secret"] == "ek_abc123abc123abc123"
    assert all(value is None for key, value in result.items() if key not in ("client_secret", "endpoint"))


def test_a_format_given_as_a_string_is_read_leniently() -> None:
    answer = {**CURRENT_ANSWER, "session": {"audio": {"input": {"format": "pcm16"}}}}
    assert shape_result("client_secrets", answer)["input_audio_format"] == "pcm16"


def test_the_token_can_be_left_out_of_the_result() -> None:
    assert (
        shape_result("client_secrets", CURRENT_ANSWER, include_client_secret=False)["client_secret"] is None
    )
    assert response.redact_client_secret("client_secrets", CURRENT_ANSWER)["value"] is None
    assert (
        response.redact_client_secret("transcription_sessions", BETA_ANSWER)["client_secret"]["value"] is None
    )
    assert CURRENT_ANSWER["value"] == "ek_abc123abc123abc123", "the original is not modified"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"message": "m", "type": "t", "param": "p", "code": "c"}},
            {"message": "m", "type": "t", "param": "p", "code": "c"},
        ),
        (
            {"error": {"message": "m", "type": "t", "param": None, "code": None}},
            {"message": "m", "type": "t", "param": None, "code": None},
        ),
        ("<html>Bad gateway</html>", {"message": None, "type": None, "param": None, "code": None}),
        ({"error": "flat"}, {"message": None, "type": None, "param": None, "code": None}),
    ],
)
def test_openai_errors_are_read_leniently(body: object, expected: dict) -> None:
    assert response.parse_error(body) == expected
