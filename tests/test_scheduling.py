"""The workers of ``make test`` share the files as tests/scheduling.py says, on a real pytest-xdist run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scheduling import API_SERVER_FILES

pytestmark = pytest.mark.version_independent  # make test's workers run on the primary version only

TESTS = Path(__file__).resolve().parent


def test_the_api_server_files_run_on_one_worker(tmp_path: Path) -> None:
    """Without the grouping, xdist gives the first two files (here two of the API server's) one to each
    worker at the start, so this fails."""
    others = [f"test_other_{number}.py" for number in range(4)]
    for name in (*API_SERVER_FILES, *others):
        (tmp_path / name).write_text(
            "import os, pathlib\n"
            "def test_where():\n"
            f"    pathlib.Path({str(tmp_path / name)!r} + '.worker').write_text(os.environ['PYTEST_XDIST_WORKER'])\n"
        )
    (tmp_path / "conftest.py").write_text("from scheduling import pytest_xdist_make_scheduler\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    workers = {path.name.removesuffix(".worker"): path.read_text() for path in tmp_path.glob("*.worker")}
    assert set(workers) == {*API_SERVER_FILES, *others}
    assert len({workers[name] for name in API_SERVER_FILES}) == 1, workers
