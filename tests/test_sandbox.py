"""The sandbox's command runner: a command that outlives its finished work is ended, with the work's code."""

from __future__ import annotations

import subprocess

import pytest

from airflow_provider_realtime.testing import sandbox
from airflow_provider_realtime.testing.sandbox import TIMED_OUT


@pytest.fixture
def lingering() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def test_a_command_that_lingers_after_its_work_is_done_is_given_up(
    lingering: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "LINGER_SECONDS", 0.5)
    polls = iter([None, None, 1, 1, 1, 1, 1])

    assert sandbox._wait(lingering, timeout=30, settled=lambda: next(polls)) == 1
    assert lingering.poll() is None  # still running: the caller ends its process group


def test_a_command_whose_work_never_settles_times_out(lingering: subprocess.Popen[bytes]) -> None:
    assert sandbox._wait(lingering, timeout=1.5, settled=lambda: None) == TIMED_OUT


def test_a_command_that_exits_gives_its_own_code() -> None:
    process = subprocess.Popen(["sh", "-c", "exit 3"])
    assert sandbox._wait(process, timeout=30, settled=lambda: 0) == 3
