"""A minted token opens a session over WebRTC, as OpenAI tells browsers and devices to: the SDP offer to
``POST /v1/realtime/calls``, the answer back, the events on the ``oai-events`` data channel. The client
here is aiortc with a microphone track of its own (the browser's side is tests/test_browser_sessions.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from session_checks import assert_valid

from airflow_provider_realtime.testing import RealtimeEmulator

pytestmark = pytest.mark.version_independent
aiortc = pytest.importorskip("aiortc")

EVENT_SECONDS = 20  # far above the emulator's usual few milliseconds: a bound, not a measure


def post_offer(emulator: RealtimeEmulator, token: str, offer: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{emulator.base_url}/realtime/calls",
        data=offer,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp", **headers},
        timeout=30,
    )


class Call:
    """One client's WebRTC call: a peer connection with a microphone track and the ``oai-events`` channel."""

    def __init__(self) -> None:
        from aiortc import RTCPeerConnection
        from aiortc.mediastreams import AudioStreamTrack

        self.connection = RTCPeerConnection()
        self.channel = self.connection.createDataChannel("oai-events")
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.channel.on("message", lambda message: self.events.put_nowait(json.loads(message)))
        self.connection.addTrack(AudioStreamTrack())  # a microphone sending silence

    async def offer(self) -> str:
        await self.connection.setLocalDescription(await self.connection.createOffer())
        return str(self.connection.localDescription.sdp)

    async def accept(self, answer: str) -> None:
        from aiortc import RTCSessionDescription

        await self.connection.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def next_event(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), EVENT_SECONDS)

    async def send(self, event: dict[str, Any]) -> None:
        while self.channel.readyState != "open":
            await asyncio.sleep(0.01)
        self.channel.send(json.dumps(event))


async def open_call(emulator: RealtimeEmulator, token: str) -> tuple[Call, requests.Response]:
    call = Call()
    answer = await asyncio.to_thread(post_offer, emulator, token, await call.offer())
    if answer.status_code == 201:
        await call.accept(answer.text)
    return call, answer


def test_a_transcription_token_opens_a_call_that_transcribes_the_microphone(
    mint: Callable[..., Any],
    emulator: RealtimeEmulator,
) -> None:
    minted = mint("transcription", {"audio": {"input": {"transcription": {"model": "gpt-transcribe"}}}})

    async def scenario() -> list[dict[str, Any]]:
        call, answer = await open_call(emulator, minted.body["value"])
        try:
            assert answer.status_code == 201, answer.text
            assert answer.headers["Content-Type"] == "application/sdp"
            assert answer.headers["Location"].startswith("/v1/realtime/calls/rtc_")
            assert answer.text.startswith("v=0")
            events = [await call.next_event()]
            # Commit once the microphone's audio has reached the emulator (an empty buffer is an error).
            while events[-1]["type"] != "conversation.item.input_audio_transcription.completed":
                if events[-1]["type"] in ("session.created", "error"):
                    await call.send({"type": "input_audio_buffer.commit"})
                events.append(await call.next_event())
            return events
        finally:
            await call.connection.close()

    events = asyncio.run(scenario())
    assert events[0] == {**events[0], "type": "session.created", "session": minted.body["session"]}
    assert {event["type"] for event in events} >= {
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.delta",
    }
    for event in events:
        assert_valid(event, "transcription")


def test_a_realtime_token_opens_a_call_that_answers_response_create(
    mint: Callable[..., Any], emulator: RealtimeEmulator
) -> None:
    minted = mint("realtime", {"model": "gpt-realtime-2.1"})

    async def scenario() -> list[dict[str, Any]]:
        call, answer = await open_call(emulator, minted.body["value"])
        try:
            assert answer.status_code == 201, answer.text
            created = await call.next_event()
            await call.send({"type": "response.create"})
            return [created, await call.next_event(), await call.next_event()]
        finally:
            await call.connection.close()

    events = asyncio.run(scenario())
    assert [event["type"] for event in events] == ["session.created", "response.created", "response.done"]
    assert events[0]["session"] == minted.body["session"]
    for event in events:
        assert_valid(event, "realtime")


@pytest.mark.parametrize(
    ("token_of", "status", "code"),
    [
        ("expired", 401, "client_secret_expired"),
        ("unknown", 401, "invalid_api_key"),
        ("translation", 400, "invalid_session_type"),
        ("api key", 401, "invalid_api_key"),
    ],
)
def test_a_token_that_cannot_open_a_call_is_refused_with_openais_error(
    mint: Callable[..., Any], emulator: RealtimeEmulator, token_of: str, status: int, code: str
) -> None:
    if token_of == "expired":
        token = mint("transcription").body["value"]
        emulator.expire(token)
    elif token_of == "translation":
        token = mint("translation", {"model": "gpt-realtime-translate"}).body["value"]
    elif token_of == "api key":
        token = emulator.api_key  # a call needs a client secret: the emulator takes no key here
    else:
        token = "ek_" + "0" * 32

    async def scenario() -> requests.Response:
        call, answer = await open_call(emulator, token)
        await call.connection.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert emulator.calls.open_calls == 0


def test_a_request_without_an_offer_is_refused(mint: Callable[..., Any], emulator: RealtimeEmulator) -> None:
    token = mint("transcription").body["value"]
    answer = post_offer(emulator, token, "hello")
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "sdp"


def test_a_browsers_preflight_is_answered_for_any_origin(emulator: RealtimeEmulator) -> None:
    preflight = requests.options(
        f"{emulator.base_url}/realtime/calls",
        headers={
            "Origin": "http://127.0.0.1:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type"} <= {
        name.strip().lower() for name in preflight.headers["Access-Control-Allow-Headers"].split(",")
    }


def test_an_offer_in_a_multipart_form_is_answered_as_the_sdk_sends_it(
    mint: Callable[..., Any], emulator: RealtimeEmulator
) -> None:
    """The SDK posts a multipart form (an ``sdp`` part, and a ``session`` part the token makes moot)."""
    minted = mint("realtime")

    async def scenario() -> requests.Response:
        call = Call()
        offer = await call.offer()
        answer = await asyncio.to_thread(
            requests.post,
            f"{emulator.base_url}/realtime/calls",
            files={
                "sdp": (None, offer, "application/sdp"),
                "session": (None, json.dumps({"type": "realtime"}), "application/json"),
            },
            headers={"Authorization": f"Bearer {minted.body['value']}"},
            timeout=30,
        )
        await call.connection.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.status_code == 201, answer.text
    assert answer.text.startswith("v=0") and "a=fingerprint" in answer.text
