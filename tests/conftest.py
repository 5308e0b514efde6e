"""Shared fixtures. Airflow reads its environment at import time, so it is set before anything imports it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = ROOT / "example_dags"

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="realtime-tests-airflow-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)

import pytest  # noqa: E402
from harness import Sandbox as AirflowSandbox  # noqa: E402
from hypothesis import settings  # noqa: E402

from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook  # noqa: E402
from airflow_provider_realtime.testing import RealtimeEmulator  # noqa: E402

pytest_plugins = ["airflow_provider_realtime.testing.pytest_plugin"]

# Property tests: a quick pass by default, the thorough one in CI (.ci/run sets HYPOTHESIS_PROFILE).
settings.register_profile("quick", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=600, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


# The two xdist workers take whole files (--dist loadfile), each the next one when it is free, the API
# server's files as one unit (tests/scheduling.py). The files whose tests start servers or Airflow
# processes go first (markers distributed and airflow_process), so no long file is left to run alone at the
# end; xdist would otherwise send the files with the most tests first, and those have the fewest.
def _weight(item: pytest.Item) -> int:
    if item.get_closest_marker("distributed"):
        return 0
    return 1 if item.get_closest_marker("airflow_process") else 2


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist 3.7+; older ones always reorder
        config.option.loadscopereorder = False


if importlib.util.find_spec("xdist") is not None:  # the hook exists only with pytest-xdist
    from scheduling import pytest_xdist_make_scheduler  # noqa: F401 - a hook, found here by pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    heaviest = {}
    for item in items:  # a file's weight is its heaviest test's, so that its tests stay together
        heaviest[item.path] = min(heaviest.get(item.path, 2), _weight(item))
    items.sort(key=lambda item: heaviest[item.path])  # stable: in collection order otherwise


# Retries in tests wait milliseconds, not seconds.
FAST_RETRIES = {"backoff_initial": 0.001, "backoff_max": 0.005}


@pytest.fixture
def emulator(realtime_emulator: RealtimeEmulator) -> RealtimeEmulator:
    return realtime_emulator


@pytest.fixture
def connection_to(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``connection_to(host, *, password, conn_type="openai_realtime", name="realtime_test", **extras)``:
    store a fresh connection for the test (an ``AIRFLOW_CONN_…`` variable) and return its id
    (``{name}_{n}``)."""
    import json

    counter = iter(range(1_000_000))

    def store(
        host: str,
        *,
        password: str,
        conn_type: str = "openai_realtime",
        name: str = "realtime_test",
        **extra: object,
    ) -> str:
        conn_id = f"{name}_{next(counter)}"
        connection = {"conn_type": conn_type, "host": host, "password": password, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        return conn_id

    return store


@pytest.fixture
def make_hook(
    emulator: RealtimeEmulator, connection_to: Callable[..., str]
) -> Callable[..., OpenAIRealtimeHook]:
    """Build a hook on a fresh connection to the emulator; keyword arguments become extras."""

    def make(password: str | None = None, host: str | None = None, **extra: object) -> OpenAIRealtimeHook:
        key = password if password is not None else emulator.api_key
        return OpenAIRealtimeHook(
            conn_id=connection_to(host or emulator.base_url, password=key, **FAST_RETRIES, **extra)
        )

    return make


@pytest.fixture
def mint(make_hook: Callable[..., OpenAIRealtimeHook]) -> Callable[..., Any]:
    """``mint(kind, session=None)``: a token of ``kind`` minted by the provider's hook from the emulator."""
    hook = make_hook()
    return lambda kind, session=None: hook.create(kind, session)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AirflowSandbox:
    """A real Airflow home with a migrated SQLite database, shared by the slow tests.

    Its DAGs folder holds the example DAGs and the tests' own DAGs.
    """
    dags = tmp_path_factory.mktemp("dags")
    for source in [*EXAMPLE_DAGS.glob("*.py"), *(ROOT / "tests" / "dags").glob("*.py")]:
        shutil.copy(source, dags)
    box = AirflowSandbox(tmp_path_factory.mktemp("airflow-home"), dags)
    box.migrate()
    return box


@pytest.fixture(scope="session")
def api_server(sandbox: AirflowSandbox) -> Iterator[str | None]:
    """Airflow 3's API server for the sandbox (open to anyone as an admin, the UI's Test button enabled),
    started by the first test that needs one (the form, the executor run, the browser) and kept for the
    others, which make test's scheduling puts on the same worker: starting one costs about 10 s of CPU.
    None on Airflow 2, whose executor needs none (its web UI is the browser test's own). Commands run
    meanwhile are pointed at it; ``DAG.test()`` runs tasks through its in-process API either way."""
    from airflow_provider_realtime.compat import airflow_version

    if airflow_version() < (3, 0):
        yield None
        return
    with sandbox.web_ui(env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}) as url:
        yield url


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[RealtimeEmulator]:
    """One emulator for the DAG runs (each run is a separate ``airflow`` process talking to it)."""
    with RealtimeEmulator("sk-dag-runs-" + os.urandom(12).hex(), keep_requests=1000) as emulator:
        yield emulator


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by selenium (skipped without them)."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver) or importlib.util.find_spec("selenium") is None:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install) and selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    # WebRTC: a fake microphone, granted without a prompt, and ICE candidates as plain addresses (mDNS
    # names would need a resolver the emulator's WebRTC library does not have).
    options.add_argument("--use-fake-device-for-media-stream")
    options.add_argument("--use-fake-ui-for-media-stream")
    options.add_argument("--disable-features=WebRtcHideLocalIpsWithMdns")
    options.add_argument("--window-size=1400,1400")
    options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()
