"""A browser opens a session with a minted token, both ways a browser can, from an app's page on another
origin than the emulator's: headless Chromium's own WebSocket, the token as the subprotocol
``openai-insecure-api-key.<token>`` beside ``realtime`` (browsers cannot set headers); and WebRTC as OpenAI
tells browsers to connect, a fake microphone's track and the ``oai-events`` data channel, the SDP offer
posted to ``/v1/realtime/calls`` with the token."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
from airflow_provider_realtime.testing import RealtimeEmulator

pytestmark = [pytest.mark.airflow_process, pytest.mark.version_independent]
pytest.importorskip("websockets")

OPEN_SESSION = """
const [url, token, done] = arguments;
const seen = [];
const socket = new WebSocket(url, ["realtime", "openai-insecure-api-key." + token]);
socket.onmessage = (message) => {
  const event = JSON.parse(message.data);
  seen.push(event.type);
  if (event.type === "session.created") socket.send(JSON.stringify({type: "response.create"}));
  if (event.type === "response.done") { socket.close(); done({seen, protocol: socket.protocol}); }
};
socket.onerror = () => done({seen, refused: true});
"""

CALL = """
const [base, token, done] = arguments;
const seen = [];
(async () => {
  const call = new RTCPeerConnection();
  const microphone = await navigator.mediaDevices.getUserMedia({audio: true});
  call.addTrack(microphone.getAudioTracks()[0], microphone);
  const events = call.createDataChannel("oai-events");
  const commit = () => events.send(JSON.stringify({type: "input_audio_buffer.commit"}));
  events.onmessage = (message) => {
    const event = JSON.parse(message.data);
    seen.push(event.type);
    // Commit once the microphone's audio has reached the server (an empty buffer is an error event).
    if (event.type === "session.created" || event.type === "error") setTimeout(commit, 50);
    if (event.type === "conversation.item.input_audio_transcription.completed") {
      call.close();
      done({seen: [...new Set(seen)], transcript: event.transcript});
    }
  };
  await call.setLocalDescription(await call.createOffer());
  const answer = await fetch(base + "/realtime/calls", {
    method: "POST",
    body: call.localDescription.sdp,
    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/sdp"},
  });
  if (answer.status !== 201) {
    call.close();
    done({seen, status: answer.status, code: (await answer.json()).error.code});
    return;
  }
  await call.setRemoteDescription({type: "answer", sdp: await answer.text()});
})().catch((error) => done({seen, failed: String(error)}));
"""


@contextlib.contextmanager
def app_page() -> Iterator[str]:
    """An app's page on a loopback origin of its own (Chromium lets a page reach loopback only from a
    local origin): an empty HTML page, whose address is yielded."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>app</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def open_in_the_browser(browser: Any, page: str, emulator: RealtimeEmulator, token: str) -> dict[str, Any]:
    browser.get(page)
    browser.set_script_timeout(30)
    url = emulator.base_url.replace("http://", "ws://") + "/realtime"
    return dict(browser.execute_async_script(OPEN_SESSION, url, token))


def test_a_browser_opens_a_realtime_session_with_a_minted_token(
    browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RealtimeEmulator() as emulator, app_page() as page:
        monkeypatch.setenv("AIRFLOW_CONN_BROWSER_SESSIONS", emulator.connection_json())
        hook = OpenAIRealtimeHook(conn_id="browser_sessions")
        token = hook.create("realtime").body["value"]
        translation = hook.create("translation", {"model": "gpt-realtime-translate"}).body["value"]
        opened = open_in_the_browser(browser, page, emulator, token)
        emulator.expire(token)
        refused = {
            case: open_in_the_browser(browser, page, emulator, refused_token)
            for case, refused_token in (
                ("expired", token),
                ("unknown", "ek_" + "7" * 32),
                ("of another kind", translation),  # a translation token on /v1/realtime
            )
        }
    assert opened == {
        "seen": ["session.created", "response.created", "response.done"],
        "protocol": "realtime",
    }
    nothing = {"seen": [], "refused": True}
    assert refused == {"expired": nothing, "unknown": nothing, "of another kind": nothing}


def test_a_browser_opens_a_transcription_call_over_webrtc_with_its_microphone(
    browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("aiortc")
    with RealtimeEmulator() as emulator, app_page() as page:
        monkeypatch.setenv("AIRFLOW_CONN_BROWSER_SESSIONS", emulator.connection_json())
        token = OpenAIRealtimeHook(conn_id="browser_sessions").create("transcription").body["value"]
        browser.get(page)
        browser.set_script_timeout(30)
        hook = OpenAIRealtimeHook(conn_id="browser_sessions")
        translation = hook.create("translation", {"model": "gpt-realtime-translate"}).body["value"]
        opened = dict(browser.execute_async_script(CALL, emulator.base_url, token))
        emulator.expire(token)
        refused = {
            case: dict(browser.execute_async_script(CALL, emulator.base_url, refused_token))
            for case, refused_token in (
                ("expired", token),
                ("unknown", "ek_" + "7" * 32),
                ("of another kind", translation),
            )
        }
    assert opened.get("transcript") == "Hello from the emulator.", opened
    assert opened["seen"][0] == "session.created"
    assert {"input_audio_buffer.committed", "conversation.item.input_audio_transcription.delta"} <= set(
        opened["seen"]
    )
    assert refused == {
        "expired": {"seen": [], "status": 401, "code": "client_secret_expired"},
        "unknown": {"seen": [], "status": 401, "code": "invalid_api_key"},
        "of another kind": {"seen": [], "status": 400, "code": "invalid_session_type"},
    }
