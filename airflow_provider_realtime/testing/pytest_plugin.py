"""Pytest fixtures for testing DAGs against the emulator, offline.

Enable them in your ``conftest.py``::

    pytest_plugins = ["airflow_provider_realtime.testing.pytest_plugin"]

then ask for ``realtime_emulator`` (the running emulator) or ``realtime_connection`` (the emulator with
``AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT`` pointing at it for the test's duration).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_realtime.testing.emulator import RealtimeEmulator


@pytest.fixture
def realtime_emulator() -> Iterator[RealtimeEmulator]:
    """A running emulator on 127.0.0.1 with a free port, stopped after the test."""
    with RealtimeEmulator() as emulator:
        yield emulator


@pytest.fixture
def realtime_connection(
    realtime_emulator: RealtimeEmulator, monkeypatch: pytest.MonkeyPatch
) -> RealtimeEmulator:
    """The emulator, with the default connection id pointing at it (fast retries for tests)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT",
        realtime_emulator.connection_json(backoff_initial=0.01, backoff_max=0.05),
    )
    return realtime_emulator
