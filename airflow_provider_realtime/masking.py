"""Keep tokens and keys out of logs: mask minted tokens on every route to a log file, at a flat cost for
fleets, and scrub what servers say before it is quoted.

A task's first ``PUBLIC_MASK_LIMIT`` tokens go through Airflow's public ``mask_secret``: exact, and in a
supervised Airflow 3 task the supervisor (which writes the log file) masks them on every route, the task
process's file descriptors and its children included. Past that, ``mask_secret`` gets slower with each
secret (its masker recompiles one regular expression of every secret: 27 ms per token after 1,000, in
the task process and again in the supervisor), so the rest of a fleet is masked here instead:

* in this process's masker, one pattern of the token shape (``ek_`` and 16 or more URL-safe characters
  at a word boundary), plus every token minted so far wherever it stands (after a word character, an
  ANSI colour code or ``%3D``), found by a set lookup (:class:`output_relay.Redactor`);
* in a supervised Airflow 3 task, which does not mask its own output but sends it to the supervisor:
  the final renderer of structlog's chain and of the logging formatters (the log channel), and the
  task's file descriptors 1 and 2, relayed through a redacting process (:mod:`output_relay`), so that
  whatever the task, a C library or a child process writes is redacted before the supervisor reads it.

An Airflow 2 task process has no supervisor: it writes its log file itself, through a masker that sees
only plain-string log arguments, and its file descriptors are the worker's console (or, impersonated,
a parent that logs them to the file). So from its first token on, every finished log record is rendered
and redacted (:class:`_RedactFinishedRecord`), and file descriptors 1 and 2 go through the relay.

Not covered: a child process started before the task's ``PUBLIC_MASK_LIMIT``-th token, if it is handed a
later token and prints it (it still writes to the supervisor directly), and files the task writes itself.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

from airflow_provider_realtime import compat
from airflow_provider_realtime.output_relay import TOKEN_PATTERN, Redactor

__all__ = [
    "PUBLIC_MASK_LIMIT",
    "TOKEN_PATTERN",
    "TOKEN_SHAPE",
    "mask_client_secrets",
    "mask_token",
    "redact_rendered",
    "scrub",
]

TOKEN_SHAPE: Final = re.compile(TOKEN_PATTERN)
# Tokens per process masked with Airflow's mask_secret, whose cost grows with each: a single token or a
# small batch stays on Airflow's own, public path.
PUBLIC_MASK_LIMIT: Final = 32

# Tokens are minted by concurrent threads: every change to the masker (Airflow's add_mask included, for
# the first tokens) and every set-up happens under this lock, so a set-up never races an add_mask.
_lock = threading.RLock()
_redactor = Redactor()  # every token minted in this process
_minted = 0


def mask_token(token: str) -> None:
    """Make ``token`` appear as ``***`` in task logs and rendered fields from now on.

    Safe to call from several threads at once; flat cost per token past ``PUBLIC_MASK_LIMIT``.
    """
    global _minted
    with _lock:
        _minted += 1
        _redactor.learn(token)
        public = _minted <= PUBLIC_MASK_LIMIT or not TOKEN_SHAPE.fullmatch(token)
        if compat.in_airflow2_task() and _own_output_masking():
            # No supervisor masks for this process: from the first token on, it redacts its own log
            # records and file descriptors; Airflow's mask_secret still covers rendered fields.
            if public:
                compat.mask_secret(token)
            _keep_replacer_wrapped()
            _tell_relay(token)
            return
        if public or not _flat_masking():
            compat.mask_secret(token)
            return
        _keep_replacer_wrapped()
        if compat.in_supervised_task():
            _tell_relay(token)


# Where a result holds its token: a structured result's "client_secret", a raw body's "value" (current
# endpoints) or "client_secret": {"value": …} (the beta endpoint).
_TOKEN_KEYS: Final = frozenset({"client_secret", "value"})


def mask_client_secrets(result: Any) -> None:
    """Mask every token in ``result`` in this process: for a task downstream of a minting one.

    Masking works per process: a task that receives tokens from XCom (a structured or raw result, a
    fleet's list of them, or a token itself) does not know them as secrets until told. Call this first
    thing; it costs the same per token for a fleet as minting does.
    """
    pending = [result]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if item:
                mask_token(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key in _TOKEN_KEYS and isinstance(value, (str, dict)):
                    pending.append(value)
        elif isinstance(item, (list, tuple)):
            pending.extend(item)


def redact_rendered(line: Any) -> Any:
    """``line`` (text or bytes, plain or JSON) with every token-shaped run and every token minted in
    this process replaced by ``***``."""
    if isinstance(line, bytes):
        return _redactor.data(line)
    if isinstance(line, str):
        return _redactor.text(line)
    return line


_flat_masking_ready: bool | None = None  # set up once per process: None until tried


def _flat_masking() -> bool:
    """Set up the flat-cost masking of this process (once, under ``_lock``); False where Airflow is not
    laid out as expected (the caller then falls back to ``mask_secret``)."""
    global _flat_masking_ready
    if _flat_masking_ready is None:
        steps = [("Airflow's masker", _extend_masker)]
        if compat.in_supervised_task():
            steps += [("the task's log channel", _redact_log_channel), ("the output relay", _start_relay)]
        consequence = "every token is masked with Airflow's mask_secret, whose cost grows with each token"
        _flat_masking_ready = _set_up(steps, consequence)
    return _flat_masking_ready


_own_output_ready: bool | None = None  # Airflow 2's set-up, once per process: None until tried


def _own_output_masking() -> bool:
    """Set up an Airflow 2 task process (once, under ``_lock``) to redact every finished log line and its
    file descriptors 1 and 2: Airflow 2's masker sees only a record's plain-string message and arguments
    (not bytes, objects, exception texts or notes), and no one masks what the process writes to its
    descriptors (the worker's console; under impersonation a parent that logs each line to the task log
    file). False, saying so in the log, where Airflow is not laid out as expected."""
    global _own_output_ready
    if _own_output_ready is None:
        steps = [
            ("Airflow's masker", _extend_masker),
            ("the task's log handlers", _redact_finished_records),
            ("the output relay", _start_relay),
        ]
        consequence = "tokens are masked only where Airflow's own masker sees them"
        _own_output_ready = _set_up(steps, consequence)
    return _own_output_ready


def _set_up(steps: list[tuple[str, Callable[[], bool]]], consequence: str) -> bool:
    """Run each set-up step in turn; at the first that fails, say in the log which part of Airflow was not
    as expected and what follows, and return False."""
    for part, step in steps:
        try:
            ready = step()
        except (compat.AirflowChanged, ImportError) as changed:
            ready, why = False, f": {changed}"
        else:
            why = ""
        if not ready:
            import logging

            logging.getLogger(__name__).warning(
                "Masking: %s is not laid out as this provider expects%s; so %s", part, why, consequence
            )
            return False
    return True


def _redact_finished_records() -> bool:
    """Add :class:`_RedactFinishedRecord` to every handler Airflow's masker filters (its task log file and
    console handlers), after Airflow's own filter."""
    for handler in compat.handlers_filtered_by_masker():
        if not any(isinstance(existing, _RedactFinishedRecord) for existing in handler.filters):
            handler.addFilter(_RedactFinishedRecord())
    return True


class _RedactFinishedRecord:
    """A logging filter that renders a record's message and exception text (bytes, objects, an
    ``OSError``'s file name, a command, notes: whatever the line is made of) and redacts the result."""

    def filter(self, record: Any) -> bool:
        import logging

        masker = compat.secrets_masker()

        def redact(text: str) -> str:
            return _redactor.text(str(masker.redact(text)) if masker is not None else text)

        with contextlib.suppress(Exception):  # a record that cannot be rendered is logging's to report
            record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _extend_masker() -> bool:
    """Add the token shape to this process's masker, and every minted token to what its replacer finds
    (a reach-in: :func:`compat.extend_masker`)."""
    compat.extend_masker(TOKEN_PATTERN, _KnownTokenReplacer, _KnownTokenReplacer, _lock)
    return True


def _keep_replacer_wrapped() -> None:
    compat.rewrap_masker(_KnownTokenReplacer, _KnownTokenReplacer)


class _KnownTokenReplacer:
    """The masker's compiled pattern, then every token minted in this process, wherever it stands."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def __bool__(self) -> bool:
        return True

    def sub(self, replacement: str, text: str) -> str:
        if self.pattern is not None:
            text = self.pattern.sub(replacement, text)
        return _redactor.text(text)


def _redact_log_channel() -> bool:
    """Redact tokens from every log event this supervised 3.x task process sends its supervisor (a
    reach-in: :func:`compat.wrap_log_renderers`)."""
    compat.wrap_log_renderers(_RedactingRenderer)
    return True


class _RedactingRenderer:
    """A log chain's final renderer, whose output then has every token redacted."""

    def __init__(self, render: Any) -> None:
        self.render = render

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        return redact_rendered(self.render(logger, method_name, event_dict))


_relay_control: int | None = None  # the pipe that tells the relay each token


def _start_relay() -> bool:
    """Route this process's file descriptors 1 and 2 through a redacting relay process (see
    :mod:`output_relay`): its children inherit the pipes, so their output is redacted too.

    The relay is an add-on that must never break the task: this process keeps the pipes' read ends too,
    so writes never fail if the relay dies, and a watcher thread then relays them itself
    (:func:`_relay_here`).
    """
    global _relay_control
    import subprocess
    import sys

    from airflow_provider_realtime import output_relay

    control_read, control_write = os.pipe()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        # It inherits the supervisor's sockets as its own FDs 1 and 2, and writes there.
        relay = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                output_relay.__file__,
                str(control_read),
                str(out_read),
                str(err_read),
            ],
            stdin=subprocess.DEVNULL,
            pass_fds=(control_read, out_read, err_read),
        )
    except OSError:
        for descriptor in (control_read, control_write, out_read, out_write, err_read, err_write):
            os.close(descriptor)
        return False
    os.close(control_read)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    targets = os.dup(1), os.dup(2)  # where the relay writes: the supervisor's sockets
    os.dup2(out_write, 1)
    os.dup2(err_write, 2)
    os.close(out_write)
    os.close(err_write)
    _relay_control = control_write
    threading.Thread(
        target=_relay_here,
        args=(relay, (out_read, err_read), targets),
        name="realtime-relay-watch",
        daemon=True,
    ).start()
    return True


def _relay_here(relay: Any, sources: tuple[int, int], targets: tuple[int, int]) -> None:
    """Wait for the relay process; if it ends while this process lives (killed, out of memory), relay
    FDs 1 and 2 from this thread on, with the same redaction, so that no write fails and no token is
    lost or shown. Output written after this process ends is then lost, which the log says."""
    global _relay_control
    import logging

    from airflow_provider_realtime import output_relay

    code = relay.wait()
    with _lock:
        if _relay_control is not None:
            with contextlib.suppress(OSError):
                os.close(_relay_control)
            _relay_control = None
    logging.getLogger(__name__).warning(
        "The process that masks minted tokens in this task's output ended (exit code %s); the task "
        "relays its output itself from now on: what its child processes write after it ends is lost",
        code,
    )
    streams = [
        output_relay.Stream(source, target, _redactor)
        for source, target in zip(sources, targets, strict=True)
    ]
    output_relay.relay(None, streams, _redactor)


def _tell_relay(token: str) -> None:
    """Tell the relay process ``token`` (under ``_lock``: one whole line at a time); nothing if it is gone."""
    if _relay_control is not None:
        with contextlib.suppress(OSError):  # the relay died: _relay_here takes over with _redactor
            _write_all(_relay_control, token.encode() + b"\n")


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


# Anything shaped like an OpenAI key (sk-…) or ephemeral token (ek_…), in any case.
_KEY_OR_TOKEN_SHAPE: Final = re.compile(r"(?i)\b(?:sk-|ek_)[^\s'\",]*")
# Prefixes every OpenAI key shares: not secret, so not a fragment worth hiding.
_PUBLIC_KEY_PREFIX: Final = re.compile(r"(?i)^(?:sk-(?:proj-|svcacct-|admin-)?|ek_)")
FRAGMENT_LENGTH: Final = 4  # OpenAI's 401 quotes a key's last four characters
MAX_QUOTED_CHARS: Final = 500  # how much of a server's message an exception quotes


def scrub(
    text: str | None, secrets: Iterable[str] = (), *, limit: int | None = MAX_QUOTED_CHARS
) -> str | None:
    """Return a server's ``text`` fit to quote: no key or token, nor any fragment of ``secrets``.

    Replaces anything shaped like a key (``sk-…``) or token (``ek_…``), in any case, and every run of
    text that shares ``FRAGMENT_LENGTH`` or more characters with one of ``secrets`` (the credentials
    actually sent, whatever their shape: an Azure key has no prefix), compared without case. ``limit``
    cuts the text first, so a hostile server cannot make an exception message huge.
    """
    if text is None:
        return None
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    text = _KEY_OR_TOKEN_SHAPE.sub("***", text)
    grams = _fragments(tuple(secrets))
    if not grams or len(text) < FRAGMENT_LENGTH:
        return text
    folded = text.lower()
    hidden = bytearray(len(text))
    for start in range(len(text) - FRAGMENT_LENGTH + 1):
        if folded[start : start + FRAGMENT_LENGTH] in grams:
            hidden[start : start + FRAGMENT_LENGTH] = b"\x01" * FRAGMENT_LENGTH
    if not any(hidden):
        return text
    pieces: list[str] = []
    for index, char in enumerate(text):
        if not hidden[index]:
            pieces.append(char)
        elif index == 0 or not hidden[index - 1]:
            pieces.append("***")
    return "".join(pieces)


def scrub_json(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Return a copy of a parsed JSON answer with :func:`scrub` applied to every string in it.

    The answer has passed ``transport.parse_json`` (bounded depth), so recursion is safe here.
    """
    secrets = tuple(secrets)
    if isinstance(value, str):
        return scrub(value, secrets, limit=None)
    if isinstance(value, dict):
        return {
            scrub(str(key), secrets, limit=None): scrub_json(item, secrets) for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub_json(item, secrets) for item in value]
    return value


@functools.lru_cache(maxsize=16)
def _fragments(secrets: tuple[str, ...]) -> frozenset[str]:
    grams: set[str] = set()
    for secret in secrets:
        private = _PUBLIC_KEY_PREFIX.sub("", secret).lower()
        grams.update(private[i : i + FRAGMENT_LENGTH] for i in range(len(private) - FRAGMENT_LENGTH + 1))
    return frozenset(grams)
