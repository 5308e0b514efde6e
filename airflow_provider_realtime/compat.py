"""Airflow's names, imported from wherever the running Airflow (2.10 to 3.3) keeps them: the one place.

Each name is looked up on first use (module ``__getattr__``) in the locations listed, newest Airflow
first, so importing the operator costs no hook import and nothing here runs at DAG-parse time unless it
is used. No other module of this provider knows which Airflow it runs on.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import threading
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, BaseOperator, Connection, Context

__all__ = [
    "BaseHook",
    "BaseOperator",
    "Connection",
    "Context",
    "airflow_version",
    "in_airflow2_task",
    "in_supervised_task",
    "mask_secret",
    "secrets_masker",
    "supervisor_comms",
    "tell_supervisor",
]

# name -> modules that may hold it, newest Airflow first.
_LOCATIONS: Final[dict[str, tuple[str, ...]]] = {
    "BaseHook": ("airflow.sdk", "airflow.hooks.base"),  # the SDK's BaseHook came in 3.1
    "BaseOperator": ("airflow.sdk", "airflow.models.baseoperator"),
    "Connection": ("airflow.sdk",),  # only used in a 3.x task
    "Context": ("airflow.sdk", "airflow.utils.context"),
}
# Where the process's secrets masker lives (its ``_secrets_masker()`` factory), newest Airflow first.
_MASKER_MODULES: Final = (
    "airflow.sdk._shared.secrets_masker",  # 3.2+
    "airflow.sdk.execution_time.secrets_masker",  # 3.0, 3.1
    "airflow.utils.log.secrets_masker",  # 2.x
)


def __getattr__(name: str) -> Any:
    for module_name in _LOCATIONS.get(name, ()):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        value = getattr(module, name, None)
        if value is not None:
            globals()[name] = value  # later lookups skip this function
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.lru_cache(maxsize=1)
def airflow_version() -> tuple[int, int]:
    """The installed Airflow's (major, minor), read from its package metadata without importing it
    (once per process: masking asks for every token)."""
    from importlib.metadata import version

    major, minor, *_ = version("apache-airflow").split(".")
    return int(major), int(minor)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LOCATIONS})


def secrets_masker() -> Any:
    """The process's secrets masker object (its ``patterns`` and ``replacer``), or None if not found."""
    for module_name in _MASKER_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        factory = getattr(module, "_secrets_masker", None)
        if factory is not None:
            return factory()
    return None


def mask_secret(secret: str) -> None:
    """Mask ``secret`` in this process's logs, then in the 3.x supervisor's (which writes the log files).

    Airflow 3.0's own ``mask_secret`` would tell the supervisor first, and under ``airflow tasks test``
    that message is logged, unmasked (see :func:`tell_supervisor`).
    """
    if not secret:
        return
    masker = secrets_masker()
    # Also the forms a traceback's locals show: repr escapes a pasted newline ('sk-…\n'), and Airflow 3.0
    # prints locals.
    for form in {secret, secret.strip(), repr(secret)[1:-1]}:
        if masker is not None:
            masker.add_mask(form)
        tell_supervisor(form)


def supervisor_comms() -> Any:
    """The channel to the task supervisor when running in a supervised 3.x task process, else None."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(task_runner, "SUPERVISOR_COMMS", None)


def in_supervised_task() -> bool:
    """Whether this is an Airflow 3 task process whose supervisor, another process, writes its log file.

    Not under ``airflow tasks test`` or ``dags test``: their supervisor runs in this very process and
    shares its masker.
    """
    comms = supervisor_comms()
    return comms is not None and type(comms).__name__ != "InProcessSupervisorComms"


def in_airflow2_task() -> bool:
    """Whether this is an Airflow 2 process that has run a task: it writes the task log file itself, and
    its file descriptors 1 and 2 go to the worker's console (or, under impersonation, to a parent that
    logs each line to the task log file). Airflow sets ``AIRFLOW_CTX_*`` for the task's code."""
    import os

    return "AIRFLOW_CTX_TASK_ID" in os.environ and airflow_version() < (3, 0)


# Airflow 3.0's channel to the supervisor is not thread-safe (two threads reading answers at once read a
# frame's middle as a length, and allocate gigabytes): tokens minted by a batch's threads queue here.
_one_message_at_a_time = threading.Lock()


def tell_supervisor(secret: str) -> None:
    """Ask the 3.x task supervisor (the process that writes the task log file) to mask ``secret`` too.

    As Airflow's own ``mask_secret`` does it; a supervisor that cannot take the message must not fail
    the task. Outside a supervised task (Airflow 2, ``dag.test()``) there is no one to tell.
    """
    if not in_supervised_task():
        # No one to tell, or a supervisor in this very process, which Airflow 3.0 would have log each
        # message sent to it, secret included.
        return
    with _one_message_at_a_time, contextlib.suppress(Exception):
        from airflow.sdk.execution_time.comms import MaskSecret

        supervisor_comms().send(MaskSecret(value=secret, name=None))
