"""The testing kit as a user's suite meets it: a DAG that cannot run fails the test with the reason."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow_process, pytest.mark.version_independent]

BROKEN_DAG = textwrap.dedent(
    """
    from airflow_provider_realtime.operators.transcription_session import CreateTranscriptionSessionOperator
    import a_module_nobody_has  # the DAG file fails to import before its dag is made
    """
)
USER_TESTS = textwrap.dedent(
    """
    def test_a_dag_whose_file_fails_to_import(realtime_connection, realtime_dag_test):
        realtime_dag_test("broken_tokens")

    def test_an_unknown_dag_id(realtime_connection, realtime_dag_test):
        realtime_dag_test("no_such_dag")
    """
)


def test_a_dag_that_cannot_run_fails_the_users_test_naming_the_error(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "broken_tokens.py").write_text(BROKEN_DAG)
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_realtime.testing.pytest_plugin"]\n'
    )
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert "2 failed" in run.stdout, output[-4000:]
    assert "realtime_dag_test('broken_tokens') could not run the DAG" in output
    assert "No module named 'a_module_nobody_has'" in output
    assert "realtime_dag_test('no_such_dag') could not run the DAG: no such DAG in" in output
