"""Provider metadata for Airflow's provider manager: a plain dict, no imports."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Describe this provider, its hook and the connection form to Airflow."""
    return {
        "package-name": "airflow-provider-realtime",
        "name": "OpenAI Realtime",
        "description": "Mint OpenAI Realtime transcription-session client secrets (ephemeral tokens).",
        "versions": ["0.1.0"],
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
                "python-modules": ["airflow_provider_realtime.operators.transcription_session"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "openai_realtime",
                "hook-class-name": "airflow_provider_realtime.hooks.realtime.OpenAIRealtimeHook",
                "hook-name": "OpenAI Realtime",
                "conn-fields": {
                    "organization": {
                        "label": "Organization ID",
                        "schema": {"type": ["string", "null"]},
                        "description": "Sent as OpenAI-Organization when set.",
                    },
                    "project": {
                        "label": "Project ID",
                        "schema": {"type": ["string", "null"]},
                        "description": "Sent as OpenAI-Project when set.",
                    },
                    "api_type": {
                        "label": "API type",
                        "schema": {"type": ["string", "null"], "enum": ["openai", "azure", None]},
                        "description": "azure sends the key as an api-key header (Azure OpenAI v1 API).",
                    },
                    "timeout": {
                        "label": "Read timeout (s)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Seconds to wait for an answer (default 60).",
                    },
                    "connect_timeout": {
                        "label": "Connect timeout (s)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Seconds to wait for a connection (default 5).",
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                        "description": "Retries of 408/409/429/5xx and network errors (default 3).",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "Base URL", "password": "API Key"},
                    "placeholders": {
                        "host": "https://api.openai.com/v1",
                        "password": "sk-...",
                        "organization": "org-...",
                        "project": "proj_...",
                    },
                },
            }
        ],
    }
