"""The ``openai_realtime`` connection's extras, described once.

The hook checks extras against this table, and the connection form in Airflow's UI is generated from
it. Pure data and pure functions: the provider manager imports this module for the form, so it must
stay cheap to import.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from typing import Any, Final

from airflow_provider_realtime.retry import (
    DEFAULT_BACKOFF_INITIAL,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_AFTER_MAX,
)

CONN_TYPE: Final = "openai_realtime"
DEFAULT_CONN_ID: Final = "openai_realtime_default"
DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_READ_TIMEOUT: Final = 60.0
API_TYPES: Final = ("openai", "azure")
FORM_PREFIX: Final = f"extra__{CONN_TYPE}__"  # how Airflow 2's form widgets name extras


@dataclass(frozen=True)
class ExtraField:
    """One connection extra: how the form shows it and which values the hook accepts.

    :param kind: ``string``, ``choice`` (one of ``choices``), ``number`` or ``integer``.
    :param low: the smallest value accepted (numbers); ``low_open`` excludes it (``> low``).
    :param high: the largest value accepted (numbers).
    """

    name: str
    label: str
    kind: str
    description: str
    default: Any = None
    choices: tuple[str, ...] = ()
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    placeholder: str | None = None

    def bounds(self) -> str:
        """The accepted range in words, e.g. ``more than 0 and at most 3600``."""
        lower = f"{'more than' if self.low_open else 'at least'} {self.low:g}" if self.low is not None else ""
        upper = f"at most {self.high:g}" if self.high is not None else ""
        return " and ".join(part for part in (lower, upper) if part)


EXTRA_FIELDS: Final = (
    ExtraField(
        "organization",
        "Organization ID",
        "string",
        "Sent as OpenAI-Organization when set.",
        placeholder="org-...",
    ),
    ExtraField("project", "Project ID", "string", "Sent as OpenAI-Project when set.", placeholder="proj_..."),
    ExtraField(
        "api_type",
        "API type",
        "choice",
        "openai sends the key as Authorization: Bearer; azure as an api-key header (Azure OpenAI v1 API).",
        default="openai",
        choices=API_TYPES,
    ),
    ExtraField(
        "timeout",
        "Read timeout (s)",
        "number",
        "Seconds to wait for each read of an answer; connect + read timeouts also bound a whole attempt.",
        default=DEFAULT_READ_TIMEOUT,
        low=0,
        low_open=True,
        high=3600,
    ),
    ExtraField(
        "connect_timeout",
        "Connect timeout (s)",
        "number",
        "Seconds to wait for a connection.",
        default=DEFAULT_CONNECT_TIMEOUT,
        low=0,
        low_open=True,
        high=600,
    ),
    ExtraField(
        "max_retries",
        "Max retries",
        "integer",
        "Retries of 408/409/429/5xx answers and network errors (a whole number).",
        default=DEFAULT_MAX_RETRIES,
        low=0,
        high=100,
    ),
    ExtraField(
        "backoff_initial",
        "Backoff initial (s)",
        "number",
        "Wait before the first retry when the server names none; doubles per retry.",
        default=DEFAULT_BACKOFF_INITIAL,
        low=0,
        high=600,
    ),
    ExtraField(
        "backoff_max",
        "Backoff max (s)",
        "number",
        "The longest computed wait between two attempts.",
        default=DEFAULT_BACKOFF_MAX,
        low=0,
        high=600,
    ),
    ExtraField(
        "retry_after_max",
        "Retry-After max (s)",
        "number",
        "The longest server-requested wait honoured; a longer one stops retrying.",
        default=DEFAULT_RETRY_AFTER_MAX,
        low=0,
        high=3600,
    ),
)
EXTRAS_BY_NAME: Final = {extra.name: extra for extra in EXTRA_FIELDS}


def check_value(extra: ExtraField, value: Any, where: str) -> Any:
    """Return ``value`` if ``extra`` accepts it, else raise ``ValueError`` naming ``where`` (never the value).

    Text that holds a number is read as one: URI-form connections and some secrets backends give every
    extra as a string.
    """
    if extra.kind in ("number", "integer") and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if extra.kind in ("string", "choice"):
        if not isinstance(value, str):
            raise ValueError(f"{where} must be text")
        if extra.choices and value not in extra.choices:
            raise ValueError(f"{where} must be one of {', '.join(extra.choices)}")
        return value
    unit = "a whole number" if extra.kind == "integer" else "a number of seconds"
    expectation = f"{unit}, {extra.bounds()}"
    if extra.kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON forms may store 3 as 3.0
    if isinstance(value, bool) or not isinstance(value, int if extra.kind == "integer" else (int, float)):
        raise ValueError(f"{where} must be {expectation}")
    too_low = extra.low is not None and (value <= extra.low if extra.low_open else value < extra.low)
    too_high = extra.high is not None and value > extra.high
    if too_low or too_high or not math.isfinite(value):
        raise ValueError(f"{where} must be {expectation}")
    return value


# --------------------------------------------------------------------------------------------------
# The connection form, from the table above: declaratively for Airflow 3.2+ (``conn-fields`` and
# ``ui-field-behaviour`` in the provider info), through the hook's classmethods before that.
# --------------------------------------------------------------------------------------------------

# Port stays visible: Airflow 3.3.2's Test button posts port 0 for a connection stored without one and
# its API refuses the test (apache/airflow#73298); with the port typed (443 for the OpenAI API) it works.
HIDDEN_FIELDS: Final = ("schema", "login")
RELABELING: Final = {"host": "Base URL", "password": "API Key"}
PLACEHOLDERS: Final = {
    "host": DEFAULT_BASE_URL,
    "password": "sk-...",
    "port": "443 (optional; type it if Test says Bad Request)",
    **{extra.name: extra.placeholder for extra in EXTRA_FIELDS if extra.placeholder},
}


def _described(extra: ExtraField) -> str:
    """The field's help text, with its default and bounds."""
    parts = [extra.description]
    if extra.default is not None and extra.kind != "choice":
        parts.append(
            f"Default {extra.default:g}." if isinstance(extra.default, float) else f"Default {extra.default}."
        )
    if extra.kind in ("number", "integer"):
        parts.append(f"Allowed: {extra.bounds()}.")
    if extra.kind == "choice":  # a text field on Airflow 2, which takes no select from a provider
        parts.append(f"One of: {', '.join(extra.choices)}.")
    if extra.placeholder:  # Airflow 3's form shows no placeholder for extras: the help text says it
        parts.append(f"Looks like {extra.placeholder.rstrip('.')}…")
    return " ".join(parts)


def conn_fields() -> dict[str, dict[str, Any]]:
    """The ``conn-fields`` of the provider info (Airflow 3.2+): a JSON schema per extra."""
    fields: dict[str, dict[str, Any]] = {}
    for extra in EXTRA_FIELDS:
        schema: dict[str, Any]
        if extra.kind == "choice":
            schema = {"type": "string", "enum": list(extra.choices), "default": extra.default}
        elif extra.kind == "string":
            schema = {"type": ["string", "null"]}
        else:
            # Text, not a number: Airflow 3.3's number box drops text typed into it and saves nothing
            # (the default), and it replaces a value outside a schema's minimum or maximum with the bound
            # (-1 saved as 0). As text, what was typed is saved as typed; the hook reads a number from it
            # and refuses anything else, naming the field and the range (task log, Test button).
            schema = {"type": ["string", "null"]}
        fields[extra.name] = {"label": extra.label, "schema": schema, "description": _described(extra)}
    return fields


def ui_field_behaviour(*, separator: str = "-", flask_form: bool = False) -> dict[str, Any]:
    """Hidden, relabelled and placeholder fields; ``separator`` is ``-`` in the provider info, ``_`` in
    the hook's ``get_ui_field_behaviour`` (Airflow before 3.2); ``flask_form``: Airflow 2's form, which
    empties the API Key box after a refused Save (its placeholder says so), and whose Test button needs
    no port (the port hint is for Airflow 3.3.2's)."""
    placeholders = dict(PLACEHOLDERS)
    if flask_form:
        placeholders["password"] = "sk-... (required; type it again after a refused Save)"  # noqa: S105
        placeholders["port"] = "443 (optional)"
    return {
        f"hidden{separator}fields": list(HIDDEN_FIELDS),
        "relabeling": dict(RELABELING),
        "placeholders": placeholders,
    }


def form_widgets() -> dict[str, Any]:
    """WTForms fields for the form of Airflow before 3.2, keyed by their form names.

    Only the field classes Airflow 2 accepts from a provider (string, integer, password, boolean: it drops
    a hook with a ``SelectField``) and Airflow 3.0 and 3.1 can stand in for without Flask (those, the
    ``Optional`` and ``any_of`` validators, the BS3 widgets): numbers of seconds are text fields, which the
    hook reads as numbers, and the API type is text on Airflow 2 (a select on 3.x, from ``any_of``), its
    help text naming the two values.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for extra in EXTRA_FIELDS:
        name = f"{FORM_PREFIX}{extra.name}"
        validators: list[Any] = [Optional()]
        if extra.kind == "choice":
            validators.append(any_of(list(extra.choices)))  # Airflow 3.0/3.1 turn it into a select
            # On the API type, which the form always posts (it has a default): Optional() ends the
            # chain of an empty field, clearing the errors found before it.
            validators.append(_KeyRequired())
        validators.append(_FormCheck(extra))  # Airflow 3.0/3.1's stand-ins skip what they do not know
        field_class = IntegerField if extra.kind == "integer" else StringField
        widgets[name] = field_class(
            lazy_gettext(extra.label),
            validators=validators,
            description=_described(extra),
            default=extra.default if extra.kind == "choice" else None,  # blank numbers: the default
            widget=BS3TextFieldWidget(),
        )
    return widgets


class _KeyRequired:
    """A WTForms validator (Airflow 2's form): refuse to save an ``openai_realtime`` connection without an
    API key. Airflow 2's form empties the API Key box whenever it refuses a Save, so fixing the flagged
    field and saving again would otherwise store a connection with no key."""

    message = (
        "The API Key box is empty: Airflow's form empties it whenever it refuses a Save. Type the key "
        "again, then Save."
    )

    def __call__(self, form: Any, field: Any) -> None:
        from wtforms.validators import ValidationError

        conn_type = getattr(getattr(form, "conn_type", None), "data", None)
        password = getattr(form, "password", None)
        if conn_type == CONN_TYPE and password is not None and not password.data:
            password.errors = [*getattr(password, "errors", ()), self.message]  # shown under the box
            raise ValidationError(self.message)


class _FormCheck:
    """A WTForms validator (Airflow 2's form): the hook's own check of the extra, its reason shown under
    the field, so the form never saves what the hook would refuse."""

    def __init__(self, extra: ExtraField) -> None:
        self.extra = extra

    def __call__(self, form: Any, field: Any) -> None:
        from wtforms.validators import ValidationError

        if field.data is None or field.data == "":
            return
        try:
            check_value(self.extra, field.data, self.extra.label)
        except ValueError as error:
            raise ValidationError(str(error)) from None
