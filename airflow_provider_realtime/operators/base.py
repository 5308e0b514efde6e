"""What the three client-secret operators share: one task that mints a client secret (or a fleet of
them) with the hook.

Each kind's operator (transcription, realtime, translation) is this class with its ``kind`` set; the
transcription operator adds the choice of endpoint. Settings are checked by the hook's paths
(:meth:`~airflow_provider_realtime.hooks.realtime.OpenAIRealtimeHook.create` for one token,
:meth:`~airflow_provider_realtime.hooks.realtime.OpenAIRealtimeHook.create_many` for many) before the
connection is even read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Final

from airflow_provider_realtime.compat import BaseOperator

if TYPE_CHECKING:
    from airflow_provider_realtime.compat import Context
    from airflow_provider_realtime.exceptions import RealtimeError
    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook, RealtimeResponse, Timeout
    from airflow_provider_realtime.kinds import PreparedRequest

# The keys of the ``config`` XCom: what the request was, never the key or the token.
CONFIG_KEYS = (
    "conn_id",
    "kind",
    "endpoint",
    "base_url",
    "session",
    "expires_after_seconds",
    "count",
    "extra_body",
)
MAX_TOKENS_PER_TASK = 10_000  # a task's result is one XCom value: a few MB at most
STRUCTURED: Final = "structured"
RAW: Final = "raw"
RESULT_FORMATS: Final = (STRUCTURED, RAW)
_TEMPLATE_MARKS = ("{{", "{%")


def check_result_format(result_format: Any) -> str:
    """Return ``result_format`` if it is ``structured`` or ``raw``, else raise ValueError."""
    from airflow_provider_realtime.contract import Text

    return Text(RESULT_FORMATS).check(result_format, "result_format")


def _literal(value: Any) -> bool:
    """Whether ``value`` is written out in the DAG file: JSON-like, without a Jinja template in it."""
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, str):
        return not any(mark in value for mark in _TEMPLATE_MARKS)
    if isinstance(value, (list, tuple)):
        return all(_literal(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _literal(item) for key, item in value.items())
    return False  # an XComArg, a template object, anything known only when the task runs


class BaseClientSecretOperator(BaseOperator):
    """Mint one client secret of :attr:`kind` (or many: ``count``, or a list of sessions) and push the
    result to XCom.

    XCom ``return_value`` is the result: with ``result_format="structured"`` a dict of the keys every
    kind shares (``client_secret``, ``expires_at`` in ISO-8601 UTC, ``session_id``,
    ``session_expires_at``, ``session_type``, ``endpoint``) and the kind's own settings as the server
    echoed them; with ``"raw"`` ``{"status": int, "body": parsed JSON or text}``. XCom ``config`` is the
    request as given (never the key or token), to repeat it with another operator of the same kind.

    Many tokens in one task: the result is a list in input order, ``None`` where an item failed after its
    retries; structured items keep their token's own keys, and what every item holds alike is pushed once
    as XCom ``shared`` (``{**shared, **item}`` is an item's whole result). XCom ``failures`` lists each
    failure (``index``, ``error``, ``status``, ``request_id``, ``message``). Nothing minted is lost: when
    items fail, or the task is stopped mid-batch, the tokens that were minted are still pushed, then the
    task fails naming how many failed and why (or succeeds, with ``allow_partial=True``).

    :param conn_id: Airflow connection id (default ``openai_realtime_default``, or the ``config``'s).
    :param session: the session settings, or a list of them for one token each; ``None`` = server
        defaults (or the ``config``'s). Templated.
    :param expires_after_seconds: token lifetime, 10..7200 seconds; ``None`` = server default (600 s).
    :param result_format: ``structured`` (default) or ``raw``.
    :param config: the ``config`` XCom of an upstream task of the same kind, to repeat its request; the
        other arguments override what it holds.
    :param include_client_secret: when False, the token is left out of XCom (``None`` in its place).
    :param raise_for_status: raw format only: when False, an error status is returned as
        ``{"status", "body"}`` instead of failing the task.
    :param max_retries: retries after the first attempt; ``None`` = the connection's (default 3).
    :param timeout: read timeout in seconds or ``(connect, read)``; ``None`` = the connection's.
    :param count: mint this many tokens of the same settings (0..10,000); ``None`` = one token, or one
        per item of a list ``session``. Templated.
    :param concurrency: requests in flight at once when minting many (1..64, default 16).
    :param allow_partial: when minting many, succeed even if some items failed (they are listed in XCom
        ``failures``); by default the task fails after pushing what was minted.
    :param extra_body: JSON merged into the request body unchecked (objects key by key), e.g.
        ``{"session": {"new_field": 1}}``: for a field OpenAI added after this release that the checks
        would take for a typo of a known one. Templated.
    """

    kind: ClassVar[str]
    template_fields: Sequence[str] = (
        "conn_id",
        "session",
        "expires_after_seconds",
        "result_format",
        "config",
        "count",
        "extra_body",
    )
    template_fields_renderers = {"session": "json", "config": "json", "extra_body": "json"}
    ui_color = "#d8f3e6"

    def __init__(
        self,
        *,
        conn_id: str | None = None,
        session: dict[str, Any] | None = None,
        expires_after_seconds: int | None = None,
        result_format: str = "structured",
        config: dict[str, Any] | None = None,
        include_client_secret: bool = True,
        raise_for_status: bool = True,
        max_retries: int | None = None,
        timeout: Timeout | None = None,
        count: int | None = None,
        concurrency: int | None = None,
        allow_partial: bool = False,
        extra_body: dict[str, Any] | None = None,
        endpoint: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint  # a choice for transcription sessions only; the others have one
        self.conn_id = conn_id
        self.session = session
        self.expires_after_seconds = expires_after_seconds
        self.result_format = result_format
        self.config = config
        self.include_client_secret = include_client_secret
        self.raise_for_status = raise_for_status
        self.max_retries = max_retries
        self.timeout = timeout
        self.count = count
        self.concurrency = concurrency
        self.allow_partial = allow_partial
        self.extra_body = extra_body
        self._check_what_the_dag_file_says()

    def _check_what_the_dag_file_says(self) -> None:
        """Check, when the DAG file is parsed, the settings written in it: every problem at once.

        Only literal values are checked here (no template, no XCom, no upstream ``config``: those are
        known when the task runs, and checked then). It costs tens of microseconds, next to Airflow's own
        hundreds for making the operator, and makes a typo a DAG import error that a DAG-import test in CI
        catches, instead of a failed run.
        """
        given = (self.session, self.expires_after_seconds, self.count, self.extra_body, self.endpoint)
        if self.config is not None or not all(_literal(value) for value in given):
            return
        from airflow_provider_realtime import contract, kinds

        sessions = self.session if isinstance(self.session, (list, tuple)) else [self.session]
        checks: list[Callable[[], Any]] = [
            lambda: check_result_format(self.result_format),
            lambda: contract.check_flag(self.include_client_secret, "include_client_secret"),
            lambda: contract.check_flag(self.raise_for_status, "raise_for_status"),
            lambda: contract.check_flag(self.allow_partial, "allow_partial"),
            lambda: (
                None
                if self.count is None
                else contract.templated_integer(self.count, "count", low=0, high=MAX_TOKENS_PER_TASK)
            ),
            *(
                functools.partial(
                    kinds.prepare,
                    self.kind,
                    session,
                    expires_after_seconds=self.expires_after_seconds if index == 0 else None,
                    endpoint=self.endpoint,
                    path="session" if len(sessions) == 1 else f"session[{index}]",
                    extra_body=self.extra_body if index == 0 else None,
                )
                for index, session in enumerate(sessions)
            ),
        ]
        try:
            contract.all_problems(checks)
        except ValueError as error:
            raise ValueError(f"Task {self.task_id!r}: {error}") from None

    @cached_property
    def hook(self) -> OpenAIRealtimeHook:
        """The hook for the resolved connection id (built on first use, never at DAG parse time)."""
        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        given = self._given
        conn_id = self.conn_id or given.get("conn_id") or OpenAIRealtimeHook.default_conn_name
        if not isinstance(conn_id, str):
            raise ValueError(f"conn_id must be a string, got {type(conn_id).__name__}")
        return OpenAIRealtimeHook(conn_id=conn_id, max_retries=self.max_retries, timeout=self.timeout)

    @cached_property
    def _given(self) -> dict[str, Any]:
        """The ``config`` argument, checked once (when the task runs, rendered): a dict of known keys, from
        an operator of the same kind."""
        if self.config is None:
            return {}
        if not isinstance(self.config, dict):
            kind = type(self.config).__name__
            raise ValueError(f"config must be a dict (an upstream task's config XCom), got {kind}")
        unknown = sorted(set(self.config) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"config.{unknown[0]} is not a known key; allowed: {', '.join(CONFIG_KEYS)}")
        made_by = self.config.get("kind", "transcription")  # configs of release 1 have no kind
        if made_by != self.kind:
            raise ValueError(
                f"config.kind is {made_by!r}: a config repeats a request of its own kind, and this "
                f"operator creates {self.kind} sessions"
            )
        return self.config

    def _arguments(self) -> dict[str, Any]:
        """The request's arguments: the ``config``'s, overridden by the explicit ones."""
        given = self._given
        keys = ("session", "expires_after_seconds", "endpoint", "count", "extra_body")
        arguments = {key: given.get(key) for key in keys}
        for key in arguments:
            value = getattr(self, key, None)
            if value is not None:
                arguments[key] = value
        return arguments

    def _batch(self, arguments: dict[str, Any]) -> list[Any] | None:
        """The sessions to mint one token each for (``count`` or a list ``session``), or None for one."""
        session, count = arguments["session"], arguments["count"]
        if count is not None:
            from airflow_provider_realtime.contract import templated_integer

            count = arguments["count"] = templated_integer(count, "count", low=0, high=MAX_TOKENS_PER_TASK)
            if isinstance(session, (list, tuple)):
                raise ValueError("count goes with one session's settings, not a list: give one or the other")
            return [session] * count
        if isinstance(session, (list, tuple)):
            if len(session) > MAX_TOKENS_PER_TASK:
                raise ValueError(f"session holds {len(session)} items; at most {MAX_TOKENS_PER_TASK}")
            return list(session)
        return None

    def execute(self, context: Context) -> Any:
        from airflow_provider_realtime import contract

        result_format = check_result_format(self.result_format)
        include_client_secret = contract.check_flag(self.include_client_secret, "include_client_secret")
        contract.check_flag(self.raise_for_status, "raise_for_status")
        if result_format == STRUCTURED and not self.raise_for_status:
            raise ValueError("raise_for_status=False needs result_format='raw': an error has no structure")
        arguments = self._arguments()
        batch = self._batch(arguments)
        contract.check_flag(self.allow_partial, "allow_partial")
        hook = self.hook
        repeated = self._given.get("base_url")
        if repeated is not None and repeated != hook.base_url:
            # Never send the API key to an address that came from XCom rather than the connection.
            raise ValueError(
                f"config.base_url ({repeated}) differs from connection {hook.conn_id!r} ({hook.base_url}); "
                "the same request cannot be repeated"
            )
        if batch is not None:
            return self._mint_many(context, hook, arguments, batch, result_format, include_client_secret)
        response = hook.create(
            self.kind,
            arguments["session"],
            endpoint=arguments["endpoint"],
            expires_after_seconds=arguments["expires_after_seconds"],
            raise_for_status=self.raise_for_status,
            require_client_secret=result_format == STRUCTURED,
            extra_body=arguments["extra_body"],
        )
        self.log.info(
            "%s answered %s (request id %s, %d attempt(s))",
            response.endpoint,
            response.status,
            response.request_id,
            response.attempts,
        )
        self._push_config(context, hook, arguments, response.request)
        result = self._result(response, result_format, include_client_secret)
        if self._killed is not None:
            # Airflow 3 only calls on_kill on SIGTERM and lets execute go on: the task must still fail.
            from airflow_provider_realtime.exceptions import RealtimeStoppedError

            if self.do_xcom_push:  # a failing task returns nothing: push the token it did mint
                context["ti"].xcom_push(key="return_value", value=result)
            raise RealtimeStoppedError(
                f"The task was killed ({self._killed}) while its request was in flight; the answer is in "
                "XCom return_value",
                endpoint=response.endpoint,
                status=response.status,
                request_id=response.request_id,
                attempts=response.attempts,
            )
        return result

    def _push_config(
        self,
        context: Context,
        hook: OpenAIRealtimeHook,
        arguments: dict[str, Any],
        request: PreparedRequest | None,
    ) -> None:
        """Push the request as given: its endpoint and lifetime as the hook checked them (``request``; a
        fleet none of whose items was answered has none, and they are checked again)."""
        from airflow_provider_realtime import kinds

        if request is None:
            request = kinds.PreparedRequest(
                self.kind,
                kinds.resolve_endpoint(self.kind, arguments["endpoint"]),
                kinds.check_lifetime(arguments["expires_after_seconds"]),
                {},
            )
        if self.do_xcom_push:
            config = {
                "conn_id": hook.conn_id,
                "kind": self.kind,
                "endpoint": request.endpoint,
                "session": arguments["session"],
                "expires_after_seconds": request.expires_after_seconds,
                "base_url": hook.base_url,
                "count": arguments["count"],
                "extra_body": arguments["extra_body"],
            }
            context["ti"].xcom_push(key="config", value=config)

    def _result(self, response: RealtimeResponse, result_format: str, include_client_secret: bool) -> Any:
        """One answer as XCom holds it: the structured dict, or ``{"status", "body"}``."""
        from airflow_provider_realtime.response import redact_client_secret

        if result_format == RAW:
            raw_body = response.body
            if not include_client_secret and response.status < 400 and response.request is not None:
                raw_body = redact_client_secret(response.request.endpoint, raw_body)
            return {"status": response.status, "body": raw_body}
        return response.structured(include_client_secret=include_client_secret)

    def _mint_many(
        self,
        context: Context,
        hook: OpenAIRealtimeHook,
        arguments: dict[str, Any],
        sessions: list[Any],
        result_format: str,
        include_client_secret: bool,
    ) -> list[Any]:
        """Mint a token per item; push every one minted, and fail afterwards if any item failed.

        Each answer is kept as it arrives, so a task stopped mid-batch (execution_timeout, SIGTERM) still
        pushes the tokens it minted before the stop goes on.
        """
        from airflow_provider_realtime.hooks.realtime import DEFAULT_CONCURRENCY

        answers: list[RealtimeResponse | RealtimeError | None] = [None] * len(sessions)

        def keep(index: int, answer: RealtimeResponse | RealtimeError) -> None:
            answers[index] = answer

        try:
            hook.create_many(
                self.kind,
                sessions,
                concurrency=DEFAULT_CONCURRENCY if self.concurrency is None else self.concurrency,
                endpoint=arguments["endpoint"],
                expires_after_seconds=arguments["expires_after_seconds"],
                raise_for_status=self.raise_for_status,
                require_client_secret=result_format == STRUCTURED,
                on_result=keep,
                extra_body=arguments["extra_body"],
            )
        except BaseException:
            self._push_fleet(
                context, hook, arguments, answers, result_format, include_client_secret, stopped=True
            )
            raise
        return self._push_fleet(context, hook, arguments, answers, result_format, include_client_secret)

    def _push_fleet(
        self,
        context: Context,
        hook: OpenAIRealtimeHook,
        arguments: dict[str, Any],
        answers: list[RealtimeResponse | RealtimeError | None],
        result_format: str,
        include_client_secret: bool,
        *,
        stopped: bool = False,
    ) -> list[Any]:
        """Push a fleet's XComs; raise :class:`RealtimeBatchError` after pushing if any item failed.

        Structured results keep only each token's own keys; what every item shares is pushed once, as
        XCom ``shared`` (so a fleet's XCom grows with its tokens, not with tokens x settings).
        """
        from airflow_provider_realtime.exceptions import RealtimeBatchError, RealtimeError
        from airflow_provider_realtime.response import RealtimeResponse

        results: list[Any] = []
        failures: list[tuple[int, RealtimeError]] = []
        for index, answer in enumerate(answers):
            if isinstance(answer, RealtimeError):
                failures.append((index, answer))
            results.append(
                None
                if answer is None or isinstance(answer, RealtimeError)
                else self._result(answer, result_format, include_client_secret)
            )
        shared: dict[str, Any] = {}
        if result_format == STRUCTURED:
            shared, results = split_shared(results)
        answered = next((answer.request for answer in answers if isinstance(answer, RealtimeResponse)), None)
        self._push_config(context, hook, arguments, answered)
        failing = stopped or (failures and not self.allow_partial)
        if self.do_xcom_push:
            context["ti"].xcom_push(key="failures", value=[_failure(i, error) for i, error in failures])
            context["ti"].xcom_push(key="shared", value=shared)
            if failing:  # a failing task returns nothing: push the tokens it did mint
                context["ti"].xcom_push(key="return_value", value=results)
        if failures and not stopped:
            error = RealtimeBatchError(failures, len(answers))
            if not self.allow_partial:
                raise error
            self.log.warning("allow_partial: %s", error.summary)
        return results

    _killed: str | None = None  # why on_kill was called, once it was

    def on_kill(self) -> None:
        """Airflow calls this on SIGTERM: stop a batch being minted (nothing more is sent), and fail the
        task even where Airflow lets it go on (Airflow 3 only calls this)."""
        self._killed = "SIGTERM"
        hook = self.__dict__.get("hook")  # only a hook already built can be minting
        if hook is not None:
            hook.stop("the task was killed (SIGTERM)")


# The keys of a structured result that belong to its token alone: never moved to the shared part.
PER_TOKEN_KEYS = frozenset({"client_secret", "expires_at", "session_id", "session_expires_at"})


def split_shared(results: list[dict[str, Any] | None]) -> tuple[dict[str, Any], list[dict[str, Any] | None]]:
    """Split a fleet's structured results into what every minted item holds alike (``shared``) and each
    item's own keys; ``{**shared, **item}`` is the whole result of an item again."""
    minted = [result for result in results if result is not None]
    if not minted:
        return {}, results
    first, *others = minted
    shared = {
        key: value
        for key, value in first.items()
        if key not in PER_TOKEN_KEYS and all(key in other and other[key] == value for other in others)
    }
    own = [
        None if result is None else {key: value for key, value in result.items() if key not in shared}
        for result in results
    ]
    return shared, own


def _failure(index: int, error: RealtimeError) -> dict[str, Any]:
    """One failed item as XCom ``failures`` lists it (the message holds no key and no token)."""
    return {
        "index": index,
        "error": type(error).__name__,
        "status": error.status,
        "request_id": error.request_id,
        "message": str(error),
    }
