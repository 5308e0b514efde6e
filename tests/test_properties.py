"""Property-based: any settings end in a valid request or a ValueError naming a field, never another error."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_realtime import contract

KNOWN_KEYS = sorted(
    contract.BETA_KEYS
    | contract.CURRENT_KEYS
    | contract.TRANSCRIPTION_KEYS
    | contract.ALL_VAD_KEYS
    | {
        "audio",
        "input",
        "format",
        "transcription",
        "noise_reduction",
        "expires_at",
        "seconds",
        "anchor",
        "rate",
        "model",
    }
)
KNOWN_VALUES = [
    "pcm16",
    "g711_ulaw",
    "g711_alaw",
    "audio/pcm",
    "audio/pcmu",
    "audio/pcma",
    "server_vad",
    "semantic_vad",
    "near_field",
    "far_field",
    "transcription",
    "created_at",
    "text",
    "audio",
    "low",
    "auto",
    "minimal",
    "gpt-realtime-whisper",
    "whisper-1",
    24000,
    0.5,
    600,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(KNOWN_VALUES),
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=5),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=20,
)
sessions = st.one_of(st.none(), st.dictionaries(keys, values, max_size=6), values)
lifetimes = st.one_of(st.none(), st.integers(-100, 10_000), st.text(max_size=5), st.floats(), st.booleans())
FIELD_PREFIXES = ("session", "expires_after_seconds")


@settings(max_examples=600, deadline=None)
@given(session=sessions, lifetime=lifetimes, endpoint=st.sampled_from(contract.ENDPOINTS))
def test_any_settings_give_a_request_or_a_value_error_naming_a_field(
    session: object, lifetime: object, endpoint: str
) -> None:
    try:
        body = contract.build_request_body(endpoint, session, lifetime)
    except ValueError as error:
        assert str(error).startswith(FIELD_PREFIXES), str(error)  # noqa: PT017 - the property itself
        return
    encoded = json.dumps(body, allow_nan=False)  # goes over the wire as strict JSON
    assert isinstance(json.loads(encoded), dict)
    if endpoint == contract.CLIENT_SECRETS:
        assert body["session"]["type"] == "transcription"
        assert "model" not in body["session"]
    else:
        assert "model" not in body


@settings(max_examples=300, deadline=None)
@given(body=values, endpoint=st.sampled_from(contract.ENDPOINTS))
def test_shaping_any_answer_never_raises(body: object, endpoint: str) -> None:
    result = contract.shape_result(endpoint, body)
    assert set(result) >= {
        "client_secret",
        "client_secret_expires_at",
        "modalities",
        "input_audio_format",
        "input_audio_transcription",
        "turn_detection",
        "session_id",
    }
    contract.parse_error(body)
    contract.redact_client_secret(endpoint, body)
