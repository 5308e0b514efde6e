"""An offline stand-in for the OpenAI Realtime REST API, on loopback, with fault injection.

It answers ``POST /v1/realtime/client_secrets`` (transcription and realtime sessions),
``POST /v1/realtime/translations/client_secrets``, ``POST /v1/realtime/transcription_sessions`` and
``GET /v1/models`` the way the reference describes (``ek_…`` tokens, secret and session expiries that
honour the requested lifetime, session ids, echoed audio settings, ``x-request-id``). Each request is
checked against OpenAI's published schema (:mod:`.spec_rules`), and refused in OpenAI's error format; model
names beyond those the spec lists are refused as OpenAI does (``model_not_found``). It is deliberately
written without the provider's own request-building code, so it can catch the provider's mistakes.

A client holding a minted token opens its session here too: the WebSocket endpoints of :mod:`.sessions`
and the WebRTC calls of :mod:`.calls`.

Speed matters because it sits under benchmarks: each response is written with a single ``send`` on a
socket with ``TCP_NODELAY`` (headers and body in two sends would meet the client's delayed ACK and add
~40 ms per keep-alive request through Nagle's algorithm).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from airflow_provider_realtime.testing import calls, spec_rules
from airflow_provider_realtime.testing.calls import CallServer
from airflow_provider_realtime.testing.sessions import MintedSession

DEFAULT_API_KEY = "sk-emulator-key-0123456789"
DEFAULT_LIFETIME = 600
SESSION_GRACE = 3600  # a session opened just before its secret expires may still run an hour
# OpenAI's published spec of the client-secret endpoints, shipped with the emulator (2026-08, and
# 2025-04-29 while the beta endpoint was live).
SPEC_FOLDER: Final = Path(__file__).parent / "spec"
SPEC_FILE: Final = SPEC_FOLDER / "openai-realtime-openapi.json"
# Translation sessions' model is a plain string in the spec: the one name OpenAI documents.
TRANSLATION_MODELS: Final = ("gpt-realtime-translate",)


@functools.lru_cache(maxsize=1)
def published_models() -> tuple[str, ...]:
    """Every model name the shipped spec lists (realtime and transcription), and the translation model."""
    spec = json.loads(SPEC_FILE.read_text())
    names: dict[str, None] = {}
    pending: list[Any] = [spec]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            model = (
                item.get("properties", {}).get("model") if isinstance(item.get("properties"), dict) else None
            )
            for option in (model or {}).get("anyOf", ()):
                names.update(dict.fromkeys(name for name in option.get("enum", ()) if isinstance(name, str)))
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return (*sorted(names), *TRANSLATION_MODELS)


@functools.lru_cache(maxsize=1024)
def _spec_violation(path: str, raw_body: bytes) -> spec_rules.SpecViolation | None:
    """What the spec refuses in a body (remembered: a fleet sends the same body again and again)."""
    try:
        spec_rules.check(path, json.loads(raw_body or b"{}"))
    except spec_rules.SpecViolation as violation:
        return violation
    return None


def _format(given: dict[str, Any] | None) -> dict[str, Any]:
    """The audio format a session answers with: PCM at 24 kHz unless another was named."""
    given = given or {}
    return given if "type" in given else {"type": "audio/pcm", "rate": 24000, **given}


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, used for the next request instead of the normal answer.

    :param action: ``respond`` (answer ``status`` with ``headers`` and ``body``), ``drop`` (close the
        connection without answering), ``truncate`` (a 200 whose body breaks off), ``null_secret``
        (a normal 200 whose client secret is null) or ``slow`` (wait ``delay`` seconds, then answer
        normally).
    :param body: a dict is sent as JSON, a str as ``text/html``; None sends OpenAI's error JSON.
    """

    action: str = "respond"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0

    @classmethod
    def error(
        cls,
        status: int,
        *,
        retry_after: str | None = None,
        retry_after_ms: int | None = None,
        should_retry: bool | None = None,
        body: Any = None,
    ) -> Fault:
        """An error status, optionally with ``Retry-After``, ``retry-after-ms`` and ``x-should-retry``."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        if should_retry is not None:
            headers["x-should-retry"] = "true" if should_retry else "false"
        return cls(status=status, headers=headers, body=body)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls(action="drop")

    @classmethod
    def truncate(cls) -> Fault:
        """Answer 200 with a Content-Length longer than the body, then close."""
        return cls(action="truncate", status=200)

    @classmethod
    def non_json(cls, status: int = 200) -> Fault:
        """Answer ``status`` with an HTML page, as a proxy would."""
        return cls(status=status, body="<html><body>Bad gateway</body></html>")

    @classmethod
    def null_secret(cls) -> Fault:
        """Answer a normal 200 whose client secret is null (as OpenAI's own examples show)."""
        return cls(action="null_secret", status=200)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before a normal answer (to trip read timeouts)."""
        return cls(action="slow", delay=seconds)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as it arrived: what went over the wire."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    fault: Fault | None = None  # the scripted fault it got, if any
    # When it was recorded (time.monotonic(), after any latency): orders requests against a client's clock.
    received_at: float = 0.0


class _Rejection(Exception):
    def __init__(self, status: int, message: str, param: str | None, code: str | None, kind: str) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind


def _invalid(message: str, param: str | None, code: str | None = "invalid_value") -> _Rejection:
    return _Rejection(400, message, param, code, "invalid_request_error")


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class RealtimeEmulator:
    """Serve the emulated API on ``127.0.0.1`` in a background thread.

    Use it as a context manager (``with RealtimeEmulator() as emu: emu.base_url``), through the pytest
    fixture in :mod:`airflow_provider_realtime.testing.pytest_plugin`, or from the command line
    (``python -m airflow_provider_realtime.testing --port 8765``).

    :param api_key: the only key accepted (as ``Authorization: Bearer`` or Azure's ``api-key``).
    :param host: address to listen on; keep it on loopback.
    :param port: port to listen on; 0 picks a free one.
    :param models: the models the emulated account may use; ``None``: every model the shipped spec
        lists (:func:`published_models`).
    :param extra_models: more model names it accepts: an Azure deployment's name, a model OpenAI added
        after the shipped spec.
    :param keep_requests: how many recent requests :attr:`requests` keeps.
    :param keep_sessions: how many of the latest tokens can open a session (:mod:`.sessions`).
    :param latency: seconds every answer waits before it is sent, as a distant server's would (the
        benchmarks use 0.05); requests wait concurrently.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Iterable[str] | None = None,
        extra_models: Iterable[str] = (),
        keep_requests: int = 100,
        keep_sessions: int = 10_000,
        latency: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.latency = latency
        self.models = (*(published_models() if models is None else models), *extra_models)
        # token -> the session it opens (testing.sessions): the latest keep_sessions tokens.
        self.sessions: collections.OrderedDict[str, MintedSession] = collections.OrderedDict()
        self.keep_sessions = keep_sessions
        self._address = (host, port)
        self._lock = threading.Lock()
        self._script: collections.deque[Fault | None] = collections.deque()
        self.requests: collections.deque[RecordedRequest] = collections.deque(maxlen=keep_requests)
        self.minted_tokens: collections.deque[str] = collections.deque(maxlen=keep_requests)
        self.request_count = 0
        self.connection_count = 0
        self.fault_count = 0
        self.server_seconds = 0.0  # time spent handling requests, from request line to the answer's send
        self.in_flight = 0  # requests being handled now
        self.peak_in_flight = 0  # the most requests handled at once
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.calls = CallServer()  # WebRTC calls (testing.calls); its loop starts with the first call

    # -- lifecycle ---------------------------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        """The HTTP server, on IPv4 or IPv6 as the host is written (``::1`` is IPv6 loopback)."""
        handler = type("_BoundHandler", (_Handler,), {"emulator": self})
        server_class = _IPv6Server if ":" in self._address[0] else ThreadingHTTPServer
        return server_class(self._address, handler)

    def start(self) -> RealtimeEmulator:
        """Start serving in a daemon thread; returns self."""
        server = self._make_server()
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="realtime-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; give the requests being handled up to a second to
        finish, so that the counters include them (a client may have its answer before the handler has
        counted it)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.calls.close()
        deadline = time.monotonic() + 1.0
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)

    def __enter__(self) -> RealtimeEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread (for the command line)."""
        with self._make_server() as server:
            server.daemon_threads = True
            self._server = server
            server.serve_forever()

    # -- addresses and Airflow wiring --------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "the emulator is not running"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The base URL to put in the connection's host, e.g. ``http://127.0.0.1:41234/v1`` (an IPv6
        host in brackets: ``http://[::1]:41234/v1``)."""
        host = self._address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/v1"

    def connection_json(self, **extra: Any) -> str:
        """A JSON connection for ``AIRFLOW_CONN_<ID>`` pointing at this emulator with its key."""
        connection: dict[str, Any] = {
            "conn_type": "openai_realtime",
            "host": self.base_url,
            "password": self.api_key,
        }
        if extra:
            connection["extra"] = extra
        return json.dumps(connection)

    # -- fault injection and counters --------------------------------------------------------------

    def script(self, *faults: Fault | None) -> None:
        """Queue faults for the next requests, one each, in order; ``None`` means a normal answer."""
        with self._lock:
            self._script.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        """Forget scripted faults, recorded requests and counters."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.minted_tokens.clear()
            self.sessions.clear()
            self.request_count = self.connection_count = self.fault_count = 0
            self.server_seconds = 0.0
            self.peak_in_flight = self.in_flight

    def _next_fault(self, request: RecordedRequest) -> Fault | None:
        """Take the next scripted fault for ``request`` and record both, in the order faults are taken."""
        with self._lock:
            self.request_count += 1
            fault = self._script.popleft() if self._script else None
            if fault is not None:
                self.fault_count += 1
            self.requests.append(dataclasses.replace(request, fault=fault, received_at=time.monotonic()))
            return fault

    def _mint(self) -> str:
        token = _token()
        self.minted_tokens.append(token)
        return token

    def _arrived(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _handled(self, seconds: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self.server_seconds += seconds

    def stats(self) -> dict[str, float]:
        """Counters, and the mean server time per request in microseconds."""
        with self._lock:
            mean = self.server_seconds / self.request_count * 1e6 if self.request_count else 0.0
            return {
                "requests": self.request_count,
                "connections": self.connection_count,
                "faults": self.fault_count,
                "peak_in_flight": self.peak_in_flight,
                "server_us_per_request": mean,
            }

    def _connected(self) -> None:
        with self._lock:
            self.connection_count += 1

    # -- the API ------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, Any]:
        """Compute the normal answer to a request: ``(status, JSON body)``."""
        try:
            body = self._route(method, path, headers, raw_body)
        except _Rejection as rejection:
            return rejection.status, error_body(
                rejection.message, rejection.kind, rejection.param, rejection.code
            )
        session = body.get("session") if isinstance(body, dict) and "value" in body else None
        if isinstance(session, dict):  # a client secret of the current API: it opens a session
            # Settings left unset are left out, not null: the published event schemas (session.created
            # holds this very object) allow no null there.
            session = body["session"] = _without_nulls(session)
            with self._lock:
                self.sessions[body["value"]] = MintedSession(session["type"], body["expires_at"], session)
                while len(self.sessions) > self.keep_sessions:
                    self.sessions.popitem(last=False)
        return 200, body

    def expire(self, token: str) -> None:
        """Make ``token`` expired from now on, as its ``expires_at`` passing would (for a client's tests)."""
        with self._lock:
            self.sessions[token].expires_at = int(time.time()) - 1

    def _route(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> Any:
        routes = {
            ("POST", "/v1/realtime/client_secrets"): self._client_secret,
            ("POST", "/v1/realtime/transcription_sessions"): self._transcription_session,
            ("POST", "/v1/realtime/translations/client_secrets"): self._translation_client_secret,
            ("GET", "/v1/models"): self._models,
        }
        route = routes.get((method, path.split("?", 1)[0]))
        if route is None:
            raise _Rejection(
                404, f"Invalid URL ({method} {path})", None, "unknown_url", "invalid_request_error"
            )
        self._authenticate(headers)
        if headers.get("openai-beta", "").strip().lower() == "realtime=v1":
            raise _invalid(
                "The Realtime beta API shape is disabled; remove the OpenAI-Beta: realtime=v1 header.",
                None,
                "beta_api_shape_disabled",
            )
        if method == "GET":
            return route({})
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError:
            raise _invalid(
                "We could not parse the JSON body of your request.", None, "invalid_json"
            ) from None
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object.", None, "invalid_type")
        violation = _spec_violation(path.split("?", 1)[0], raw_body)
        if violation is not None:
            raise _invalid(violation.message, violation.param, violation.code)
        return route(body)

    def _authenticate(self, headers: dict[str, str]) -> None:
        bearer = headers.get("authorization", "")
        given = bearer[7:] if bearer.startswith("Bearer ") else headers.get("api-key", "")
        if not secrets.compare_digest(given.encode(), self.api_key.encode()):
            shown = f"{given[:3]}***{given[-4:]}" if len(given) > 8 else "***"
            raise _Rejection(
                401,
                f"Incorrect API key provided: {shown}. You can find your API key at the dashboard.",
                None,
                "invalid_api_key",
                "invalid_request_error",
            )

    def _models(self, _: dict[str, Any]) -> Any:
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "owned_by": "system"} for m in self.models],
        }

    @staticmethod
    def _lifetime(expiry: dict[str, Any] | None) -> int:
        """The secret's lifetime asked for (the spec has checked its range)."""
        return int((expiry or {}).get("seconds", DEFAULT_LIFETIME))

    def _check_model(self, model: Any, param: str) -> None:
        """The spec takes any string as a model; OpenAI refuses one it does not serve, and so do we."""
        if model is not None and model not in self.models:
            raise _invalid(
                f"Invalid value for '{param}': the model '{model}' does not exist or you do not have access "
                "to it.",
                param,
                "model_not_found",
            )

    def _check_transcription(self, transcription: dict[str, Any] | None, param: str) -> None:
        self._check_model((transcription or {}).get("model"), f"{param}.model")

    def _client_secret(self, body: dict[str, Any]) -> Any:
        lifetime = self._lifetime(body.get("expires_after"))
        session = body.get("session") or {"type": "transcription"}
        if session.get("type", "realtime") == "realtime":
            return self._realtime_session(session, lifetime)
        audio_input = (session.get("audio") or {}).get("input") or {}
        fmt = _format(audio_input.get("format"))
        self._check_transcription(audio_input.get("transcription"), "session.audio.input.transcription")
        now = int(time.time())
        echoed_input = {
            "format": fmt,
            "transcription": audio_input.get("transcription"),
            "noise_reduction": audio_input.get("noise_reduction"),
            "turn_detection": audio_input.get(
                "turn_detection",
                _default_turn_detection(),
            ),
        }
        return {
            "value": self._mint(),
            "expires_at": now + lifetime,
            "session": {
                "type": "transcription",
                "object": "realtime.transcription_session",
                "id": _session_id(),
                "expires_at": now + lifetime + SESSION_GRACE,
                "include": session.get("include", []),
                "audio": {"input": echoed_input},
            },
        }

    def _realtime_session(self, session: dict[str, Any], lifetime: int) -> Any:
        """A voice-agent session: the settings echoed, with the server's defaults where none were given."""
        audio = session.get("audio") or {}
        audio_input, audio_output = audio.get("input") or {}, audio.get("output") or {}
        self._check_transcription(audio_input.get("transcription"), "session.audio.input.transcription")
        self._check_model(session.get("model"), "session.model")
        modalities = session.get("output_modalities", ["audio"])
        now = int(time.time())
        return {
            "value": self._mint(),
            "expires_at": now + lifetime,
            "session": {
                "type": "realtime",
                "object": "realtime.session",
                "id": _session_id(),
                "expires_at": now + lifetime + SESSION_GRACE,
                "model": session.get("model", "gpt-realtime"),
                "output_modalities": modalities,
                "instructions": session.get("instructions", "You are a helpful assistant."),
                "tools": session.get("tools", []),
                "tool_choice": session.get("tool_choice", "auto"),
                "max_output_tokens": session.get("max_output_tokens", "inf"),
                "tracing": session.get("tracing"),
                "truncation": session.get("truncation", "auto"),
                "prompt": session.get("prompt"),
                "include": session.get("include"),
                "audio": {
                    "input": {
                        "format": _format(audio_input.get("format")),
                        "transcription": audio_input.get("transcription"),
                        "noise_reduction": audio_input.get("noise_reduction"),
                        "turn_detection": audio_input.get("turn_detection", _default_turn_detection()),
                    },
                    "output": {
                        "format": _format(audio_output.get("format")),
                        "voice": audio_output.get("voice", "alloy"),
                        "speed": audio_output.get("speed", 1.0),
                    },
                },
            },
        }

    def _translation_client_secret(self, body: dict[str, Any]) -> Any:
        lifetime = self._lifetime(body.get("expires_after"))
        session = body["session"]
        model = session["model"]
        self._check_model(model, "session.model")
        audio = session.get("audio") or {}
        audio_input, audio_output = audio.get("input") or {}, audio.get("output") or {}
        self._check_transcription(audio_input.get("transcription"), "session.audio.input.transcription")
        now = int(time.time())
        return {
            "value": self._mint(),
            "expires_at": now + lifetime,
            "session": {
                "id": _session_id(),
                "type": "translation",
                "expires_at": now + lifetime + SESSION_GRACE,
                "model": model,
                "audio": {
                    "input": {
                        "transcription": audio_input.get("transcription"),
                        "noise_reduction": audio_input.get("noise_reduction"),
                    },
                    "output": {"language": audio_output.get("language", "en")},
                },
            },
        }

    def _transcription_session(self, body: dict[str, Any]) -> Any:
        fmt = body.get("input_audio_format", "pcm16")
        lifetime = self._lifetime((body.get("client_secret") or {}).get("expires_at"))
        self._check_transcription(body.get("input_audio_transcription"), "input_audio_transcription")
        now = int(time.time())
        return {
            "id": _session_id(),
            "object": "realtime.transcription_session",
            "expires_at": now + lifetime + SESSION_GRACE,
            "modalities": body.get("modalities", ["text"]),
            "input_audio_format": fmt,
            "input_audio_transcription": body.get("input_audio_transcription"),
            "turn_detection": body.get(
                "turn_detection",
                _default_turn_detection(),
            ),
            "input_audio_noise_reduction": body.get("input_audio_noise_reduction"),
            "include": body.get("include", []),
            "client_secret": {"value": self._mint(), "expires_at": now + lifetime},
        }


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _emulated_error(status: int) -> dict[str, Any]:
    """The error body OpenAI would send with ``status``."""
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status == 429:
        kind, code = "requests", "rate_limit_exceeded"
    elif status >= 500:
        kind, code = "server_error", "server_error"
    else:
        kind, code = "invalid_request_error", None
    return error_body(f"Emulated {status} {reason}.", kind, None, code)


def _default_turn_detection() -> dict[str, Any]:
    """What the server answers when no turn detection was asked for (a new dict each time)."""
    return {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500}


def _token() -> str:
    return "ek_" + secrets.token_hex(16)


def _session_id() -> str:
    return "sess_" + secrets.token_hex(12)


_request_ids = iter(range(1, 1 << 62))


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler; every answer goes out in one write."""

    emulator: RealtimeEmulator
    protocol_version = "HTTP/1.1"
    server_version = "realtime-emulator"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after a minute

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.emulator._connected()

    def parse_request(self) -> bool:
        self._started = time.perf_counter()  # the request line has arrived: server time starts
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: requests carry API keys in headers."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            recorded_body: Any = json.loads(raw_body) if raw_body else None
        except ValueError:
            recorded_body = raw_body.decode("utf-8", "replace")
        fault = self.emulator._next_fault(RecordedRequest(self.command, self.path, headers, recorded_body))
        if fault is not None and fault.delay and fault.action not in ("drop", "truncate"):
            time.sleep(fault.delay)
        action = "answer" if fault is None else fault.action
        self._ACTIONS[action](self, fault, headers, raw_body)

    # One method per fault action (see Fault): each sends what that fault answers, or breaks off.

    def _answer(self, fault: Fault | None, headers: dict[str, str], raw_body: bytes) -> None:
        status, body = self.emulator.answer(self.command, self.path, headers, raw_body)
        if fault is not None and fault.action == "null_secret" and status == 200:
            body["value" if "value" in body else "client_secret"] = None
        self._send(status, body, {})

    def _drop(self, fault: Fault | None, headers: dict[str, str], raw_body: bytes) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _truncate(self, fault: Fault | None, headers: dict[str, str], raw_body: bytes) -> None:
        payload = json.dumps({"value": _token(), "expires_at": int(time.time()) + 60}).encode()
        head = self._head(200, "application/json", len(payload) + 100, {})
        self.wfile.write(head + payload[: len(payload) // 2])
        self.close_connection = True

    def _respond(self, fault: Fault | None, headers: dict[str, str], raw_body: bytes) -> None:
        assert fault is not None
        body = fault.body if fault.body is not None else _emulated_error(fault.status)
        self._send(fault.status, body, fault.headers)

    _ACTIONS: Final[dict[str, Callable[[_Handler, Fault | None, dict[str, str], bytes], None]]] = {
        "answer": _answer,
        "respond": _respond,
        "slow": _answer,
        "null_secret": _answer,
        "drop": _drop,
        "truncate": _truncate,
    }

    def _timed_serve(self) -> None:
        self.emulator._arrived()
        try:
            if self.emulator.latency:
                time.sleep(self.emulator.latency)
            self._serve()
        finally:
            self.emulator._handled(time.perf_counter() - self._started)

    def do_GET(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":  # a client opening a session
            from airflow_provider_realtime.testing import sessions

            headers = {name.lower(): value for name, value in self.headers.items()}
            self.close_connection = True
            sessions.serve(self.connection, self.path, headers, self.emulator.sessions)
            return
        self._timed_serve()

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] == calls.PATH:  # a browser or device starting a WebRTC call
            self._call()
            return
        self._timed_serve()

    def do_OPTIONS(self) -> None:
        """The CORS preflight of a browser's call: the page is on the app's origin, not the API's."""
        self._send_cors(204, b"", "text/plain", {"Access-Control-Max-Age": "600"})

    def _call(self) -> None:
        from airflow_provider_realtime.testing import sessions

        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            minted = sessions.admit(calls.PATH, headers, self.emulator.sessions, time.time())
            offer = calls.offer_of(headers.get("content-type", ""), raw_body)
            call_id, answer = self.emulator.calls.answer(offer, minted)
        except sessions.HandshakeRefusal as refusal:
            self._send_cors(refusal.status, refusal.body.encode(), "application/json", {})
        except calls.BadOffer as bad:
            body = error_body(str(bad), "invalid_request_error", "sdp", "invalid_offer")
            self._send_cors(400, json.dumps(body).encode(), "application/json", {})
        else:
            location = {"Location": f"{calls.PATH}/{call_id}"}
            self._send_cors(201, answer.encode(), "application/sdp", location)

    def _send_cors(self, status: int, payload: bytes, content_type: str, extra: dict[str, str]) -> None:
        """An answer a page of any origin may read, as OpenAI's is (its browser examples call it anywhere)."""
        cors = {
            "Access-Control-Allow-Origin": self.headers.get("Origin") or "*",
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Expose-Headers": "Location",
            "Vary": "Origin",
        }
        self.wfile.write(self._head(status, content_type, len(payload), {**cors, **extra}) + payload)

    def _head(self, status: int, content_type: str, length: int, extra: dict[str, str]) -> bytes:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Content-Type: {content_type}",
            f"Content-Length: {length}",
            f"x-request-id: req_{next(_request_ids):012x}",
            "openai-processing-ms: 1",
        ]
        lines.extend(f"{name}: {value}" for name, value in extra.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status: int, body: Any, extra: dict[str, str]) -> None:
        if isinstance(body, (bytes, str)):
            payload = body.encode() if isinstance(body, str) else body
            content_type = "text/html; charset=utf-8"
        else:
            payload = json.dumps(body).encode()
            content_type = "application/json"
        self.wfile.write(self._head(status, content_type, len(payload), extra) + payload)


def _without_nulls(value: Any) -> Any:
    """``value`` with every null member of its objects left out, at every depth."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


if __name__ == "__main__":  # python -m airflow_provider_realtime.testing.emulator: the same as the command
    from airflow_provider_realtime.testing.__main__ import main

    raise SystemExit(main())
