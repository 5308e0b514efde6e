"""Hook for the OpenAI Realtime REST API: the connection, the HTTP session and the POST that mints tokens."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_realtime import contract, kinds
from airflow_provider_realtime.compat import BaseHook
from airflow_provider_realtime.connection import ConnectionSettings, Timeout, read_settings
from airflow_provider_realtime.connection_fields import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_realtime.exceptions import (
    RealtimeConnectionError,
    RealtimeError,
    RealtimeMalformedResponseError,
    RealtimeStoppedError,
    error_for_status,
    exchange_error,
    missing_token_error,
    redirect_error,
)
from airflow_provider_realtime.response import (
    RealtimeResponse,
    extract_client_secret,
    missing_client_secret,
    read_answer,
)
from airflow_provider_realtime.retry import (
    is_retryable_status,
    wait_before_retry,
)

if TYPE_CHECKING:
    from airflow_provider_realtime.batch import Batch

__all__ = ["ConnectionSettings", "OpenAIRealtimeHook", "RealtimeResponse", "Timeout"]

DEFAULT_CONCURRENCY = 16  # requests in flight at once when minting in bulk
# When a batch is stopped, how long the requests already in flight may take to bring their tokens back.
STOP_GRACE_SECONDS = 1.0


Result = RealtimeResponse | RealtimeError  # what one item of a bulk mint ends as


class OpenAIRealtimeHook(BaseHook):
    """Talk to the OpenAI (or Azure OpenAI) Realtime REST API with an Airflow connection.

    The connection (type ``openai_realtime``) holds the API key as its password and the base URL as its
    host (default ``https://api.openai.com/v1``). Its extras are described in
    :mod:`airflow_provider_realtime.connection_fields`: ``organization``, ``project``, ``api_type``
    (``openai``, or ``azure`` to send the key as an ``api-key`` header), ``timeout`` and
    ``connect_timeout`` (seconds), ``max_retries``, ``backoff_initial``, ``backoff_max`` and
    ``retry_after_max`` (seconds).

    :param conn_id: the Airflow connection id.
    :param max_retries: overrides the connection's ``max_retries`` extra.
    :param timeout: overrides the connection's timeouts: read seconds, or ``(connect, read)``.
    """

    conn_name_attr = "conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
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
        self._batches: set[Batch[RealtimeResponse]] = set()  # those minting now, for stop()

    # ----------------------------------------------------------------------------------------------
    # Connection
    # ----------------------------------------------------------------------------------------------

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        """The connection: in a 3.x task through the Task SDK, as Airflow 3.1+ itself does.

        Airflow 3.0's ``BaseHook`` detours through ``airflow.models``, whose ``mask_secret`` call makes
        ``airflow tasks test`` print the password.
        """
        from airflow_provider_realtime import compat

        if compat.supervisor_comms() is not None:
            return compat.Connection.get(conn_id)
        return super().get_connection(conn_id)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The connection form's extra fields on Airflow before 3.2 (3.2+ reads the provider info)."""
        from airflow_provider_realtime.connection_fields import form_widgets

        return form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields on Airflow before 3.2 (3.2+ reads the provider info)."""
        from airflow_provider_realtime.compat import airflow_version
        from airflow_provider_realtime.connection_fields import ui_field_behaviour

        return ui_field_behaviour(separator="_", flask_form=airflow_version() < (3, 0))

    @cached_property
    def settings(self) -> ConnectionSettings:
        """Read and check the connection once: base URL, auth headers, timeouts and retry policy.

        :raises ValueError: naming the connection and the problem (never a value), before any request.
        """
        from airflow_provider_realtime.compat import mask_secret

        conn = self.get_connection(self.conn_id)
        if conn.password:
            mask_secret(conn.password)  # before anything could log it, whatever the checks find
        return read_settings(conn, self._connection_name, timeout=self.timeout, max_retries=self.max_retries)

    @property
    def base_url(self) -> str:
        """The API base URL this hook calls, e.g. ``https://api.openai.com/v1``."""
        return self.settings.base_url

    def get_conn(self) -> ConnectionSettings:
        """The connection as the hook sends with it: base URL, headers with the key, timeouts, retry policy.

        Checked once (a ``ValueError`` names the connection and the field); its repr shows neither the
        headers nor the proxies. HTTP goes through one session shared by the process (kept-alive
        connections), which holds no credentials: they travel with each request, to the base URL only.
        """
        return self.settings

    # ----------------------------------------------------------------------------------------------
    # Minting: create() one token, create_many() a fleet.
    # ----------------------------------------------------------------------------------------------

    def create(
        self,
        kind: str,
        session: Any = None,
        *,
        endpoint: str | None = None,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
        extra_body: dict[str, Any] | None = None,
    ) -> RealtimeResponse:
        """Mint a client secret of ``kind``: the path every operator takes.

        :param kind: ``transcription``, ``realtime`` or ``translation``.
        :param session: the kind's session settings (transcription: the beta or the current shape);
            ``None`` for the server's defaults.
        :param endpoint: transcription only: ``client_secrets`` (current API, the default) or
            ``transcription_sessions`` (beta).
        :param expires_after_seconds: token lifetime, 10..7200 seconds.
        :param raise_for_status: raise a :class:`RealtimeError` for an error status (after retries);
            when False, the error answer is returned.
        :param require_client_secret: raise :class:`RealtimeMalformedResponseError` for a 2xx answer
            that is not JSON or holds no token.
        :param extra_body: JSON merged into the request body unchecked (objects key by key): for a field
            OpenAI added after this release that the checks would take for a typo.
        :raises ValueError: for bad settings, before the connection is even read.
        """
        contract.check_flag(raise_for_status, "raise_for_status")
        contract.check_flag(require_client_secret, "require_client_secret")
        request = kinds.prepare(kind, session, expires_after_seconds, endpoint, extra_body=extra_body)
        return self._send(
            request, raise_for_status=raise_for_status, require_client_secret=require_client_secret
        )

    def create_many(
        self,
        kind: str,
        sessions: Sequence[Any],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        endpoint: str | None = None,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
        on_result: Callable[[int, Result], None] | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> list[Result]:
        """Mint a client secret of ``kind`` per item of ``sessions``: the bulk path (the operators'
        ``count`` and lists of settings).

        Every item is checked, and the connection read, before the first request. Requests share the
        process's kept-alive connections; a server's requested wait (429 ``retry-after``) pauses them all,
        and a wait longer than ``retry_after_max`` stops the batch (the items not sent end as
        :class:`RealtimeStoppedError`). Whatever one answer does, it ends as that item's
        :class:`RealtimeError`.

        :param on_result: called in the calling thread with ``(index, result)`` as each item ends, so
            tokens are in hand even if the batch is stopped before it ends.

        When the calling thread is interrupted (Airflow's execution_timeout, SIGTERM, Ctrl-C), no request
        starts after that, every wait ends, the requests in flight get ``STOP_GRACE_SECONDS`` to bring
        their tokens back (to ``on_result``), and the interruption is raised again.
        """
        if isinstance(sessions, (str, bytes, Mapping)) or not isinstance(sessions, Sequence):
            raise ValueError(f"sessions must be a list of session settings, got {type(sessions).__name__}")
        from airflow_provider_realtime.batch import Batch
        from airflow_provider_realtime.transport import POOL_SIZE

        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise ValueError(f"concurrency must be a whole number, got {type(concurrency).__name__}")
        if not 1 <= concurrency <= POOL_SIZE:
            raise ValueError(f"concurrency must be between 1 and {POOL_SIZE}, got {concurrency}")
        contract.check_flag(raise_for_status, "raise_for_status")
        contract.check_flag(require_client_secret, "require_client_secret")
        requests = [
            kinds.prepare(
                kind,
                session,
                expires_after_seconds,
                endpoint,
                path=f"sessions[{index}]",
                extra_body=extra_body,
            )
            for index, session in enumerate(sessions)
        ]
        if not requests:
            return []
        self.settings  # noqa: B018 - read and check the connection once, before any thread starts

        def mint(request: kinds.PreparedRequest) -> RealtimeResponse:
            return self._send(
                request, raise_for_status=raise_for_status, require_client_secret=require_client_secret
            )

        started = time.monotonic()
        batch: Batch[RealtimeResponse] = Batch(requests, mint, self._unusable_answer)
        workers = min(concurrency, len(requests))
        self._batches.add(batch)
        try:
            batch.start(workers)
            batch.collect(on_result, until=None, grace=STOP_GRACE_SECONDS)
        except BaseException:
            batch.gate.stop("the task was stopped")
            batch.collect(on_result, until=time.monotonic() + STOP_GRACE_SECONDS, grace=STOP_GRACE_SECONDS)
            self.log.warning("Batch stopped: %s", batch.tally())
            raise
        finally:
            self._batches.discard(batch)
        if batch.killed is not None:
            # Airflow 3 only calls on_kill on SIGTERM and lets the task go on: it must not end as a success.
            self.log.warning("Batch stopped: %s", batch.tally())
            raise RealtimeStoppedError(
                f"The batch was stopped: {batch.killed} ({batch.tally()})",
                endpoint=f"POST {self.base_url}{contract.ENDPOINT_PATHS[requests[0].endpoint]}",
                attempts=0,
            )
        elapsed = time.monotonic() - started
        self.log.info(
            "%s client secrets in %.2f s (%d in flight at most): %s",
            kind.capitalize(),
            elapsed,
            workers,
            batch.tally(),
        )
        return batch.results()

    def _unusable_answer(self, request: kinds.PreparedRequest, error: Exception) -> RealtimeError:
        label = f"POST {self.base_url}{contract.ENDPOINT_PATHS[request.endpoint]}"
        return RealtimeMalformedResponseError(
            f"The answer could not be used ({type(error).__name__}); not retried: the server may "
            "have minted a token",
            endpoint=label,
        )

    def stop(self, reason: str = "the task was stopped") -> None:
        """Stop the batches this hook is minting: no request starts any more, every wait ends, and the
        requests in flight get ``STOP_GRACE_SECONDS`` to bring their tokens back.

        For an operator's ``on_kill`` (Airflow calls it on SIGTERM, from the thread that runs the batch,
        and on Airflow 3 lets the task go on): each batch then hands back what it minted and
        :meth:`create_many` raises :class:`RealtimeStoppedError`.
        """
        for batch in list(self._batches):
            batch.kill(reason)

    def post(
        self,
        endpoint: str,
        body: dict[str, Any],
        *,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
    ) -> RealtimeResponse:
        """POST an already-built ``body`` to ``endpoint`` and mask the minted token before anything logs.

        The way through for a body built elsewhere: only checked to be a JSON object. See :meth:`create`
        for the parameters.

        :raises ValueError: ``body`` is not a JSON object, or ``endpoint`` not one of the API's (before
            anything is sent).
        """
        _check_json_body(body)
        if endpoint not in contract.ENDPOINT_PATHS:
            raise ValueError(
                f"endpoint must be one of {', '.join(contract.ENDPOINT_PATHS)}, got {endpoint!r}"
            )
        contract.check_flag(raise_for_status, "raise_for_status")
        contract.check_flag(require_client_secret, "require_client_secret")
        request = kinds.PreparedRequest(_kind_of(endpoint, body), endpoint, None, body)
        return self._send(
            request, raise_for_status=raise_for_status, require_client_secret=require_client_secret
        )

    def _send(
        self,
        request: kinds.PreparedRequest,
        *,
        raise_for_status: bool,
        require_client_secret: bool,
    ) -> RealtimeResponse:
        """Send a checked request (nothing is checked again here) and read its answer."""
        endpoint = request.endpoint
        response = self._request("POST", contract.ENDPOINT_PATHS[endpoint], request.body)
        response = dataclasses.replace(response, request=request)
        if response.status >= 400:
            if raise_for_status:
                raise error_for_status(response)
            return response
        token, _ = extract_client_secret(endpoint, response.body)
        if token is not None:
            from airflow_provider_realtime.masking import mask_token

            mask_token(token)
        elif require_client_secret:
            raise missing_token_error(response, missing_client_secret(endpoint, response.body))
        self.log.debug(
            "%s answered %s (request id %s, %d attempt(s)); client secret masked",
            response.endpoint,
            response.status,
            response.request_id,
            response.attempts,
        )
        return response

    @property
    def _connection_name(self) -> str:
        """How errors name the connection: by its id, but while testing one the UI has not saved yet
        (Airflow 2 gives it a random id, which would only puzzle the reader)."""
        return "the connection" if self._testing else f"connection {self.conn_id!r}"

    _testing = False

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and base URL with ``GET {base}/models``: cheap, and mints nothing.

        Its messages say "the connection" (Airflow 2's Test button tests the unsaved form under a random
        id), for this call only: the hook's later errors name the connection by its id again.
        """
        self._testing = True
        try:
            response = self._request("GET", "/models", None, retry=False)
        except (RealtimeError, ValueError) as error:
            return False, str(error)
        finally:
            self._testing = False
        if response.status >= 400:
            return False, str(error_for_status(response))
        return True, f"Connected to {self.base_url}: GET /models answered {response.status}"

    # ----------------------------------------------------------------------------------------------
    # One request: the retry policy (_request) around single attempts (_attempt).
    # ----------------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        retry: bool = True,
    ) -> RealtimeResponse:
        """Send one request with retries; return the final answer or raise a transport error.

        Retried: no answer (connection failure, timeout before the headers) and retryable statuses.
        Never retried: an answer whose body or headers broke off, stalled or cannot be used (a token may
        exist), and redirects (credentials go to the base URL only). Paced by the batch it is an item of,
        if any (:func:`~airflow_provider_realtime.batch.current_pacing`: a pause a server asked any
        request of the batch for holds them all, and none starts once the batch is stopped).
        """
        from airflow_provider_realtime.batch import current_pacing

        pacing = current_pacing()
        url = self.settings.base_url + path
        label = f"{method} {url}"
        policy = self.settings.retry
        max_attempts = policy.max_retries + 1 if retry else 1
        attempt, outcome = 0, ""
        while True:
            attempt += 1
            pacing.before_attempt(label, attempt, outcome)
            response, failure, retry_headers = self._attempt(method, url, body, attempt)
            if response is not None and (
                response.status < 400 or not is_retryable_status(response.status, retry_headers)
            ):
                return response
            outcome = failure.summary if failure else f"status {response.status if response else '?'}"
            wait = wait_before_retry(attempt, retry_headers, policy) if attempt < max_attempts else None
            pacing.after_failure(retry_headers, wait, policy)
            if wait is None:
                if attempt < max_attempts:
                    self.log.warning(
                        "%s: %s, and the server asks for a longer wait than retry_after_max (%s s); "
                        "not retrying",
                        label,
                        outcome,
                        policy.retry_after_max,
                    )
                if failure is not None:
                    raise failure
                assert response is not None
                return response
            self.log.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.2f s. %s",
                label,
                attempt,
                max_attempts,
                outcome,
                wait,
                "A retried POST may mint a second token; an unused one expires on its own"
                if _may_have_reached_the_server(failure)
                else "Nothing reached the server, so nothing was minted",
            )
            pacing.sleep(wait)

    def _attempt(
        self, method: str, url: str, body: dict[str, Any] | None, attempt: int
    ) -> tuple[RealtimeResponse | None, RealtimeError | None, Mapping[str, str]]:
        """One exchange: ``(answer, None, its headers)``, or ``(None, failure, {})`` for a retryable
        failure; raises for what must not be retried (a redirect, an answer that broke off)."""
        from airflow_provider_realtime.transport import ExchangeError, exchange, shared_http_session

        settings = self.settings
        label = f"{method} {url}"
        try:
            answer = exchange(
                shared_http_session(),
                method,
                url,
                body=body,
                headers=settings.headers,
                timeout=settings.timeout,
                deadline_seconds=settings.deadline,
                proxies=settings.proxies,
                verify=settings.verify,
            )
        except ExchangeError as error:
            failure = exchange_error(error, label, attempt, settings.timeout, settings.secrets)
            if error.answered:
                raise failure from None  # the server answered, then its answer failed: no retry
            return None, failure, {}
        if 300 <= answer.status < 400:
            raise redirect_error(
                answer.status,
                answer.headers.get("Location", ""),
                answer.request_id,
                label,
                attempt,
                settings.secrets,
            )
        return read_answer(answer, label, attempt, settings.secrets), None, answer.headers


# --------------------------------------------------------------------------------------------------
# Helpers: pure, no secrets in what they say.
# --------------------------------------------------------------------------------------------------


# Transport failures that happen before a request is sent: no server saw it, so it minted nothing.
_NOT_SENT: Final = ("NewConnectionError", "NameResolutionError", "ConnectionRefusedError", "gaierror")


def _may_have_reached_the_server(failure: RealtimeError | None) -> bool:
    """Whether an attempt that failed may have been acted on: an error answer, or a failure after the
    connection was open (a timeout, a dropped connection); not a connection that never opened."""
    if not isinstance(failure, RealtimeConnectionError):
        return True
    return not any(name in failure.summary for name in _NOT_SENT)


def _kind_of(endpoint: str, body: dict[str, Any]) -> str:
    """The kind of session a body built elsewhere asks for (what its endpoint and ``session.type`` say)."""
    if endpoint == contract.TRANSLATION_CLIENT_SECRETS:
        return kinds.TRANSLATION
    session = body.get("session")
    return (
        kinds.REALTIME
        if isinstance(session, dict) and session.get("type") == "realtime"
        else kinds.TRANSCRIPTION
    )


def _check_json_body(body: Any) -> None:
    """Refuse a body that is not a JSON object, naming why, before anything is sent."""
    import json

    if not isinstance(body, dict):
        raise ValueError(f"body must be a JSON object (a dict), got {type(body).__name__}")
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise ValueError(f"body is not JSON: {error}") from None
