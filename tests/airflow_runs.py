"""What the real-Airflow test files share: connection names, how to read a command's outcome, and where a
secret could leak to."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from harness import Sandbox as AirflowSandbox

from airflow_provider_realtime.testing import RealtimeEmulator

CONN = "AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT"
PASTED = "AIRFLOW_CONN_OPENAI_REALTIME_PASTED"
LIMITED = "AIRFLOW_CONN_OPENAI_REALTIME_LIMITED"
REFUSED_PASTED_KEY = (
    "connection 'openai_realtime_pasted': the API key (password) has leading or trailing whitespace"
)


def connection_for(emulator: RealtimeEmulator, password: str) -> str:
    return json.dumps({"conn_type": "openai_realtime", "host": emulator.base_url, "password": password})


def plain(output: str) -> str:
    """Command output as text: without terminal colours and with the console's line wrapping undone."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", output).split())


def haystacks(sandbox: AirflowSandbox, *outputs: str) -> dict[str, str]:
    """Every place a secret could leak to: what the runs printed (``outputs``), task log files, the
    metadata DB (but the XCom return values, which carry the token by design), including the config
    XComs."""
    places = {f"output of run {index}": output for index, output in enumerate(outputs)}
    for path in (sandbox.home / "logs").rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_text(errors="replace")
    with sqlite3.connect(sandbox.database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            query = f'SELECT * FROM "{table}"'  # noqa: S608 - table names come from sqlite_master
            if table == "xcom":
                query += " WHERE \"key\" != 'return_value'"
            places[f"table {table}"] = "\n".join(map(repr, connection.execute(query)))
    return places


def airflow_30_debug_echo(secret: str, output: str) -> bool:
    """Whether ``secret`` appears in a command's ``output`` only where Airflow 3.0 itself echoes it.

    Airflow 3.0's ``airflow tasks test`` and ``dags test`` (and ``DAG.test()``) log every message between
    the task and their in-process supervisor at debug level, unmasked (the message objects escape the
    masker): the password Airflow's own connection lookup sends to be masked (``MaskSecret(value=…)``),
    the XComs pushed, the rendered fields; and a failed task's traceback with every frame's locals.
    Every provider's secrets show there, on the console of those local runs only; 3.1 fixed it. The
    docs/compatibility.md says so.
    """
    from airflow_provider_realtime import compat

    if compat.airflow_version() != (3, 0):
        return False
    echoes = ("[debug    ] Sending request", "[debug    ] Received message from task runner")
    return all(
        line.startswith(echoes, 20) or rich_traceback_locals(line)
        for line in output.splitlines()
        if secret in line
    )


def rich_traceback_locals(line: str) -> bool:
    """A line of the boxed traceback Airflow 3.0 prints on the console, with every frame's local variables
    (a failed fleet task's results among them); its task log files have no such box."""
    return "\x1b[34m│\x1b[0m" in line and "\x1b[31m│\x1b[0m" in line


def leaks(secrets: dict[str, str], places: dict[str, str]) -> list[tuple[str, str]]:
    """(secret's name, place) for every secret found in a place (but where Airflow 3.0 echoes it)."""
    return [
        (name, place)
        for name, secret in secrets.items()
        for place, text in places.items()
        if secret in text and not airflow_30_debug_echo(secret, text)
    ]


def selected_runs(request: pytest.FixtureRequest) -> set[str]:
    """The runs the selected tests read (their ``uses_run`` marks): a runs fixture makes only those."""
    return {mark.args[0] for item in request.session.items for mark in item.iter_markers("uses_run")}
