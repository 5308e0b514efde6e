"""Keep tokens and keys out of logs: mask minted tokens at a constant cost per token, and scrub what
servers say before it is quoted.

Airflow's ``mask_secret`` recompiles one regular expression made of every secret seen so far each time
a new one is added: minting tokens in bulk in one process becomes quadratic (measured: 27 ms per token
after only 1,000 tokens), and in an Airflow 3 task the supervisor, which writes the log file, pays the
same again for each token it is told. Ephemeral tokens have a recognisable shape (``ek_`` + at least 16
URL-safe characters, starting at a word boundary), so one pattern for that shape is registered once per
process with its masker, and in a supervised Airflow 3 task everything sent to the supervisor is
redacted by that shape on its way out: no token is ever sent to be masked. A token of any other shape
goes through ``mask_secret``.
"""

from __future__ import annotations

import functools
import io
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, Final, TextIO

from airflow_provider_realtime import compat

# The masker joins its patterns with "|", so this must be a self-contained alternative, and RE2 (which
# Airflow 2 may compile it with) has no look-arounds: \b keeps "seek_position_value" unmasked.
TOKEN_PATTERN: Final = r"\bek_[A-Za-z0-9_\-]{16,}"  # noqa: S105 - a pattern, not a password
TOKEN_SHAPE: Final = re.compile(TOKEN_PATTERN)

_set_up = threading.Lock()  # tokens are minted by concurrent threads; the one-time set-ups run once


def mask_token(token: str) -> None:
    """Make ``token`` appear as ``***`` in task logs and rendered fields from now on, at a flat cost.

    Safe to call from several threads at once.
    """
    if not TOKEN_SHAPE.fullmatch(token) or not _shape_registered():
        compat.mask_secret(token)
        return
    if compat.in_supervised_task():
        with _set_up:  # also one message at a time on the supervisor's channel
            if not _redact_tokens_sent_to_supervisor():
                compat.tell_supervisor(token)


def _shape_registered() -> bool:
    """Add the token pattern to this process's masker (once); False where the masker is not as expected."""
    try:
        masker = compat.secrets_masker()
        patterns = masker.patterns
        if TOKEN_PATTERN not in patterns:
            with _set_up:
                if TOKEN_PATTERN not in patterns:
                    patterns.add(TOKEN_PATTERN)
                    masker.replacer = re.compile("|".join(patterns))
    except AttributeError:  # another Airflow layout: the public, slower path
        return False
    return True


# A token in rendered log output, which may be JSON: there a token that followed a newline or a control
# character (a word boundary in the text) follows an escape, a backslash and "n" or "u0001".
_AFTER_BOUNDARY: Final = r"(?:(?<![A-Za-z0-9_])|(?<=\\[nrtbf])|(?<=\\u[0-9a-fA-F]{4}))"
_RENDERED_TOKEN: Final = re.compile(_AFTER_BOUNDARY + TOKEN_PATTERN[2:])
_RENDERED_TOKEN_BYTES: Final = re.compile((_AFTER_BOUNDARY + TOKEN_PATTERN[2:]).encode())


def redact_rendered(line: Any) -> Any:
    """``line`` (text or bytes, plain or JSON) with every token-shaped run replaced by ``***``."""
    if isinstance(line, bytes):
        return _RENDERED_TOKEN_BYTES.sub(b"***", line) if b"ek_" in line else line
    if isinstance(line, str):
        return _RENDERED_TOKEN.sub("***", line) if "ek_" in line else line
    return line


@functools.cache
def _redact_tokens_sent_to_supervisor() -> bool:
    """Redact tokens from everything this supervised 3.x task process sends its supervisor; once.

    Airflow 3's task process does not mask its own logs: it sends them raw (log events as JSON lines,
    and what is printed) to the supervisor, which masks them with the secrets it has been told. Telling
    it each token costs more with every token (its masker recompiles one pattern of all secrets), so
    instead every way out is redacted here by the token shape: the final renderer of structlog's chain
    and of the stdlib logging formatters, and ``sys.stdout``/``sys.stderr``. False (and the caller tells
    the supervisor each token) where the logging set-up is not the one expected.
    """
    import logging

    try:
        import structlog
    except ImportError:
        return False
    chain = structlog.get_config()["processors"]
    formatters = [
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    ]
    if not isinstance(chain, list) or not chain or not formatters:
        return False
    # In place: loggers already in use hold this very list.
    chain[-1] = _RedactingRenderer(chain[-1])
    for formatter in formatters:
        *steps, render = formatter.processors
        formatter.processors = (*steps, _RedactingRenderer(render))
    if sys.stdout is not None:
        sys.stdout = _RedactingStream(sys.stdout)
    if sys.stderr is not None:
        sys.stderr = _RedactingStream(sys.stderr)
    return True


class _RedactingRenderer:
    """A log chain's final renderer, whose output then has every token redacted."""

    def __init__(self, render: Any) -> None:
        self.render = render

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        return redact_rendered(self.render(logger, method_name, event_dict))


class _RedactingStream(io.TextIOBase):
    """A text stream that writes whole lines, each with every token redacted (so a token written in
    pieces is still found); what is left of a line goes out on ``flush``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending = ""
        self._lock = threading.Lock()  # threads may print at once: each line stays whole

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
            if lines:
                self.stream.write("".join(redact_rendered(line) + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.stream.write(redact_rendered(self._pending))
                self._pending = ""
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding


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
