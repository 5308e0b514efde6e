"""The testing kit as a user's suite meets it: a DAG that cannot run fails the test with the reason; a
module's DAG runs share one Airflow start; a token a run pushed opens a session on the emulator, and an
expired one is refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow_process, pytest.mark.version_independent]


def run_users_suite(folder: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Lay ``files`` out in ``folder`` as a user's project (with a pytest.ini of its own) and run pytest
    there, in a process of its own, as the user would."""
    for name, text in {**files, "pytest.ini": "[pytest]\n"}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


BROKEN_DAG = textwrap.dedent(
    """
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator
    import a_module_nobody_has  # the DAG file fails to import before its dag is made
    """
)
TOKEN_DAGS = textwrap.dedent(
    """
    import pendulum
    try:
        from airflow.sdk import dag
    except ImportError:  # Airflow 2
        from airflow.decorators import dag
    from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator

    START = pendulum.datetime(2026, 1, 1, tz="UTC")


    @dag(dag_id="captions", schedule=None, start_date=START)
    def captions():
        CreateTranscriptionSessionOperator(task_id="mint", session={"input_audio_format": "g711_ulaw"})


    @dag(dag_id="agent", schedule=None, start_date=START)
    def agent():
        CreateRealtimeSessionOperator(task_id="mint", session={"model": "gpt-realtime-2.1"})


    captions()
    agent()
    """
)
USER_TESTS = textwrap.dedent(
    """
    import pytest

    from airflow_provider_realtime.testing import RealtimeEmulator, SessionRefused, open_session
    from airflow_provider_realtime.testing.pytest_plugin import run_dag_tests


    def test_a_dag_whose_file_fails_to_import(realtime_connection, realtime_dag_test):
        realtime_dag_test("broken_tokens")

    def test_an_unknown_dag_id(realtime_connection, realtime_dag_test):
        realtime_dag_test("no_such_dag")


    @pytest.fixture(scope="module")
    def runs(realtime_sandbox):
        with RealtimeEmulator() as emulator, pytest.MonkeyPatch.context() as env:
            env.setenv("AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT", emulator.connection_json())
            yield emulator, run_dag_tests(realtime_sandbox, ["captions", "agent"])


    def test_the_captions_token_opens_a_transcription_session_as_minted(runs):
        emulator, results = runs
        minted = results["captions"].xcoms[("mint", -1, "return_value")]
        session = open_session(emulator, minted["client_secret"])
        assert session["type"] == "transcription"
        assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}


    def test_the_agent_token_opens_a_realtime_session_until_it_expires(runs):
        emulator, results = runs
        token = results["agent"].xcoms[("mint", -1, "return_value")]["client_secret"]
        assert open_session(emulator, token)["model"] == "gpt-realtime-2.1"
        emulator.expire(token)
        with pytest.raises(SessionRefused) as refused:
            open_session(emulator, token)
        assert refused.value.status == 401 and token not in str(refused.value)


    def test_the_official_sdk_opens_a_session_with_the_token_a_dag_task_minted(runs):
        from openai import OpenAI

        emulator, results = runs
        token = results["captions"].xcoms[("mint", -1, "return_value")]["client_secret"]
        client = OpenAI(api_key=token, base_url=emulator.base_url, max_retries=0)
        with client.realtime.connect() as connection:
            created = connection.recv()
            connection.send({"type": "input_audio_buffer.append", "audio": "AAAA"})
            connection.send({"type": "input_audio_buffer.commit"})
            kinds = [connection.recv().type for _ in range(3)]
        assert created.type == "session.created" and created.session.type == "transcription"
        assert kinds[0] == "input_audio_buffer.committed"
        assert kinds[1] == "conversation.item.input_audio_transcription.delta"
    """
)


def test_a_users_suite_sees_dag_errors_shares_a_start_and_opens_sessions_with_minted_tokens(
    tmp_path: Path,
) -> None:
    files = {
        "dags/broken_tokens.py": BROKEN_DAG,
        "dags/tokens.py": TOKEN_DAGS,
        "conftest.py": 'pytest_plugins = ["airflow_provider_realtime.testing.pytest_plugin"]\n',
        "test_user.py": USER_TESTS,
    }
    run = run_users_suite(tmp_path, files)
    output = run.stdout + run.stderr
    assert "2 failed, 3 passed" in run.stdout, output[-4000:]
    assert "realtime_dag_test('broken_tokens') could not run the DAG" in output
    assert "No module named 'a_module_nobody_has'" in output
    assert "realtime_dag_test('no_such_dag') could not run the DAG: no such DAG in" in output
