"""Redact minted tokens from a supervised Airflow 3 task's standard output and error, at the file
descriptors: what the task process, a C library or any child process writes to FD 1 or 2.

Airflow 3's supervisor reads the task process's FDs 1 and 2 (socketpairs) and masks them with the
secrets it has been told; telling it each token of a fleet costs more with every token (its masker
recompiles one pattern of all of them). So, for fleets, :mod:`airflow_provider_realtime.masking` starts
this module as a small process of its own: FDs 1 and 2 of the task process become pipes into it, and it
writes each line on to the supervisor with every token redacted. A separate process rather than a thread,
so that what a task writes just before it ends (``os._exit``), or what its children write after, is
still relayed; it ends when every writer has closed its pipes.

Lines are held until their end (``\\n`` or ``\\r``), so a token written in pieces is found whole; a line
longer than ``HOLD_LIMIT`` or held for ``IDLE_SECONDS`` goes on up to a possible token start. Each chunk
is searched for line ends once, so the cost is linear in what is written, newline or not.

Standard library only: it runs as ``python -I -S output_relay.py CONTROL OUT ERR`` (no site-packages),
and :mod:`masking` imports its redaction rules from here, so both sides redact alike. The task process
writes each token it mints, one per line, to the CONTROL pipe; every line written after that call is
redacted of it, wherever it stands in the text.
"""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import time
from typing import Final, TypeVar

_Text = TypeVar("_Text", str, bytes)

# An ephemeral token's shape: "ek_" and at least 16 URL-safe characters. The masker joins its patterns
# with "|", so this must be a self-contained alternative, and RE2 (which Airflow 2 compiles it with) has
# no look-arounds: \b keeps "seek_position_value" unmasked.
TOKEN_PATTERN: Final = r"\bek_[A-Za-z0-9_\-]{16,}"  # noqa: S105 - a pattern, not a password
# In rendered (JSON) output a token that followed a newline or a control character (a word boundary in
# the text) follows an escape, a backslash and "n" or "u0001".
_AFTER_BOUNDARY: Final = r"(?:(?<![A-Za-z0-9_])|(?<=\\[nrtbf])|(?<=\\u[0-9a-fA-F]{4}))"
_SHAPE_TEXT: Final = re.compile(_AFTER_BOUNDARY + TOKEN_PATTERN[2:])
_SHAPE_BYTES: Final = re.compile((_AFTER_BOUNDARY + TOKEN_PATTERN[2:]).encode())
_TOKEN_BYTES: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
PREFIX_LENGTH: Final = 19  # "ek_" and 16 characters: the shortest token the shape covers

HOLD_LIMIT: Final = 64 * 1024  # bytes of one line held back waiting for its end
IDLE_SECONDS: Final = 0.5  # a line without its end goes on after being held this long


class Redactor:
    """Redacts token-shaped runs (at a word boundary, JSON escapes included) and every known token
    (wherever it stands: after a word character, an ANSI colour code or ``%3D``) from text or bytes.

    A known token is found from its ``ek_``: the next ``PREFIX_LENGTH`` characters name the lengths of
    the known tokens that begin so (almost always one), and one set lookup per such length confirms it.
    The cost per ``ek_`` does not grow with the number of tokens, nor with how many lengths they have.
    Only hashes are kept (about 200 bytes per token; the token itself is not held on to).
    """

    def __init__(self) -> None:
        self.known_text: set[int] = set()
        self.known_bytes: set[int] = set()
        # hash of a token's first PREFIX_LENGTH characters -> the lengths of the known tokens that begin so
        self.by_prefix_text: dict[int, tuple[int, ...]] = {}
        self.by_prefix_bytes: dict[int, tuple[int, ...]] = {}
        self.short_lengths: tuple[int, ...] = ()  # lengths of known tokens shorter than PREFIX_LENGTH

    def learn(self, token: str) -> None:
        data = token.encode()
        if hash(token) in self.known_text:
            return
        self.known_text.add(hash(token))
        self.known_bytes.add(hash(data))
        if len(token) < PREFIX_LENGTH:  # (no "ek_" token this short is searched for by the shape either)
            if len(token) not in self.short_lengths:
                self.short_lengths = tuple(sorted({*self.short_lengths, len(token), len(data)}, reverse=True))
            return
        for index, form in ((self.by_prefix_text, token), (self.by_prefix_bytes, data)):
            key = hash(form[:PREFIX_LENGTH])
            lengths = index.get(key, ())
            if len(form) not in lengths:
                index[key] = tuple(sorted({*lengths, len(form)}, reverse=True))

    def text(self, line: str) -> str:
        if "ek_" not in line:
            return line
        line = _SHAPE_TEXT.sub("***", line)
        return _known(line, "ek_", "***", self.known_text, self.by_prefix_text, self.short_lengths)

    def data(self, line: bytes) -> bytes:
        if b"ek_" not in line:
            return line
        line = _SHAPE_BYTES.sub(b"***", line)
        return _known(line, b"ek_", b"***", self.known_bytes, self.by_prefix_bytes, self.short_lengths)


def _known(
    line: _Text,
    marker: _Text,
    hidden: _Text,
    known: set[int],
    by_prefix: dict[int, tuple[int, ...]],
    short_lengths: tuple[int, ...],
) -> _Text:
    """``line`` with every known token replaced by ``hidden`` (the longest, where two begin alike)."""
    if not known:
        return line
    pieces: list[_Text] = []
    start = 0
    at: int = line.find(marker)
    while at != -1:
        prefix: int = hash(line[at : at + PREFIX_LENGTH])
        for length in (*by_prefix.get(prefix, ()), *short_lengths):
            if hash(line[at : at + length]) in known:
                pieces.append(line[start:at])
                pieces.append(hidden)
                start = at + length
                break
        at = line.find(marker, max(at + 1, start))
    if not pieces:
        return line
    pieces.append(line[start:])
    return line[:0].join(pieces)


class Stream:
    """One relayed descriptor: bytes held until their line ends, then redacted and written on."""

    def __init__(self, source: int, target: int, redactor: Redactor) -> None:
        self.source, self.target, self.redactor = source, target, redactor
        self.pending = bytearray()
        self.pending_since = 0.0  # when what is held now began to be held

    def take(self, chunk: bytes) -> None:
        if not self.pending:
            self.pending_since = time.monotonic()
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end >= 0:
            cut = len(self.pending) + end + 1
            self.pending += chunk
            self._emit(cut)
        else:
            self.pending += chunk
            if len(self.pending) > HOLD_LIMIT:
                self.release()

    def release(self) -> None:
        """Write what is held, except what may be the start of a token still arriving: the trailing run
        of token characters from its first ``ek_`` on (at most ``HOLD_LIMIT`` bytes of it), or a
        trailing ``e`` or ``ek``. A token is never passed on in two pieces, however long the run it
        stands in."""
        window = max(0, len(self.pending) - HOLD_LIMIT)
        run = window + len(bytes(self.pending[window:]).rstrip(_TOKEN_BYTES))
        cut = self.pending.find(b"ek_", run)
        if cut == -1:
            cut = len(self.pending) - next(
                (len(part) for part in (b"ek", b"e") if self.pending.endswith(part)), 0
            )
        self._emit(cut)

    def finish(self) -> None:
        self._emit(len(self.pending))

    def _emit(self, cut: int) -> None:
        if cut <= 0:
            return
        data = self.redactor.data(bytes(self.pending[:cut]))
        del self.pending[:cut]
        self.pending_since = time.monotonic()
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.target, view)
            except InterruptedError:
                continue
            except OSError:
                return  # the reader is gone: keep draining the pipe so the task never blocks on it
            view = view[written:]


def relay(control: int | None, streams: list[Stream], redactor: Redactor) -> None:
    """Relay until every stream's writers have closed it (``control``: where tokens are told, if anywhere).

    ``poll`` rather than ``select``: the descriptors keep the numbers they had in the task process,
    which may be past ``select``'s limit of 1024.
    """
    readable = select.POLLIN | select.POLLHUP | select.POLLERR
    watch = select.poll()
    control_watch: select.poll | None = None
    if control is not None:
        control_watch = select.poll()
        control_watch.register(control, readable)
    buffered = b""
    open_streams = {stream.source: stream for stream in streams}
    for source in open_streams:
        watch.register(source, readable)
    while open_streams:
        ready = watch.poll(IDLE_SECONDS * 1000)
        # Tokens first: one is written to CONTROL before the task can print it.
        while control is not None and control_watch is not None and control_watch.poll(0):
            message = os.read(control, 65536)
            if not message:
                control_watch = None
                break
            *tokens, buffered = (buffered + message).split(b"\n")
            for token in tokens:
                redactor.learn(token.decode("ascii", "replace"))
        for source, _ in ready:
            chunk = os.read(source, 65536)
            if chunk:
                open_streams[source].take(chunk)
            else:
                watch.unregister(source)
                open_streams.pop(source).finish()
        now = time.monotonic()
        for stream in open_streams.values():
            if stream.pending and now - stream.pending_since >= IDLE_SECONDS:
                stream.release()


def main(arguments: list[str]) -> None:
    # The task's Ctrl-C or SIGTERM is for the task: this process ends when its writers are gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    control, out, err = (int(argument) for argument in arguments)
    redactor = Redactor()
    relay(control, [Stream(out, 1, redactor), Stream(err, 2, redactor)], redactor)


if __name__ == "__main__":
    main(sys.argv[1:])
