"""What the three client-secret operators share: one task that mints one client secret with the hook.

Each kind's operator (transcription, realtime, translation) is this class with its ``kind`` set; the
transcription operator adds the choice of endpoint. Settings are checked by the hook's one path
(:meth:`~airflow_provider_realtime.hooks.realtime.OpenAIRealtimeHook.create`) before the connection is
even read.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_realtime.compat import BaseOperator

if TYPE_CHECKING:
    from airflow_provider_realtime.compat import Context
    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook, Timeout

# The keys of the ``config`` XCom: what the request was, never the key or the token.
CONFIG_KEYS = ("conn_id", "kind", "endpoint", "base_url", "session", "expires_after_seconds")


class BaseClientSecretOperator(BaseOperator):
    """Mint one client secret of :attr:`kind` and push the result to XCom.

    XCom ``return_value`` is the result: with ``result_format="structured"`` a dict of the keys every
    kind shares (``client_secret``, ``client_secret_expires_at`` in ISO-8601 UTC, ``session_id``,
    ``session_expires_at``, ``session_type``, ``endpoint``) and the kind's own settings as the server
    echoed them; with ``"raw"`` ``{"status": int, "body": parsed JSON or text}``. XCom ``config`` is the
    request as given (never the key or token), to repeat it with another operator of the same kind.

    :param conn_id: Airflow connection id (default ``openai_realtime_default``, or the ``config``'s).
    :param session: the session settings; ``None`` = server defaults (or the ``config``'s). Templated.
    :param expires_after_seconds: token lifetime, 10..7200 seconds; ``None`` = server default (600 s).
    :param result_format: ``structured`` (default) or ``raw``.
    :param config: the ``config`` XCom of an upstream task of the same kind, to repeat its request; the
        other arguments override what it holds.
    :param include_client_secret: when False, the token is left out of XCom (``None`` in its place).
    :param raise_for_status: raw format only: when False, an error status is returned as
        ``{"status", "body"}`` instead of failing the task.
    :param max_retries: retries after the first attempt; ``None`` = the connection's (default 3).
    :param timeout: read timeout in seconds or ``(connect, read)``; ``None`` = the connection's.
    """

    kind: ClassVar[str]
    template_fields: Sequence[str] = (
        "conn_id",
        "session",
        "expires_after_seconds",
        "result_format",
        "config",
    )
    template_fields_renderers = {"session": "json", "config": "json"}
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.session = session
        self.expires_after_seconds = expires_after_seconds
        self.result_format = result_format
        self.config = config
        self.include_client_secret = include_client_secret
        self.raise_for_status = raise_for_status
        self.max_retries = max_retries
        self.timeout = timeout

    @cached_property
    def hook(self) -> OpenAIRealtimeHook:
        """The hook for the resolved connection id (built on first use, never at DAG parse time)."""
        from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook

        given = self._given_config()
        conn_id = self.conn_id or given.get("conn_id") or OpenAIRealtimeHook.default_conn_name
        if not isinstance(conn_id, str):
            raise ValueError(f"conn_id must be a string, got {type(conn_id).__name__}")
        return OpenAIRealtimeHook(conn_id=conn_id, max_retries=self.max_retries, timeout=self.timeout)

    def _given_config(self) -> dict[str, Any]:
        """The ``config`` argument, checked: a dict of known keys, from an operator of the same kind."""
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
        given = self._given_config()
        arguments = {key: given.get(key) for key in ("session", "expires_after_seconds", "endpoint")}
        for key in arguments:
            value = getattr(self, key, None)
            if value is not None:
                arguments[key] = value
        return arguments

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_realtime import contract, kinds

        result_format = contract.check_result_format(self.result_format)
        include_client_secret = contract.check_flag(self.include_client_secret, "include_client_secret")
        contract.check_flag(self.raise_for_status, "raise_for_status")
        if result_format == contract.STRUCTURED and not self.raise_for_status:
            raise ValueError("raise_for_status=False needs result_format='raw': an error has no structure")
        arguments = self._arguments()
        hook = self.hook
        repeated = self._given_config().get("base_url")
        if repeated is not None and repeated != hook.base_url:
            # Never send the API key to an address that came from XCom rather than the connection.
            raise ValueError(
                f"config.base_url ({repeated}) differs from connection {hook.conn_id!r} ({hook.base_url}); "
                "the same request cannot be repeated"
            )
        response = hook.create(
            self.kind,
            arguments["session"],
            endpoint=arguments["endpoint"],
            expires_after_seconds=arguments["expires_after_seconds"],
            raise_for_status=self.raise_for_status,
            require_client_secret=result_format == contract.STRUCTURED,
        )
        request = response.request
        assert request is not None  # create() always says what it sent
        self.log.info(
            "%s answered %s (request id %s, %d attempt(s))",
            response.endpoint,
            response.status,
            response.request_id,
            response.attempts,
        )
        if self.do_xcom_push:
            config = {
                "conn_id": hook.conn_id,
                "kind": self.kind,
                "endpoint": request.endpoint,
                "session": arguments["session"],
                "expires_after_seconds": request.expires_after_seconds,
                "base_url": hook.base_url,
            }
            context["ti"].xcom_push(key="config", value=config)
        if result_format == contract.RAW:
            raw_body = response.body
            if not include_client_secret and response.status < 400:
                raw_body = contract.redact_client_secret(request.endpoint, raw_body)
            return {"status": response.status, "body": raw_body}
        return kinds.shape_result(
            self.kind, request.endpoint, response.body, include_client_secret=include_client_secret
        )
