"""An Airflow connection read into what the hook sends: base URL, headers, timeouts, retry policy.

Pure (no Airflow import): the hook fetches the connection, :func:`read_settings` checks it once. Every
error names the connection and the field, never a value (a value may be the key, or hold credentials).
"""

from __future__ import annotations

import functools
import os
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Final

from airflow_provider_realtime.connection_fields import (
    CONN_TYPE,
    DEFAULT_BASE_URL,
    EXTRAS_BY_NAME,
    FORM_PREFIX,
    check_value,
)
from airflow_provider_realtime.retry import RetryPolicy

Timeout = float | tuple[float, float]


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


def read_settings(
    conn: Any, name: str, *, timeout: Timeout | None = None, max_retries: int | None = None
) -> ConnectionSettings:
    """Check ``conn`` (an Airflow connection) and return its settings; ``timeout`` and ``max_retries``
    are the hook's overrides of the extras.

    :param name: how errors name the connection (``connection 'openai_realtime_default'``).
    :raises ValueError: naming the connection and the problem (never a value), before any request.
    """
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
    check_header_value(api_key, f"{name}: the API key (password)")
    extras = checked_extras(conn.extra_dejson, name)
    headers = (
        {"api-key": api_key} if extras.get("api_type") == "azure" else {"Authorization": f"Bearer {api_key}"}
    )
    for extra, header in (("organization", "OpenAI-Organization"), ("project", "OpenAI-Project")):
        if extras.get(extra):
            check_header_value(extras[extra], f"{name}: extra {extra!r}")
            headers[header] = extras[extra]

    def setting(key: str) -> Any:
        return extras.get(key, EXTRAS_BY_NAME[key].default)

    connect_timeout, read_timeout = float(setting("connect_timeout")), float(setting("timeout"))
    if timeout is not None:
        connect_timeout, read_timeout = _timeout_pair(timeout, connect_timeout)
    retries = setting("max_retries")
    if max_retries is not None:
        retries = check_value(EXTRAS_BY_NAME["max_retries"], max_retries, "max_retries")
    policy = RetryPolicy(
        max_retries=retries,
        backoff_initial=float(setting("backoff_initial")),
        backoff_max=float(setting("backoff_max")),
        retry_after_max=float(setting("retry_after_max")),
    )
    base_url = base_url_of(conn.host, conn.port, conn.schema, name)
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


def checked_extras(extras: Any, name: str) -> dict[str, Any]:
    """Check extras against the allow-list; errors name the key and connection, never the value."""
    if not isinstance(extras, dict):
        raise ValueError(f"{name}: extra must be a JSON object")
    checked: dict[str, Any] = {}
    for key, value in extras.items():
        if value is None or value == "":
            continue  # the connection form stores empty fields
        extra_name = str(key).removeprefix(FORM_PREFIX)  # how Airflow 2's form widgets name their fields
        extra = EXTRAS_BY_NAME.get(extra_name)
        if extra is None:
            allowed = ", ".join(EXTRAS_BY_NAME)
            raise ValueError(f"{name}: unknown extra {extra_name!r}; allowed: {allowed}")
        try:
            checked[extra_name] = check_value(extra, value, f"{name}: extra {extra_name!r}")
        except ValueError as error:  # the form shows the field by its label: name it too
            raise ValueError(f"{error} (the form's field {extra.label!r})") from None
    return checked


def check_header_value(value: Any, what: str) -> None:
    """Refuse a credential or ID that cannot go in an HTTP header as it is, naming it but never its value.

    requests would reject it with a message quoting the whole header (the key included).
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    if value != value.strip():
        raise ValueError(f"{what} has leading or trailing whitespace (a pasted newline?); store it without")
    if not value.isascii() or not value.isprintable() or any(char.isspace() for char in value):
        raise ValueError(f"{what} holds spaces, control or non-ASCII characters; store it without them")


def base_url_of(host: str | None, port: int | None, schema: str | None, name: str) -> str:
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


# Proxies and CA bundles, read from the environment as requests reads them, once per value.
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
