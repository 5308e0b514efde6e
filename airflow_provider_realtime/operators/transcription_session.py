"""Operator that creates an OpenAI Realtime transcription session and pushes its client secret to XCom."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_realtime.compat import BaseOperator

if TYPE_CHECKING:
    from airflow_provider_realtime.compat import Context
    from airflow_provider_realtime.hooks.realtime import OpenAIRealtimeHook, Timeout

CONFIG_KEYS = ("conn_id", "endpoint", "base_url", "session", "expires_after_seconds")


class CreateTranscriptionSessionOperator(BaseOperator):
    """Create a Realtime transcription session and push the minted client secret to XCom.

    XCom ``return_value`` is the result: with ``result_format="structured"`` a dict with
    ``client_secret``, ``client_secret_expires_at`` (ISO-8601 UTC), ``modalities``,
    ``input_audio_format``, ``input_audio_transcription``, ``turn_detection``, ``session_id`` and more,
    the same keys for both endpoints; with ``"raw"`` ``{"status": int, "body": parsed JSON or text}``.
    XCom ``config`` is the configuration as given (never the key or token), for chaining.

    :param conn_id: Airflow connection id (default ``openai_realtime_default``, or the ``config``'s).
    :param session: session settings in the beta or the current shape; ``None`` = server defaults
        (or the ``config``'s settings). Templated.
    :param endpoint: ``client_secrets`` (current API, default) or ``transcription_sessions`` (beta).
    :param expires_after_seconds: token lifetime, 10..7200 seconds; ``None`` = server default (600 s).
    :param result_format: ``structured`` (default) or ``raw``.
    :param config: the ``config`` XCom of an upstream task of this operator, to repeat its request;
        the other arguments override what it holds.
    :param include_client_secret: when False, the token is left out of XCom (``None`` in its place).
    :param raise_for_status: raw format only: when False, an error status is returned as
        ``{"status", "body"}`` instead of failing the task.
    :param max_retries: retries after the first attempt; ``None`` = the connection's (default 3).
    :param timeout: read timeout in seconds or ``(connect, read)``; ``None`` = the connection's.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "session",
        "endpoint",
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
        endpoint: str | None = None,
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
        self.endpoint = endpoint
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

        return OpenAIRealtimeHook(
            conn_id=self._resolved_conn_id(), max_retries=self.max_retries, timeout=self.timeout
        )

    def _resolved_conn_id(self) -> str:
        """The explicit ``conn_id``, else the ``config``'s, else the default."""
        from airflow_provider_realtime.connection_fields import DEFAULT_CONN_ID

        from_config = self.config.get("conn_id") if isinstance(self.config, dict) else None
        conn_id = self.conn_id or from_config or DEFAULT_CONN_ID
        if not isinstance(conn_id, str):
            raise ValueError(f"conn_id must be a string, got {type(conn_id).__name__}")
        return conn_id

    def _request_config(self) -> dict[str, Any]:
        """Merge ``config`` with the explicit arguments (which win) and validate everything offline."""
        from airflow_provider_realtime import contract

        given: dict[str, Any] = {}
        if self.config is not None:
            if not isinstance(self.config, dict):
                kind = type(self.config).__name__
                raise ValueError(f"config must be a dict (an upstream task's config XCom), got {kind}")
            unknown = sorted(set(self.config) - set(CONFIG_KEYS))
            if unknown:
                raise ValueError(f"config.{unknown[0]} is not a known key; allowed: {', '.join(CONFIG_KEYS)}")
            given.update(self.config)
        for key in ("session", "endpoint", "expires_after_seconds"):
            value = getattr(self, key)
            if value is not None:
                given[key] = value
        resolved = {
            "conn_id": self._resolved_conn_id(),
            "endpoint": contract.check_endpoint(given.get("endpoint", contract.CLIENT_SECRETS)),
            "session": given.get("session"),
            "expires_after_seconds": given.get("expires_after_seconds"),
            "base_url": given.get("base_url"),
        }
        if resolved["expires_after_seconds"] is not None:
            resolved["expires_after_seconds"] = contract.validate_lifetime(
                resolved["expires_after_seconds"], "expires_after_seconds"
            )
        return resolved

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_realtime import contract

        result_format = contract.check_result_format(self.result_format)
        include_client_secret = contract.check_flag(self.include_client_secret, "include_client_secret")
        contract.check_flag(self.raise_for_status, "raise_for_status")
        if result_format == contract.STRUCTURED and not self.raise_for_status:
            raise ValueError("raise_for_status=False needs result_format='raw': an error has no structure")
        request = self._request_config()
        # Validate and build the body before any connection lookup or network call.
        body = contract.build_request_body(
            request["endpoint"], request["session"], request["expires_after_seconds"]
        )
        hook = self.hook
        if request["base_url"] is not None and request["base_url"] != hook.base_url:
            # Never send the API key to an address that came from XCom rather than the connection.
            raise ValueError(
                f"config.base_url ({request['base_url']}) differs from connection {request['conn_id']!r} "
                f"({hook.base_url}); the same request cannot be repeated"
            )
        response = hook.post(
            request["endpoint"],
            body,
            raise_for_status=self.raise_for_status,
            require_client_secret=result_format == contract.STRUCTURED,
        )
        self.log.info(
            "%s answered %s (request id %s, %d attempt(s))",
            response.endpoint,
            response.status,
            response.request_id,
            response.attempts,
        )
        if self.do_xcom_push:
            config = {**request, "base_url": hook.base_url}
            context["ti"].xcom_push(key="config", value=config)
        if result_format == contract.RAW:
            raw_body = response.body
            if not include_client_secret and response.status < 400:
                raw_body = contract.redact_client_secret(request["endpoint"], raw_body)
            return {"status": response.status, "body": raw_body}
        return contract.shape_result(
            request["endpoint"], response.body, include_client_secret=include_client_secret
        )
