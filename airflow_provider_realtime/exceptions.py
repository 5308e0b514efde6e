"""Exceptions raised by the hook and operator: one class per failure a caller handles differently.

Every message names the endpoint, HTTP status, ``x-request-id`` (what OpenAI support asks for), OpenAI's
error message, how many attempts were made and a hint. No message ever holds the API key, a token or a
whole response body.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from airflow_provider_realtime.hooks.realtime import RealtimeResponse
    from airflow_provider_realtime.transport import ExchangeError


class RealtimeError(Exception):
    """Base class: creating a Realtime session failed.

    :param summary: what happened, in one line.
    :param endpoint: method and URL that were called, e.g. ``POST https://…/realtime/client_secrets``.
    :param status: HTTP status of the last answer, or None when there was none.
    :param request_id: the ``x-request-id`` header of the last answer.
    :param attempts: how many requests were sent.
    """

    hint = "See the provider's docs/errors.md."

    def __init__(
        self,
        summary: str,
        *,
        endpoint: str,
        status: int | None = None,
        request_id: str | None = None,
        attempts: int = 1,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        api_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.summary = summary
        self.endpoint = endpoint
        self.status = status
        self.request_id = request_id
        self.attempts = attempts
        self.error_type = error_type
        self.code = code
        self.param = param
        self.api_message = api_message
        if hint is not None:
            self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{self.summary} ({self.endpoint}"]
        parts.append(f"status {self.status}" if self.status is not None else "no HTTP status")
        parts.append(f"request id {self.request_id or 'unknown'}")
        parts.append(f"{self.attempts} attempt{'s' if self.attempts != 1 else ''})")
        text = ", ".join(parts)
        details = [
            f"{label}={value}"
            for label, value in (("type", self.error_type), ("code", self.code), ("param", self.param))
            if value
        ]
        if self.api_message:
            text += f": OpenAI says: {self.api_message}"
        if details:  # in parentheses: Airflow's console (Rich) takes "[…]" for markup and drops it
            text += f" ({', '.join(details)})"
        return f"{text}. Hint: {self.hint}"


class RealtimeAuthenticationError(RealtimeError):
    """401 or 403: the API key is wrong, revoked, or lacks access to the project or model."""

    hint = (
        "Check the connection's API key (password), and its organization and project extras; "
        "for Azure OpenAI set extra api_type='azure'."
    )


class RealtimeInvalidRequestError(RealtimeError):
    """A 4xx other than 401/403/408/409/429: the request itself is wrong; retrying will not help."""

    hint = "Fix the field OpenAI names in 'param' (a session setting or the lifetime) and run again."


class RealtimeRateLimitError(RealtimeError):
    """429 after every retry: the account's rate limit or quota is exhausted."""

    hint = (
        "Wait and retry (Airflow task retries with a retry_delay), mint fewer tokens at once, "
        "or raise the account's limits; a 'insufficient_quota' code means billing."
    )


class RealtimeServerError(RealtimeError):
    """5xx or 408 after every retry: OpenAI or a proxy in between is failing."""

    hint = (
        "A transient server-side failure: let Airflow retry the task later, and check OpenAI's status page."
    )


class RealtimeConflictError(RealtimeError):
    """409 after every retry: the request conflicted with another one being handled."""

    hint = "A transient conflict on the server's side: let Airflow retry the task."


class RealtimeConnectionError(RealtimeError):
    """The TCP/TLS connection failed or was dropped, after every retry."""

    hint = "Check the connection's base URL (host), DNS, proxies and TLS settings of the worker."


class RealtimeTimeoutError(RealtimeConnectionError):
    """No answer within the read timeout (or no connection within the connect timeout), after every retry.

    A kind of connection error, as in OpenAI's SDK (``APITimeoutError(APIConnectionError)``): code that
    handles connection errors handles timeouts too.
    """

    hint = "Raise the connection's timeout / connect_timeout extras, or check the network path to the API."


class RealtimeMalformedResponseError(RealtimeError):
    """A 2xx answer that cannot be used: not JSON, truncated, or without a client secret."""

    hint = (
        "The server (or a proxy in front of it) answered something that is not a Realtime session; "
        "check the base URL, then retry. A token may have been minted; it expires on its own."
    )


class RealtimeRedirectError(RealtimeError):
    """A 3xx answer: never followed, so credentials reach only the connection's base URL."""

    hint = (
        "Set the connection's host to the API's final base URL (a redirect usually means a wrong scheme, "
        "host or path, or a proxy in between); credentials are never sent after a redirect."
    )


class RealtimeStoppedError(RealtimeError):
    """An item of a batch that was not sent, or not retried, because the batch stopped: the task was
    stopped (execution_timeout, SIGTERM, Ctrl-C), or the server asked for a wait longer than
    ``retry_after_max``. No token was minted for it, except by a request already in flight."""

    hint = (
        "Run the task again once the cause is gone (a long rate-limit wait: raise retry_after_max, or let "
        "Airflow's task retries with a retry_delay wait it out)."
    )


class RealtimeBatchError(RealtimeError):
    """Some items of a batch failed after their retries; the others were minted (and pushed to XCom).

    Its status, request id and details are the first failure's; :attr:`failures` holds every one as
    ``(index, error)``.
    """

    hint = (
        "The tokens that were minted are in XCom return_value (None where an item failed), each failure "
        "in XCom failures; allow_partial=True lets such a run succeed."
    )

    def __init__(self, failures: Sequence[tuple[int, RealtimeError]], total: int) -> None:
        self.failures = list(failures)
        index, first = self.failures[0]
        shown = ", ".join(str(i) for i, _ in self.failures[:10]) + (", …" if len(self.failures) > 10 else "")
        super().__init__(
            f"{len(self.failures)} of {total} client secrets failed (items {shown}); "
            f"the first, item {index}: {first.summary}",
            endpoint=first.endpoint,
            status=first.status,
            request_id=first.request_id,
            attempts=first.attempts,
            error_type=first.error_type,
            code=first.code,
            param=first.param,
            api_message=first.api_message,
        )


# --------------------------------------------------------------------------------------------------
# What failed -> the exception a caller handles. Every quoted server text goes through masking.scrub.
# --------------------------------------------------------------------------------------------------

# An error status -> (exception, summary). 5xx not listed -> server error; any other 4xx -> invalid request.
ERROR_FOR_STATUS: Final[Mapping[int, tuple[type[RealtimeError], str]]] = {
    401: (RealtimeAuthenticationError, "Authentication failed"),
    403: (RealtimeAuthenticationError, "Permission denied"),
    408: (RealtimeServerError, "The server timed out waiting for the request"),
    409: (RealtimeConflictError, "Conflict"),
    429: (RealtimeRateLimitError, "Rate limited"),
}
SERVER_ERROR: Final = (RealtimeServerError, "The server failed")
REJECTED: Final = (RealtimeInvalidRequestError, "The request was rejected")


def _quoted(text: str | None, limit: int = 100, secrets: tuple[str, ...] = ()) -> str | None:
    from airflow_provider_realtime.masking import scrub

    return scrub(text, secrets, limit=limit)


def error_for_status(response: RealtimeResponse) -> RealtimeError:
    """The exception for an error answer (4xx/5xx), quoting OpenAI's error fields, scrubbed."""
    from airflow_provider_realtime.response import parse_error

    details = parse_error(response.body)
    default = SERVER_ERROR if response.status >= 500 else REJECTED
    kind, summary = ERROR_FOR_STATUS.get(response.status, default)
    if response.attempts > 1:
        summary += f" on all {response.attempts} attempts"
    if response.body_problem:
        summary += f" (its body: {response.body_problem})"
    elif details["message"] is None and isinstance(response.body, str) and response.body:
        summary += " (the answer was not OpenAI's JSON error; a proxy may have answered)"
    return kind(
        summary,
        endpoint=response.endpoint,
        status=response.status,
        request_id=response.request_id,
        attempts=response.attempts,
        error_type=_quoted(details["type"]),
        code=_quoted(details["code"]),
        param=_quoted(details["param"], limit=200),
        api_message=_quoted(details["message"], limit=500),
    )


def missing_token_error(response: RealtimeResponse, missing: str) -> RealtimeMalformedResponseError:
    """A 2xx answer without a usable client secret; ``missing`` names the answer field that lacks it."""
    if response.body_problem:
        what = f"The answer is {response.body_problem}"
    elif not isinstance(response.body, dict):
        what = "The answer is not JSON" if response.body else "The answer is empty"
    else:
        what = f"The answer holds no client secret: its field {missing} is missing or null"
    return RealtimeMalformedResponseError(
        what,
        endpoint=response.endpoint,
        status=response.status,
        request_id=response.request_id,
        attempts=response.attempts,
    )


def exchange_error(
    error: ExchangeError, label: str, attempt: int, timeout: Any, secrets: tuple[str, ...]
) -> RealtimeError:
    """A failed exchange: no answer (retryable), or an answer that broke off (a token may exist).

    :param secrets: the credentials sent, scrubbed from the answer's request id wherever they stand.
    """
    if not error.answered:
        if error.timed_out:
            summary = f"No answer in time ({error.reason}; connect/read timeouts {timeout} s)"
            return RealtimeTimeoutError(summary, endpoint=label, attempts=attempt)
        return RealtimeConnectionError(error.reason, endpoint=label, attempts=attempt)
    kind = RealtimeTimeoutError if error.timed_out else RealtimeMalformedResponseError
    return kind(
        f"{error.reason}; not retried: the server may have minted a token",
        endpoint=label,
        status=error.status,
        request_id=_quoted(error.request_id, secrets=secrets),
        attempts=attempt,
    )


def redirect_error(
    status: int, location: str, request_id: str | None, label: str, attempt: int, secrets: tuple[str, ...]
) -> RealtimeRedirectError:
    """Refuse a redirect, saying where it pointed (scheme and host only: the rest may hold anything)."""
    return RealtimeRedirectError(
        f"Redirected to {_redirect_target(location, secrets)}; not followed: credentials are sent only to "
        "the connection's base URL",
        endpoint=label,
        status=status,
        request_id=_quoted(request_id, secrets=secrets),
        attempts=attempt,
    )


def _redirect_target(location: str, secrets: tuple[str, ...]) -> str:
    if not location:
        return "nowhere (no Location header)"
    try:
        parts = urllib.parse.urlsplit(location.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an address that is not a valid URL"
    if parts.scheme and host:
        target = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
        return _quoted(target, limit=200, secrets=secrets) or target
    if not parts.scheme and not parts.netloc:
        return "another path on the same host"
    return f"a {_quoted(parts.scheme, limit=20, secrets=secrets) or 'schemeless'} address"
