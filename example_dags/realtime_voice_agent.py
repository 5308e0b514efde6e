"""Example 6: a voice-agent token. A realtime (speech-to-speech) session with instructions and a function
tool the browser app implements; a second task repeats the request from the first one's config, with
another voice."""

from __future__ import annotations

import pendulum

try:
    from airflow.sdk import dag
except ImportError:  # Airflow 2
    from airflow.decorators import dag

from airflow_provider_realtime.operators.realtime_session import CreateRealtimeSessionOperator

FRONT_DESK = {
    "model": "gpt-realtime",
    "instructions": "You are the front desk of a dental clinic. Be brief and friendly.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": "pcm16",
            "transcription": {"model": "gpt-4o-transcribe"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "medium"},
        },
        "output": {"format": "pcm16", "voice": "marin"},
    },
    "tools": [
        {
            "type": "function",
            "name": "book_appointment",
            "description": "Book the first free slot on a day for a patient.",
            "parameters": {
                "type": "object",
                "properties": {"day": {"type": "string", "description": "ISO date"}},
                "required": ["day"],
            },
        }
    ],
    "tool_choice": "auto",
}


@dag(
    dag_id="realtime_voice_agent",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai-realtime", "example"],
)
def realtime_voice_agent() -> None:
    agent = CreateRealtimeSessionOperator(task_id="agent", session=FRONT_DESK, expires_after_seconds=120)
    # The same request again, from the config the first task pushed (a second desk), in another voice.
    CreateRealtimeSessionOperator(
        task_id="second_desk",
        config=agent.output["config"],
        session={**FRONT_DESK, "audio": {**FRONT_DESK["audio"], "output": {"voice": "cedar"}}},
    )


realtime_voice_agent()
