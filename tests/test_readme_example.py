"""The README's "Testing your own DAGs offline" example, as written: its files are taken from the README,
laid out in a fresh folder, and run by pytest in a process of their own, as a user's suite would."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_testing_kit import run_users_suite

from airflow_provider_realtime import compat

pytestmark = pytest.mark.airflow_process

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example_files() -> dict[str, str]:
    """The code blocks of the README's testing section, by the file name each one starts with."""
    section = README.read_text().split("## Testing your own DAGs offline", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL):
        first = block.partition("\n")[0]
        name = first.removeprefix("# ").split(" ")[0]
        if first.startswith("# ") and name.endswith(".py"):  # a file of the example, not a snippet
            files[name] = block
    return files


def test_the_readme_testing_example_passes_as_written(tmp_path: Path) -> None:
    files = readme_example_files()
    assert set(files) == {"conftest.py", "dags/my_tokens.py", "test_my_tokens.py"}
    if compat.airflow_version() < (3, 0):  # the README's comment gives Airflow 2's import
        files["dags/my_tokens.py"] = files["dags/my_tokens.py"].replace(
            "from airflow.sdk import dag", "from airflow.decorators import dag"
        )
    run = run_users_suite(tmp_path, files)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "1 passed" in run.stdout


def readme_walkthrough() -> str:
    """The README's shell walkthrough: the bash block of its testing section."""
    section = README.read_text().split("## Testing your own DAGs offline", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    return str(block)


@pytest.mark.version_independent
def test_the_readme_walkthrough_runs_a_dag_against_the_emulator_when_pasted(tmp_path: Path) -> None:
    import os
    import signal
    import socket

    with socket.socket() as probe:  # the README's port, unless another process holds it
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    script = readme_walkthrough().replace("8765", port)
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "my_tokens.py").write_text(readme_example_files()["dags/my_tokens.py"])
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    shell = subprocess.Popen(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = shell.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)  # the emulator, if a step failed before `kill %1`
    assert shell.returncode == 0, output[-4000:]
    assert f"http://127.0.0.1:{port}/v1" in output  # the emulator said where it listens
    assert "Connection success!" in output, output[-4000:]
    assert "DagRun Finished: dag_id=my_tokens" in output and "state=success" in output, output[-4000:]
