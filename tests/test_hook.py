"""The hook against a real HTTP server on 127.0.0.1: exact JSON and headers on the wire, connection handling."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from airflow_provider_realtime import compat
from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook
from airflow_provider_realtime.testing import RealtimeEmulator

MakeHook = Callable[..., OpenAIRealtimeHook]
AIRFLOW_3_ONLY = pytest.mark.skipif(
    compat.airflow_version() < (3, 0), reason="Airflow 2 has no task supervisor: tasks mask their own logs"
)
BETA_SESSION = {
    "input_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
    "turn_detection": {"type": "server_vad", "threshold": 0.4},
}


def test_current_endpoint_gets_the_translated_json_and_bearer_auth(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    response = make_hook().create("transcription", BETA_SESSION, expires_after_seconds=120)

    sent = emulator.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/realtime/client_secrets")
    assert sent.body == {
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                    "turn_detection": {"type": "server_vad", "threshold": 0.4},
                }
            },
        },
        "expires_after": {"anchor": "created_at", "seconds": 120},
    }
    assert sent.headers["authorization"] == f"Bearer {emulator.api_key}"
    assert sent.headers["content-type"] == "application/json"
    for absent in ("openai-beta", "openai-organization", "openai-project", "api-key"):
        assert absent not in sent.headers
    assert response.status == 200
    assert response.body["value"] == emulator.minted_tokens[-1]
    assert response.request_id and response.request_id.startswith("req_")


def test_beta_endpoint_gets_beta_json(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    make_hook().create(
        "transcription", BETA_SESSION, endpoint="transcription_sessions", expires_after_seconds=60
    )

    sent = emulator.requests[-1]
    assert sent.path == "/v1/realtime/transcription_sessions"
    assert sent.body == {
        **BETA_SESSION,
        "client_secret": {"expires_at": {"anchor": "created_at", "seconds": 60}},
    }
    assert "openai-beta" not in sent.headers


def test_organization_and_project_headers_are_sent_when_set(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    make_hook(organization="org-123", project="proj_456").create("transcription")
    headers = emulator.requests[-1].headers
    assert (headers["openai-organization"], headers["openai-project"]) == ("org-123", "proj_456")


def test_azure_sends_the_key_as_api_key_header(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    make_hook(api_type="azure").create("transcription")
    headers = emulator.requests[-1].headers
    assert headers["api-key"] == emulator.api_key
    assert "authorization" not in headers


def test_test_connection_lists_models_and_mints_nothing(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    ok, message = make_hook().test_connection()
    assert ok, message
    assert [(r.method, r.path) for r in emulator.requests] == [("GET", "/v1/models")]
    assert not emulator.minted_tokens


def test_test_connection_reports_a_wrong_key_without_showing_it(make_hook: MakeHook) -> None:
    wrong_key = "sk-wrong-0123456789abcdef"
    ok, message = make_hook(password=wrong_key).test_connection()
    assert not ok
    assert "401" in message and "Authentication failed" in message
    assert (
        wrong_key not in message
        and "0123456789abcdef" not in message
        and "cdef" not in message.split("OpenAI says")[-1].split("***")[0]
    )


def test_test_connection_reports_an_unreachable_host(make_hook: MakeHook) -> None:
    ok, message = make_hook(host="http://127.0.0.1:9/v1").test_connection()
    assert not ok and "Connection failed" in message


def test_the_connection_tests_wording_ends_with_the_test(make_hook: MakeHook) -> None:
    hook = make_hook(host="http://127.0.0.1:9/v1", timeout=0)
    ok, message = hook.test_connection()
    assert not ok and message.startswith("the connection: extra 'timeout'")
    with pytest.raises(ValueError, match=rf"^connection '{hook.conn_id}': extra 'timeout'"):
        hook.create("transcription")  # later errors name the connection by its id again


def test_the_token_is_masked_as_soon_as_it_arrives(make_hook: MakeHook) -> None:
    from airflow_provider_realtime.compat import secrets_masker

    token = make_hook().create("transcription").body["value"]
    assert str(secrets_masker().redact(f"client got {token}")) == "client got ***"


def test_reprs_hold_no_key_and_no_token(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    hook = make_hook()
    response = hook.create("transcription")
    token = response.body["value"]
    for text in (repr(hook), repr(response), repr(hook.settings), str(hook.settings)):
        assert emulator.api_key not in text
        assert token not in text


def test_connections_are_kept_alive_across_hooks(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    for _ in range(5):
        make_hook().create("transcription")
    assert emulator.request_count == 5
    assert emulator.connection_count == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"organisation": "org-1"}, "unknown extra 'organisation'", id="unknown-extra"),
        pytest.param(
            {"timeout": "soon"}, "extra 'timeout' must be a number of seconds, more than 0", id="bad-timeout"
        ),
        pytest.param(
            {"max_retries": -1},
            "extra 'max_retries' must be a whole number, at least 0",
            id="negative-retries",
        ),
        pytest.param({"timeout": "NaN"}, "extra 'timeout' must be a number of seconds", id="nan-timeout"),
        pytest.param({"api_type": "aws"}, "extra 'api_type' must be one of", id="bad-api-type"),
    ],
)
def test_bad_extras_name_the_key_and_connection_but_not_the_value(
    make_hook: MakeHook, extra: dict, message: str
) -> None:
    hook = make_hook(**extra)
    with pytest.raises(ValueError, match=message) as caught:
        hook.create("transcription")
    assert hook.conn_id in str(caught.value)
    assert "soon" not in str(caught.value) and "org-1" not in str(caught.value)


def test_a_connection_without_a_key_is_a_clear_error(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    with pytest.raises(ValueError, match="has no API key"):
        make_hook(password="").create("transcription")
    assert emulator.request_count == 0


def test_uri_form_extras_arrive_as_text_and_still_work(
    monkeypatch: pytest.MonkeyPatch, emulator: RealtimeEmulator
) -> None:
    host = emulator.base_url.replace("http://", "")
    monkeypatch.setenv(
        "AIRFLOW_CONN_REALTIME_URI",
        f"openai-realtime://:{emulator.api_key}@{host}?timeout=7&max_retries=1",
    )
    hook = OpenAIRealtimeHook(conn_id="realtime_uri")
    assert hook.settings.timeout == (5.0, 7.0)
    assert hook.settings.retry.max_retries == 1
    assert hook.base_url == f"https://{host}"  # the URI's path arrives as the connection's schema


def test_bad_settings_fail_before_any_request(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    with pytest.raises(ValueError, match=r"session\.input_audio_format"):
        make_hook().create("transcription", {"input_audio_format": "opus"})
    assert emulator.request_count == 0


def test_form_prefixed_extras_are_understood(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    make_hook(extra__openai_realtime__organization="org-form").create("transcription")
    assert emulator.requests[-1].headers["openai-organization"] == "org-form"


@AIRFLOW_3_ONLY
def test_a_failing_supervisor_does_not_fail_the_mint(
    make_hook: MakeHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.execution_time import task_runner

    hook = make_hook()
    hook.settings  # noqa: B018 - the connection is read first (Airflow 3.0 reads it through the supervisor)

    class BrokenComms:
        def send(self, message: object) -> None:
            raise BrokenPipeError

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", BrokenComms(), raising=False)
    assert hook.create("transcription").status == 200


@pytest.mark.parametrize(
    "innocent",
    ["seek_position_value=12", "week_number_2026", "peek_at_queue", "ek_short", "cheek_1234567890abcdef1234"],
)
def test_only_token_shaped_text_is_masked(make_hook: MakeHook, innocent: str) -> None:
    from airflow_provider_realtime.compat import secrets_masker

    token = make_hook().create("transcription").body["value"]
    line = f"{innocent} then {token}"
    assert str(secrets_masker().redact(line)) == f"{innocent} then ***"


@pytest.mark.parametrize(
    "innocent",
    ["seek_position_value=12", "week_number_2026", "peek_at_queue", "ek_short", "cheek_1234567890abcdef1234"],
)
def test_what_a_supervised_task_sends_loses_only_its_tokens(innocent: str) -> None:
    """The redaction of rendered log lines, plain or JSON, where a token may follow an escape."""
    import json

    from airflow_provider_realtime.masking import redact_rendered

    token = "ek_" + "A1b2-C3d4_" * 3
    for line in (
        f"{innocent} then {token}",
        json.dumps({"event": f"{innocent}\n{token}", "x": f"\x01{token}", "y": f'"{token}"'}),
    ):
        expected = line.replace(token, "***")
        assert redact_rendered(line) == expected
        assert redact_rendered(line.encode()) == expected.encode()


def test_the_tokens_of_a_fleet_are_masked_wherever_they_stand_in_this_process(make_hook: MakeHook) -> None:
    """Past Airflow's own mask_secret, the masker finds every token minted here after a word character,
    an ANSI colour code, URL encoding or a JSON escape (Airflow 2 writes its log files from here), also
    after other secrets were added to it since."""
    from airflow_provider_realtime.compat import mask_secret, secrets_masker
    from airflow_provider_realtime.masking import PUBLIC_MASK_LIMIT

    answers = make_hook().create_many("transcription", [None] * (PUBLIC_MASK_LIMIT + 2))
    token = answers[-1].body["value"]  # type: ignore[union-attr]
    mask_secret("another-secret-" + token[-8:] + "x")  # the masker rebuilds its replacer
    for line in (
        f"ansi \x1b[32m{token}\x1b[0m",
        f"url key%3D{token}&x=1",
        f"word desk_7_{token}",
        json.dumps({"v": "\n" + token}),
        f"seek_position_value=12 {token}",
    ):
        assert str(secrets_masker().redact(line)) == line.replace(token, "***")


def test_semantic_vad_is_sent_to_the_beta_endpoint(make_hook: MakeHook, emulator: RealtimeEmulator) -> None:
    """Refused before sending by the previous release; the beta endpoint's own spec (2025-04-29) lists it."""
    session = {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}
    answer = make_hook().create("transcription", session, endpoint="transcription_sessions")
    assert emulator.requests[-1].path == "/v1/realtime/transcription_sessions"
    assert emulator.requests[-1].body["turn_detection"] == session["turn_detection"]
    assert answer.body["turn_detection"] == session["turn_detection"]


@pytest.mark.skipif(compat.airflow_version() >= (3, 0), reason="Airflow 2's Flask connection form")
@pytest.mark.parametrize(
    ("name", "typed", "reason"),
    [
        ("timeout", "0", "Read timeout (s) must be a number of seconds, more than 0 and at most 3600"),
        ("timeout", "-1", "more than 0 and at most 3600"),
        ("timeout", "9999", "more than 0 and at most 3600"),
        ("timeout", "soon", "must be a number of seconds"),
        (
            "connect_timeout",
            "601",
            "Connect timeout (s) must be a number of seconds, more than 0 and at most 600",
        ),
        ("max_retries", "1.5", "integer"),
        ("max_retries", "101", "Max retries must be a whole number, at least 0 and at most 100"),
        ("api_type", "gpt-azure", "openai, azure"),
    ],
)
def test_airflow_2s_form_refuses_what_the_hook_refuses_saying_why(name: str, typed: str, reason: str) -> None:
    from werkzeug.datastructures import MultiDict
    from wtforms import Form

    from airflow_provider_realtime.connection_fields import FORM_PREFIX, form_widgets

    form_class = type("ConnectionExtras", (Form,), form_widgets())
    form = form_class(MultiDict({FORM_PREFIX + name: typed}))
    assert not form.validate()
    assert reason in " ".join(map(str, form.errors[FORM_PREFIX + name])), form.errors


@pytest.mark.skipif(compat.airflow_version() >= (3, 0), reason="Airflow 2's Flask connection form")
def test_airflow_2s_form_saves_what_the_hook_accepts_and_blank_numbers_are_the_defaults() -> None:
    from werkzeug.datastructures import MultiDict
    from wtforms import Form

    from airflow_provider_realtime.connection_fields import FORM_PREFIX, form_widgets

    form_class = type("ConnectionExtras", (Form,), form_widgets())
    typed = {
        "timeout": "30",
        "connect_timeout": "2.5",
        "max_retries": "2",
        "api_type": "azure",
        "project": "",
    }
    form = form_class(MultiDict({FORM_PREFIX + name: value for name, value in typed.items()}))
    assert form.validate(), form.errors
    blank = form_class()
    assert blank.data[FORM_PREFIX + "max_retries"] is None, "no number is prefilled"
    assert blank.data[FORM_PREFIX + "api_type"] == "openai"


def test_a_tested_connection_is_not_named_by_the_id_the_ui_made_up_for_it(make_hook: MakeHook) -> None:
    """Airflow 2's Test button tests an unsaved connection under a random id."""
    hook = make_hook(timeout=0)
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("the connection: extra 'timeout' must be a number of seconds, more than 0")
    assert hook.conn_id not in message


def test_get_conn_is_the_checked_connection_and_its_repr_shows_no_key(
    make_hook: MakeHook, emulator: RealtimeEmulator
) -> None:
    connection = make_hook(organization="org-1").get_conn()
    assert connection.base_url == emulator.base_url
    assert connection.headers["Authorization"] == f"Bearer {emulator.api_key}"
    assert connection.headers["OpenAI-Organization"] == "org-1"
    assert emulator.api_key not in repr(connection)
