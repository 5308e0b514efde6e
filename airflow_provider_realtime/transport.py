"""One bounded HTTP exchange: no redirects, a total deadline, a size cap and bounded decompression.

requests alone bounds each socket read (its read timeout), not the answer: a server that trickles one
byte a second holds a call for as long as it likes. It reads any body whole and inflates gzip without a
limit, and it follows redirects (carrying an ``api-key`` header to another origin). So each request here:

* is sent without following redirects: a redirect comes back as an answer and the hook refuses it;
* has a **deadline**: every read from the socket, headers and body alike, waits at most the read
  timeout *and* at most until the deadline (``_DeadlineReader``, installed into urllib3's connections);
* reads at most ``MAX_ANSWER_BYTES`` from the wire and inflates (gzip or deflate, decoded here rather
  than by urllib3) to at most as many bytes;
* parses JSON strictly: no ``NaN``/``Infinity``, at most ``MAX_JSON_DEPTH`` levels of nesting.

Messages of the errors raised here name what went wrong by kind (an exception's type, a size); they
never quote the request or the answer, which hold credentials and tokens.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import requests
import requests.adapters
import requests.utils
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

MAX_ANSWER_BYTES: Final = 2 * 1024 * 1024  # a client-secret answer is a few KiB; /models tens of KiB
# The most bytes read from the socket for one answer, whatever its framing: the body's cap, plus room for
# http.client's own header limits (100 lines of 64 KiB) and chunk framing. A chunk size of -1 makes
# http.client read to the end of the stream in one call; this bound holds there too.
MAX_WIRE_BYTES: Final = 4 * MAX_ANSWER_BYTES + 8 * 1024 * 1024
MAX_INFORMATIONAL_ANSWERS: Final = 16  # 1xx answers skipped before the final one (RFC 9110 15.2)
MAX_JSON_DEPTH: Final = 64
ACCEPT_ENCODING: Final = "gzip, deflate"  # what we can inflate with a bound (not br or zstd)
_CHUNK: Final = 64 * 1024

_attempt = threading.local()  # the deadline of the request the current thread is making


class ExchangeError(Exception):
    """The exchange failed.

    :param reason: what happened, with no request or answer data in it.
    :param timed_out: the timeouts or the deadline ran out (rather than the connection failing).
    :param status: the answer's status when its headers had arrived (the body then failed).
    :param request_id: the answer's ``x-request-id``, when its headers had arrived.
    :param answered: the server answered (a status line arrived), so it may have acted on the request:
        such a failure is never retried. True whenever ``status`` is known.
    """

    def __init__(
        self,
        reason: str,
        *,
        timed_out: bool,
        status: int | None = None,
        request_id: str | None = None,
        answered: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.status = status
        self.request_id = request_id
        self.answered = answered or status is not None


@dataclass(frozen=True)
class Answer:
    """A whole answer: status, headers, and the decoded body (empty for redirects).

    :param problem: for an error status only, why the body is missing (too large, cut off, stalled);
        the status still counts, so an error answer is never lost to a broken body.
    """

    status: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)
    problem: str | None = None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


# --------------------------------------------------------------------------------------------------
# The deadline, enforced on every socket read of the answer.
# --------------------------------------------------------------------------------------------------


class _DeadlineReader(io.RawIOBase):
    """Reads from a socket, each read waiting at most the read timeout and at most until the deadline.

    Reads go through the socket's own unbuffered ``makefile`` (a ``SocketIO``), which holds a reference
    that keeps the socket open while the answer is read, as ``http.client`` expects.
    """

    def __init__(self, sock: socket.socket, deadline: float | None) -> None:
        super().__init__()
        self._sock = sock
        self._io = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._read_timeout = sock.gettimeout()
        self._budget = MAX_WIRE_BYTES

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the answer's deadline passed")
            timeout = remaining if self._read_timeout is None else min(self._read_timeout, remaining)
            self._sock.settimeout(timeout)
        if self._budget <= 0:
            raise AnswerTooLargeError(f"the answer is larger than {_mib(MAX_WIRE_BYTES)} on the wire")
        with memoryview(buffer) as view:
            count = self._io.readinto(view[: self._budget])
        self._budget -= count or 0
        return count

    def close(self) -> None:
        self._io.close()
        super().close()


class AnswerTooLargeError(OSError):
    """More bytes arrived for one answer than ``MAX_WIRE_BYTES``, whatever its framing."""


class _DeadlineSocket:
    """What ``http.client`` reads an answer through: the connection's socket behind a ``_DeadlineReader``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, getattr(_attempt, "deadline", None)))


class _DeadlineResponse(http.client.HTTPResponse):
    """``http.client``'s answer, read under the deadline, with informational (1xx) answers skipped.

    ``http.client`` skips only ``100 Continue``; any other 1xx (``103 Early Hints``, sent by CDNs and
    proxies) would be taken as the final answer, and the real one left in the kept-alive socket for the
    next request to read. RFC 9110 has clients skip them all; ``_read_status`` (the one method of
    ``http.client`` overridden here, present from Python 3.0 to 3.13) is where the status line is read.
    """

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(_DeadlineSocket(sock), *args, **kwargs)  # type: ignore[arg-type]

    def _read_status(self) -> tuple[str, int, str]:
        skipped = 0
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            if skipped == MAX_INFORMATIONAL_ANSWERS:
                raise TooManyInformationalAnswersError(
                    f"more than {MAX_INFORMATIONAL_ANSWERS} informational (1xx) answers before the final one"
                )
            skipped += 1
            _skip_header_block(self.fp)


if not hasattr(http.client.HTTPResponse, "_read_status"):  # present on Python 3.10 to 3.13, checked
    warnings.warn(
        "airflow-provider-realtime: http.client.HTTPResponse has no _read_status on this Python, so "
        "informational (1xx) answers are no longer skipped and bounded; report it to the provider",
        RuntimeWarning,
        stacklevel=1,
    )


class TooManyInformationalAnswersError(http.client.HTTPException):
    """The server answered (1xx status lines arrived) but kept its final answer back: never retried."""


def _skip_header_block(stream: Any) -> None:
    """Read an informational answer's header lines up to the blank line that ends them."""
    for _ in range(101):
        line = stream.readline(65537)
        if len(line) > 65536:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return
    raise http.client.HTTPException("got more than 100 headers")


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS: Final = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections whose answers are read under the deadline (also via proxies)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if proxy.lower().startswith(("http:", "https:")):  # SOCKS managers bring their own pools
            manager.pool_classes_by_scheme = _POOLS
        return manager


# --------------------------------------------------------------------------------------------------
# The process's HTTP session.
# --------------------------------------------------------------------------------------------------

# Kept-alive connections per host, and so the most requests a batch may have in flight at once: a
# request beyond the pool would open a connection, use it once and close it.
POOL_SIZE: Final = 64

_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid = 0


def shared_http_session() -> requests.Session:
    """Return this process's HTTP session, so every hook reuses kept-alive connections.

    Tasks build a new operator and hook per run; a per-hook session would pay a TCP (and TLS) handshake
    for every token. The session carries no credentials (they go in per-request headers) and keeps no
    cookies. A forked child gets its own session instead of sharing the parent's sockets.

    ``trust_env`` is off: requests would otherwise scan the whole environment for proxies on every
    request (a quarter of a mint's CPU time) and let a ``~/.netrc`` entry replace our Authorization
    header. The connection reads the same variables once instead (``connection.environment_transport``).
    """
    global _session, _session_pid
    if _session is not None and _session_pid == os.getpid():
        return _session
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            import http.cookiejar

            session = requests.Session()
            session.trust_env = False
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            adapter = _DeadlineAdapter(pool_connections=8, pool_maxsize=POOL_SIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _session, _session_pid = session, os.getpid()
    return _session


# The environment variables requests consults for proxies and CA bundles (see :func:`shared_http_session`).
# --------------------------------------------------------------------------------------------------
# One exchange.
# --------------------------------------------------------------------------------------------------


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    body: Any,
    headers: Mapping[str, str],
    timeout: tuple[float, float],
    deadline_seconds: float,
    proxies: Mapping[str, str],
    verify: bool | str,
) -> Answer:
    """Send one request and read its whole answer within ``deadline_seconds``.

    :raises ExchangeError: no usable answer: connection failure, timeout, or (for a 2xx) a body that
        broke off, stalled, is too large or cannot be decoded.
    """
    data = None if body is None else json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    sent_headers = {**headers, "Accept-Encoding": ACCEPT_ENCODING}
    if data is not None:
        sent_headers["Content-Type"] = "application/json"
    deadline = time.monotonic() + deadline_seconds
    _attempt.deadline = deadline
    try:
        try:
            # Straight to the adapter: Session.send would prepare a redirect's next request from its
            # Location (even when not following it), run hooks and keep cookies; none of that is wanted.
            prepared = session.prepare_request(requests.Request(method, url, data=data, headers=sent_headers))
            response = session.get_adapter(url).send(
                prepared, stream=True, timeout=timeout, verify=verify, proxies=dict(proxies)
            )
        except requests.exceptions.Timeout as error:
            raise ExchangeError(_timeout_reason(error, deadline, deadline_seconds), timed_out=True) from None
        except _TRANSPORT_ERRORS as error:
            unreadable = _unreadable_answer(error)
            if unreadable is not None:
                raise ExchangeError(unreadable, timed_out=False, answered=True) from None
            raise ExchangeError(f"Connection failed ({_inner_name(error)})", timed_out=False) from None
        return _read_answer(response, deadline, deadline_seconds)
    finally:
        _attempt.deadline = None


_TRANSPORT_ERRORS: Final = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    UnicodeError,
)


def _unreadable_answer(error: BaseException) -> str | None:
    """Why an answer that did arrive could not be read (its headers exceed http.client's limits, or it
    is too large), or None when the failure came before any answer."""
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, AnswerTooLargeError):
            return f"The answer is larger than {_mib(MAX_WIRE_BYTES)}"
        if isinstance(item, TooManyInformationalAnswersError):
            return f"The server sent {item}"
        if isinstance(item, urllib3.exceptions.InvalidHeader):  # urllib3 2: two different Content-Lengths
            return INVALID_LENGTH
        if isinstance(item, http.client.LineTooLong) or (
            type(item) is http.client.HTTPException and "header" in str(item)
        ):
            return "The answer's headers exceed http.client's limits (100 lines of at most 64 KiB)"
        pending.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return None


class _BodyProblem(Exception):
    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.timed_out = reason, timed_out


def _read_answer(response: requests.Response, deadline: float, deadline_seconds: float) -> Answer:
    status = response.status_code
    headers = response.headers
    if 300 <= status < 400:  # not followed; its body is of no use
        response.close()
        return Answer(status, headers, b"")
    try:
        content = _read_capped(response, deadline, deadline_seconds)
    except _BodyProblem as problem:
        response.close()  # a broken or unread answer: the connection is not reused
        if status >= 400:
            return Answer(status, headers, b"", problem=problem.reason)
        raise ExchangeError(
            problem.reason, timed_out=problem.timed_out, status=status, request_id=headers.get("x-request-id")
        ) from None
    response.raw.release_conn()  # read to its end: the connection goes back to the pool
    return Answer(status, headers, content)


def _read_capped(response: requests.Response, deadline: float, deadline_seconds: float) -> bytes:
    """Read the body from the wire (at most ``MAX_ANSWER_BYTES``), then inflate it (to as much)."""
    declared = _declared_length(response.headers)
    if declared is not None and declared > MAX_ANSWER_BYTES:
        raise _BodyProblem(f"The answer's body is larger than {_mib(MAX_ANSWER_BYTES)} (Content-Length)")
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = response.raw.read(_CHUNK, decode_content=False)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise _BodyProblem(f"The answer's body is larger than {_mib(MAX_ANSWER_BYTES)}")
            chunks.append(chunk)
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as error:
        raise _BodyProblem(
            f"The answer stalled after its headers ({_timeout_reason(error, deadline, deadline_seconds)})",
            timed_out=True,
        ) from None
    except _TRANSPORT_ERRORS as error:
        if _unreadable_answer(error) is not None:
            raise _BodyProblem(f"The answer's body is larger than {_mib(MAX_ANSWER_BYTES)}") from None
        raise _BodyProblem(f"The answer's body broke off ({_inner_name(error)})") from None
    if declared is not None and size < declared:
        raise _BodyProblem("The answer's body broke off (shorter than its Content-Length)")
    return _inflate(b"".join(chunks), response.headers.get("Content-Encoding", ""))


INVALID_LENGTH: Final = "The answer's Content-Length is not a valid length (its framing is broken)"


def _declared_length(headers: Mapping[str, str]) -> int | None:
    """The body's Content-Length, or None when the answer has none (or is chunked, which overrides it).

    An invalid one (``²``, ``4_2``, two different values) is an unrecoverable framing error (RFC 9112
    6.3): the answer is refused, never read to the connection's close as urllib3 would.
    """
    text = headers.get("Content-Length")
    if text is None or "chunked" in headers.get("Transfer-Encoding", "").lower():
        return None
    values = {value.strip() for value in text.split(",")}  # "42, 42" is allowed; "42, 43" is not
    (value, *others) = values
    # isascii: str.isdigit() also accepts digits int() refuses ("²"); int() alone takes "4_2" and " 42"
    if others or not (value.isascii() and value.isdigit() and len(value) < 19):
        raise _BodyProblem(INVALID_LENGTH)
    return int(value)


def _inflate(data: bytes, encoding: str) -> bytes:
    """Undo a gzip or deflate Content-Encoding without ever holding more than the cap."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS  # zlib-wrapped or raw
    else:
        raise _BodyProblem("The answer uses a content encoding other than gzip or deflate")
    inflater = zlib.decompressobj(wbits)
    try:
        inflated = inflater.decompress(data, MAX_ANSWER_BYTES + 1)
    except zlib.error:
        raise _BodyProblem(f"The answer's {encoding} body is corrupt") from None
    if len(inflated) > MAX_ANSWER_BYTES or inflater.unconsumed_tail:
        raise _BodyProblem(f"The answer's body inflates to more than {_mib(MAX_ANSWER_BYTES)}")
    if not inflater.eof:
        raise _BodyProblem(f"The answer's {encoding} body broke off")
    return inflated


# --------------------------------------------------------------------------------------------------
# Parsing and naming.
# --------------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(content: bytes) -> Any:
    """Parse a JSON answer strictly (no NaN/Infinity, at most ``MAX_JSON_DEPTH`` levels).

    :raises ValueError: saying why (never quoting the content).
    """
    try:
        value = json.loads(content, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:  # also the digit limit of very long integers
        reason = str(error) if "is not JSON" in str(error) else "not valid JSON"
        raise ValueError(reason) from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a scalar); stops counting past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def _timeout_reason(error: BaseException, deadline: float, deadline_seconds: float) -> str:
    if time.monotonic() >= deadline:
        return f"no whole answer within the {deadline_seconds:g} s deadline"
    return type(error).__name__


def _inner_name(error: BaseException) -> str:
    """Name the innermost cause of a transport error by type only: messages may quote request data."""
    inner: Any = error.args[0] if error.args else None
    inner = getattr(inner, "reason", inner)  # urllib3's MaxRetryError wraps the real cause
    if isinstance(inner, BaseException) and len(inner.args) > 1 and isinstance(inner.args[1], BaseException):
        inner = inner.args[1]  # ProtocolError("Connection aborted.", RemoteDisconnected(...))
    return type(inner).__name__ if isinstance(inner, BaseException) else type(error).__name__
