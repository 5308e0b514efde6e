"""Airflow, as this provider meets it: the one place that knows which Airflow (2.10 to 3.3) runs.

Airflow's public names are looked up on first use (module ``__getattr__``) in the locations listed,
newest Airflow first, so importing the operator costs no hook import and nothing here runs at DAG-parse
time unless it is used.

The reach-ins into Airflow's internals are here too, each with why no public way serves. Each was checked
on every version CI runs (``requirements/airflow-versions.txt``; ``tests/test_reach_ins.py`` holds them
there), and raises :class:`AirflowChanged` naming what it did not find, which the caller says in the log
with what follows, rather than degrading in silence.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import re
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, BaseOperator, Connection, Context

__all__ = [
    "AirflowChanged",
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


# --------------------------------------------------------------------------------------------------
# Reach-ins into Airflow's internals.
# --------------------------------------------------------------------------------------------------


class AirflowChanged(RuntimeError):
    """A part of Airflow this provider reaches into is not as on the versions it was checked on."""


def _require(thing: Any, what: str, *names: str) -> None:
    for name in names:
        if not hasattr(thing, name):
            raise AirflowChanged(f"{what} ({type(thing).__name__}) has no {name!r}")


def extend_masker(pattern: str, wrap: Callable[[Any], Any], wrapped: type, guard: Any) -> None:
    """Add ``pattern`` to this process's secrets masker, and wrap its compiled replacer with ``wrap`` (once
    per masker: a replacer of type ``wrapped`` is left as it is).

    Airflow has no public way to mask by a pattern, nor many secrets at a flat cost (its ``mask_secret``
    recompiles one regex of all of them per secret). So the masker's ``patterns`` set and compiled
    ``replacer`` are edited, and, since ``add_mask`` compiles a new replacer, ``add_mask`` is wrapped on
    the instance (under ``guard``, a lock) to wrap each new one too.
    """
    masker = secrets_masker()
    if masker is None:
        raise AirflowChanged(f"no secrets masker in {', '.join(_MASKER_MODULES)}")
    _require(masker, "Airflow's secrets masker", "patterns", "replacer", "add_mask")
    if isinstance(masker.replacer, wrapped):
        return
    if pattern not in masker.patterns:
        masker.patterns.add(pattern)
        masker.replacer = re.compile("|".join(masker.patterns))
    masker.replacer = wrap(masker.replacer)
    add_mask = masker.add_mask

    def add_mask_then_rewrap(*args: Any, **kwargs: Any) -> None:
        with guard:
            add_mask(*args, **kwargs)
            rewrap_masker(wrap, wrapped)

    masker.add_mask = add_mask_then_rewrap


def rewrap_masker(wrap: Callable[[Any], Any], wrapped: type) -> None:
    """Wrap the masker's compiled replacer again if something replaced it (an ``add_mask`` that began
    before :func:`extend_masker`, in another thread, and finished after it)."""
    masker = secrets_masker()
    if masker is not None and not isinstance(masker.replacer, wrapped):
        masker.replacer = wrap(masker.replacer)


def wrap_log_renderers(wrap: Callable[[Any], Any]) -> None:
    """Wrap the final renderer of a supervised Airflow 3 task's log channel: structlog's processor chain
    and the ``ProcessorFormatter`` of every root handler.

    Airflow 3's task process sends its log events to the supervisor unmasked past Airflow's own masker;
    no public hook runs on the rendered line. The chain is edited in place: loggers already in use hold
    this very list.
    """
    import logging

    import structlog

    chain = structlog.get_config()["processors"]
    formatters = [
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    ]
    if not isinstance(chain, list) or not chain:
        raise AirflowChanged("the task's structlog configuration has no list of processors")
    if not formatters:
        raise AirflowChanged("no root log handler of the task has a structlog ProcessorFormatter")
    chain[-1] = wrap(chain[-1])
    for formatter in formatters:
        *steps, render = formatter.processors
        formatter.processors = (*steps, wrap(render))


def handlers_filtered_by_masker() -> list[Any]:
    """The log handlers Airflow's secrets masker filters (an Airflow 2 task's file and console handlers),
    to add a filter after it: public ``logging`` API, found by the masker object Airflow installs."""
    import logging

    masker = secrets_masker()
    handlers = [
        handler
        for logger in (logging.getLogger("airflow.task"), logging.getLogger())
        for handler in logger.handlers
        if masker is not None and masker in handler.filters
    ]
    if not handlers:
        raise AirflowChanged("no handler of the 'airflow.task' or root logger is filtered by the masker")
    return handlers


def one_execution_api_per_process() -> None:
    """Build Airflow 3's in-process execution API once for all the ``DAG.test()`` runs of a process, as
    Airflow 3.3 itself does.

    ``DAG.test()`` runs each task against an in-process execution API. Airflow 3.0 to 3.2 build a new one
    for every task (``supervisor.in_process_api_server``), and the first request to each one builds its
    versioned routes (Cadwyn): about 6 s per task on a 2-core machine. Airflow 3.3 wraps the same function
    in ``functools.lru_cache(maxsize=1)``; this does the same on the versions before. No public way to
    share the API. Airflow 2 has no such API.
    """
    if airflow_version() < (3, 0):
        return
    from airflow.sdk.execution_time import supervisor

    _require(supervisor, "Airflow's task supervisor module", "in_process_api_server")
    build = supervisor.in_process_api_server
    if not hasattr(build, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(build)
