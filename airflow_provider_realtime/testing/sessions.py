"""The client side of the emulator: a minted token opens a Realtime session over a WebSocket, as a client
of OpenAI's API does with it (``GET /v1/realtime`` for realtime and transcription sessions,
``/v1/realtime/translations`` for translation sessions).

The token travels as ``Authorization: Bearer ek_…`` (the SDK, servers) or as the browser's subprotocol
``openai-insecure-api-key.<token>`` beside ``realtime``. A token opens a session only if the emulator minted
it, before its ``expires_at``, on the endpoint of its kind; anything else is refused at the handshake with
OpenAI's error JSON (401 for a token that is unknown or expired, 400 for one of another kind: what OpenAI
answers there is not published, so these are assumptions). The first event is ``session.created`` holding
the session exactly as minted; then enough of a session to test a client's plumbing (see
:class:`SessionEvents`). A malformed client event gets an ``error`` event, as OpenAI sends, and the
connection goes on.

WebSocket framing is the ``websockets`` library's (its sans-I/O protocol, on the emulator's own HTTP
connection): ``pip install 'airflow-provider-realtime[sessions]'``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import socket
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

SUBPROTOCOL: Final = "realtime"
TOKEN_SUBPROTOCOL_PREFIX: Final = "openai-insecure-api-key."  # noqa: S105 - a prefix, not a secret
# Which kinds of session each WebSocket path opens.
KINDS_BY_PATH: Final = {
    "/v1/realtime": ("realtime", "transcription"),
    "/v1/realtime/translations": ("translation",),
    "/v1/realtime/calls": ("realtime", "transcription"),  # WebRTC (testing.calls)
}
TRANSCRIPT: Final = "Hello from the emulator."  # what every committed audio buffer "said"
# The emulator stays quiet as its HTTP side does: nothing of each handshake in a test's or a task's log.
_QUIET_LOGGER: Final = logging.getLogger("airflow_provider_realtime.testing.sessions.protocol")
_QUIET_LOGGER.setLevel(logging.WARNING)
SESSION_SECONDS: Final = 3600  # how long a session may sit idle: OpenAI's sessions last up to an hour


@dataclass
class MintedSession:
    """A token the emulator minted: its kind, when it stops opening sessions, and the session as minted."""

    kind: str
    expires_at: int
    session: dict[str, Any]
    opened: int = 0  # sessions opened with it


class HandshakeRefusal(Exception):
    """Why a WebSocket handshake is refused: an HTTP status and OpenAI's error JSON."""

    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


def token_of(headers: Mapping[str, str]) -> str | None:
    """The token a handshake carries: ``Authorization: Bearer …`` or the browser's subprotocol form."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    for offered in headers.get("sec-websocket-protocol", "").split(","):
        offered = offered.strip()
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return offered[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return None


def admit(
    path: str, headers: Mapping[str, str], minted: Mapping[str, MintedSession], now: float
) -> MintedSession:
    """The minted session a handshake opens, or :class:`HandshakeRefusal` saying why not."""
    route = urllib.parse.urlsplit(path).path
    token = token_of(headers)
    if token is None:
        raise HandshakeRefusal(
            401, "Missing bearer or basic authentication in header.", "missing_authorization"
        )
    found = minted.get(token)
    if found is None:
        raise HandshakeRefusal(401, "Incorrect API key provided.", "invalid_api_key")
    if found.expires_at <= now:
        raise HandshakeRefusal(401, "The client secret has expired.", "client_secret_expired")
    if found.kind not in KINDS_BY_PATH.get(route, ()):
        raise HandshakeRefusal(
            400,
            f"This client secret is for a {found.kind} session, which {route} does not open.",
            "invalid_session_type",
        )
    found.opened += 1
    return found


def _event_id() -> str:
    return "event_" + secrets.token_hex(8)


def _item_id() -> str:
    return "item_" + secrets.token_hex(8)


def error_event(
    message: str, code: str, event_id: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's ``error`` server event."""
    error = {
        "type": "invalid_request_error",
        "code": code,
        "message": message,
        "param": param,
        "event_id": event_id,
    }
    return {"type": "error", "event_id": _event_id(), "error": error}


@dataclass
class SessionEvents:
    """What one session answers each client event with: a small, deterministic model of the API.

    * every session: ``session.created`` first, holding the session as minted;
    * transcription and realtime: ``input_audio_buffer.append`` (base64 audio) then
      ``input_audio_buffer.commit`` → ``input_audio_buffer.committed``, and for a transcription session
      ``conversation.item.input_audio_transcription.delta`` … ``.completed`` (the transcript is
      :data:`TRANSCRIPT`); ``input_audio_buffer.clear`` → ``input_audio_buffer.cleared``;
    * realtime: ``response.create`` → ``response.created`` then ``response.done``;
    * translation: ``session.input_audio_buffer.append`` → ``session.input_transcript.delta`` and
      ``session.output_transcript.delta``; ``session.close`` → ``session.closed`` (then the emulator closes);
    * anything else, or malformed JSON: an ``error`` event.
    """

    minted: MintedSession
    audio_bytes: int = 0
    last_item: str | None = None
    closed: bool = False

    def created(self) -> dict[str, Any]:
        return {"type": "session.created", "event_id": _event_id(), "session": self.minted.session}

    def answer(self, text: str) -> Iterator[dict[str, Any]]:
        """The server events for one client event (a text frame)."""
        try:
            event = json.loads(text)
        except ValueError:
            yield error_event("The event is not valid JSON.", "invalid_json")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            yield error_event("An event must be a JSON object with a 'type'.", "invalid_event", param="type")
            return
        client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        handler = self._for(self.minted.kind).get(event["type"])
        if handler is None:
            message = (
                f"Invalid value: '{event['type']}'. Not an event this {self.minted.kind} session takes here."
            )
            yield error_event(message, "invalid_value", client_event_id, "type")
            return
        yield from handler(self, event, client_event_id)

    @staticmethod
    def _for(kind: str) -> dict[str, Any]:
        if kind == "translation":
            return {
                "session.input_audio_buffer.append": SessionEvents._translate,
                "session.close": SessionEvents._close,
            }
        events: dict[str, Any] = {
            "input_audio_buffer.append": SessionEvents._append,
            "input_audio_buffer.commit": SessionEvents._commit,
            "input_audio_buffer.clear": SessionEvents._clear,
        }
        if kind == "realtime":
            events["response.create"] = SessionEvents._respond
        return events

    @staticmethod
    def _audio_size(event: dict[str, Any]) -> int:
        """How many bytes of audio the event's base64 ``audio`` holds; -1 when it is not base64."""
        audio = event.get("audio")
        try:
            return len(base64.b64decode(audio, validate=True)) if isinstance(audio, str) else -1
        except (binascii.Error, ValueError):
            return -1

    def _append(self, event: dict[str, Any], client_event_id: str | None) -> Iterator[dict[str, Any]]:
        size = self._audio_size(event)
        if size < 0:
            yield error_event(
                "'audio' must be base64-encoded audio.", "invalid_value", client_event_id, "audio"
            )
            return
        self.audio_bytes += size

    def _commit(self, event: dict[str, Any], client_event_id: str | None) -> Iterator[dict[str, Any]]:
        if not self.audio_bytes:
            yield error_event(
                "Error committing input audio buffer: the buffer is empty.",
                "input_audio_buffer_commit_empty",
                client_event_id,
            )
            return
        item, previous = _item_id(), self.last_item
        self.last_item, seconds, self.audio_bytes = item, self.audio_bytes / 48_000, 0  # pcm16 at 24 kHz
        yield {
            "type": "input_audio_buffer.committed",
            "event_id": _event_id(),
            "previous_item_id": previous,
            "item_id": item,
        }
        if self.minted.kind == "transcription":
            for word in TRANSCRIPT.split(" "):
                yield {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "event_id": _event_id(),
                    "item_id": item,
                    "content_index": 0,
                    "delta": word + " ",
                }
            yield {
                "type": "conversation.item.input_audio_transcription.completed",
                "event_id": _event_id(),
                "item_id": item,
                "content_index": 0,
                "transcript": TRANSCRIPT,
                "usage": {"type": "duration", "seconds": round(seconds, 3)},
            }

    def _clear(self, event: dict[str, Any], client_event_id: str | None) -> Iterator[dict[str, Any]]:
        self.audio_bytes = 0
        yield {"type": "input_audio_buffer.cleared", "event_id": _event_id()}

    def _respond(self, event: dict[str, Any], client_event_id: str | None) -> Iterator[dict[str, Any]]:
        response = {
            "id": "resp_" + secrets.token_hex(8),
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
            "conversation_id": "conv_" + secrets.token_hex(8),
            "output_modalities": self.minted.session.get("output_modalities", ["audio"]),
            "max_output_tokens": self.minted.session.get("max_output_tokens", "inf"),
        }
        yield {"type": "response.created", "event_id": _event_id(), "response": response}
        done = {**response, "status": "completed", "status_details": {"type": "completed"}}
        done["usage"] = {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0}
        yield {"type": "response.done", "event_id": _event_id(), "response": done}

    def _translate(self, event: dict[str, Any], client_event_id: str | None) -> Iterator[dict[str, Any]]:
        if self._audio_size(event) < 0:
            yield error_event(
                "'audio' must be base64-encoded audio.", "invalid_value", client_event_id, "audio"
            )
            return
        yield {"type": "session.input_transcript.delta", "event_id": _event_id(), "delta": TRANSCRIPT}
        yield {"type": "session.output_transcript.delta", "event_id": _event_id(), "delta": TRANSCRIPT}

    def _close(self, event: dict[str, Any], client_event_id: str | None) -> Iterator[dict[str, Any]]:
        self.closed = True
        yield {"type": "session.closed", "event_id": _event_id()}


def serve(
    connection: socket.socket, path: str, headers: Mapping[str, str], minted: Mapping[str, MintedSession]
) -> None:
    """Handshake, then serve one session on ``connection`` (its HTTP request already read) until it closes."""
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Request
    from websockets.server import ServerProtocol
    from websockets.typing import Subprotocol

    def select_subprotocol(_: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None

    protocol = ServerProtocol(
        select_subprotocol=select_subprotocol, max_size=16 * 1024 * 1024, logger=_QUIET_LOGGER
    )
    # The HTTP server has read the request: hand it to the protocol as bytes, which starts its parser.
    lines = [f"GET {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    protocol.receive_data("\r\n".join(lines).encode("latin-1"))
    (request,) = protocol.events_received()
    assert isinstance(request, Request)
    try:
        session = SessionEvents(admit(path, headers, minted, time.time()))
        response = protocol.accept(request)
    except HandshakeRefusal as refusal:
        session, response = None, protocol.reject(refusal.status, refusal.body)
        response.headers["Content-Type"] = "application/json"
    protocol.send_response(response)
    _flush(connection, protocol)
    if session is None or response.status_code != 101:
        return

    def send(event: dict[str, Any]) -> None:
        protocol.send_text(json.dumps(event).encode())

    connection.settimeout(SESSION_SECONDS)  # a session may sit idle; the HTTP server's minute is for requests
    send(session.created())
    _flush(connection, protocol)
    while not session.closed:
        try:
            data = connection.recv(65536)
        except OSError:
            return
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        for frame in protocol.events_received():
            if not isinstance(frame, Frame):
                continue
            if frame.opcode is Opcode.TEXT:
                for event in session.answer(bytes(frame.data).decode("utf-8", "replace")):
                    send(event)
            elif frame.opcode is Opcode.BINARY:
                send(error_event("Events are JSON text frames.", "invalid_frame"))
        _flush(connection, protocol)
        if not data or protocol.close_expected():
            return
    protocol.send_close(1000)
    _flush(connection, protocol)


def _flush(connection: socket.socket, protocol: Any) -> None:
    for chunk in protocol.data_to_send():
        if chunk:
            connection.sendall(chunk)


class SessionRefused(Exception):
    """The emulator refused to open a session with a token: the HTTP status and OpenAI's error object."""

    def __init__(self, status: int, error: Mapping[str, Any]) -> None:
        super().__init__(
            f"The session was refused: HTTP {status} ({error.get('code')}): {error.get('message')}"
        )
        self.status, self.error = status, dict(error)


def open_session(
    emulator: Any, token: str, *, endpoint: str | None = None, timeout: float = 10
) -> dict[str, Any]:
    """Open a session with ``token`` as a client does, and return it as ``session.created`` holds it.

    For tests of a DAG's client side: hand it the token a run pushed to XCom, or the one a client would
    read from the store. It connects to the emulator's WebSocket endpoint with ``Authorization: Bearer``
    (the endpoint of the token's kind, unless ``endpoint`` names one), reads the first event, and closes.
    A token the emulator refuses (unknown, expired, of another kind) raises :class:`SessionRefused`.
    Needs the ``websockets`` library (the ``[sessions]`` extra).
    """
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    minted = emulator.sessions.get(token)
    if endpoint is None:
        endpoint = "/v1/realtime/translations" if minted and minted.kind == "translation" else "/v1/realtime"
    url = emulator.base_url.replace("http://", "ws://", 1).removesuffix("/v1") + endpoint
    try:
        with connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=timeout
        ) as socket:
            created = json.loads(socket.recv(timeout))
    except InvalidStatus as refused:
        try:
            error = json.loads(refused.response.body or b"{}").get("error") or {}
        except ValueError:
            error = {}
        raise SessionRefused(refused.response.status_code, error) from None
    if created.get("type") != "session.created":
        raise SessionRefused(200, created.get("error") or {"message": f"first event: {created.get('type')}"})
    return dict(created["session"])
