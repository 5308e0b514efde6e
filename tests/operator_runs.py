"""Running an operator's execute path with a stand-in task instance that records its XComs as JSON."""

from __future__ import annotations

import json
from typing import Any


class RecordingTaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = json.loads(json.dumps(value))  # XCom values must be JSON


def run(operator: Any, ti: RecordingTaskInstance | None = None) -> tuple[Any, RecordingTaskInstance]:
    """Execute ``operator``; return its result (as XCom would hold it) and the task instance."""
    ti = ti or RecordingTaskInstance()
    result = operator.execute({"ti": ti})
    return json.loads(json.dumps(result)), ti
