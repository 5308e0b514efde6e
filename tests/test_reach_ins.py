"""Every reach-in into another library's internals holds on this version (run on every Airflow CI runs).

The reach-ins live in one place per library: Airflow's in ``compat.py``, ``http.client``'s in
``transport.py``, pytest-xdist's in ``tests/scheduling.py``. An upstream change fails here, naming it;
in a task it is a warning in the log saying what changed and what follows (``masking._set_up``). What a
reach-in achieves end to end is proved elsewhere, on every version too: the task log files of executor
runs hold no token (``test_airflow_executor.py``), 1xx answers are skipped (``test_fleet_hostile.py``).
"""

from __future__ import annotations

import http.client
import logging
import subprocess
import sys
import textwrap

import pytest

from airflow_provider_realtime import compat


def test_the_secrets_masker_takes_a_pattern_and_a_wrapped_replacer() -> None:
    """In a process of its own: the masker is process-wide, and this one must start untouched."""
    probe = textwrap.dedent(
        """
        from airflow_provider_realtime import compat, masking

        masking._extend_masker()
        masker = compat.secrets_masker()
        assert isinstance(masker.replacer, masking._KnownTokenReplacer)
        compat.mask_secret("sk-probe-secret-0123456789")  # Airflow's add_mask, wrapped: still wrapped after
        assert isinstance(masker.replacer, masking._KnownTokenReplacer)
        line = masker.redact("token ek_0123456789abcdef0123456789abcdef and sk-probe-secret-0123456789")
        assert line == "token *** and ***", line
        print("masker extended")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0 and "masker extended" in run.stdout, run.stdout + run.stderr


def test_a_changed_masker_is_said_in_the_log_naming_what_changed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_realtime import masking

    class Changed:
        replacer = None

    monkeypatch.setattr(compat, "secrets_masker", Changed)
    with caplog.at_level(logging.WARNING):
        ready = masking._set_up([("Airflow's masker", masking._extend_masker)], "a consequence")
    assert ready is False
    logged = caplog.text + capsys.readouterr().out  # Airflow 3 logs through structlog, to stdout
    assert "Airflow's secrets masker (Changed) has no 'patterns'; so a consequence" in logged


def test_the_task_supervisors_channel_and_message_are_where_the_provider_looks() -> None:
    if compat.airflow_version() < (3, 0):
        pytest.skip("Airflow 2 has no task supervisor")
    from airflow.sdk.execution_time import comms, supervisor, task_runner

    assert "SUPERVISOR_COMMS" in vars(task_runner) or "SUPERVISOR_COMMS" in task_runner.__annotations__
    assert comms.MaskSecret(value="x", name=None).value == "x"
    assert hasattr(supervisor, "InProcessSupervisorComms")


def test_dag_runs_share_one_execution_api_per_process() -> None:
    """Airflow 3.0 to 3.2 build an in-process execution API for every task ``DAG.test()`` runs (about 6 s
    each); the runner shares one, as Airflow 3.3 does."""
    if compat.airflow_version() < (3, 0):
        pytest.skip("Airflow 2 runs tasks without an execution API")
    from airflow.sdk.execution_time import supervisor

    compat.one_execution_api_per_process()
    assert supervisor.in_process_api_server() is supervisor.in_process_api_server()


def test_airflow_2_tasks_handlers_are_filtered_by_the_masker() -> None:
    if compat.airflow_version() >= (3, 0):
        pytest.skip("Airflow 3's supervisor writes the log: the log channel is wrapped instead")
    assert compat.handlers_filtered_by_masker()


def test_http_client_reads_the_status_line_where_the_transport_skips_informational_answers() -> None:
    from airflow_provider_realtime import transport

    assert "_read_status" in vars(http.client.HTTPResponse)
    assert transport._DeadlineResponse._read_status is not http.client.HTTPResponse._read_status
