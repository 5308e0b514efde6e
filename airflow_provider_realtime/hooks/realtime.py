"""Hook for the OpenAI Realtime REST API: the connection, the HTTP session and the POST that mints tokens."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from airflow.sdk import BaseHook

from airflow_provider_realtime import contract
from airflow_provider_realtime.exceptions import (
    RealtimeAuthenticationError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeInvalidRequestError,
    RealtimeMalformedResponseError,
    RealtimeRateLimitError,
    RealtimeServerError,
    RealtimeTimeoutError,
)
from airflow_provider_realtime.masking import scrub
from airflow_provider_realtime.retry import (
    DEFAULT_BACKOFF_INITIAL,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_AFTER_MAX,
    RetryPolicy,
    is_retryable_status,
    wait_before_retry,
)

if TYPE_CHECKING:
    import requests

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_READ_TIMEOUT: Final = 60.0
API_TYPES: Final = ("openai", "azure")

# Connection extras this hook reads; anything else is a mistake and is reported by key, never by value.
_EXTRA_TYPES: Final[dict[str, type | tuple[type, ...]]] = {
    "organization": str,
    "project": str,
    "api_type": str,
    "timeout": (int, float),
    "connect_timeout": (int, float),
    "max_retries": int,
    "backoff_initial": (int, float),
    "backoff_max": (int, float),
    "retry_after_max": (int, float),
}

_FORM_PREFIX: Final = "extra__openai_realtime__"

Timeout = float | tuple[float, float]


@dataclass(frozen=True)
class RealtimeResponse:
    """What the API answered: status, parsed JSON body (or text when not JSON), request id, attempts.

    The body may hold a client secret, so it is kept out of ``repr``.
    """

    status: int
    body: Any = field(repr=False)
    request_id: str | None
    attempts: int
    endpoint: str


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hook needs from an Airflow connection, read and checked once."""

    base_url: str
    headers: dict[str, str] = field(repr=False)
    timeout: tuple[float, float]
    retry: RetryPolicy
    proxies: dict[str, str] = field(repr=False)  # proxy URLs may embed credentials
    verify: bool | str = True


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
    header. The hook reads the same variables once instead (see ``ConnectionSettings``).
    """
    global _session, _session_pid
    if _session is not None and _session_pid == os.getpid():
        return _session
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            import http.cookiejar

            import requests

            session = requests.Session()
            session.trust_env = False
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            _session, _session_pid = session, os.getpid()
    return _session


# The environment variables requests consults for proxies and CA bundles (see shared_http_session).
_TRANSPORT_VARIABLES: Final = (
    *(
        name
        for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        for name in (base, base.upper())
    ),
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


def environment_transport(base_url: str) -> tuple[dict[str, str], bool | str]:
    """Proxies and TLS verification for ``base_url`` from the environment, as requests would pick them.

    Cached on the variables' current values, so a changed environment is still honoured.
    """
    return _transport_for(base_url, tuple(os.environ.get(name) for name in _TRANSPORT_VARIABLES))


@functools.lru_cache(maxsize=32)
def _transport_for(base_url: str, _environment: tuple[str | None, ...]) -> tuple[dict[str, str], bool | str]:
    import requests.utils

    proxies = requests.utils.get_environ_proxies(base_url)
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return proxies, verify


class OpenAIRealtimeHook(BaseHook):
    """Talk to the OpenAI (or Azure OpenAI) Realtime REST API with an Airflow connection.

    The connection's password is the API key and its host the base URL (default
    ``https://api.openai.com/v1``). Extras: ``organization``, ``project``, ``api_type`` (``openai`` or
    ``azure``, which sends the key as an ``api-key`` header), ``timeout`` and ``connect_timeout``
    (seconds), ``max_retries``, ``backoff_initial``, ``backoff_max`` and ``retry_after_max`` (seconds).

    :param conn_id: the Airflow connection id.
    :param max_retries: overrides the connection's ``max_retries`` extra.
    :param timeout: overrides the connection's timeouts: read seconds, or ``(connect, read)``.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "openai_realtime_default"
    conn_type = "openai_realtime"
    hook_name = "OpenAI Realtime"

    def __init__(
        self,
        conn_id: str = default_conn_name,
        *,
        max_retries: int | None = None,
        timeout: Timeout | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.max_retries = max_retries
        self.timeout = timeout

    # ----------------------------------------------------------------------------------------------
    # Connection
    # ----------------------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> ConnectionSettings:
        """Read the connection once: base URL, auth headers, timeouts and retry policy."""
        from airflow.sdk.log import mask_secret

        conn = self.get_connection(self.conn_id)
        api_key = conn.password
        if not api_key:
            raise ValueError(f"connection {self.conn_id!r} has no API key: set its password field")
        mask_secret(api_key)
        extras = self._checked_extras(conn.extra_dejson)
        api_type = extras.get("api_type", "openai")
        headers = {"api-key": api_key} if api_type == "azure" else {"Authorization": f"Bearer {api_key}"}
        if extras.get("organization"):
            headers["OpenAI-Organization"] = extras["organization"]
        if extras.get("project"):
            headers["OpenAI-Project"] = extras["project"]
        connect_timeout = float(extras.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        read_timeout = float(extras.get("timeout", DEFAULT_READ_TIMEOUT))
        if self.timeout is not None:
            connect_timeout, read_timeout = _timeout_pair(self.timeout, connect_timeout)
        max_retries = extras.get("max_retries", DEFAULT_MAX_RETRIES)
        if self.max_retries is not None:
            max_retries = self.max_retries
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be a whole number of at least 0")
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_initial=float(extras.get("backoff_initial", DEFAULT_BACKOFF_INITIAL)),
            backoff_max=float(extras.get("backoff_max", DEFAULT_BACKOFF_MAX)),
            retry_after_max=float(extras.get("retry_after_max", DEFAULT_RETRY_AFTER_MAX)),
        )
        base_url = _base_url(conn.host, conn.port)
        proxies, verify = environment_transport(base_url)
        return ConnectionSettings(
            base_url=base_url,
            headers=headers,
            timeout=(connect_timeout, read_timeout),
            retry=policy,
            proxies=proxies,
            verify=verify,
        )

    def _checked_extras(self, extras: Any) -> dict[str, Any]:
        """Check extras against the allow-list; errors name the key and connection, never the value."""
        if not isinstance(extras, dict):
            raise ValueError(f"connection {self.conn_id!r}: extra must be a JSON object")
        checked: dict[str, Any] = {}
        value: Any
        for key, value in extras.items():
            if value is None or value == "":
                continue  # the connection form stores empty fields
            key = key.removeprefix(_FORM_PREFIX)  # how form widgets name their fields
            expected = _EXTRA_TYPES.get(key)
            if expected is None:
                raise ValueError(
                    f"connection {self.conn_id!r}: unknown extra {key!r}; allowed: {', '.join(_EXTRA_TYPES)}"
                )
            if isinstance(value, str) and expected is not str:
                with contextlib.suppress(ValueError):  # URI-form connections give every extra as text
                    value = json.loads(value)
            if isinstance(value, bool) or not isinstance(value, expected):
                raise ValueError(f"connection {self.conn_id!r}: extra {key!r} has the wrong type")
            if isinstance(value, (int, float)) and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"connection {self.conn_id!r}: extra {key!r} must be a number of at least 0")
            checked[key] = value
        if checked.get("api_type", "openai") not in API_TYPES:
            raise ValueError(f"connection {self.conn_id!r}: extra 'api_type' must be one of {API_TYPES}")
        return checked

    @property
    def base_url(self) -> str:
        """The API base URL this hook calls, e.g. ``https://api.openai.com/v1``."""
        return self.settings.base_url

    def get_conn(self) -> requests.Session:
        """Return the HTTP session (shared by the process, so connections are kept alive)."""
        return shared_http_session()

    # ----------------------------------------------------------------------------------------------
    # Requests
    # ----------------------------------------------------------------------------------------------

    def create_client_secret(
        self,
        session: Any = None,
        *,
        endpoint: str = contract.CLIENT_SECRETS,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
    ) -> RealtimeResponse:
        """Mint a client secret for a transcription session.

        :param session: settings in the beta or the current shape; ``None`` for the server's defaults.
        :param endpoint: ``client_secrets`` (current API) or ``transcription_sessions`` (beta).
        :param expires_after_seconds: token lifetime, 10..7200 seconds.
        :param raise_for_status: raise a :class:`RealtimeError` for an error status (after retries);
            when False, the error answer is returned.
        :param require_client_secret: raise :class:`RealtimeMalformedResponseError` for a 2xx answer
            that is not JSON or holds no token.
        :raises ValueError: for bad settings, before anything is sent.
        """
        body = contract.build_request_body(endpoint, session, expires_after_seconds)
        return self.post(
            endpoint, body, raise_for_status=raise_for_status, require_client_secret=require_client_secret
        )

    def post(
        self,
        endpoint: str,
        body: dict[str, Any],
        *,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
    ) -> RealtimeResponse:
        """POST an already-built ``body`` to ``endpoint`` and mask the minted token before anything logs.

        See :meth:`create_client_secret` for the parameters.
        """
        path = contract.ENDPOINT_PATHS[contract.check_endpoint(endpoint)]
        response = self._request("POST", path, body)
        if response.status >= 400:
            if raise_for_status:
                raise _api_error(response)
            return response
        token, _ = contract.extract_client_secret(endpoint, response.body)
        if token is not None:
            from airflow_provider_realtime.masking import mask_token

            mask_token(token)
        elif require_client_secret:
            raise _malformed(response)
        self.log.debug(
            "%s answered %s (request id %s, %d attempt(s)); client secret masked",
            response.endpoint,
            response.status,
            response.request_id,
            response.attempts,
        )
        return response

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and base URL with ``GET {base}/models``: cheap, and mints nothing."""
        try:
            response = self._request("GET", "/models", None, retry=False)
        except (RealtimeError, ValueError) as error:
            return False, str(error)
        if response.status >= 400:
            return False, str(_api_error(response))
        return True, f"Connected to {self.base_url}: GET /models answered {response.status}"

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, *, retry: bool = True
    ) -> RealtimeResponse:
        """Send one request with retries; return the final answer or raise a transport error."""
        import requests

        settings = self.settings
        url = settings.base_url + path
        label = f"{method} {url}"
        session = self.get_conn()
        policy = settings.retry
        max_attempts = policy.max_retries + 1 if retry else 1
        attempt = 0
        while True:
            attempt += 1
            failure: RealtimeError | None = None
            response: RealtimeResponse | None = None
            retry_headers: Mapping[str, str] = {}
            try:
                answer = session.request(
                    method,
                    url,
                    json=body,
                    headers=settings.headers,
                    timeout=settings.timeout,
                    proxies=settings.proxies,
                    verify=settings.verify,
                )
            except requests.exceptions.ChunkedEncodingError:
                # The body broke off: the server may have minted a token, so do not mint again blindly.
                raise RealtimeMalformedResponseError(
                    "The answer's body was truncated (connection closed mid-body)",
                    endpoint=label,
                    attempts=attempt,
                ) from None
            except requests.exceptions.Timeout as error:
                failure = RealtimeTimeoutError(
                    f"No answer in time ({type(error).__name__}; connect/read timeouts {settings.timeout} s)",
                    endpoint=label,
                    attempts=attempt,
                )
            except requests.exceptions.ConnectionError as error:
                failure = RealtimeConnectionError(
                    f"Connection failed ({_transport_reason(error)})", endpoint=label, attempts=attempt
                )
            else:
                response = RealtimeResponse(
                    status=answer.status_code,
                    body=_parse_body(answer.content),
                    request_id=answer.headers.get("x-request-id"),
                    attempts=attempt,
                    endpoint=label,
                )
                if answer.status_code < 400 or not is_retryable_status(answer.status_code, answer.headers):
                    return response
                retry_headers = answer.headers
            wait = wait_before_retry(attempt, retry_headers, policy) if attempt < max_attempts else None
            what = failure.summary if failure else f"status {response.status if response else '?'}"
            if wait is None:
                if attempt < max_attempts:
                    self.log.warning(
                        "%s: %s, and the server asks for a longer wait than retry_after_max (%s s); "
                        "not retrying",
                        label,
                        what,
                        policy.retry_after_max,
                    )
                if failure is not None:
                    raise failure
                assert response is not None
                return response
            self.log.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.2f s. A retried POST may mint a second "
                "token; an unused one expires on its own",
                label,
                attempt,
                max_attempts,
                what,
                wait,
            )
            time.sleep(wait)


# --------------------------------------------------------------------------------------------------
# Helpers: pure, no secrets.
# --------------------------------------------------------------------------------------------------


def _base_url(host: str | None, port: int | None) -> str:
    """Build the base URL from the connection's host (a full URL, or a bare host name) and port."""
    if not host:
        return DEFAULT_BASE_URL
    url = host.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
        if port:
            url += f":{port}"
    return url


def _timeout_pair(timeout: Any, default_connect: float) -> tuple[float, float]:
    """Read an operator's ``timeout``: read seconds, or a ``(connect, read)`` pair, all positive."""
    pair = tuple(timeout) if isinstance(timeout, (tuple, list)) else (default_connect, timeout)
    if len(pair) != 2 or not all(
        not isinstance(part, bool) and isinstance(part, (int, float)) and math.isfinite(part) and part > 0
        for part in pair
    ):
        raise ValueError("timeout must be positive seconds, or a (connect, read) pair of them")
    return float(pair[0]), float(pair[1])


def _parse_body(content: bytes) -> Any:
    """Parse JSON; fall back to text (proxies answer HTML or nothing)."""
    if not content:
        return ""
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", errors="replace")


def _transport_reason(error: Exception) -> str:
    """Name the innermost cause of a transport error (its type only: messages may quote request data)."""
    inner: Any = error.args[0] if error.args else None
    inner = getattr(inner, "reason", inner)  # urllib3's MaxRetryError wraps the real cause
    if isinstance(inner, BaseException) and len(inner.args) > 1 and isinstance(inner.args[1], BaseException):
        inner = inner.args[1]  # ProtocolError("Connection aborted.", RemoteDisconnected(...))
    return type(inner).__name__ if isinstance(inner, BaseException) else type(error).__name__


def _api_error(response: RealtimeResponse) -> RealtimeError:
    """Map an error answer to the exception a caller handles, quoting OpenAI's error fields."""
    details = contract.parse_error(response.body)
    status = response.status
    if status in (401, 403):
        kind: type[RealtimeError] = RealtimeAuthenticationError
        summary = "Authentication failed" if status == 401 else "Permission denied"
    elif status == 429:
        kind, summary = RealtimeRateLimitError, "Rate limited"
    elif status >= 500 or status in (408, 409):
        kind, summary = RealtimeServerError, "The server failed"
    else:
        kind, summary = RealtimeInvalidRequestError, "The request was rejected"
    if response.attempts > 1:
        summary += f" on all {response.attempts} attempts"
    if details["message"] is None and isinstance(response.body, str) and response.body:
        summary += " (the answer was not OpenAI's JSON error; a proxy may have answered)"
    return kind(
        summary,
        endpoint=response.endpoint,
        status=status,
        request_id=response.request_id,
        attempts=response.attempts,
        error_type=details["type"],
        code=details["code"],
        param=details["param"],
        api_message=scrub(details["message"]),
    )


def _malformed(response: RealtimeResponse) -> RealtimeMalformedResponseError:
    if not isinstance(response.body, dict):
        what = "The answer is not JSON" if response.body else "The answer is empty"
    else:
        what = "The answer holds no client secret (missing or null)"
    return RealtimeMalformedResponseError(
        what,
        endpoint=response.endpoint,
        status=response.status,
        request_id=response.request_id,
        attempts=response.attempts,
    )
