"""The output relay: a real relay process between pipes, as a supervised task runs it.

Every test starts ``output_relay.py`` the way :mod:`masking` does (``python -I -S``, no site-packages), tells
it tokens on its control pipe, writes to its stdout and stderr pipes, and reads what it passes on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from airflow_provider_realtime import output_relay

pytestmark = pytest.mark.version_independent

TOKEN = "ek_" + "9f3bA7c2" * 4
OTHER = "ek_" + "41dE0b7a" * 4


class Relay:
    """A running relay, with threads that read what it passes on (so it never blocks on a full pipe)."""

    def __init__(self, process: subprocess.Popen[bytes], control: int, out: int, err: int) -> None:
        self.process, self.control, self.out, self.err = process, control, out, err
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._readers = [
            threading.Thread(target=self._read, args=(process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: bytearray) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            into += chunk

    def tell(self, token: str) -> None:
        os.write(self.control, token.encode() + b"\n")

    def wait_for_output(self, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while not self.stdout and time.monotonic() < deadline:
            time.sleep(0.01)
        return bytes(self.stdout)

    def close(self) -> tuple[bytes, bytes]:
        for descriptor in (self.control, self.out, self.err):
            os.close(descriptor)
        self.process.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=30)
        return bytes(self.stdout), bytes(self.stderr)


@contextmanager
def relay() -> Iterator[Relay]:
    control_read, control_write = os.pipe()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", output_relay.__file__, str(control_read), str(out_read), str(err_read)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(control_read, out_read, err_read),
    )
    for descriptor in (control_read, out_read, err_read):
        os.close(descriptor)
    try:
        yield Relay(process, control_write, out_write, err_write)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_told_token_is_redacted_wherever_it_stands_and_ordinary_words_are_not() -> None:
    lines = [
        f"ansi \x1b[32m{TOKEN}\x1b[0m",
        f"url key%3D{TOKEN}&x=1",
        f"word desk_7_{TOKEN}",
        f'json {{"v": "\\n{TOKEN}"}}',
        "seek_position_value=12 week_number_2026 cheek_1234567890abcdef1234",
    ]
    with relay() as running:
        running.tell(TOKEN)
        os.write(running.out, ("\n".join(lines) + "\n").encode())
        os.write(running.err, f"on stderr {TOKEN}\n".encode())
        stdout, stderr = running.close()
    assert stdout.decode().splitlines() == [line.replace(TOKEN, "***") for line in lines]
    assert stderr == b"on stderr ***\n"


def test_an_untold_token_is_still_redacted_by_its_shape() -> None:
    with relay() as running:
        os.write(running.out, f"shape {OTHER} and {OTHER[:10]}\n".encode())
        stdout, _ = running.close()
    assert stdout == f"shape *** and {OTHER[:10]}\n".encode()


def test_a_token_written_in_pieces_is_found_whole() -> None:
    """As relayed chunks and progress bars write: each piece alone is not token-shaped."""
    with relay() as running:
        running.tell(TOKEN)
        for piece in ("in pieces ", TOKEN[:12], TOKEN[12:20], TOKEN[20:], " end\n"):
            os.write(running.out, piece.encode())
            time.sleep(0.05)  # separate reads on the relay's side
        stdout, _ = running.close()
    assert stdout == b"in pieces *** end\n"


def test_a_line_without_its_end_goes_on_when_idle_but_holds_a_possible_token_start() -> None:
    with relay() as running:
        running.tell(TOKEN)
        os.write(running.out, f"progress: 10% {TOKEN[:9]}".encode())
        first = running.wait_for_output()
        os.write(running.out, f"{TOKEN[9:]} done\n".encode())
        whole, _ = running.close()
    assert first == b"progress: 10% ", "the idle line was not passed on up to the possible token"
    assert whole == b"progress: 10% *** done\n"


@pytest.mark.parametrize("position", [10, output_relay.HOLD_LIMIT - 5, 3 * output_relay.HOLD_LIMIT])
def test_a_long_line_without_an_end_is_passed_on_with_its_tokens_redacted(position: int) -> None:
    data = b"x " * (position // 2) + TOKEN.encode() + b" y" * (2 * output_relay.HOLD_LIMIT)
    with relay() as running:
        running.tell(TOKEN)
        view = memoryview(data)
        while view:
            view = view[os.write(running.out, view[:4096]) :]
        stdout, _ = running.close()
    assert stdout == data.replace(TOKEN.encode(), b"***")


def test_output_without_newlines_costs_linear_time() -> None:
    """200,000 one-byte writes and a line of 200,000 bytes: the relay searches each chunk once, so this
    is quick; a quadratic relay (re-scanning the held line) takes minutes here. No time is asserted: the
    whole output must simply come through, in order."""
    with relay() as running:
        for _ in range(200_000):
            os.write(running.out, b"x")
        os.write(running.out, b"\n")
        stdout, _ = running.close()
    assert stdout == b"x" * 200_000 + b"\n"


def test_the_relay_ends_when_its_writers_are_gone_and_ignores_the_task_signals() -> None:
    import signal

    with relay() as running:
        os.write(running.out, b"before\n")
        assert running.wait_for_output() == b"before\n"  # started, its handlers set
        running.process.send_signal(signal.SIGINT)  # Ctrl-C is for the task, not for its output
        running.process.send_signal(signal.SIGTERM)
        os.write(running.out, b"after\n")
        stdout, _ = running.close()
    assert stdout == b"before\nafter\n" and running.process.returncode == 0


def test_descriptors_past_selects_limit_are_relayed() -> None:
    """The relay keeps the descriptor numbers of the task process, which may be past 1024 there."""
    import fcntl
    import resource

    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2100:
        pytest.skip("the open-files limit is below 2100")
    read_end, write_end = os.pipe()
    high = fcntl.fcntl(read_end, fcntl.F_DUPFD, 2000)
    os.close(read_end)
    control_read, control_write = os.pipe()
    err_read, err_write = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", output_relay.__file__, str(control_read), str(high), str(err_read)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        pass_fds=(control_read, high, err_read),
    )
    for descriptor in (control_read, high, err_read):
        os.close(descriptor)
    os.write(control_write, TOKEN.encode() + b"\n")
    os.write(write_end, f"high {TOKEN}\n".encode())
    for descriptor in (control_write, write_end, err_write):
        os.close(descriptor)
    stdout, _ = process.communicate(timeout=30)
    assert stdout == b"high ***\n"


def test_a_line_trickling_without_its_end_still_goes_on() -> None:
    """A spinner writes a character now and then and never a newline: it is passed on after being held
    half a second, not only when the line reaches 64 KiB."""
    with relay() as running:
        for _ in range(8):
            os.write(running.out, b"#")
            time.sleep(0.1)
        seen = running.wait_for_output()
        stdout, _ = running.close()
    assert seen.startswith(b"#") and stdout == b"#" * 8


@pytest.mark.parametrize("after", [output_relay.HOLD_LIMIT - 10, output_relay.HOLD_LIMIT - 30, 70_000])
def test_a_token_inside_a_run_of_word_characters_longer_than_the_hold_is_never_split(after: int) -> None:
    """The relay reads at most 64 KiB at a time, so a long unbroken run is passed on in parts: the token in
    it, glued to word characters on both sides, must still be found whole. ``after`` word characters
    follow it, which puts the cut of a fixed-size hold inside the token."""
    data = b"a" * 1000 + TOKEN.encode() + b"b" * after
    with relay() as running:
        running.tell(TOKEN)
        os.write(running.out, data)
        running.wait_for_output()  # the line's end comes after the relay has passed a part on
        os.write(running.out, b"\n")
        stdout, _ = running.close()
    assert stdout == data.replace(TOKEN.encode(), b"***") + b"\n"


def test_a_token_split_after_its_first_letter_by_an_idle_pause_is_found_whole() -> None:
    with relay() as running:
        running.tell(TOKEN)
        os.write(running.out, b"waiting e")
        first = running.wait_for_output()
        os.write(running.out, f"{TOKEN[1:]} done\n".encode())
        whole, _ = running.close()
    assert first == b"waiting "
    assert whole == b"waiting *** done\n"


class CountingSet(set):  # type: ignore[type-arg]
    """A set that counts its membership tests."""

    lookups = 0

    def __contains__(self, item: object) -> bool:
        CountingSet.lookups += 1
        return super().__contains__(item)


@pytest.mark.parametrize("form", ["text", "data"])
def test_finding_a_known_token_costs_the_same_whatever_the_number_of_token_lengths(form: str) -> None:
    """6,000 tokens of 6,000 different lengths: each ``ek_`` in a line costs one set lookup per known token
    that begins alike (one here), not one per length. What is counted is lookups, not time."""
    import random

    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    chooser = random.Random(7)
    redactor = output_relay.Redactor()
    tokens = ["ek_" + "".join(chooser.choices(alphabet, k=16 + length)) for length in range(6000)]
    for token in tokens:
        redactor.learn(token)
    redactor.known_text, redactor.known_bytes = (
        CountingSet(redactor.known_text),
        CountingSet(redactor.known_bytes),
    )
    # Glued to a word character, so the token shape does not apply and the known tokens are searched.
    line = f"a x{tokens[4321]} b xek_unknown_but_token_shaped c"
    CountingSet.lookups = 0
    if form == "text":
        assert redactor.text(line) == "a x*** b xek_unknown_but_token_shaped c"
    else:
        assert redactor.data(line.encode()) == b"a x*** b xek_unknown_but_token_shaped c"
    assert CountingSet.lookups <= 2
