"""The key in use never reaches a result, an exception or XCom, however a server spells it back: escaped
JSON, any case, glued to other characters, in a header, for either API type."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import hostile
import pytest
from operator_runs import RecordingTaskInstance, run

from airflow_provider_realtime.exceptions import (
    RealtimeBatchError,
    RealtimeMalformedResponseError,
    RealtimeServerError,
)
from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

pytestmark = pytest.mark.version_independent

KEY = f"sk-proj-{secrets.token_hex(20)}qzxw"
AZURE_KEY = f"{secrets.token_hex(16)}"  # Azure keys have no prefix: 32 hex characters


def json_escaped(text: str, at: int) -> str:
    """``text`` with the character at ``at`` written as a JSON ``\\uXXXX`` escape."""
    return text[:at] + f"\\u{ord(text[at]):04x}" + text[at + 1 :]


def minted_echoing(spelled: str) -> bytes:
    """A 200 answer with a token whose echoed instructions quote the key as ``spelled`` (raw JSON text)."""
    return (
        '{"value": "ek_' + "b" * 32 + '", "expires_at": 2000000000, '
        '"session": {"type": "realtime", "id": "sess_1", "instructions": "key: ' + spelled + '"}}'
    ).encode()


@pytest.fixture
def connect(connection_to: Callable[..., str]) -> Callable[..., str]:
    """Store a connection to ``host`` and return its id."""

    def make(host: str, *, password: str = KEY, **extra: Any) -> str:
        return connection_to(host, password=password, name="echo", **extra)

    return make


@pytest.mark.parametrize(
    ("password", "api_type", "spelled"),
    [
        pytest.param(KEY, "openai", json_escaped(KEY, 0), id="openai-first-character-escaped"),
        pytest.param(KEY, "openai", json_escaped(json_escaped(KEY, 5), 30), id="openai-two-escapes"),
        pytest.param(KEY, "openai", json_escaped(KEY.upper(), 12), id="openai-upper-case-escaped"),
        pytest.param(AZURE_KEY, "azure", json_escaped(AZURE_KEY, 3), id="azure-escaped"),
        pytest.param(AZURE_KEY, "azure", "x" + json_escaped(AZURE_KEY, 31) + "y", id="azure-glued"),
    ],
)
@pytest.mark.parametrize("result_format", ["structured", "raw"])
def test_an_answer_quoting_the_key_in_escaped_json_is_refused_and_nothing_reaches_xcom(
    connect: Callable[..., str], password: str, api_type: str, spelled: str, result_format: str
) -> None:
    with hostile.serving(hostile.answer(200, minted_echoing(spelled))) as server:
        conn_id = connect(server.base_url, password=password, api_type=api_type, max_retries=0)
        from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator

        operator = CreateRealtimeSessionOperator(task_id="t", conn_id=conn_id, result_format=result_format)
        with pytest.raises(RealtimeMalformedResponseError, match="quotes the API key") as caught:
            run(operator)
        assert len(server.requests) == 1
    assert password not in str(caught.value)


def test_an_escaped_key_in_one_fleet_item_fails_that_item_only_and_stays_out_of_xcom(
    connect: Callable[..., str],
) -> None:
    answers = iter([minted_echoing("harmless"), minted_echoing(json_escaped(KEY, 1))])

    def behave(server: hostile.HostileServer, client: Any, seen: hostile.Seen) -> None:
        body = next(answers)
        client.sendall(hostile.head(200, length=len(body)) + body)

    with hostile.serving(behave) as server:
        conn_id = connect(server.base_url, max_retries=0)
        from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator

        operator = CreateRealtimeSessionOperator(task_id="t", conn_id=conn_id, count=2, concurrency=1)
        ti = RecordingTaskInstance()
        with pytest.raises(RealtimeBatchError, match="1 of 2 client secrets failed") as caught:
            run(operator, ti)
    assert [item is None for item in ti.pushed["return_value"]] == [False, True]
    assert ti.pushed["failures"][0]["error"] == "RealtimeMalformedResponseError"
    for text in (str(caught.value), json.dumps(ti.pushed)):
        assert KEY[8:20] not in text.lower()


@pytest.mark.parametrize(
    ("password", "api_type", "request_id"),
    [
        pytest.param(KEY, "openai", f"req_{KEY}", id="openai-key-glued-to-req_"),
        pytest.param(KEY, "openai", f"req_{KEY.upper()[3:]}", id="openai-key-body-upper-case"),
        pytest.param(AZURE_KEY, "azure", AZURE_KEY, id="azure-key-as-the-whole-id"),
        pytest.param(AZURE_KEY, "azure", f"req_{AZURE_KEY}", id="azure-key-glued-to-req_"),
    ],
)
def test_a_key_sent_back_as_the_request_id_reaches_no_exception_and_no_xcom_failure(
    connect: Callable[..., str], password: str, api_type: str, request_id: str
) -> None:
    error_body = b'{"error": {"message": "busy", "type": "server_error"}}'
    ok_body = json.dumps({"value": "ek_" + "c" * 32, "expires_at": 2_000_000_000, "session": {}}).encode()
    answers = iter([(503, error_body), (200, ok_body)])

    def behave(server: hostile.HostileServer, client: Any, seen: hostile.Seen) -> None:
        status, body = next(answers)
        head = hostile.head(status, {"x-request-id": request_id}, length=len(body))
        client.sendall(head.replace(b"x-request-id: req_hostile\r\n", b"") + body)

    secret = password[8:] if password.startswith("sk-proj-") else password
    with hostile.serving(behave) as server:
        conn_id = connect(server.base_url, password=password, api_type=api_type, max_retries=0)
        operator = CreateTranscriptionSessionOperator(
            task_id="t", conn_id=conn_id, count=2, concurrency=1, allow_partial=True
        )
        result, ti = run(operator)
    failures = ti.pushed["failures"]
    assert [item["error"] for item in failures] == ["RealtimeServerError"]
    assert result[1]["client_secret"] == "ek_" + "c" * 32
    texts = [json.dumps(ti.pushed), json.dumps(result)]
    for text in texts:
        assert secret.lower()[:12] not in text.lower() and secret.lower()[-12:] not in text.lower()


def test_a_key_sent_back_as_the_request_id_of_an_error_is_not_in_the_hooks_exception(
    connect: Callable[..., str],
) -> None:
    body = b'{"error": {"message": "busy"}}'
    with hostile.serving(hostile.answer(500, body, {"x-request-id": f"req_{KEY}"})) as server:
        hook = OpenAIRealtimeHook(conn_id=connect(server.base_url, max_retries=0))
        with pytest.raises(RealtimeServerError) as caught:
            hook.create("transcription")
    assert KEY[8:] not in str(caught.value) and KEY[8:] not in (caught.value.request_id or "")
