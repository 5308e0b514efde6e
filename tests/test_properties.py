"""Property-based: any settings end in a valid request or a ValueError naming a field, never another error."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_realtime import contract, kinds, response

pytestmark = pytest.mark.version_independent


def build_request_body(endpoint: str, session: object = None, lifetime: object = None) -> dict:
    """A transcription request's body, as the hook would send it to ``endpoint``."""
    return kinds.prepare(kinds.TRANSCRIPTION, session, lifetime, endpoint).body


def shape_result(endpoint: str, body: object, **options: bool) -> dict:
    """A transcription answer's structured result."""
    return response.shape_result(kinds.TRANSCRIPTION, endpoint, body, **options)


KNOWN_KEYS = sorted(
    kinds.BETA_KEYS
    | kinds.CURRENT_KEYS
    | set(kinds.INPUT_TRANSCRIPTION.fields)
    | {key for variant in kinds.AUDIO_FORMAT.variants.values() for key in variant.fields}
    | set(kinds.TRANSCRIPTION_BETA.fields)
    | {"threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms", "eagerness"}
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
    st.integers().map(lambda n: n * 10**30),  # beyond 64 bits
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
lifetimes = st.one_of(
    st.none(),
    st.integers(-100, 10_000),
    st.text(max_size=5),
    st.text(alphabet="0123456789²³¹٣੩ ", max_size=8),  # digits that int() reads and ones it does not
    st.floats(),
    st.booleans(),
)
FIELD_PREFIXES = ("session", "expires_after_seconds")


@given(session=sessions, lifetime=lifetimes, endpoint=st.sampled_from(contract.ENDPOINTS))
def test_any_settings_give_a_request_or_a_value_error_naming_a_field(
    session: object, lifetime: object, endpoint: str
) -> None:
    try:
        body = build_request_body(endpoint, session, lifetime)
    except ValueError as error:
        problems = contract.problems_of(error)
        assert problems, str(error)  # noqa: PT017 - the property itself
        for problem in problems:  # each one names its field
            assert problem.startswith(FIELD_PREFIXES), str(error)  # noqa: PT017 - the property itself
        return
    encoded = json.dumps(body, allow_nan=False)  # goes over the wire as strict JSON
    assert isinstance(json.loads(encoded), dict)
    if endpoint == contract.CLIENT_SECRETS:
        assert body["session"]["type"] == "transcription"
        assert "model" not in body["session"]
    else:
        assert "model" not in body


@given(body=values, endpoint=st.sampled_from(contract.ENDPOINTS))
def test_shaping_any_answer_never_raises(body: object, endpoint: str) -> None:
    result = shape_result(endpoint, body)
    assert set(result) >= {
        "client_secret",
        "expires_at",
        "modalities",
        "input_audio_format",
        "input_audio_transcription",
        "turn_detection",
        "session_id",
    }
    response.parse_error(body)
    response.redact_client_secret(endpoint, body)


def nested(depth: int, key: str = "x") -> dict:
    """``{"x": {"x": ... {}}}``, ``depth`` levels deep, built without recursion."""
    value: dict = {}
    for _ in range(depth):
        value = {key: value}
    return value


@given(
    depth=st.integers(1, 6000),
    where=st.sampled_from(["unknown", "input_audio_transcription", "turn_detection", "audio"]),
    endpoint=st.sampled_from(contract.ENDPOINTS),
)
def test_deep_settings_give_a_request_or_a_value_error_never_a_recursion_error(
    depth: int, where: str, endpoint: str
) -> None:
    session = (
        {"type": "transcription", "audio": {"input": nested(depth)}}
        if where == "audio"
        else {where: nested(depth)}
    )
    try:
        body = build_request_body(endpoint, session)
    except ValueError as error:
        assert str(error).startswith("session"), str(error)  # noqa: PT017 - the property itself
        return
    assert depth <= contract.MAX_SETTINGS_DEPTH + 2
    json.dumps(body, allow_nan=False)


@given(
    shape=st.sampled_from(["dict-in-itself", "list-in-itself", "deeper-cycle"]),
    endpoint=st.sampled_from(contract.ENDPOINTS),
)
def test_self_referential_settings_are_a_value_error(shape: str, endpoint: str) -> None:
    session: dict = {}
    if shape == "dict-in-itself":
        session["extra_field"] = session
    elif shape == "list-in-itself":
        loop: list = []
        loop.append(loop)
        session["extra_field"] = loop
    else:
        inner: dict = {"a": [1, {}]}
        inner["a"][1]["b"] = inner
        session["input_audio_transcription"] = {"model": "whisper-1", "hints": inner}
    with pytest.raises(ValueError, match="contains itself"):
        build_request_body(endpoint, session)


@pytest.mark.parametrize(
    ("session", "lifetime", "message"),
    [
        pytest.param(
            {"future_field": 10**5000},
            None,
            "session.future_field must be an integer within 64 bits, got a very large integer",
            id="10**5000",
        ),
        pytest.param(
            None, "6²", "expires_after_seconds must be an integer, got '6²'", id="superscript-digit"
        ),
        pytest.param(
            None,
            "9" * 5000,
            "expires_after_seconds must be an integer, got a 5000-character string",
            id="5000-digits",
        ),
        pytest.param(
            None,
            10**5000,
            "expires_after_seconds must be between 10 and 7200, got a very large integer",
            id="huge-int",
        ),
    ],
)
def test_probe_inputs_are_value_errors_naming_the_field(
    session: object, lifetime: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_request_body(contract.CLIENT_SECRETS, session, lifetime)
