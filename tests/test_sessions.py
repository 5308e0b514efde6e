"""A minted token opens a session: the emulator's client side, used by real clients (the official SDK, and
a browser's WebSocket subprotocol form through the websockets library). Every server event is checked
against OpenAI's published event schemas and parsed by the SDK's own event types."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from session_checks import AUDIO, assert_valid

from airflow_provider_realtime.testing import RealtimeEmulator

pytestmark = pytest.mark.version_independent
openai = pytest.importorskip("openai")
pytest.importorskip("websockets")


def sdk(emulator: RealtimeEmulator, token: str) -> Any:
    return openai.OpenAI(api_key=token, base_url=emulator.base_url, max_retries=0)


def raw(event: Any) -> dict[str, Any]:
    """An SDK event as the JSON it was sent as."""
    return event.model_dump(exclude_unset=True, mode="json")


def test_the_sdk_opens_a_realtime_session_with_a_minted_token_and_gets_a_response(
    mint: Callable[..., Any],
    emulator: RealtimeEmulator,
) -> None:
    minted = mint("realtime", {"model": "gpt-realtime-2.1", "instructions": "Be brief."})
    with sdk(emulator, minted.body["value"]).realtime.connect(model="gpt-realtime-2.1") as connection:
        created = connection.recv()
        assert created.type == "session.created"
        assert raw(created)["session"] == minted.body["session"], "the session exactly as minted"
        connection.send({"type": "response.create"})
        events = [connection.recv(), connection.recv()]
    assert [event.type for event in events] == ["response.created", "response.done"]
    for event in [created, *events]:
        assert_valid(raw(event), "realtime")


def test_the_sdk_opens_a_transcription_session_and_gets_the_transcript(
    mint: Callable[..., Any], emulator: RealtimeEmulator
) -> None:
    minted = mint("transcription", {"input_audio_transcription": {"model": "gpt-transcribe"}})
    with sdk(emulator, minted.body["value"]).realtime.connect() as connection:
        created = connection.recv()
        assert raw(created)["session"] == minted.body["session"]
        connection.send({"type": "input_audio_buffer.append", "audio": AUDIO})
        connection.send({"type": "input_audio_buffer.commit"})
        events = [connection.recv()]
        while events[-1].type != "conversation.item.input_audio_transcription.completed":
            events.append(connection.recv())
    assert events[0].type == "input_audio_buffer.committed"
    deltas = "".join(event.delta for event in events if event.type.endswith(".delta"))
    assert deltas.strip() == events[-1].transcript
    for event in [created, *events]:
        assert_valid(raw(event), "transcription")


def test_the_sdk_opens_a_translation_session_on_its_own_endpoint(
    mint: Callable[..., Any], emulator: RealtimeEmulator
) -> None:
    session = {"model": "gpt-realtime-translate", "audio": {"output": {"language": "es"}}}
    minted = mint("translation", session)
    client = sdk(emulator, minted.body["value"])
    with client.realtime.translations.connect(model="gpt-realtime-translate") as connection:
        created = connection.recv()
        connection.send({"type": "session.input_audio_buffer.append", "audio": AUDIO})
        events = [connection.recv(), connection.recv()]
    assert created.type == "session.created" and raw(created)["session"] == minted.body["session"]
    assert [event.type for event in events] == [
        "session.input_transcript.delta",
        "session.output_transcript.delta",
    ]
    for event in [created, *events]:
        assert_valid(raw(event), "translation")


def open_raw(emulator: RealtimeEmulator, path: str, **options: Any) -> Any:
    from websockets.sync.client import connect

    return connect(
        emulator.base_url.replace("http://", "ws://").removesuffix("/v1") + path, open_timeout=10, **options
    )


def test_a_browser_opens_a_session_with_the_token_as_a_subprotocol(
    mint: Callable[..., Any], emulator: RealtimeEmulator
) -> None:
    minted = mint("realtime")
    offered = ["realtime", "openai-insecure-api-key." + minted.body["value"]]
    with open_raw(emulator, "/v1/realtime", subprotocols=offered) as websocket:
        assert websocket.subprotocol == "realtime"
        created = json.loads(websocket.recv(timeout=10))
    assert created["type"] == "session.created" and created["session"]["id"] == minted.body["session"]["id"]


def test_a_malformed_event_gets_an_error_event_and_the_session_goes_on(
    mint: Callable[..., Any], emulator: RealtimeEmulator
) -> None:
    minted = mint("realtime")
    with open_raw(
        emulator, "/v1/realtime", additional_headers={"Authorization": f"Bearer {minted.body['value']}"}
    ) as ws:
        ws.recv(timeout=10)
        answers = []
        for sent in (
            "not json",
            json.dumps({"no": "type"}),
            json.dumps({"type": "made.up", "event_id": "e1"}),
        ):
            ws.send(sent)
            answers.append(json.loads(ws.recv(timeout=10)))
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        answers.append(json.loads(ws.recv(timeout=10)))
        ws.send(json.dumps({"type": "response.create"}))
        after = json.loads(ws.recv(timeout=10))
    assert [answer["type"] for answer in answers] == ["error"] * 4
    assert answers[2]["error"]["event_id"] == "e1" and answers[2]["error"]["param"] == "type"
    assert answers[3]["error"]["code"] == "input_audio_buffer_commit_empty"
    assert after["type"] == "response.created", "the connection survived"
    for answer in answers:
        assert_valid(answer, "realtime")


@pytest.mark.parametrize("case", ["unknown", "expired", "other-kind", "no-token"])
def test_a_token_that_cannot_open_the_session_is_refused_at_the_handshake(
    mint: Callable[..., Any], emulator: RealtimeEmulator, case: str
) -> None:
    from websockets.exceptions import InvalidStatus

    path, token = "/v1/realtime", "ek_" + "x" * 32
    if case == "expired":
        token = mint("realtime").body["value"]
        emulator.expire(token)
    elif case == "other-kind":
        token = mint("realtime").body["value"]
        path = "/v1/realtime/translations"
    headers = {} if case == "no-token" else {"Authorization": f"Bearer {token}"}
    with pytest.raises(InvalidStatus) as refused:
        open_raw(emulator, path, additional_headers=headers)
    response = refused.value.response
    assert response.status_code == (400 if case == "other-kind" else 401)
    assert json.loads(response.body)["error"]["type"] == "invalid_request_error"


def test_the_sdk_sees_a_refused_token_as_an_error(
    mint: Callable[..., Any], emulator: RealtimeEmulator
) -> None:
    token = mint("realtime").body["value"]
    emulator.expire(token)
    with pytest.raises(Exception, match="401"), sdk(emulator, token).realtime.connect(model="gpt-realtime"):
        pass
