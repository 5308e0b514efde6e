"""Offline testing support: an emulator of the OpenAI Realtime REST API and a pytest fixture.

>>> from airflow_provider_realtime.testing import Fault, RealtimeEmulator
>>> with RealtimeEmulator() as emulator:            # doctest: +SKIP
...     emulator.script(Fault.error(429, retry_after_ms=10))
...     os.environ["AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT"] = emulator.connection_json()
"""

from airflow_provider_realtime.testing.emulator import Fault, RealtimeEmulator, RecordedRequest, error_body
from airflow_provider_realtime.testing.sessions import SessionRefused, open_session

__all__ = ["Fault", "RealtimeEmulator", "RecordedRequest", "SessionRefused", "error_body", "open_session"]
