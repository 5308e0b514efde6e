"""WebRTC calls: a minted token opens a session the way OpenAI tells browsers to.

The client posts its SDP offer to ``POST /v1/realtime/calls`` with ``Authorization: Bearer ek_…``
(``Content-Type: application/sdp``, or multipart with an ``sdp`` part as the SDK sends), and gets the SDP
answer back (201, ``Location: /v1/realtime/calls/<call id>``). The session's events then travel as JSON
text on the data channel the client opened, ``oai-events``: ``session.created`` first, then the same
answers as a WebSocket session (:class:`~airflow_provider_realtime.testing.sessions.SessionEvents`). Audio
from the client's microphone track counts as appended audio, so ``input_audio_buffer.commit`` transcribes
what the microphone sent. The same tokens are admitted as on the WebSocket (minted here, not expired,
realtime or transcription); a refusal is OpenAI's error JSON.

WebRTC is the ``aiortc`` library's (``pip install 'airflow-provider-realtime[sessions]'``); its peer
connections run on one asyncio loop in a thread of their own. ICE offers the host's own interface
addresses (aiortc leaves 127.0.0.1 out), so media between a browser and the emulator on one machine
never leaves it, but does not use the loopback interface's addresses either.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import secrets
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, Final

from airflow_provider_realtime.testing.sessions import MintedSession, SessionEvents, error_event

PATH: Final = "/v1/realtime/calls"
DATA_CHANNEL: Final = "oai-events"
ANSWER_SECONDS: Final = 30  # gathering ICE candidates and answering an offer takes well under a second


class BadOffer(ValueError):
    """A request to ``/v1/realtime/calls`` that holds no SDP offer."""


def offer_of(content_type: str, body: bytes) -> str:
    """The SDP offer of a call request: the body itself, or the ``sdp`` part of a multipart form."""
    if content_type.split(";", 1)[0].strip().lower() == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "sdp":
                payload = part.get_payload(decode=True)  # the part's bytes, whatever its content type
                offer = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                if offer.startswith("v=0"):
                    return offer
                break
        raise BadOffer("Missing required parameter: 'sdp' (an SDP offer).")
    offer = body.decode("utf-8", "replace")
    if not offer.startswith("v=0"):
        raise BadOffer("The request body must be an SDP offer (Content-Type: application/sdp).")
    return offer


class CallServer:
    """Answers WebRTC offers with aiortc peer connections, all on one event loop in its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._calls: dict[str, Any] = {}  # call id -> RTCPeerConnection, until it ends
        self._listening: set[asyncio.Future[None]] = set()

    @property
    def open_calls(self) -> int:
        return len(self._calls)

    def answer(self, offer: str, minted: MintedSession) -> tuple[str, str]:
        """``(call id, SDP answer)`` for a client's offer; the call then serves ``minted``'s session."""
        call_id = "rtc_" + secrets.token_hex(12)
        future: Future[str] = asyncio.run_coroutine_threadsafe(
            self._answer(call_id, offer, minted), self._running_loop()
        )
        return call_id, future.result(ANSWER_SECONDS)

    def close(self) -> None:
        """End every call and the loop (the emulator's ``stop``)."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._hang_up_all(), loop).result(ANSWER_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(ANSWER_SECONDS)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="realtime-emulator-calls", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    async def _hang_up_all(self) -> None:
        calls, self._calls = list(self._calls.values()), {}
        await asyncio.gather(*(call.close() for call in calls), return_exceptions=True)

    async def _answer(self, call_id: str, offer: str, minted: MintedSession) -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        call = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # host candidates only: no STUN server
        self._calls[call_id] = call
        session = SessionEvents(minted)

        @call.on("datachannel")
        def _on_channel(channel: Any) -> None:
            if channel.label == DATA_CHANNEL:
                _serve_channel(channel, session)

        @call.on("track")
        def _on_track(track: Any) -> None:
            if track.kind == "audio":
                listening = asyncio.ensure_future(_listen(track, session))
                self._listening.add(listening)  # the loop keeps only a weak reference to a task
                listening.add_done_callback(self._listening.discard)

        @call.on("connectionstatechange")
        async def _on_state() -> None:
            if call.connectionState in ("failed", "closed") and self._calls.pop(call_id, None) is not None:
                await call.close()

        await call.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await call.setLocalDescription(await call.createAnswer())  # aiortc gathers every candidate first
        return str(call.localDescription.sdp)


def _serve_channel(channel: Any, session: SessionEvents) -> None:
    """The session's events on the ``oai-events`` data channel: ``session.created``, then answers."""

    def send(event: Mapping[str, Any]) -> None:
        if channel.readyState == "open":
            channel.send(json.dumps(event))

    def on_message(message: str | bytes) -> None:
        if isinstance(message, bytes):
            send(error_event("Events are JSON text messages.", "invalid_frame"))
            return
        for event in session.answer(message):
            send(event)
        if session.closed:
            channel.close()

    channel.on("message", on_message)
    if channel.readyState == "open":
        send(session.created())
    else:
        channel.on("open", lambda: send(session.created()))


async def _listen(track: Any, session: SessionEvents) -> None:
    """Count the microphone's audio as appended audio (in bytes of 24 kHz 16-bit PCM, as the API bills)."""
    from aiortc.mediastreams import MediaStreamError

    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        session.audio_bytes += int(frame.samples * 48_000 / frame.sample_rate)
