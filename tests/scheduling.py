"""How ``make test``'s two pytest-xdist workers share the files (``--dist loadfile``, see the Makefile): a
file's tests run on one worker, so its module and session fixtures are made once; and the files that use
Airflow 3's API server (the ``api_server`` fixture) all run on one worker, so one server starts (about
10 s of CPU each) instead of one per worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

API_SERVER_FILES = ("test_airflow.py", "test_airflow_executor.py", "test_browser.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the files of ``API_SERVER_FILES`` as one unit of work.

    xdist's public hook; the grouping overrides ``_split_scope``, the one method xdist's own file and
    scope schedulers differ by (``--dist loadgroup``, the public way, no longer groups on pytest 9: xdist
    sets an attribute pytest stopped reading). ``tests/test_scheduling.py`` checks it on real workers.
    """
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    if not hasattr(LoadFileScheduling, "_split_scope"):  # checked on pytest-xdist 3.6 to 3.8
        raise pytest.UsageError(
            "pytest-xdist's LoadFileScheduling has no _split_scope any more: tests/scheduling.py must change"
        )

    class OneApiServerScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope: str = super()._split_scope(nodeid)
            return API_SERVER_FILES[0] if Path(scope).name in API_SERVER_FILES else scope

    return OneApiServerScheduling(config, log)
