"""The three kinds of Realtime client secret, each described once, declaratively (pure; no I/O, no Airflow).

A kind is its endpoint, its ``session.type``, a description of its session settings (in the language of
:mod:`airflow_provider_realtime.contract`, which also states the validation rule) and where each field of
its structured result is in an answer. Adding a field or a kind is adding a line; :func:`prepare` and
:func:`response.shape_result` do the rest.

Transcription is the one kind with two endpoints and two shapes of settings: the beta shape
(``input_audio_format``, ``turn_detection``, …) and the current one (``audio.input.format``, …). Each
endpoint has its own description, after the spec(s) published for it; :data:`TRANSCRIPTION_TABLE` says
where each setting lives in either shape, and from it come the view of each description in the other
shape (so an error names the path the user wrote) and the move of checked settings to the endpoint's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from airflow_provider_realtime.contract import (
    CLIENT_SECRETS,
    CURRENT_TYPE_TO_FORMAT,
    ENDPOINTS,
    FORMAT_TO_CURRENT,
    MAX_LIFETIME_SECONDS,
    MIN_LIFETIME_SECONDS,
    PCM_RATE,
    TRANSCRIPTION_SESSIONS,
    TRANSLATION_CLIENT_SECRETS,
    Choice,
    Fields,
    Flag,
    Integer,
    Items,
    Json,
    Mapped,
    Node,
    Nullable,
    Number,
    SettingsError,
    Tagged,
    Text,
    as_object,
    check_endpoint,
    fail,
    format_to_beta,
    json_value,
    mapping,
    problems_of,
    validate,
    validate_lifetime,
)

TRANSCRIPTION: Final = "transcription"
REALTIME: Final = "realtime"
TRANSLATION: Final = "translation"

# --------------------------------------------------------------------------------------------------
# Settings several kinds share, after OpenAI's published spec (2026-08 unless said otherwise).
# --------------------------------------------------------------------------------------------------

AUDIO_FORMAT: Final = Tagged(
    {
        "audio/pcm": Fields({"type": Text(("audio/pcm",)), "rate": Integer(PCM_RATE, PCM_RATE)}),
        "audio/pcmu": Fields({"type": Text(("audio/pcmu",))}),
        "audio/pcma": Fields({"type": Text(("audio/pcma",))}),
    },
    default="audio/pcm",  # the spec requires no type; the server's default format
    what="the audio format",
)
BETA_FORMAT_NAME: Final = Text(tuple(FORMAT_TO_CURRENT))
# Where the current shape is sent: the object; the beta name (pcm16) is accepted too, as a convenience.
CURRENT_FORMAT: Final = Choice(
    (Mapped(BETA_FORMAT_NAME, lambda name: dict(FORMAT_TO_CURRENT[name]), beyond_spec=True), AUDIO_FORMAT)
)
# Where the beta shape is sent: the name; the current object is accepted too, as a convenience.
BETA_FORMAT: Final = Choice(
    (
        BETA_FORMAT_NAME,
        # An object without type is the default format (audio/pcm), as the server reads it.
        Mapped(
            AUDIO_FORMAT,
            lambda fmt: CURRENT_TYPE_TO_FORMAT[fmt.get("type", AUDIO_FORMAT.default)],
            beyond_spec=True,
        ),
    )
)
# AudioTranscription. An explicit null is sent as null: the server decides what it means.
INPUT_TRANSCRIPTION: Final = Fields(
    {
        "model": Nullable(Text()),  # never checked: OpenAI's list keeps growing
        "language": Nullable(Text()),
        "prompt": Nullable(Text()),
        "languages": Nullable(Items(Text())),
        "keywords": Nullable(Items(Text())),
        "delay": Nullable(Text(("minimal", "low", "medium", "high", "xhigh"))),
    }
)
NOISE_REDUCTION_TYPES: Final = ("near_field", "far_field")
NOISE_REDUCTION: Final = Nullable(Fields({"type": Text(NOISE_REDUCTION_TYPES)}))
VAD_SHARED: Final[dict[str, Node]] = {"create_response": Flag(), "interrupt_response": Flag()}
EAGERNESS: Final = Text(("low", "medium", "high", "auto"))
TURN_DETECTION: Final = Nullable(
    Tagged(
        {
            "server_vad": Fields(
                {
                    "type": Text(("server_vad",)),
                    "threshold": Number(),
                    "prefix_padding_ms": Integer(),
                    "silence_duration_ms": Integer(),
                    "idle_timeout_ms": Nullable(Integer(5000, 30000)),
                    **VAD_SHARED,
                }
            ),
            "semantic_vad": Fields({"type": Text(("semantic_vad",)), "eagerness": EAGERNESS, **VAD_SHARED}),
        },
        default="server_vad",  # the server's default when type is left out
        what="turn detection",
    )
)
LOGPROBS: Final = "item.input_audio_transcription.logprobs"
MODALITIES: Final = ("text", "audio")
LIFETIME: Final = Fields(
    {"anchor": Text(("created_at",)), "seconds": Integer(MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS)},
    required=("seconds",),
    closed=True,
)

# --------------------------------------------------------------------------------------------------
# Transcription: one description per endpoint, and the table of where each setting lives in either shape.
# --------------------------------------------------------------------------------------------------

_TOP_LEVEL_MODEL: Final = (
    "is not allowed: a transcription session has no top-level model; set it at "
    "{path}.input_audio_transcription.model (beta shape) or {path}.audio.input.transcription.model "
    "(current shape)"
)
# POST /realtime/client_secrets, session type transcription (RealtimeTranscriptionSessionCreateRequestGA).
TRANSCRIPTION_CURRENT: Final = Fields(
    {
        "type": Text((TRANSCRIPTION,)),
        "audio": Fields(
            {
                "input": Fields(
                    {
                        "format": CURRENT_FORMAT,
                        "transcription": Nullable(INPUT_TRANSCRIPTION),
                        "noise_reduction": NOISE_REDUCTION,
                        "turn_detection": TURN_DETECTION,
                    }
                )
            }
        ),
        "include": Items(Text((LOGPROBS,))),
    },
    refused={"model": _TOP_LEVEL_MODEL},
)
# POST /realtime/transcription_sessions: what any spec published for it accepts (2025-04-29: both VAD types
# in one object, include any string; 2026-08: server_vad only), plus the lifetime (client_secret.expires_at).
TRANSCRIPTION_BETA: Final = Fields(
    {
        "input_audio_format": BETA_FORMAT,
        "input_audio_transcription": Nullable(INPUT_TRANSCRIPTION),
        "turn_detection": Nullable(
            Fields(
                {
                    "type": Text(("server_vad", "semantic_vad")),
                    "eagerness": EAGERNESS,
                    "threshold": Number(),
                    "prefix_padding_ms": Integer(),
                    "silence_duration_ms": Integer(),
                    **VAD_SHARED,
                }
            )
        ),
        "input_audio_noise_reduction": NOISE_REDUCTION,
        "include": Items(Text(known=(LOGPROBS,))),
        "modalities": Items(Text(MODALITIES)),
        "client_secret": Nullable(Fields({"expires_at": LIFETIME}, closed=True)),
    },
    refused={"model": _TOP_LEVEL_MODEL},
)


@dataclass(frozen=True)
class Moved:
    """A transcription setting: its beta key, its path in the current shape (None: the current API has
    no such setting, and it is left out there)."""

    beta: str
    current: tuple[str, ...] | None


TRANSCRIPTION_TABLE: Final = (
    Moved("input_audio_format", ("audio", "input", "format")),
    Moved("input_audio_transcription", ("audio", "input", "transcription")),
    Moved("turn_detection", ("audio", "input", "turn_detection")),
    Moved("input_audio_noise_reduction", ("audio", "input", "noise_reduction")),
    Moved("include", ("include",)),
    Moved("modalities", None),  # transcription sessions of the current API only produce text
)
LIFETIME_KEY: Final = "client_secret"  # the beta shape's lifetime: client_secret.expires_at
BETA_KEYS: Final = frozenset({moved.beta for moved in TRANSCRIPTION_TABLE} | {LIFETIME_KEY})
CURRENT_KEYS: Final = frozenset({"type", "audio", "include"})
MODELS_WITHOUT_TURN_DETECTION: Final = frozenset({"gpt-realtime-whisper"})  # transcribes continuously


def _at(fields: Fields, path: tuple[str, ...]) -> Node:
    node: Node = fields
    for key in path:
        assert isinstance(node, Fields)
        node = node.fields[key]
    return node


def _nested(leaves: Mapping[tuple[str, ...], Node]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, node in leaves.items():
        holder = tree
        for key in path[:-1]:
            holder = holder.setdefault(key, {})
        holder[path[-1]] = node
    return tree


def _fields(tree: Mapping[str, Any]) -> dict[str, Node]:
    return {key: Fields(_fields(value)) if isinstance(value, dict) else value for key, value in tree.items()}


def _beta_view(current: Fields) -> Fields:
    """The current description, spelled in the beta shape (plus the beta-only settings)."""
    moved = {m.beta: _at(current, m.current) for m in TRANSCRIPTION_TABLE if m.current is not None}
    beta_only = {key: TRANSCRIPTION_BETA.fields[key] for key in ("modalities", LIFETIME_KEY)}
    return Fields({**moved, **beta_only}, refused=current.refused)


def _current_view(beta: Fields) -> Fields:
    """The beta description, spelled in the current shape."""
    leaves = {m.current: beta.fields[m.beta] for m in TRANSCRIPTION_TABLE if m.current is not None}
    tree = _nested({("type",): Text((TRANSCRIPTION,)), **leaves})
    return Fields(_fields(tree), refused=beta.refused)


# (endpoint, shape the user wrote) -> the description that checks it.
TRANSCRIPTION_DESCRIPTIONS: Final[dict[tuple[str, str], Fields]] = {
    (CLIENT_SECRETS, "current"): TRANSCRIPTION_CURRENT,
    (CLIENT_SECRETS, "beta"): _beta_view(TRANSCRIPTION_CURRENT),
    (TRANSCRIPTION_SESSIONS, "beta"): TRANSCRIPTION_BETA,
    (TRANSCRIPTION_SESSIONS, "current"): _current_view(TRANSCRIPTION_BETA),
}


def _shape_of(settings: Mapping[str, Any], path: str) -> str:
    beta = sorted(BETA_KEYS.intersection(settings) - {"include"})
    current = sorted(CURRENT_KEYS.intersection(settings) - {"include"})
    if beta and current:
        raise ValueError(
            f"{path} mixes the beta shape ({', '.join(beta)}) with the current shape "
            f"({', '.join(current)}); use one"
        )
    return "current" if current else "beta"


def _to_current(beta: dict[str, Any]) -> dict[str, Any]:
    current: dict[str, Any] = {}
    for moved in TRANSCRIPTION_TABLE:
        if moved.beta in beta and moved.current is not None:
            holder = current
            for key in moved.current[:-1]:
                holder = holder.setdefault(key, {})
            holder[moved.current[-1]] = beta[moved.beta]
    known = {moved.beta for moved in TRANSCRIPTION_TABLE} | {LIFETIME_KEY}
    return {**current, **{key: value for key, value in beta.items() if key not in known}}


def _to_beta(current: dict[str, Any]) -> dict[str, Any]:
    rest = {key: value for key, value in current.items() if key != "type"}
    audio = dict(as_object(rest.pop("audio", None)))
    audio_input = dict(as_object(audio.pop("input", None)))
    beta: dict[str, Any] = {}
    for moved in TRANSCRIPTION_TABLE:
        if moved.current is None:
            continue
        holder = audio_input if moved.current[:2] == ("audio", "input") else rest
        if moved.current[-1] in holder:
            beta[moved.beta] = holder.pop(moved.current[-1])
    # Unknown settings of audio.input have no beta place but the top level, where the beta API had them.
    return {**beta, **audio_input, **({"audio": audio} if audio else {}), **rest}


def _transcription_body(endpoint: str, session: Any, seconds: int | None, path: str) -> dict[str, Any]:
    settings = mapping({} if session is None else session, path)
    shape = _shape_of(settings, path)
    checked = validate(TRANSCRIPTION_DESCRIPTIONS[endpoint, shape], settings, path)
    lifetime = as_object(checked.pop(LIFETIME_KEY, None)).get("expires_at")
    if lifetime is not None and seconds is not None and lifetime["seconds"] != seconds:
        raise ValueError(
            f"expires_after_seconds ({seconds}) contradicts {path}.client_secret.expires_at.seconds "
            f"({lifetime['seconds']}); set one"
        )
    seconds = seconds if lifetime is None else lifetime["seconds"]
    current = checked if shape == "current" else _to_current(checked)
    audio_input = as_object(as_object(current.get("audio")).get("input"))
    model = as_object(audio_input.get("transcription")).get("model")
    if model in MODELS_WITHOUT_TURN_DETECTION and audio_input.get("turn_detection") is not None:
        raise ValueError(f"{path} turn detection must be null (None) for the model {model}")
    if endpoint == CLIENT_SECRETS:
        return _current_body({"type": TRANSCRIPTION, **current}, seconds)
    body = checked if shape == "beta" else _to_beta(checked)
    if seconds is not None:
        body[LIFETIME_KEY] = {"expires_at": {"anchor": "created_at", "seconds": seconds}}
    return body


def _current_body(session: dict[str, Any], seconds: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"session": session}
    if seconds is not None:
        body["expires_after"] = {"anchor": "created_at", "seconds": seconds}
    return body


# --------------------------------------------------------------------------------------------------
# Realtime and translation (RealtimeSessionCreateRequestGA, RealtimeTranslationSessionCreateRequest).
# --------------------------------------------------------------------------------------------------

MCP_CONNECTORS: Final = tuple(
    f"connector_{name}"
    for name in (
        "dropbox",
        "gmail",
        "googlecalendar",
        "googledrive",
        "microsoftteams",
        "outlookcalendar",
        "outlookemail",
        "sharepoint",
    )
)
MCP_FILTER: Final = Fields({"tool_names": Items(Text()), "read_only": Flag()})
TOOL: Final = Tagged(
    {
        "function": Fields(
            {
                "type": Text(("function",)),
                "name": Text(),
                "description": Text(),
                "parameters": Fields(),  # a JSON schema: any object
            }
        ),
        "mcp": Fields(
            {
                "type": Text(("mcp",)),
                "server_label": Text(),
                "server_url": Text(),
                "connector_id": Text(MCP_CONNECTORS),
                "tunnel_id": Text(),
                "authorization": Text(),
                "server_description": Text(),
                "headers": Nullable(Fields()),
                "allowed_tools": Nullable(Choice((Items(Text()), MCP_FILTER))),
                "allowed_callers": Nullable(Items(Text(("direct", "programmatic")))),
                "require_approval": Nullable(
                    Choice((Text(("always", "never")), Fields({"always": MCP_FILTER, "never": MCP_FILTER})))
                ),
                "defer_loading": Flag(),
            },
            required=("server_label",),
        ),
    },
    default="function",  # the spec's function tool requires no type
    what="a tool",
)
TOOL_CHOICE: Final = Choice(
    (
        Text(("none", "auto", "required")),
        Tagged(
            {
                "function": Fields({"type": Text(("function",)), "name": Text()}, required=("name",)),
                "mcp": Fields(
                    {"type": Text(("mcp",)), "server_label": Text(), "name": Nullable(Text())},
                    required=("server_label",),
                ),
            },
            what="a tool choice",
        ),
    )
)
_MOVED_TO: Final = "is the beta shape; set {path}.%s"
REALTIME_SETTINGS: Final = Fields(
    {
        "type": Text((REALTIME,)),
        "model": Text(),
        "instructions": Text(),
        "output_modalities": Items(Text(MODALITIES)),
        "audio": Fields(
            {
                "input": Fields(
                    {
                        "format": CURRENT_FORMAT,
                        "transcription": Nullable(INPUT_TRANSCRIPTION),
                        "noise_reduction": NOISE_REDUCTION,
                        "turn_detection": TURN_DETECTION,
                    }
                ),
                "output": Fields(
                    {
                        "format": CURRENT_FORMAT,
                        "voice": Choice((Text(), Fields({"id": Text()}, required=("id",), closed=True))),
                        "speed": Number(0.25, 1.5),
                    }
                ),
            }
        ),
        "include": Items(Text((LOGPROBS,))),
        "tracing": Nullable(
            Choice(
                (
                    Text(("auto",)),
                    Fields({"workflow_name": Text(), "group_id": Text(), "metadata": Fields()}),
                )
            )
        ),
        "tools": Items(TOOL),
        "tool_choice": TOOL_CHOICE,
        "parallel_tool_calls": Flag(),
        "reasoning": Fields({"effort": Text(("minimal", "low", "medium", "high", "xhigh"))}),
        "max_output_tokens": Choice((Integer(), Text(("inf",)))),
        "truncation": Choice(
            (
                Text(("auto", "disabled")),
                Fields(
                    {
                        "type": Text(("retention_ratio",)),
                        "retention_ratio": Number(0, 1),
                        "token_limits": Fields({"post_instructions": Integer(0)}),
                    },
                    required=("type", "retention_ratio"),
                ),
            )
        ),
        "prompt": Nullable(
            Fields({"id": Text(), "version": Nullable(Text()), "variables": Json()}, required=("id",))
        ),
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
        "model": Text(),
        "audio": Fields(
            {
                "input": Fields(
                    {
                        "transcription": Nullable(Fields({"model": Text()}, required=("model",))),
                        "noise_reduction": Nullable(
                            Fields({"type": Text(NOISE_REDUCTION_TYPES)}, required=("type",))
                        ),
                    }
                ),
                "output": Fields({"language": Text()}),
            }
        ),
    },
    required=("model",),
    refused={"type": "is not a translation setting: the translation endpoint sets it; leave it out"},
)

# --------------------------------------------------------------------------------------------------
# The kinds, and where the fields of their structured results are in an answer.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultField:
    """Where a structured result's field is in the session of an answer, and how it is converted."""

    path: tuple[str, ...]
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class SessionKind:
    """One kind of client secret: where it is minted, what its settings are, what its result holds.

    :param settings: the description of its settings per endpoint (the first is the default endpoint).
    :param result: per endpoint, where each result field is in the answer's session.
    """

    name: str
    settings: Mapping[str, Fields]
    result: Mapping[str, Mapping[str, ResultField]]
    session_type: str | None = None

    @property
    def endpoint(self) -> str:
        return next(iter(self.settings))


def _transcription_result(endpoint: str) -> dict[str, ResultField]:
    """The result keys are the beta names, wherever the endpoint's answer keeps them."""
    fields = {}
    for moved in TRANSCRIPTION_TABLE:
        where = moved.current if endpoint == CLIENT_SECRETS and moved.current else (moved.beta,)
        convert = format_to_beta if moved.beta == "input_audio_format" else None
        fields[moved.beta] = ResultField(where, convert)
    return fields


TRANSCRIPTION_KIND: Final = SessionKind(
    name=TRANSCRIPTION,
    settings={CLIENT_SECRETS: TRANSCRIPTION_CURRENT, TRANSCRIPTION_SESSIONS: TRANSCRIPTION_BETA},
    result={endpoint: _transcription_result(endpoint) for endpoint in ENDPOINTS},
)
REALTIME_KIND: Final = SessionKind(
    name=REALTIME,
    settings={CLIENT_SECRETS: REALTIME_SETTINGS},
    session_type=REALTIME,
    result={
        CLIENT_SECRETS: {
            "model": ResultField(("model",)),
            "instructions": ResultField(("instructions",)),
            "output_modalities": ResultField(("output_modalities",)),
            "voice": ResultField(("audio", "output", "voice")),
            "input_audio_format": ResultField(("audio", "input", "format"), format_to_beta),
            "output_audio_format": ResultField(("audio", "output", "format"), format_to_beta),
            "input_audio_transcription": ResultField(("audio", "input", "transcription")),
            "input_audio_noise_reduction": ResultField(("audio", "input", "noise_reduction")),
            "turn_detection": ResultField(("audio", "input", "turn_detection")),
            "tools": ResultField(("tools",)),
            "tool_choice": ResultField(("tool_choice",)),
            "max_output_tokens": ResultField(("max_output_tokens",)),
        }
    },
)
TRANSLATION_KIND: Final = SessionKind(
    name=TRANSLATION,
    settings={TRANSLATION_CLIENT_SECRETS: TRANSLATION_SETTINGS},
    result={
        TRANSLATION_CLIENT_SECRETS: {
            "model": ResultField(("model",)),
            "output_language": ResultField(("audio", "output", "language")),
            "input_audio_transcription": ResultField(("audio", "input", "transcription")),
            "input_audio_noise_reduction": ResultField(("audio", "input", "noise_reduction")),
        }
    },
)
KINDS: Final[dict[str, SessionKind]] = {
    kind.name: kind for kind in (TRANSCRIPTION_KIND, REALTIME_KIND, TRANSLATION_KIND)
}


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
    described = KINDS.get(kind) if isinstance(kind, str) else None
    if described is None:
        raise fail("kind", f"must be one of {', '.join(KINDS)}", kind)
    if endpoint is None:
        return described.endpoint
    if kind == TRANSCRIPTION:
        return check_endpoint(endpoint)
    if endpoint != described.endpoint:
        raise fail("endpoint", f"must be {described.endpoint} for {kind} sessions (or left out)", endpoint)
    return described.endpoint


def check_lifetime(expires_after_seconds: Any) -> int | None:
    """``expires_after_seconds`` checked (10..7200), or None for the server's default."""
    if expires_after_seconds is None:
        return None
    return validate_lifetime(expires_after_seconds, "expires_after_seconds")


def prepare(
    kind: str,
    session: Any = None,
    expires_after_seconds: Any = None,
    endpoint: Any = None,
    path: str = "session",
    extra_body: Any = None,
) -> PreparedRequest:
    """Check settings of ``kind`` and build the request; ValueError naming the field path.

    :param kind: ``transcription``, ``realtime`` or ``translation``.
    :param session: the session settings; ``None`` for the server's defaults (translation needs a model).
    :param expires_after_seconds: token lifetime, 10..7200 seconds; ``None`` for the server's default.
    :param endpoint: transcription only: ``client_secrets`` (default) or ``transcription_sessions``.
    :param path: how to name the settings in error messages (``sessions[3]`` in a batch).
    :param extra_body: JSON merged into the checked body as it is (objects key by key, at every depth):
        the way through for a field OpenAI added after this release, which the checks would take for a
        typo of a known one. Checked only to be JSON.
    """
    endpoint = resolve_endpoint(kind, endpoint)  # the settings are checked by the endpoint's rules
    problems: list[str] = []

    def collected(check: Callable[[], Any]) -> Any:
        try:
            return check()
        except ValueError as error:  # every problem at once: the lifetime's, the settings', extra_body's
            problems.extend(problems_of(error))
            return None

    seconds = collected(lambda: check_lifetime(expires_after_seconds))
    extra = collected(
        lambda: None if extra_body is None else json_value(mapping(extra_body, "extra_body"), "extra_body")
    )
    body = collected(lambda: _body(kind, endpoint, session, seconds, path))
    if problems:
        raise SettingsError(problems)
    return PreparedRequest(kind, endpoint, seconds, body if extra is None else merged(body, extra))


def _body(kind: str, endpoint: str, session: Any, seconds: int | None, path: str) -> dict[str, Any]:
    if kind == TRANSCRIPTION:
        return _transcription_body(endpoint, session, seconds, path)
    described = KINDS[kind]
    settings = validate(described.settings[endpoint], {} if session is None else session, path)
    if described.session_type is not None:
        settings = {"type": described.session_type, **settings}
    return _current_body(settings, seconds)


def merged(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``extra`` laid over it: objects merged key by key, anything else replaced."""
    result = dict(body)
    for key, value in extra.items():
        inner = result.get(key)
        both_objects = isinstance(inner, dict) and isinstance(value, dict)
        result[key] = merged(inner, value) if both_objects else value  # type: ignore[arg-type]
    return result
