"""The sandbox's command runner: a command that outlives its finished work is ended, with the work's code."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import harness
import pytest

from airflow_provider_realtime.testing import sandbox
from airflow_provider_realtime.testing.sandbox import TIMED_OUT

# The command runner and its settled check are subprocess and clock logic, no Airflow code: once, on the
# primary version (the migration cache and the execution API below touch Airflow, and run on every one).
ONCE = pytest.mark.version_independent


@pytest.fixture
def lingering() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


@ONCE
def test_a_command_that_lingers_after_its_work_is_done_is_given_up(
    lingering: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "LINGER_SECONDS", 0.5)
    polls = iter([None, None, 1, 1, 1, 1, 1])

    assert sandbox._wait(lingering, timeout=30, settled=lambda: next(polls)) == 1
    assert lingering.poll() is None  # still running: the caller ends its process group


@ONCE
def test_a_command_whose_work_never_settles_times_out(lingering: subprocess.Popen[bytes]) -> None:
    assert sandbox._wait(lingering, timeout=1.5, settled=lambda: None) == TIMED_OUT


@ONCE
def test_a_command_that_exits_gives_its_own_code() -> None:
    process = subprocess.Popen(["sh", "-c", "exit 3"])
    assert sandbox._wait(process, timeout=30, settled=lambda: 0) == 3


def test_a_sandbox_migrates_once_per_environment_and_copies_that_database_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first sandbox of an environment runs ``airflow db migrate``; the next gets a copy of what it
    made, without starting Airflow. (That the copies work is what every other real-Airflow test runs on.)"""
    monkeypatch.setenv("REALTIME_SANDBOX_CACHE", str(tmp_path / "cache"))
    first, second = (sandbox.AirflowSandbox(tmp_path / name, tmp_path) for name in ("first", "second"))
    commands: list[tuple[str, ...]] = []

    def migrate(*args: str, **kwargs: object) -> sandbox.CommandResult:
        commands.append(args)
        first.database.write_bytes(b"a migrated database")
        return sandbox.CommandResult(0, "", None)

    monkeypatch.setattr(first, "airflow", migrate)
    monkeypatch.setattr(second, "airflow", migrate)
    first.migrate()
    second.migrate()
    first.migrate()  # a sandbox with its database keeps it
    assert commands == [("db", "migrate")]
    assert second.database.read_bytes() == b"a migrated database"
    cached = sorted(path.suffix for path in (tmp_path / "cache").iterdir())
    assert cached == [".db", ".lock"], "no partial copy left"


@ONCE
def test_sandboxes_made_at_once_wait_for_the_one_that_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test workers make their sandboxes at once: the second waits for the first's migration and copies
    it (migrating too would cost it an Airflow start). Its migrate() starts while the first migrates;
    without the lock it would find no database to copy and migrate itself."""
    monkeypatch.setenv("REALTIME_SANDBOX_CACHE", str(tmp_path / "cache"))
    first, second = (sandbox.AirflowSandbox(tmp_path / name, tmp_path) for name in ("first", "second"))
    commands: list[str] = []

    def migrate_meanwhile(*args: str, **kwargs: object) -> sandbox.CommandResult:
        commands.append("first")
        waiting = threading.Thread(target=second.migrate)
        waiting.start()
        waiting.join(timeout=1)  # time enough for it to migrate, were it not made to wait
        assert waiting.is_alive(), "the second sandbox did not wait for the first's migration"
        first.database.write_bytes(b"migrated by the first")
        threads.append(waiting)
        return sandbox.CommandResult(0, "", None)

    def migrate_second(*args: str, **kwargs: object) -> sandbox.CommandResult:
        commands.append("second")
        second.database.write_bytes(b"migrated by the second")
        return sandbox.CommandResult(0, "", None)

    threads: list[threading.Thread] = []
    monkeypatch.setattr(first, "airflow", migrate_meanwhile)
    monkeypatch.setattr(second, "airflow", migrate_second)
    first.migrate()
    threads[0].join(timeout=30)
    assert commands == ["first"]
    assert second.database.read_bytes() == b"migrated by the first"


def ask_each_second(
    monkeypatch: pytest.MonkeyPatch, answers: list[int | None], seconds: int, after: float = 0
) -> tuple[list[float], list[int | None]]:
    """Ask ``_every(10, read, after)`` once a second of a made-up clock for ``seconds`` seconds, ``read``
    giving ``answers`` in turn: when it read, and what each ask returned."""
    now = [0.0]
    monkeypatch.setattr(harness.time, "monotonic", lambda: now[0])
    given = iter(answers)
    reads: list[float] = []

    def read() -> int | None:
        reads.append(now[0])
        return next(given)

    ask = harness._every(10, read, after=after)
    seen = []
    for second in range(seconds):
        now[0] = float(second)
        seen.append(ask())
    return reads, seen


@ONCE
def test_a_settled_check_asked_seldom_keeps_its_answer_between_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's state costs an Airflow process to read, so it is read every few seconds; the answers in
    between repeat the last one, so that a finished run counts as settled (not reset every second)."""
    reads, seen = ask_each_second(monkeypatch, [None, 1, 1], seconds=25)
    assert reads == [0.0, 10.0, 20.0]
    assert seen == [None] * 10 + [1] * 15


@ONCE
def test_a_settled_check_with_a_grace_period_is_not_asked_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run looked up through Airflow's models costs a process each time: a command that ends within the
    grace period (most do) costs none."""
    reads, seen = ask_each_second(monkeypatch, [0, 0, 0], seconds=81, after=60)
    assert reads == [60.0, 70.0, 80.0]
    assert seen == [None] * 60 + [0] * 21
