"""Small hostile HTTP servers on 127.0.0.1 for the adversarial tests: each answers with one scripted behaviour.

Bounded by construction: every behaviour stops when the server stops, trickles send at most a fixed
number of bytes, and every socket has a timeout.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator

from airflow_provider_realtime.testing import RecordedRequest as Seen  # a request as it arrived

Behaviour = Callable[["HostileServer", socket.socket, Seen], None]


class HostileServer:
    """Serve ``behaviour`` for every request on a free loopback port, one request per connection."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[Seen] = []
        self.arrivals: list[float] = []  # time.monotonic() at each request's arrival
        self.connections = 0
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def __enter__(self) -> HostileServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        for client in list(self._clients):
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._clients.append(client)
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(5)
            try:
                seen = self.next_request(client)
                if seen is None:
                    return
                self.behaviour(self, client, seen)
            except OSError:
                return

    def next_request(self, client: socket.socket) -> Seen | None:
        """Read the next request on ``client`` and record it (None when the client closed)."""
        seen = _read_request(client)
        if seen is not None:
            self.arrivals.append(time.monotonic())
            self.requests.append(seen)
        return seen


def _read_request(client: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk or len(data) > 1 << 20:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            break
        body += chunk
    return Seen(method, path, headers, body)


def head(
    status: int,
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
    keep_alive: bool = False,
) -> bytes:
    lines = [f"HTTP/1.1 {status} Hostile", "x-request-id: req_hostile"]
    if not keep_alive:
        lines.insert(1, "Connection: close")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """Answer at once with ``body``."""

    def behave(server: HostileServer, client: socket.socket, seen: Seen) -> None:
        client.sendall(head(status, headers, length=len(body)) + body)

    return behave


def keep_alive(respond: Callable[[Seen], bytes]) -> Behaviour:
    """Answer every request on the same connection with ``respond(request)``, as long as the client
    keeps the connection open."""

    def behave(server: HostileServer, client: socket.socket, seen: Seen | None) -> None:
        while seen is not None and not server.stopped.is_set():
            client.sendall(respond(seen))
            seen = server.next_request(client)

    return behave


def token_for(seen: Seen) -> str:
    """The token a scripted server mints for a request: derived from the request's prompt, so a test
    can tell which request's answer each item got."""
    import hashlib

    return "ek_" + hashlib.sha256(seen.body).hexdigest()[:32]


def minted(seen: Seen, *, keep_alive: bool = False, headers: dict[str, str] | None = None) -> bytes:
    """A whole 200 answer holding :func:`token_for` the request."""
    body = json.dumps({"value": token_for(seen), "expires_at": 2_000_000_000, "session": {}}).encode()
    return head(200, headers, length=len(body), keep_alive=keep_alive) + body


def trickle(prefix: bytes, drip: bytes, interval: float = 0.1) -> Behaviour:
    """Send ``prefix`` at once, then ``drip`` one byte every ``interval`` seconds, until stopped."""

    def behave(server: HostileServer, client: socket.socket, seen: Seen) -> None:
        client.sendall(prefix)
        for byte in drip:
            if server.stopped.wait(interval):
                return
            client.sendall(bytes([byte]))

    return behave


def stall(prefix: bytes) -> Behaviour:
    """Send ``prefix``, then nothing more until the server stops."""

    def behave(server: HostileServer, client: socket.socket, seen: Seen) -> None:
        client.sendall(prefix)
        server.stopped.wait(60)

    return behave


def endless_chunks(status: int, chunk: bytes = b"x" * 65536, most: int = 512) -> Behaviour:
    """A chunked body that goes on (up to ``most`` chunks): no Content-Length to refuse up front."""

    def behave(server: HostileServer, client: socket.socket, seen: Seen) -> None:
        client.sendall(head(status, {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}))
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for _ in range(most):
            if server.stopped.is_set():
                return
            client.sendall(frame)

    return behave


def declared_huge(status: int, size: int = 100 * 1024 * 1024) -> Behaviour:
    """Declare a ``size``-byte body and start sending it (at most 4 MiB, then wait)."""

    def behave(server: HostileServer, client: socket.socket, seen: Seen) -> None:
        client.sendall(head(status, {"Content-Type": "application/json"}, length=size))
        for _ in range(64):
            if server.stopped.is_set():
                return
            client.sendall(b"x" * 65536)
        server.stopped.wait(30)

    return behave


def gzip_bomb(inflated_mib: int = 256) -> bytes:
    """A gzip body of zeros that inflates to ``inflated_mib`` MiB (about 1/1000 of that on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(inflated_mib)]
    parts.append(compressor.flush())
    return b"".join(parts)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


@contextlib.contextmanager
def serving(behaviour: Behaviour) -> Iterator[HostileServer]:
    with HostileServer(behaviour) as server:
        yield server


def minted_behaviour() -> Behaviour:
    """Mint each request's own token (:func:`minted`), one request per connection."""

    def behave(server: HostileServer, client: socket.socket, seen: Seen) -> None:
        client.sendall(minted(seen))

    return behave
