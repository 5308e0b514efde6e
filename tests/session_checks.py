"""What the client-side tests share: the check that a server event is valid against OpenAI's published event
schemas and the official SDK's types."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema

from airflow_provider_realtime.testing.emulator import SPEC_FOLDER

EVENTS = json.loads((SPEC_FOLDER / "openai-realtime-events.json").read_text())
AUDIO = base64.b64encode(bytes(48_000)).decode()  # one second of pcm16 silence at 24 kHz


def assert_valid(event: dict[str, Any], kind: str) -> None:
    """``event`` is valid against its published schema, and states no key the schema does not."""
    schemas = EVENTS["components"]["schemas"]
    union = "RealtimeTranslationServerEvent" if kind == "translation" else "RealtimeServerEvent"
    names = [
        option["$ref"].rsplit("/", 1)[1]
        for option in schemas[union].get("anyOf", schemas[union].get("oneOf", []))
    ]
    matching = [
        name for name in names if schemas[name]["properties"]["type"].get("enum", [None])[0] == event["type"]
    ]
    assert len(matching) == 1, f"no published schema for {event['type']}"
    schema = {**schemas[matching[0]], "components": EVENTS["components"]}
    jsonschema.Draft202012Validator(schema).validate(event)
    assert set(event) <= set(schemas[matching[0]]["properties"]), f"keys the spec does not state: {event}"
    # The SDK's own event types, validating (its recv() builds them without checks).
    import pydantic
    from openai.types.realtime import RealtimeServerEvent, RealtimeTranslationServerEvent

    union = RealtimeTranslationServerEvent if kind == "translation" else RealtimeServerEvent
    parsed = pydantic.TypeAdapter(union).validate_python(event)
    assert parsed.type == event["type"]
