"""The three kinds of Realtime client secret, each described once, declaratively (pure; no I/O, no Airflow).

A kind is its endpoint, its ``session.type``, a description of its session settings (:class:`Fields` of
:class:`Value` checkers) and a description of its structured result (answer paths). Adding a kind or a
field is adding a line to a description; :func:`prepare` and :func:`shape_result` do the rest.

The validation rule is the transcription contract's (:mod:`airflow_provider_realtime.contract`): known
fields are checked (type, allowed values, range), a near miss of a known key (``"instructons"``) is a typo
rejected with a suggestion, any other unknown key is passed through for fields OpenAI adds later, and
every mistake is a ``ValueError`` naming the field path, before anything is sent. The checkers of the
settings kinds share (audio format, transcription, turn detection, noise reduction) are the
transcription contract's own. Transcription is the one kind with two shapes (beta and current) and two
endpoints; its hand-written translator stays in :mod:`~airflow_provider_realtime.contract`.

Tables of our own rather than pydantic: pydantic is not installed with Airflow 2.10 and 2.11, and the
rule above (typo detection, pass-through, one error naming one path) is not pydantic's.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from airflow_provider_realtime import contract
from airflow_provider_realtime.contract import (
    _fail,
    _format_to_beta,
    _integer,
    _iso_utc,
    _json_value,
    _mapping,
    _number,
    _object,
    _parse_format,
    _parse_noise_reduction,
    _parse_transcription,
    _parse_turn_detection,
    _string,
    _string_list,
)

TRANSCRIPTION: Final = "transcription"
REALTIME: Final = "realtime"
TRANSLATION: Final = "translation"
TRANSLATION_CLIENT_SECRETS: Final = "translations/client_secrets"


# --------------------------------------------------------------------------------------------------
# The description language.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A known setting that is not an object of known fields: its checker returns what goes on the wire."""

    check: Callable[[Any, str], Any]
    nullable: bool = False


@dataclass(frozen=True)
class Fields:
    """A known object. Unknown keys pass through (near misses rejected as typos) unless ``closed``.

    :param refused: keys refused with a reason, e.g. a beta name and where the setting lives now.
    """

    fields: Mapping[str, Value | Fields]
    required: tuple[str, ...] = ()
    closed: bool = False
    nullable: bool = False
    refused: Mapping[str, str] = field(default_factory=dict)


def validate(spec: Value | Fields, value: Any, path: str) -> Any:
    """Check ``value`` against ``spec`` and return what goes on the wire; ValueError naming the path."""
    if value is None:
        if spec.nullable:
            return None
        raise _fail(path, "must not be null")
    if isinstance(spec, Value):
        return spec.check(value, path)
    settings = _mapping(value, path)
    for key in spec.required:
        if key not in settings:
            raise ValueError(f"{path}.{key} is required")
    checked: dict[str, Any] = {}
    for key, item in settings.items():
        where = f"{path}.{key}"
        if key in spec.fields:
            checked[key] = validate(spec.fields[key], item, where)
        elif key in spec.refused:
            raise ValueError(f"{where} {spec.refused[key].format(path=path)}")
        elif spec.closed:
            raise ValueError(f"{where} is not a known field; allowed: {', '.join(spec.fields)}")
        else:
            close = difflib.get_close_matches(key, sorted(spec.fields), n=1, cutoff=0.8)
            if close:
                raise ValueError(f"{where} is not a known field; did you mean {path}.{close[0]}?")
            checked[key] = _json_value(item, where)
    return checked


# --------------------------------------------------------------------------------------------------
# Checkers of single settings.
# --------------------------------------------------------------------------------------------------


def _one_of(*allowed: str) -> Value:
    return Value(lambda value, path: _string(value, path, allowed=allowed))


def _text(value: Any, path: str) -> str:
    """Any string, empty included (instructions may be blank)."""
    if not isinstance(value, str):
        raise _fail(path, "must be a string", value)
    return value


def _audio_format(value: Any, path: str) -> dict[str, Any]:
    """The beta name (``pcm16``) or the current object, sent as the current object."""
    return dict(contract.FORMAT_TO_CURRENT[_parse_format(value, path)])


def _output_modalities(value: Any, path: str) -> list[str]:
    modalities = _string_list(value, path, allowed=contract.MODALITIES)
    if len(modalities) != 1:
        raise ValueError(f"{path} must be ['audio'] or ['text'] (one of them), got {len(modalities)} items")
    return modalities


def _voice(value: Any, path: str) -> Any:
    """A built-in voice name, or a custom voice ``{"id": "voice_…"}``."""
    if isinstance(value, str):
        return _string(value, path)
    voice = _mapping(value, path)
    if set(voice) != {"id"}:
        raise _fail(path, "must be a voice name or {'id': 'voice_…'}")
    return {"id": _string(voice["id"], f"{path}.id")}


def _tool(value: Any, path: str) -> dict[str, Any]:
    tool = _mapping(value, path)
    kind = _string(tool.get("type"), f"{path}.type", allowed=("function", "mcp"))
    if kind == "function":
        _string(tool.get("name"), f"{path}.name")
        if "parameters" in tool:
            _mapping(tool["parameters"], f"{path}.parameters")
    else:
        _string(tool.get("server_label"), f"{path}.server_label")
    checked: dict[str, Any] = _json_value(tool, path)
    return checked


def _tools(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, (list, tuple)):
        raise _fail(path, "must be a list of tools", value)
    return [_tool(item, f"{path}[{index}]") for index, item in enumerate(value)]


def _tool_choice(value: Any, path: str) -> Any:
    """``none``, ``auto``, ``required``, or ``{"type": "function", "name": …}`` / an MCP choice."""
    if isinstance(value, str):
        return _string(value, path, allowed=("none", "auto", "required"))
    choice = _mapping(value, path)
    kind = _string(choice.get("type"), f"{path}.type", allowed=("function", "mcp"))
    key = "name" if kind == "function" else "server_label"
    _string(choice.get(key), f"{path}.{key}")
    return _json_value(choice, path)


def _max_output_tokens(value: Any, path: str) -> int | str:
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        raise _fail(path, "must be an integer between 1 and 4096, or 'inf'", value)
    return _integer(value, path, low=1, high=4096)


def _speed(value: Any, path: str) -> float:
    return _number(value, path, low=0.25, high=1.5)


def _json(value: Any, path: str) -> Any:
    return _json_value(value, path)


# --------------------------------------------------------------------------------------------------
# The kinds.
# --------------------------------------------------------------------------------------------------

_AUDIO_INPUT: Final = Fields(
    {
        "format": Value(_audio_format),
        "transcription": Value(_parse_transcription, nullable=True),
        "noise_reduction": Value(_parse_noise_reduction, nullable=True),
        "turn_detection": Value(_parse_turn_detection, nullable=True),
    }
)
_MOVED_TO: Final = "is the beta shape; set {path}.%s"
REALTIME_SETTINGS: Final = Fields(
    {
        "type": _one_of(REALTIME),
        "model": Value(_string),
        "instructions": Value(_text),
        "output_modalities": Value(_output_modalities),
        "audio": Fields(
            {
                "input": _AUDIO_INPUT,
                "output": Fields(
                    {"format": Value(_audio_format), "voice": Value(_voice), "speed": Value(_speed)}
                ),
            },
            closed=True,
        ),
        "include": Value(_string_list),
        "tools": Value(_tools),
        "tool_choice": Value(_tool_choice),
        "parallel_tool_calls": Value(lambda value, path: contract.check_flag(value, path)),
        "max_output_tokens": Value(_max_output_tokens),
        "tracing": Value(_json, nullable=True),
        "truncation": Value(_json),
        "prompt": Value(_json, nullable=True),
        "reasoning": Value(_json),
    },
    refused={
        "modalities": _MOVED_TO % "output_modalities",
        "voice": _MOVED_TO % "audio.output.voice",
        "speed": _MOVED_TO % "audio.output.speed",
        "input_audio_format": _MOVED_TO % "audio.input.format",
        "output_audio_format": _MOVED_TO % "audio.output.format",
        "input_audio_transcription": _MOVED_TO % "audio.input.transcription",
        "input_audio_noise_reduction": _MOVED_TO % "audio.input.noise_reduction",
        "turn_detection": _MOVED_TO % "audio.input.turn_detection",
        "max_response_output_tokens": _MOVED_TO % "max_output_tokens",
        "client_secret": "is the beta shape; use expires_after_seconds",
    },
)
TRANSLATION_SETTINGS: Final = Fields(
    {
        "model": Value(_string),
        "audio": Fields(
            {
                "input": Fields(
                    {
                        "transcription": Fields(
                            {"model": Value(_string)}, required=("model",), nullable=True
                        ),
                        "noise_reduction": Value(_parse_noise_reduction, nullable=True),
                    }
                ),
                "output": Fields({"language": Value(_string)}),
            },
            closed=True,
        ),
    },
    required=("model",),
    refused={"type": "is not a translation setting: the translation endpoint sets it; leave it out"},
)


@dataclass(frozen=True)
class Answer:
    """Where a structured result's field is in a session of the answer, and how it is converted."""

    path: tuple[str, ...]
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class SessionKind:
    """One kind of client secret: where it is minted, what its settings are, what its result holds."""

    name: str
    endpoint: str
    session_type: str | None
    settings: Fields
    result: Mapping[str, Answer]


REALTIME_KIND: Final = SessionKind(
    name=REALTIME,
    endpoint=contract.CLIENT_SECRETS,
    session_type=REALTIME,
    settings=REALTIME_SETTINGS,
    result={
        "model": Answer(("model",)),
        "instructions": Answer(("instructions",)),
        "output_modalities": Answer(("output_modalities",)),
        "voice": Answer(("audio", "output", "voice")),
        "input_audio_format": Answer(("audio", "input", "format"), _format_to_beta),
        "output_audio_format": Answer(("audio", "output", "format"), _format_to_beta),
        "input_audio_transcription": Answer(("audio", "input", "transcription")),
        "input_audio_noise_reduction": Answer(("audio", "input", "noise_reduction")),
        "turn_detection": Answer(("audio", "input", "turn_detection")),
        "tools": Answer(("tools",)),
        "tool_choice": Answer(("tool_choice",)),
        "max_output_tokens": Answer(("max_output_tokens",)),
    },
)
TRANSLATION_KIND: Final = SessionKind(
    name=TRANSLATION,
    endpoint=TRANSLATION_CLIENT_SECRETS,
    session_type=None,
    settings=TRANSLATION_SETTINGS,
    result={
        "model": Answer(("model",)),
        "output_language": Answer(("audio", "output", "language")),
        "input_audio_transcription": Answer(("audio", "input", "transcription")),
        "input_audio_noise_reduction": Answer(("audio", "input", "noise_reduction")),
    },
)
KINDS: Final[dict[str, SessionKind]] = {kind.name: kind for kind in (REALTIME_KIND, TRANSLATION_KIND)}


# --------------------------------------------------------------------------------------------------
# Requests and results.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedRequest:
    """A checked request, ready to send: its kind, endpoint, lifetime (as a number) and JSON body."""

    kind: str
    endpoint: str
    expires_after_seconds: int | None
    body: dict[str, Any] = field(repr=False)


def resolve_endpoint(kind: str, endpoint: Any = None) -> str:
    """The endpoint a request of ``kind`` goes to: ``endpoint`` checked, or the kind's (current) one."""
    if kind == TRANSCRIPTION:
        return contract.check_endpoint(contract.CLIENT_SECRETS if endpoint is None else endpoint)
    described = KINDS.get(kind)
    if described is None:
        raise _fail("kind", f"must be one of {TRANSCRIPTION}, {', '.join(KINDS)}", kind)
    if endpoint is not None and endpoint != described.endpoint:
        raise _fail("endpoint", f"must be {described.endpoint} for {kind} sessions (or left out)", endpoint)
    return described.endpoint


def check_lifetime(expires_after_seconds: Any) -> int | None:
    """``expires_after_seconds`` checked (10..7200), or None for the server's default."""
    if expires_after_seconds is None:
        return None
    return contract.validate_lifetime(expires_after_seconds, "expires_after_seconds")


def prepare(
    kind: str,
    session: Any = None,
    expires_after_seconds: Any = None,
    endpoint: Any = None,
    path: str = "session",
) -> PreparedRequest:
    """Check settings of ``kind`` and build the request; ValueError naming the field path.

    :param kind: ``transcription``, ``realtime`` or ``translation``.
    :param session: the session settings; ``None`` for the server's defaults (translation needs a model).
    :param expires_after_seconds: token lifetime, 10..7200 seconds; ``None`` for the server's default.
    :param endpoint: transcription only: ``client_secrets`` (default) or ``transcription_sessions``.
    :param path: how to name the settings in error messages (``sessions[3]`` in a batch).
    """
    seconds = check_lifetime(expires_after_seconds)
    endpoint = resolve_endpoint(kind, endpoint)
    if kind == TRANSCRIPTION:
        return PreparedRequest(
            kind, endpoint, seconds, contract.build_request_body(endpoint, session, seconds, path)
        )
    described = KINDS[kind]
    settings = validate(described.settings, {} if session is None else session, path)
    if described.session_type is not None:
        settings = {"type": described.session_type, **settings}
    body: dict[str, Any] = {"session": settings}
    if seconds is not None:
        body["expires_after"] = {"anchor": "created_at", "seconds": seconds}
    return PreparedRequest(kind, endpoint, seconds, body)


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = _object(value).get(key)
    return value


def shape_result(
    kind: str, endpoint: str, body: Any, *, include_client_secret: bool = True
) -> dict[str, Any]:
    """Turn a 2xx answer into the structured result: the keys every kind shares, then the kind's own.

    A field the server did not send is ``None``; nothing is invented.
    """
    if kind == TRANSCRIPTION:
        return contract.shape_result(endpoint, body, include_client_secret=include_client_secret)
    token, secret_expires_at = contract.extract_client_secret(endpoint, body)
    session = _object(_object(body).get("session"))
    own = {}
    for key, answer in KINDS[kind].result.items():
        value = _at(session, answer.path)
        own[key] = answer.convert(value) if answer.convert is not None and value is not None else value
    return {
        "client_secret": token if include_client_secret else None,
        "client_secret_expires_at": _iso_utc(secret_expires_at),
        "session_id": session.get("id"),
        "session_expires_at": _iso_utc(session.get("expires_at")),
        "session_type": session.get("type"),
        **own,
        "endpoint": endpoint,
    }
