"""Hook for the OpenAI Realtime REST API: the connection, the HTTP session and the POST that mints tokens."""

from __future__ import annotations

import dataclasses
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_realtime import contract, kinds
from airflow_provider_realtime.compat import BaseHook
from airflow_provider_realtime.connection_fields import (
    CONN_TYPE,
    DEFAULT_BASE_URL,
    DEFAULT_CONN_ID,
    EXTRAS_BY_NAME,
    FORM_PREFIX,
    check_value,
)
from airflow_provider_realtime.exceptions import (
    RealtimeAuthenticationError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeInvalidRequestError,
    RealtimeMalformedResponseError,
    RealtimeRateLimitError,
    RealtimeRedirectError,
    RealtimeServerError,
    RealtimeStoppedError,
    RealtimeTimeoutError,
)
from airflow_provider_realtime.masking import scrub, scrub_json
from airflow_provider_realtime.retry import (
    BatchGate,
    RetryPolicy,
    is_retryable_status,
    server_requested_wait,
    wait_before_retry,
)

if TYPE_CHECKING:
    import requests

    from airflow_provider_realtime.transport import Answer, ExchangeError

Timeout = float | tuple[float, float]

DEFAULT_CONCURRENCY = 16  # requests in flight at once when minting in bulk
# When a batch is stopped, how long the requests already in flight may take to bring their tokens back.
STOP_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class RealtimeResponse:
    """What the API answered: status, parsed JSON body (or text when not JSON), request id, attempts.

    The body may hold a client secret, so it is kept out of ``repr``.

    :param body_problem: why the body is not the JSON it should be (not JSON, cut off, too large),
        or None.
    """

    status: int
    body: Any = field(repr=False)
    request_id: str | None
    attempts: int
    endpoint: str
    body_problem: str | None = None
    request: kinds.PreparedRequest | None = field(default=None, repr=False)

    def structured(self, *, include_client_secret: bool = True) -> dict[str, Any]:
        """The answer as the operators' structured result (``client_secret``, ``client_secret_expires_at``,
        ``session_id``, …), for answers of the ``create_*`` methods."""
        if self.request is None:
            raise ValueError(
                "only answers of the create_* methods know their kind: this one came from post()"
            )
        return kinds.shape_result(
            self.request.kind, self.request.endpoint, self.body, include_client_secret=include_client_secret
        )


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hook needs from an Airflow connection, read and checked once.

    :param deadline: seconds one attempt may take in all, connection and whole answer (connect + read).
    :param secrets: the credentials sent in headers, to scrub from anything a server says.
    """

    base_url: str
    headers: dict[str, str] = field(repr=False)
    timeout: tuple[float, float]
    retry: RetryPolicy
    proxies: dict[str, str] = field(repr=False)  # proxy URLs may embed credentials
    verify: bool | str = True
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def deadline(self) -> float:
        return self.timeout[0] + self.timeout[1]


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
        self._batches: set[_Batch] = set()  # those minting now, for stop()

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
        from airflow_provider_realtime.connection_fields import ui_field_behaviour

        return ui_field_behaviour(separator="_")

    @cached_property
    def settings(self) -> ConnectionSettings:
        """Read and check the connection once: base URL, auth headers, timeouts and retry policy.

        :raises ValueError: naming the connection and the problem (never a value), before any request.
        """
        from airflow_provider_realtime.compat import mask_secret

        name = self._connection_name
        conn = self.get_connection(self.conn_id)
        conn_type = (conn.conn_type or "").replace("-", "_")
        if conn_type != CONN_TYPE:
            # Its password belongs to another system: it must never become our Authorization header.
            raise ValueError(
                f"{name} is of type {conn_type or 'unset'!r}, not {CONN_TYPE!r}; "
                f"this hook only sends the key of an {CONN_TYPE} connection"
            )
        api_key = conn.password
        if not api_key:
            raise ValueError(
                f"{name} has no API key: set its password field (API Key in the UI; Airflow 2's edit form "
                "sends no stored key with Test: type the key again before pressing it)"
            )
        mask_secret(api_key)
        _check_header_value(api_key, f"{name}: the API key (password)")
        extras = self._checked_extras(conn.extra_dejson)
        headers = (
            {"api-key": api_key}
            if extras.get("api_type") == "azure"
            else {"Authorization": f"Bearer {api_key}"}
        )
        for extra, header in (("organization", "OpenAI-Organization"), ("project", "OpenAI-Project")):
            if extras.get(extra):
                _check_header_value(extras[extra], f"{name}: extra {extra!r}")
                headers[header] = extras[extra]
        connect_timeout = float(extras.get("connect_timeout", EXTRAS_BY_NAME["connect_timeout"].default))
        read_timeout = float(extras.get("timeout", EXTRAS_BY_NAME["timeout"].default))
        if self.timeout is not None:
            connect_timeout, read_timeout = _timeout_pair(self.timeout, connect_timeout)
        max_retries = extras.get("max_retries", EXTRAS_BY_NAME["max_retries"].default)
        if self.max_retries is not None:
            max_retries = check_value(EXTRAS_BY_NAME["max_retries"], self.max_retries, "max_retries")
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_initial=float(extras.get("backoff_initial", EXTRAS_BY_NAME["backoff_initial"].default)),
            backoff_max=float(extras.get("backoff_max", EXTRAS_BY_NAME["backoff_max"].default)),
            retry_after_max=float(extras.get("retry_after_max", EXTRAS_BY_NAME["retry_after_max"].default)),
        )
        base_url = _base_url(conn.host, conn.port, conn.schema, name)
        from airflow_provider_realtime.transport import environment_transport

        proxies, verify = environment_transport(base_url)
        return ConnectionSettings(
            base_url=base_url,
            headers=headers,
            timeout=(connect_timeout, read_timeout),
            retry=policy,
            proxies=proxies,
            verify=verify,
            secrets=(api_key,),
        )

    def _checked_extras(self, extras: Any) -> dict[str, Any]:
        """Check extras against the allow-list; errors name the key and connection, never the value."""
        if not isinstance(extras, dict):
            raise ValueError(f"{self._connection_name}: extra must be a JSON object")
        checked: dict[str, Any] = {}
        for key, value in extras.items():
            if value is None or value == "":
                continue  # the connection form stores empty fields
            name = str(key).removeprefix(FORM_PREFIX)  # how Airflow 2's form widgets name their fields
            extra = EXTRAS_BY_NAME.get(name)
            if extra is None:
                allowed = ", ".join(EXTRAS_BY_NAME)
                raise ValueError(f"{self._connection_name}: unknown extra {name!r}; allowed: {allowed}")
            checked[name] = check_value(extra, value, f"{self._connection_name}: extra {name!r}")
        return checked

    @property
    def base_url(self) -> str:
        """The API base URL this hook calls, e.g. ``https://api.openai.com/v1``."""
        return self.settings.base_url

    def get_conn(self) -> requests.Session:
        """Return the HTTP session (shared by the process, so connections are kept alive)."""
        from airflow_provider_realtime.transport import shared_http_session

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
        return self.create(
            kinds.TRANSCRIPTION,
            session,
            endpoint=endpoint,
            expires_after_seconds=expires_after_seconds,
            raise_for_status=raise_for_status,
            require_client_secret=require_client_secret,
        )

    def create_realtime_client_secret(
        self,
        session: Any = None,
        *,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
    ) -> RealtimeResponse:
        """Mint a client secret for a realtime (speech-to-speech, voice agent) session.

        :param session: the current API's settings (``model``, ``instructions``, ``output_modalities``,
            ``audio.input``/``audio.output``, ``tools``, ``tool_choice``, …); ``None`` for the defaults.
        The other parameters are :meth:`create_client_secret`'s.
        """
        return self.create(
            kinds.REALTIME,
            session,
            expires_after_seconds=expires_after_seconds,
            raise_for_status=raise_for_status,
            require_client_secret=require_client_secret,
        )

    def create_translation_client_secret(
        self,
        session: Any = None,
        *,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
    ) -> RealtimeResponse:
        """Mint a client secret for a live translation session.

        :param session: ``model`` (required), ``audio.input.transcription``, ``audio.input.noise_reduction``
            and ``audio.output.language``.
        The other parameters are :meth:`create_client_secret`'s.
        """
        return self.create(
            kinds.TRANSLATION,
            session,
            expires_after_seconds=expires_after_seconds,
            raise_for_status=raise_for_status,
            require_client_secret=require_client_secret,
        )

    def create(
        self,
        kind: str,
        session: Any = None,
        *,
        endpoint: str | None = None,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
    ) -> RealtimeResponse:
        """Mint a client secret of ``kind`` (``transcription``, ``realtime`` or ``translation``): the one
        path every ``create_*`` method and operator takes. Settings are checked before the connection
        is even read."""
        request = kinds.prepare(kind, session, expires_after_seconds, endpoint)
        response = self.post(
            request.endpoint,
            request.body,
            raise_for_status=raise_for_status,
            require_client_secret=require_client_secret,
        )
        return dataclasses.replace(response, request=request)

    def create_client_secrets(
        self,
        sessions: Sequence[Any],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        endpoint: str = contract.CLIENT_SECRETS,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
        on_result: Callable[[int, RealtimeResponse | RealtimeError], None] | None = None,
    ) -> list[RealtimeResponse | RealtimeError]:
        """Mint one transcription client secret per item of ``sessions``, ``concurrency`` at a time.

        :param sessions: settings per token (``None`` items for the server's defaults); ``[settings] * n``
            mints ``n`` alike.
        :param concurrency: requests in flight at once, 1..64 (``transport.POOL_SIZE``), each on a
            kept-alive connection.
        The other parameters are :meth:`create_client_secret`'s.
        :param on_result: called with ``(index, result)`` as each item ends (see :meth:`create_many`).
        :returns: in the order of ``sessions``, each item's :class:`RealtimeResponse`, or the
            :class:`RealtimeError` that ended it after its retries: one failure loses no other token.
        :raises ValueError: for bad settings of any item (``sessions[3].…``), before anything is sent.
        """
        return self.create_many(
            kinds.TRANSCRIPTION,
            sessions,
            concurrency=concurrency,
            endpoint=endpoint,
            expires_after_seconds=expires_after_seconds,
            raise_for_status=raise_for_status,
            require_client_secret=require_client_secret,
            on_result=on_result,
        )

    def create_realtime_client_secrets(
        self,
        sessions: Sequence[Any],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
        on_result: Callable[[int, RealtimeResponse | RealtimeError], None] | None = None,
    ) -> list[RealtimeResponse | RealtimeError]:
        """:meth:`create_client_secrets` for realtime (voice agent) sessions."""
        return self.create_many(
            kinds.REALTIME,
            sessions,
            concurrency=concurrency,
            expires_after_seconds=expires_after_seconds,
            raise_for_status=raise_for_status,
            require_client_secret=require_client_secret,
            on_result=on_result,
        )

    def create_translation_client_secrets(
        self,
        sessions: Sequence[Any],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        expires_after_seconds: int | None = None,
        raise_for_status: bool = True,
        require_client_secret: bool = True,
        on_result: Callable[[int, RealtimeResponse | RealtimeError], None] | None = None,
    ) -> list[RealtimeResponse | RealtimeError]:
        """:meth:`create_client_secrets` for live translation sessions."""
        return self.create_many(
            kinds.TRANSLATION,
            sessions,
            concurrency=concurrency,
            expires_after_seconds=expires_after_seconds,
            raise_for_status=raise_for_status,
            require_client_secret=require_client_secret,
            on_result=on_result,
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
        on_result: Callable[[int, RealtimeResponse | RealtimeError], None] | None = None,
    ) -> list[RealtimeResponse | RealtimeError]:
        """Mint a client secret of ``kind`` per item of ``sessions``: the bulk path of every
        ``create_*_client_secrets`` method and of the operators' ``count``.

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
        from airflow_provider_realtime.transport import POOL_SIZE

        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise ValueError(f"concurrency must be a whole number, got {type(concurrency).__name__}")
        if not 1 <= concurrency <= POOL_SIZE:
            raise ValueError(f"concurrency must be between 1 and {POOL_SIZE}, got {concurrency}")
        contract.check_flag(raise_for_status, "raise_for_status")
        contract.check_flag(require_client_secret, "require_client_secret")
        requests = [
            kinds.prepare(kind, session, expires_after_seconds, endpoint, path=f"sessions[{index}]")
            for index, session in enumerate(sessions)
        ]
        if not requests:
            return []
        self.settings  # noqa: B018 - read and check the connection once, before any thread starts
        started = time.monotonic()
        batch = _Batch(self, requests, raise_for_status, require_client_secret)
        workers = min(concurrency, len(requests))
        self._batches.add(batch)
        try:
            batch.start(workers)
            batch.collect(on_result, until=None)
        except BaseException:
            batch.gate.stop("the task was stopped")
            batch.collect(on_result, until=time.monotonic() + STOP_GRACE_SECONDS)
            self.log.warning("Batch stopped: %s", batch.tally())
            raise
        finally:
            self._batches.discard(batch)
        self.log.info(
            "%s client secrets in %.2f s (%d in flight at most): %s",
            kind.capitalize(),
            time.monotonic() - started,
            workers,
            batch.tally(),
        )
        return batch.results()

    def stop(self, reason: str = "the task was stopped") -> None:
        """Stop the batches this hook is minting: no request starts any more, and every wait ends.

        For an operator's ``on_kill`` (Airflow calls it on SIGTERM, from the thread that runs the batch):
        each batch then ends with its unsent items as :class:`RealtimeStoppedError`.
        """
        for batch in list(self._batches):
            batch.gate.stop(reason)

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

        :raises ValueError: ``body`` is not a JSON object (before anything is sent).
        """
        _check_json_body(body)
        return self._post(
            endpoint, body, raise_for_status=raise_for_status, require_client_secret=require_client_secret
        )

    def _post(
        self,
        endpoint: str,
        body: dict[str, Any],
        *,
        raise_for_status: bool,
        require_client_secret: bool,
        gate: BatchGate | None = None,
    ) -> RealtimeResponse:
        if endpoint not in contract.ENDPOINT_PATHS:
            raise ValueError(
                f"endpoint must be one of {', '.join(contract.ENDPOINT_PATHS)}, got {endpoint!r}"
            )
        path = contract.ENDPOINT_PATHS[endpoint]
        contract.check_flag(raise_for_status, "raise_for_status")
        contract.check_flag(require_client_secret, "require_client_secret")
        response = self._request("POST", path, body, gate=gate)
        if response.status >= 400:
            if raise_for_status:
                raise _api_error(response)
            return response
        token, _ = contract.extract_client_secret(endpoint, response.body)
        if token is not None:
            from airflow_provider_realtime.masking import mask_token

            mask_token(token)
        elif require_client_secret:
            raise _malformed(response, contract.missing_client_secret(endpoint, response.body))
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
        """Check the key and base URL with ``GET {base}/models``: cheap, and mints nothing."""
        self._testing = True
        try:
            response = self._request("GET", "/models", None, retry=False)
        except (RealtimeError, ValueError) as error:
            return False, str(error)
        if response.status >= 400:
            return False, str(_api_error(response))
        return True, f"Connected to {self.base_url}: GET /models answered {response.status}"

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        retry: bool = True,
        gate: BatchGate | None = None,
    ) -> RealtimeResponse:
        """Send one request with retries; return the final answer or raise a transport error.

        Retried: no answer (connection failure, timeout before the headers) and retryable statuses.
        Never retried: an answer whose body or headers broke off, stalled or cannot be used (a token may
        exist), and redirects (credentials go to the base URL only). With a batch's ``gate``, every
        attempt first waits out a pause a server asked any request of the batch for, and none starts
        once the batch is stopped.
        """
        settings = self.settings
        url = settings.base_url + path
        label = f"{method} {url}"
        policy = settings.retry
        max_attempts = policy.max_retries + 1 if retry else 1
        attempt = 0
        outcome = "not sent"
        while True:
            attempt += 1
            if gate is not None:
                gate.wait()
                if gate.stopped:
                    raise RealtimeStoppedError(
                        f"{outcome.capitalize()}, and not sent again: {gate.stop_reason}"
                        if attempt > 1
                        else f"Not sent: {gate.stop_reason}",
                        endpoint=label,
                        attempts=attempt - 1,
                    )
            response, failure, retry_headers = self._attempt(method, url, body, attempt)
            if response is not None and (
                response.status < 400 or not is_retryable_status(response.status, retry_headers)
            ):
                return response
            outcome = failure.summary if failure else f"status {response.status if response else '?'}"
            wait = wait_before_retry(attempt, retry_headers, policy) if attempt < max_attempts else None
            requested = server_requested_wait(retry_headers)
            if gate is not None and requested is not None:
                if wait is not None:
                    gate.hold(wait)  # the server asked: the whole batch waits, not only this request
                elif requested > policy.retry_after_max:
                    gate.stop(
                        f"the server asked for a wait of {requested:g} s, longer than retry_after_max "
                        f"({policy.retry_after_max:g} s)"
                    )
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
                "%s: attempt %d of %d failed (%s); retrying in %.2f s. A retried POST may mint a second "
                "token; an unused one expires on its own",
                label,
                attempt,
                max_attempts,
                outcome,
                wait,
            )
            if gate is None:
                time.sleep(wait)
            else:
                gate.sleep(wait)

    def _attempt(
        self, method: str, url: str, body: dict[str, Any] | None, attempt: int
    ) -> tuple[RealtimeResponse | None, RealtimeError | None, Mapping[str, str]]:
        """One exchange: ``(answer, None, its headers)``, or ``(None, failure, {})`` for a retryable
        failure; raises for what must not be retried (a redirect, an answer that broke off)."""
        from airflow_provider_realtime.transport import ExchangeError, exchange

        settings = self.settings
        label = f"{method} {url}"
        try:
            answer = exchange(
                self.get_conn(),
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
            failure = _exchange_failure(error, label, attempt, settings)
            if error.answered:
                raise failure from None  # the server answered, then its answer failed: no retry
            return None, failure, {}
        if 300 <= answer.status < 400:
            raise _redirect_error(answer, label, attempt)
        return _response(answer, label, attempt, settings.secrets), None, answer.headers


class _Batch:
    """One bulk mint: worker threads take the next item, mint it, and hand its result to the caller's
    thread, which alone calls back and may be interrupted.

    Workers are daemon threads, not a ``ThreadPoolExecutor``: an executor's threads are joined at
    interpreter exit, so a request in flight would hold up a stopped task's end.
    """

    def __init__(
        self,
        hook: OpenAIRealtimeHook,
        requests: list[kinds.PreparedRequest],
        raise_for_status: bool,
        require_client_secret: bool,
    ) -> None:
        import itertools
        import queue

        self.hook = hook
        self.requests = requests
        self.raise_for_status = raise_for_status
        self.require_client_secret = require_client_secret
        self.gate = BatchGate()
        self._results: list[RealtimeResponse | RealtimeError | None] = [None] * len(requests)
        self._next = itertools.count()  # next() on it is atomic: each item is taken by one worker
        self._finished: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._collected = 0

    def start(self, workers: int) -> None:
        import threading

        for number in range(workers):
            threading.Thread(target=self._work, name=f"realtime-mint-{number}", daemon=True).start()

    def _work(self) -> None:
        while (index := next(self._next)) < len(self.requests):
            self._results[index] = self._mint(self.requests[index])
            self._finished.put(index)

    def _mint(self, request: kinds.PreparedRequest) -> RealtimeResponse | RealtimeError:
        try:
            response = self.hook._post(
                request.endpoint,
                request.body,
                raise_for_status=self.raise_for_status,
                require_client_secret=self.require_client_secret,
                gate=self.gate,
            )
        except RealtimeError as error:
            return error
        except Exception as error:  # whatever one answer does, it ends as this item's error
            label = f"POST {self.hook.base_url}{contract.ENDPOINT_PATHS[request.endpoint]}"
            return RealtimeMalformedResponseError(
                f"The answer could not be used ({type(error).__name__}); not retried: the server may "
                "have minted a token",
                endpoint=label,
            )
        return dataclasses.replace(response, request=request)

    def collect(
        self,
        on_result: Callable[[int, RealtimeResponse | RealtimeError], None] | None,
        *,
        until: float | None,
    ) -> None:
        """Hand each finished item to ``on_result`` until every item has ended (or ``until`` passes)."""
        import queue

        while self._collected < len(self.requests):
            timeout = None if until is None else until - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            try:
                index = self._finished.get(timeout=timeout)
            except queue.Empty:
                return
            self._collected += 1
            result = self._results[index]
            if on_result is not None and result is not None:
                on_result(index, result)

    def results(self) -> list[RealtimeResponse | RealtimeError]:
        return [result for result in self._results if result is not None]

    def tally(self) -> str:
        """How the items ended so far, e.g. ``3 minted, 1 failed, 6 not sent, 2 in flight``."""
        ended = [result for result in self._results if result is not None]
        minted = sum(isinstance(result, RealtimeResponse) for result in ended)
        not_sent = sum(isinstance(result, RealtimeStoppedError) and result.attempts == 0 for result in ended)
        failed = len(ended) - minted - not_sent
        text = f"{minted} minted, {failed} failed, {not_sent} not sent"
        in_flight = len(self.requests) - len(ended)
        if in_flight:
            text += f", {in_flight} in flight (a token they mint expires unused)"
        if self.gate.stop_reason:
            text += f"; stopped: {self.gate.stop_reason}"
        return text


# --------------------------------------------------------------------------------------------------
# Helpers: pure, no secrets in what they say.
# --------------------------------------------------------------------------------------------------


def _check_header_value(value: Any, what: str) -> None:
    """Refuse a credential or ID that cannot go in an HTTP header as it is, naming it but never its value.

    requests would reject it with a message quoting the whole header (the key included).
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    if value != value.strip():
        raise ValueError(f"{what} has leading or trailing whitespace (a pasted newline?); store it without")
    if not value.isascii() or not value.isprintable() or any(char.isspace() for char in value):
        raise ValueError(f"{what} holds spaces, control or non-ASCII characters; store it without them")


def _check_json_body(body: Any) -> None:
    """Refuse a body that is not a JSON object, naming why, before anything is sent."""
    import json

    if not isinstance(body, dict):
        raise ValueError(f"body must be a JSON object (a dict), got {type(body).__name__}")
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise ValueError(f"body is not JSON: {error}") from None


def _base_url(host: str | None, port: int | None, schema: str | None, name: str) -> str:
    """Build and check the base URL from the connection's host (a full URL, or a bare host name), port
    and schema (where a URI-form connection, ``openai-realtime://:KEY@api.openai.com/v1``, keeps the path).

    :raises ValueError: naming what is wrong (never quoting the URL, which may hold credentials).
    """
    if not host:
        return DEFAULT_BASE_URL
    url = host.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    if schema and urllib.parse.urlsplit(url).path in ("", "/"):
        url = f"{url}/{schema.strip('/')}"
    try:
        parts = urllib.parse.urlsplit(url)
        explicit_port = parts.port
    except ValueError:
        raise ValueError(f"{name}: the host (base URL) is not a valid URL") from None
    problem = _base_url_problem(url, parts)
    if problem is None and port and explicit_port not in (None, port):
        problem = f"names port {explicit_port} while the connection's port is {port}; give one"
    if problem:
        raise ValueError(f"{name}: the host (base URL) {problem}")
    if port and explicit_port is None:  # the port goes after the host name, not after the path
        url = urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
    return url


def _base_url_problem(url: str, parts: urllib.parse.SplitResult) -> str | None:
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http://)"
    if not parts.hostname:
        return "has no host name"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password (the API key is the connection's password)"
    if "?" in url or "#" in url:
        return "must not have a query or fragment"
    if not url.isascii() or not url.isprintable() or any(char.isspace() for char in url):
        return "holds spaces, control or non-ASCII characters"
    if parts.path in ("", "/"):
        return (
            f"has no path: give the API's base URL, e.g. {DEFAULT_BASE_URL} "
            "(Azure OpenAI: https://RESOURCE.openai.azure.com/openai/v1)"
        )
    return None


def _timeout_pair(timeout: Any, default_connect: float) -> tuple[float, float]:
    """Read an operator's ``timeout``: read seconds, or a ``(connect, read)`` pair, in the extras' bounds."""
    pair = tuple(timeout) if isinstance(timeout, (tuple, list)) else (default_connect, timeout)
    if len(pair) != 2:
        raise ValueError("timeout must be read seconds, or a (connect, read) pair of seconds")
    connect = check_value(EXTRAS_BY_NAME["connect_timeout"], pair[0], "timeout (connect)")
    read = check_value(EXTRAS_BY_NAME["timeout"], pair[1], "timeout (read)")
    return float(connect), float(read)


def _response(answer: Answer, label: str, attempt: int, secrets: tuple[str, ...]) -> RealtimeResponse:
    """Parse an answer's body strictly; scrub every credential from an error answer (and from any echo)."""
    from airflow_provider_realtime.transport import parse_json

    problem = answer.problem
    body: Any = ""
    if answer.content:
        try:
            body = parse_json(answer.content)
        except ValueError as error:
            problem = f"not usable JSON: {error}"
            body = answer.content.decode("utf-8", errors="replace")
    if answer.status < 400 and _echoes(answer.content, secrets):
        # Scrubbing would hand back "***" where the token was: such an answer is not used at all.
        raise RealtimeMalformedResponseError(
            "The answer quotes the API key, so it is not used (a token in it expires unused)",
            endpoint=label,
            status=answer.status,
            request_id=_header_text(answer.request_id),
            attempts=attempt,
        )
    if answer.status >= 400:
        body = scrub_json(body, secrets)
    return RealtimeResponse(
        status=answer.status,
        body=body,
        request_id=_header_text(answer.request_id),
        attempts=attempt,
        endpoint=label,
        body_problem=problem,
    )


def _echoes(content: bytes, secrets: Iterable[str]) -> bool:
    folded = content.lower()
    return any(secret.lower().encode() in folded for secret in secrets)


def _header_text(value: str | None, limit: int = 100) -> str | None:
    """A header value fit to quote in a message (request ids are short; a hostile one is cut)."""
    if value is None:
        return None
    return scrub(value, limit=limit)


def _exchange_failure(
    error: ExchangeError, label: str, attempt: int, settings: ConnectionSettings
) -> RealtimeError:
    """Map a failed exchange to the exception a caller handles."""
    if not error.answered:
        kind: type[RealtimeError] = RealtimeTimeoutError if error.timed_out else RealtimeConnectionError
        summary = (
            f"No answer in time ({error.reason}; connect/read timeouts {settings.timeout} s)"
            if error.timed_out
            else error.reason
        )
        return kind(summary, endpoint=label, attempts=attempt)
    kind = RealtimeTimeoutError if error.timed_out else RealtimeMalformedResponseError
    return kind(
        f"{error.reason}; not retried: the server may have minted a token",
        endpoint=label,
        status=error.status,
        request_id=_header_text(error.request_id),
        attempts=attempt,
    )


def _redirect_error(answer: Answer, label: str, attempt: int) -> RealtimeRedirectError:
    """Refuse a redirect, saying where it pointed (scheme and host only: the rest may hold anything)."""
    location = answer.headers.get("Location", "")
    target = "nowhere (no Location header)"
    if location:
        try:
            parts = urllib.parse.urlsplit(location.strip())
            host = parts.hostname
            port = parts.port
        except ValueError:
            target = "an address that is not a valid URL"
        else:
            if parts.scheme and host:
                target = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
                target = scrub(target, limit=200) or target
            elif not parts.scheme and not parts.netloc:
                target = "another path on the same host"
            else:
                target = f"a {scrub(parts.scheme, limit=20) or 'schemeless'} address"
    return RealtimeRedirectError(
        f"Redirected to {target}; not followed: credentials are sent only to the connection's base URL",
        endpoint=label,
        status=answer.status,
        request_id=_header_text(answer.request_id),
        attempts=attempt,
    )


def _api_error(response: RealtimeResponse) -> RealtimeError:
    """Map an error answer to the exception a caller handles, quoting OpenAI's error fields (scrubbed)."""
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
    if response.body_problem:
        summary += f" (its body: {response.body_problem})"
    elif details["message"] is None and isinstance(response.body, str) and response.body:
        summary += " (the answer was not OpenAI's JSON error; a proxy may have answered)"
    return kind(
        summary,
        endpoint=response.endpoint,
        status=status,
        request_id=response.request_id,
        attempts=response.attempts,
        error_type=scrub(details["type"], limit=100),
        code=scrub(details["code"], limit=100),
        param=scrub(details["param"], limit=200),
        api_message=scrub(details["message"]),
    )


def _malformed(response: RealtimeResponse, missing: str) -> RealtimeMalformedResponseError:
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
