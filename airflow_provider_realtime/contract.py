"""The OpenAI Realtime transcription-session contract, as pure functions (no I/O, no Airflow).

Session settings arrive in either API generation's shape and are parsed into one canonical form,
then rendered for the endpoint in use:

* beta (``POST /realtime/transcription_sessions``): ``input_audio_format``, ``input_audio_transcription``,
  ``turn_detection``, ``input_audio_noise_reduction``, ``include``, ``modalities``, ``client_secret``;
* current (``POST /realtime/client_secrets``): ``{"type": "transcription", "audio": {"input": {...}},
  "include": [...]}`` inside ``session``, lifetime in ``expires_after``.

Validation rule: every field this module knows is checked (type, allowed values, range) and a mistake
is a ``ValueError`` naming the field path. An unknown key that is a near miss of a known one (``"treshold"``)
is a typo and rejected with a suggestion; any other unknown key is passed through unchanged, so fields
OpenAI adds later are usable without a new release of this provider. Model names are never checked:
OpenAI's list keeps growing.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
from collections.abc import Mapping
from typing import Any, Final

CLIENT_SECRETS: Final = "client_secrets"
TRANSCRIPTION_SESSIONS: Final = "transcription_sessions"
ENDPOINTS: Final = (CLIENT_SECRETS, TRANSCRIPTION_SESSIONS)
TRANSLATION_CLIENT_SECRETS: Final = "translations/client_secrets"
# Every endpoint that mints a client secret (ENDPOINTS: those of transcription sessions).
ENDPOINT_PATHS: Final = {
    CLIENT_SECRETS: "/realtime/client_secrets",
    TRANSCRIPTION_SESSIONS: "/realtime/transcription_sessions",
    TRANSLATION_CLIENT_SECRETS: "/realtime/translations/client_secrets",
}

STRUCTURED: Final = "structured"
RAW: Final = "raw"
RESULT_FORMATS: Final = (STRUCTURED, RAW)

MIN_LIFETIME_SECONDS: Final = 10
MAX_LIFETIME_SECONDS: Final = 7200

# Beta vocabulary <-> current format objects. pcm16 is 16-bit little-endian mono PCM at 24 kHz.
PCM_RATE: Final = 24000
FORMAT_TO_CURRENT: Final[dict[str, dict[str, Any]]] = {
    "pcm16": {"type": "audio/pcm", "rate": PCM_RATE},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
CURRENT_TYPE_TO_FORMAT: Final = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}

VAD_TYPES: Final = ("server_vad", "semantic_vad")
EAGERNESS: Final = ("low", "medium", "high", "auto")
NOISE_REDUCTION_TYPES: Final = ("near_field", "far_field")
MODALITIES: Final = ("text", "audio")
TRANSCRIPTION_DELAYS: Final = ("minimal", "low", "medium", "high", "xhigh")
IDLE_TIMEOUT_RANGE: Final = (5000, 30000)
# This model transcribes continuously and requires turn detection off.
MODELS_WITHOUT_TURN_DETECTION: Final = frozenset({"gpt-realtime-whisper"})

BETA_KEYS: Final = frozenset(
    {
        "input_audio_format",
        "input_audio_transcription",
        "turn_detection",
        "input_audio_noise_reduction",
        "include",
        "modalities",
        "client_secret",
    }
)
CURRENT_KEYS: Final = frozenset({"type", "audio", "include"})
TRANSCRIPTION_KEYS: Final = frozenset({"model", "language", "prompt", "languages", "keywords", "delay"})
SERVER_VAD_KEYS: Final = frozenset(
    {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"}
)
SEMANTIC_VAD_KEYS: Final = frozenset({"type", "eagerness"})
ALL_VAD_KEYS: Final = SERVER_VAD_KEYS | SEMANTIC_VAD_KEYS

MAX_SETTINGS_DEPTH: Final = 32  # far beyond any real setting; deeper is a mistake or an attack
MAX_JSON_INTEGER: Final = 2**63 - 1

_ABSENT: Final = object()


# --------------------------------------------------------------------------------------------------
# Small checkers. Each raises ValueError("<path> must ..., got <type or value>").
# Values are echoed only when they are short scalars: settings never hold secrets, but a stray
# object's repr could be huge.
# --------------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_JSON_INTEGER:
        return "a very large integer"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a {len(value)}-character string"
    return f"a {type(value).__name__}"


def _fail(path: str, expectation: str, value: Any = _ABSENT) -> ValueError:
    got = "" if value is _ABSENT else f", got {_describe(value)}"
    return ValueError(f"{path} {expectation}{got}")


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "must be an object (dict)", value)
    for key in value:
        if not isinstance(key, str):
            raise _fail(path, "must have string keys", key)
    return value


def _string(value: Any, path: str, *, allowed: tuple[str, ...] | None = None) -> str:
    if allowed is not None and (not isinstance(value, str) or value not in allowed):
        raise _fail(path, f"must be one of {', '.join(allowed)}", value)
    if not isinstance(value, str):
        raise _fail(path, "must be a string", value)
    if allowed is None and not value.strip():
        raise _fail(path, "must not be empty")
    return value


def _string_list(value: Any, path: str, *, allowed: tuple[str, ...] | None = None) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise _fail(path, "must be a list of strings", value)
    return [_string(item, f"{path}[{index}]", allowed=allowed) for index, item in enumerate(value)]


def _integer(value: Any, path: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, "must be an integer", value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            bounds = f"at least {low}"
        else:
            bounds = f"{low}" if low == high else f"between {low} and {high}"
        raise _fail(path, f"must be {bounds}", value)
    return value


def _number(value: Any, path: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, "must be a number", value)
    if not (low <= value <= high):  # also rejects NaN
        raise _fail(path, f"must be between {low} and {high}", value)
    return value


def _json_value(value: Any, path: str, ancestors: tuple[int, ...] = ()) -> Any:
    """Check that an unknown (pass-through) value can go over the wire as JSON, and copy it.

    Refused: nesting deeper than ``MAX_SETTINGS_DEPTH``, a value that contains itself, integers beyond
    64 bits, non-finite floats and anything JSON cannot say.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INTEGER:
            raise _fail(path, "must be an integer within 64 bits", value)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(path, "must be a finite number", value)
        return value
    if isinstance(value, (Mapping, list, tuple)):
        if id(value) in ancestors:
            raise ValueError(f"{path} contains itself")
        if len(ancestors) >= MAX_SETTINGS_DEPTH:
            raise ValueError(f"{path} is nested deeper than {MAX_SETTINGS_DEPTH} levels")
        inner = (*ancestors, id(value))
        if isinstance(value, Mapping):
            return {
                key: _json_value(item, f"{path}.{key}", inner) for key, item in _mapping(value, path).items()
            }
        return [_json_value(item, f"{path}[{index}]", inner) for index, item in enumerate(value)]
    raise _fail(path, "must be JSON (object, list, string, number, boolean or null)", value)


def _closed(settings: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    """Reject any key of an object whose fields are all known (no pass-through there)."""
    for key in settings:
        if key not in allowed:
            raise ValueError(f"{path}.{key} is not a known field; allowed: {', '.join(allowed)}")


def _unknown_keys(settings: Mapping[str, Any], known: frozenset[str], path: str) -> dict[str, Any]:
    """Return the keys this module does not know, rejecting near misses of known ones as typos."""
    extra: dict[str, Any] = {}
    for key, value in settings.items():
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
        if close:
            raise ValueError(f"{path}.{key} is not a known field; did you mean {path}.{close[0]}?")
        extra[key] = _json_value(value, f"{path}.{key}")
    return extra


# --------------------------------------------------------------------------------------------------
# Parsing: either shape -> canonical settings (a plain dict in the current API's vocabulary).
# Canonical keys, each present only when the user set it:
#   format (beta vocabulary str), transcription (dict), turn_detection (dict|None),
#   noise_reduction (dict|None), include (list), modalities (list), lifetime (int), extra (dict of
#   unknown top-level keys), input_extra (unknown keys of audio.input).
# --------------------------------------------------------------------------------------------------


def _parse_format(value: Any, path: str) -> str:
    """Accept the beta string (``pcm16``) or the current object (``{"type": "audio/pcm", ...}``)."""
    if isinstance(value, str):
        return _string(value, path, allowed=tuple(FORMAT_TO_CURRENT))
    fmt = _mapping(value, path)
    kind = _string(fmt.get("type"), f"{path}.type", allowed=tuple(CURRENT_TYPE_TO_FORMAT))
    _closed(fmt, ("type", "rate"), path)
    if "rate" in fmt:
        if kind != "audio/pcm":
            raise ValueError(f"{path}.rate applies only to audio/pcm")
        _integer(fmt["rate"], f"{path}.rate", low=PCM_RATE, high=PCM_RATE)
    return CURRENT_TYPE_TO_FORMAT[kind]


def _parse_transcription(value: Any, path: str) -> dict[str, Any]:
    settings = _mapping(value, path)
    checks: dict[str, Any] = {
        "model": _string,
        "language": _string,
        "prompt": lambda value, where: value if isinstance(value, str) else _string(value, where),
        "languages": _string_list,
        "keywords": _string_list,
        "delay": lambda value, where: _string(value, where, allowed=TRANSCRIPTION_DELAYS),
    }
    parsed: dict[str, Any] = {}
    for key, check in checks.items():
        if key in settings:
            # An explicit null is sent as null: the server decides what it means.
            value = settings[key]
            parsed[key] = None if value is None else check(value, f"{path}.{key}")
    parsed.update(_unknown_keys(settings, TRANSCRIPTION_KEYS, path))
    return parsed


def _parse_turn_detection(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    settings = _mapping(value, path)
    kind = settings.get("type", "server_vad")
    kind = _string(kind, f"{path}.type", allowed=VAD_TYPES)
    own_keys = SERVER_VAD_KEYS if kind == "server_vad" else SEMANTIC_VAD_KEYS
    for key in settings:
        if key in ALL_VAD_KEYS and key not in own_keys:
            raise ValueError(f"{path}.{key} does not apply to turn detection of type {kind}")
    parsed: dict[str, Any] = {"type": settings["type"]} if "type" in settings else {}
    if "threshold" in settings:
        parsed["threshold"] = _number(settings["threshold"], f"{path}.threshold", low=0.0, high=1.0)
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        if key in settings:
            parsed[key] = _integer(settings[key], f"{path}.{key}", low=0)
    if "idle_timeout_ms" in settings:
        idle, (low, high) = settings["idle_timeout_ms"], IDLE_TIMEOUT_RANGE
        parsed["idle_timeout_ms"] = (
            None if idle is None else _integer(idle, f"{path}.idle_timeout_ms", low=low, high=high)
        )
    if "eagerness" in settings:
        parsed["eagerness"] = _string(settings["eagerness"], f"{path}.eagerness", allowed=EAGERNESS)
    parsed.update(_unknown_keys(settings, ALL_VAD_KEYS, path))
    return parsed


def _parse_noise_reduction(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    settings = _mapping(value, path)
    parsed = {"type": _string(settings.get("type"), f"{path}.type", allowed=NOISE_REDUCTION_TYPES)}
    parsed.update(_unknown_keys(settings, frozenset({"type"}), path))
    return parsed


def templated_integer(value: Any, path: str, *, low: int, high: int) -> int:
    """Check a whole number in ``low..high``; numeric strings (what Jinja templates render) are accepted."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,6}", value.strip()):  # ASCII digits, not "6²"
        value = int(value.strip())
    return _integer(value, path, low=low, high=high)


def validate_lifetime(value: Any, path: str) -> int:
    """Check a token lifetime in seconds (10..7200); numeric strings from Jinja templates are accepted."""
    return templated_integer(value, path, low=MIN_LIFETIME_SECONDS, high=MAX_LIFETIME_SECONDS)


def _parse_expiry_object(value: Any, path: str) -> int:
    """Parse ``{"anchor": "created_at", "seconds": N}``; a bare number is rejected like the API does."""
    settings = _mapping(value, path)
    _string(settings.get("anchor", "created_at"), f"{path}.anchor", allowed=("created_at",))
    _closed(settings, ("anchor", "seconds"), path)
    if "seconds" not in settings:
        raise ValueError(f"{path}.seconds is required")
    return _integer(
        settings["seconds"], f"{path}.seconds", low=MIN_LIFETIME_SECONDS, high=MAX_LIFETIME_SECONDS
    )


def _parse_beta(session: Mapping[str, Any], path: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    if "input_audio_format" in session:
        parsed["format"] = _parse_format(session["input_audio_format"], f"{path}.input_audio_format")
    if "input_audio_transcription" in session and session["input_audio_transcription"] is not None:
        parsed["transcription"] = _parse_transcription(
            session["input_audio_transcription"], f"{path}.input_audio_transcription"
        )
    if "turn_detection" in session:
        parsed["turn_detection"] = _parse_turn_detection(session["turn_detection"], f"{path}.turn_detection")
    if "input_audio_noise_reduction" in session:
        parsed["noise_reduction"] = _parse_noise_reduction(
            session["input_audio_noise_reduction"], f"{path}.input_audio_noise_reduction"
        )
    if "include" in session:
        parsed["include"] = _string_list(session["include"], f"{path}.include")
    if "modalities" in session:
        modalities = _string_list(session["modalities"], f"{path}.modalities", allowed=MODALITIES)
        if not modalities:
            raise ValueError(f"{path}.modalities must not be empty; use ['text'] to disable audio")
        parsed["modalities"] = modalities
    if "client_secret" in session and session["client_secret"] is not None:
        secret = _mapping(session["client_secret"], f"{path}.client_secret")
        _closed(secret, ("expires_at",), f"{path}.client_secret")
        if "expires_at" in secret:
            parsed["lifetime"] = _parse_expiry_object(
                secret["expires_at"], f"{path}.client_secret.expires_at"
            )
    extra = _unknown_keys(session, BETA_KEYS | CURRENT_KEYS, path)
    if extra:
        parsed["extra"] = extra
    return parsed


def _parse_current(session: Mapping[str, Any], path: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    kind = session.get("type", "transcription")
    if kind != "transcription":
        raise _fail(
            f"{path}.type",
            "must be 'transcription' (this provider creates transcription sessions)",
            kind,
        )
    if "include" in session:
        parsed["include"] = _string_list(session["include"], f"{path}.include")
    if "audio" in session:
        audio = _mapping(session["audio"], f"{path}.audio")
        _closed(audio, ("input",), f"{path}.audio")  # a transcription session has no audio.output
        if "input" in audio:
            input_path = f"{path}.audio.input"
            audio_input = _mapping(audio["input"], input_path)
            if "format" in audio_input:
                parsed["format"] = _parse_format(audio_input["format"], f"{input_path}.format")
            if "transcription" in audio_input and audio_input["transcription"] is not None:
                parsed["transcription"] = _parse_transcription(
                    audio_input["transcription"], f"{input_path}.transcription"
                )
            if "turn_detection" in audio_input:
                parsed["turn_detection"] = _parse_turn_detection(
                    audio_input["turn_detection"], f"{input_path}.turn_detection"
                )
            if "noise_reduction" in audio_input:
                parsed["noise_reduction"] = _parse_noise_reduction(
                    audio_input["noise_reduction"], f"{input_path}.noise_reduction"
                )
            input_extra = _unknown_keys(
                audio_input,
                frozenset({"format", "transcription", "turn_detection", "noise_reduction"}),
                input_path,
            )
            if input_extra:
                parsed["input_extra"] = input_extra
    extra = _unknown_keys(session, CURRENT_KEYS | BETA_KEYS, path)
    if extra:
        parsed["extra"] = extra
    return parsed


def parse_session(session: Any, path: str = "session") -> dict[str, Any]:
    """Validate session settings in either shape and return them in canonical form.

    :param session: the settings as the user gave them; ``None`` means the server's defaults.
    :param path: how to name the settings in error messages.
    :raises ValueError: naming the field path and what is allowed.
    """
    if session is None:
        return {}
    settings = _mapping(session, path)
    if "model" in settings:
        raise ValueError(
            f"{path}.model is not allowed: a transcription session has no top-level model; set it at "
            f"{path}.input_audio_transcription.model (beta shape) or "
            f"{path}.audio.input.transcription.model (current shape)"
        )
    beta = sorted(BETA_KEYS.intersection(settings) - {"include"})
    current = sorted(CURRENT_KEYS.intersection(settings) - {"include"})
    if beta and current:
        raise ValueError(
            f"{path} mixes the beta shape ({', '.join(beta)}) with the current shape "
            f"({', '.join(current)}); use one"
        )
    parsed = _parse_current(settings, path) if current else _parse_beta(settings, path)
    model = parsed.get("transcription", {}).get("model")
    if model in MODELS_WITHOUT_TURN_DETECTION and parsed.get("turn_detection") is not None:
        raise ValueError(f"{path} turn detection must be null (None) for the model {model}")
    return parsed


# --------------------------------------------------------------------------------------------------
# Rendering: canonical settings -> request body for an endpoint.
# --------------------------------------------------------------------------------------------------


def check_endpoint(endpoint: Any) -> str:
    """Return ``endpoint`` if it is one this provider speaks, else raise ValueError."""
    return _string(endpoint, "endpoint", allowed=ENDPOINTS)


def check_flag(value: Any, name: str) -> bool:
    """Return ``value`` if it is a real bool: the text ``"false"`` is truthy and must not pass for False."""
    if not isinstance(value, bool):
        raise _fail(name, "must be True or False", value)
    return value


def check_result_format(result_format: Any) -> str:
    """Return ``result_format`` if it is ``structured`` or ``raw``, else raise ValueError."""
    return _string(result_format, "result_format", allowed=RESULT_FORMATS)


def build_request_body(
    endpoint: str, session: Any = None, expires_after_seconds: Any = None, path: str = "session"
) -> dict[str, Any]:
    """Build the JSON body for ``endpoint`` from session settings in either shape.

    :param endpoint: ``client_secrets`` (current) or ``transcription_sessions`` (beta).
    :param session: settings in either shape, or ``None`` for the server's defaults.
    :param expires_after_seconds: token lifetime, 10..7200; ``None`` leaves it to the settings or server.
    :param path: how to name the settings in error messages (``sessions[3]`` in a batch).
    :raises ValueError: naming the field path, before anything goes over the wire.
    """
    check_endpoint(endpoint)
    parsed = parse_session(session, path)
    lifetime = parsed.get("lifetime")
    if expires_after_seconds is not None:
        explicit = validate_lifetime(expires_after_seconds, "expires_after_seconds")
        if lifetime is not None and lifetime != explicit:
            raise ValueError(
                f"expires_after_seconds ({explicit}) contradicts {path}.client_secret.expires_at.seconds "
                f"({lifetime}); set one"
            )
        lifetime = explicit
    if endpoint == CLIENT_SECRETS:
        return _render_current(parsed, lifetime)
    # semantic_vad included: the spec published while the beta endpoint was live (2025-04-29) lists it.
    return _render_beta(parsed, lifetime)


def _render_current(parsed: Mapping[str, Any], lifetime: int | None) -> dict[str, Any]:
    audio_input: dict[str, Any] = {}
    if "format" in parsed:
        audio_input["format"] = dict(FORMAT_TO_CURRENT[parsed["format"]])
    if "transcription" in parsed:
        audio_input["transcription"] = parsed["transcription"]
    if "noise_reduction" in parsed:
        audio_input["noise_reduction"] = parsed["noise_reduction"]
    if "turn_detection" in parsed:
        audio_input["turn_detection"] = parsed["turn_detection"]
    audio_input.update(parsed.get("input_extra", {}))
    session: dict[str, Any] = {"type": "transcription"}
    if audio_input:
        session["audio"] = {"input": audio_input}
    if "include" in parsed:
        session["include"] = parsed["include"]
    # The current API has no modalities for transcription sessions (they only produce text).
    session.update(parsed.get("extra", {}))
    body: dict[str, Any] = {"session": session}
    if lifetime is not None:
        body["expires_after"] = {"anchor": "created_at", "seconds": lifetime}
    return body


def _render_beta(parsed: Mapping[str, Any], lifetime: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if "format" in parsed:
        body["input_audio_format"] = parsed["format"]
    if "transcription" in parsed:
        body["input_audio_transcription"] = parsed["transcription"]
    if "turn_detection" in parsed:
        body["turn_detection"] = parsed["turn_detection"]
    if "noise_reduction" in parsed:
        body["input_audio_noise_reduction"] = parsed["noise_reduction"]
    if "include" in parsed:
        body["include"] = parsed["include"]
    if "modalities" in parsed:
        body["modalities"] = parsed["modalities"]
    body.update(parsed.get("input_extra", {}))
    body.update(parsed.get("extra", {}))
    if lifetime is not None:
        body["client_secret"] = {"expires_at": {"anchor": "created_at", "seconds": lifetime}}
    return body


# --------------------------------------------------------------------------------------------------
# Responses.
# --------------------------------------------------------------------------------------------------


def extract_client_secret(endpoint: str, body: Any) -> tuple[str | None, Any]:
    """Return ``(token, expires_at)`` from a 2xx body of ``endpoint``; ``(None, None)`` when absent."""
    if not isinstance(body, dict):
        return None, None
    holder = body.get("client_secret") if endpoint == TRANSCRIPTION_SESSIONS else body
    if not isinstance(holder, dict):
        return None, None
    token = holder.get("value")
    return (token if isinstance(token, str) and token else None), holder.get("expires_at")


def missing_client_secret(endpoint: str, body: Any) -> str:
    """Name the answer field that should hold the client secret and does not: where to look first."""
    if endpoint != TRANSCRIPTION_SESSIONS:
        return "value"
    holder = body.get("client_secret") if isinstance(body, dict) else None
    return "client_secret.value" if isinstance(holder, dict) else "client_secret"


def _iso_utc(timestamp: Any) -> str | None:
    """Unix seconds -> ISO-8601 UTC (``2026-11-24T10:00:00+00:00``); None for anything else."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat()


def _format_to_beta(value: Any) -> str | None:
    """Map a response's audio format (current object, or the string some examples show) to beta vocabulary."""
    if isinstance(value, str):
        return value if value in FORMAT_TO_CURRENT else CURRENT_TYPE_TO_FORMAT.get(value, value)
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str):
            return CURRENT_TYPE_TO_FORMAT.get(kind, kind)
    return None


def _object(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one (responses are parsed leniently)."""
    return value if isinstance(value, dict) else {}


def shape_result(endpoint: str, body: Any, *, include_client_secret: bool = True) -> dict[str, Any]:
    """Turn a 2xx body from either endpoint into the structured result (same keys for both).

    A field the server did not send is ``None``; nothing is invented. The caller has already checked
    that the body holds a client secret.
    """
    token, secret_expires_at = extract_client_secret(endpoint, body)
    body = _object(body)
    if endpoint == CLIENT_SECRETS:
        session = _object(body.get("session"))
        audio_input = _object(_object(session.get("audio")).get("input"))
        fields = {
            "modalities": session.get("modalities"),
            "input_audio_format": _format_to_beta(audio_input.get("format")),
            "input_audio_transcription": audio_input.get("transcription"),
            "turn_detection": audio_input.get("turn_detection"),
            "input_audio_noise_reduction": audio_input.get("noise_reduction"),
            "include": session.get("include"),
            "session_id": session.get("id"),
            "session_expires_at": _iso_utc(session.get("expires_at")),
            "session_type": session.get("type"),
        }
    else:
        fields = {
            "modalities": body.get("modalities"),
            "input_audio_format": _format_to_beta(body.get("input_audio_format")),
            "input_audio_transcription": body.get("input_audio_transcription"),
            "turn_detection": body.get("turn_detection"),
            "input_audio_noise_reduction": body.get("input_audio_noise_reduction"),
            "include": body.get("include"),
            "session_id": body.get("id"),
            "session_expires_at": _iso_utc(body.get("expires_at")),
            "session_type": body.get("type"),
        }
    return {
        "client_secret": token if include_client_secret else None,
        "client_secret_expires_at": _iso_utc(secret_expires_at),
        **fields,
        "endpoint": endpoint,
    }


def redact_client_secret(endpoint: str, body: Any) -> Any:
    """Return a copy of a raw body with the token's value replaced by ``None`` (for XCom opt-out)."""
    if not isinstance(body, dict):
        return body
    copy = dict(body)
    if endpoint != TRANSCRIPTION_SESSIONS:
        if "value" in copy:
            copy["value"] = None
    elif isinstance(copy.get("client_secret"), dict):
        copy["client_secret"] = {**copy["client_secret"], "value": None}
    return copy


def parse_error(body: Any) -> dict[str, str | None]:
    """Read OpenAI's ``{"error": {message, type, param, code}}``; missing parts are None."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {"message": None, "type": None, "param": None, "code": None}
    return {
        key: (str(error[key]) if error.get(key) is not None else None)
        for key in ("message", "type", "param", "code")
    }
