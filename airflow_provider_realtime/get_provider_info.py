"""Provider metadata for Airflow's provider manager: a plain dict, and the connection form from
``connection_fields`` (a pure-data module, cheap to import)."""

from __future__ import annotations

from typing import Any

from airflow_provider_realtime import __version__
from airflow_provider_realtime.connection_fields import CONN_TYPE, conn_fields, ui_field_behaviour


def get_provider_info() -> dict[str, Any]:
    """Describe this provider, its hook and the connection form to Airflow."""
    return {
        "package-name": "airflow-provider-realtime",
        "name": "OpenAI Realtime",
        "description": "Mint OpenAI Realtime client secrets (ephemeral tokens) for transcription, "
        "voice-agent and translation sessions.",
        "versions": [__version__],
        "documentation-url": "https://pypi.org/project/airflow-provider-realtime/",
        "integrations": [
            {
                "integration-name": "OpenAI Realtime",
                "external-doc-url": "https://platform.openai.com/docs/api-reference/realtime-sessions",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {
                "integration-name": "OpenAI Realtime",
                "python-modules": ["airflow_provider_realtime.hooks.realtime"],
            }
        ],
        "operators": [
            {
                "integration-name": "OpenAI Realtime",
                "python-modules": [
                    "airflow_provider_realtime.operators.transcription_session",
                    "airflow_provider_realtime.operators.realtime_session",
                    "airflow_provider_realtime.operators.translation_session",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_realtime.hooks.realtime.OpenAIRealtimeHook",
                "hook-name": "OpenAI Realtime",
                "conn-fields": conn_fields(),
                "ui-field-behaviour": ui_field_behaviour(),
            }
        ],
    }
