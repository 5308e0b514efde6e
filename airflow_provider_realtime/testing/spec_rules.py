"""The emulator's rulebook: each request body is checked against OpenAI's published request schema.

The schemas are OpenAI's OpenAPI documents shipped beside this module (``spec/``: 2026-08 for the current
endpoints, 2025-04-29 for the beta endpoint as it was while live), checked with ``jsonschema`` (which Airflow
itself depends on). They are read the way OpenAI's server behaves, which the documents leave implicit:

* an object whose properties the spec lists takes no others: OpenAI answers ``unknown_parameter``;
* ``nullable: true``, ``default: null`` or a description saying a value "can be set to `null`" let it be
  ``null``;
* a model name is a string here: the emulator judges names against its own list (every name the spec
  lists, and those it is told of), so an Azure deployment's name passes where the spec enumerates models.

Besides the document, one supplement, written in :data:`SUPPLEMENTS`: the beta endpoint's
``client_secret.expires_at`` (OpenAI's SDK types and API reference had it; the published spec of the
endpoint never did). What the document states only in prose (the turn detection threshold's 0.0-1.0, for
instance) is not checked here; OpenAI may refuse it.

The provider's own validation is not used, so the emulator stays an independent check of what the provider
sends. Errors are OpenAI's shape: a message, ``param`` as a dotted path (``tools[0].type``) and a ``code``
(``unknown_parameter``, ``missing_required_parameter``, ``invalid_type``, ``invalid_value``,
``integer_below_min_value`` …).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

SPEC_FOLDER: Final = Path(__file__).parent / "spec"
CURRENT_SPEC: Final = "openai-realtime-openapi.json"  # 2026-08
BETA_SPEC: Final = "openai-realtime-openapi-2025-04-29.json"  # while the beta endpoint was live

# The spec and request schema of each endpoint the emulator answers (paths under /v1).
REQUEST_SCHEMAS: Final = {
    "/v1/realtime/client_secrets": (CURRENT_SPEC, "RealtimeCreateClientSecretRequest"),
    "/v1/realtime/translations/client_secrets": (
        CURRENT_SPEC,
        "RealtimeTranslationClientSecretCreateRequest",
    ),
    "/v1/realtime/transcription_sessions": (BETA_SPEC, "RealtimeTranscriptionSessionCreateRequest"),
}

_LIFETIME: Final = {
    "type": "object",
    "properties": {
        "anchor": {"type": "string", "enum": ["created_at"]},
        "seconds": {"type": "integer", "minimum": 10, "maximum": 7200},
    },
}
# What OpenAI's beta endpoint took that its published schema does not state: (schema, property, schema).
SUPPLEMENTS: Final = (
    (
        "RealtimeTranscriptionSessionCreateRequest",
        "client_secret",
        {"type": "object", "properties": {"expires_at": _LIFETIME}},
    ),
)


class SpecViolation(Exception):
    """A request the published schema refuses, as OpenAI words it."""

    def __init__(self, message: str, param: str | None, code: str) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def check(path: str, body: Any) -> None:
    """Raise :class:`SpecViolation` if ``body`` is not a request the spec allows on ``path`` (under /v1)."""
    from jsonschema.exceptions import by_relevance

    errors = list(_validator(*REQUEST_SCHEMAS[path]).iter_errors(body))
    if errors:
        raise _violation(*_chosen_branch(max(errors, key=by_relevance())))


def _chosen_branch(error: Any) -> tuple[Any, list[Any]]:
    """The error to report, and what every form allows when none takes the value (or its JSON type).

    Where the spec offers several forms (``anyOf``/``oneOf``), the form a request meant is the one whose
    ``type`` it matches: its error is the one to report, as OpenAI does, not "none of the forms".
    """
    from jsonschema.exceptions import by_relevance

    while error.validator in ("anyOf", "oneOf") and error.context:
        meant = _forms_meant(error.context)
        if not meant:
            return _refused_by_every_form(error)
        error = max(meant, key=by_relevance())
    return error, []


def _forms_meant(errors: list[Any]) -> list[Any]:
    """The errors of the forms whose ``type`` (JSON type, and ``type`` member) the value matches."""
    forms: dict[Any, list[Any]] = {}
    for sub in errors:
        forms.setdefault(sub.relative_schema_path[0], []).append(sub)
    return [
        sub
        for form in forms.values()
        if not any(_on_type(sub) or (sub.validator == "type" and not sub.relative_path) for sub in form)
        for sub in form
    ]


def _on_type(error: Any) -> bool:
    return list(error.relative_path) == ["type"]


def _refused_by_every_form(error: Any) -> tuple[Any, list[Any]]:
    """One form's error, with the ``type`` values (or JSON types) all the forms take together."""
    on_type = [sub for sub in error.context if _on_type(sub) and sub.validator in ("enum", "const")]
    if on_type:
        return on_type[0], _union(sub.validator_value for sub in on_type)
    json_types = [sub for sub in error.context if sub.validator == "type" and not sub.relative_path]
    if json_types:
        return json_types[0], _union(sub.validator_value for sub in json_types)
    return error, []


def _union(values: Iterable[Any]) -> list[Any]:
    """The values of several ``enum``/``const``/``type`` keywords, each once, in order."""
    found: dict[Any, None] = {}
    for value in values:
        found.update(
            dict.fromkeys([value] if isinstance(value, str) or not isinstance(value, list) else value)
        )
    return list(found)


@functools.cache
def _validator(spec: str, schema_name: str) -> Any:
    from jsonschema import Draft202012Validator

    schemas = _schemas(spec)
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": {"schemas": schemas}}
    )


@functools.cache
def _schemas(spec: str) -> dict[str, Any]:
    """The spec's component schemas, read as OpenAI's server behaves (see the module's docstring)."""
    schemas: dict[str, Any] = copy.deepcopy(
        json.loads((SPEC_FOLDER / spec).read_text())["components"]["schemas"]
    )
    for schema_name, name, supplement in SUPPLEMENTS:
        if schema_name in schemas:
            schemas[schema_name]["properties"].setdefault(name, supplement)
    for schema in _subschemas(schemas):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        model = schema.get("properties", {}).get("model")
        if isinstance(model, dict) and "enum" in model:  # names are the emulator's list's to judge
            schema["properties"]["model"] = {"type": "string"}
    for key, schema in list(_members(schemas)):
        if isinstance(schema, dict) and _takes_null(schema):
            key[0][key[1]] = {
                "anyOf": [{k: v for k, v in schema.items() if k != "nullable"}, {"type": "null"}]
            }
    return schemas


def _takes_null(schema: dict[str, Any]) -> bool:
    """Whether the spec lets ``schema``'s value be null, in the schema or in its description's words."""
    if schema.get("nullable") or ("default" in schema and schema["default"] is None):
        return True
    description = schema.get("description")
    return isinstance(description, str) and "`null`" in description


def _subschemas(node: Any) -> Iterable[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


def _members(node: Any) -> Iterable[tuple[tuple[Any, Any], Any]]:
    """Every (container, key) and the value it holds, depth first, parents after children."""
    items: Iterable[tuple[Any, Any]] = (
        node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    )
    for key, value in list(items):
        yield from _members(value)
        yield (node, key), value


def _param(path: Iterable[Any]) -> str | None:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


def _joined(parent: Iterable[Any], key: str) -> str:
    base = _param(parent)
    return f"{base}.{key}" if base else key


_JSON_TYPES: Final = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a decimal",
    "boolean": "a boolean",
    "null": "null",
}


_VALUE_TYPES: Final = (  # bool before int: True is an int to Python, a boolean to JSON
    (type(None), "null"),
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a decimal"),
    (str, "a string"),
    (list, "an array"),
)


def _json_type(value: Any) -> str:
    """How OpenAI's messages name a value's JSON type."""
    return next((name for kind, name in _VALUE_TYPES if isinstance(value, kind)), "an object")


def _violation(error: Any, allowed: list[Any]) -> SpecViolation:
    """OpenAI's wording of one ``jsonschema`` error (``allowed``: what every form takes)."""
    where, kind, schema, value = list(error.absolute_path), error.validator, error.schema, error.instance
    if kind == "additionalProperties":
        unknown = _joined(where, sorted(set(value) - set(schema.get("properties", {})))[0])
        return SpecViolation(f"Unknown parameter: '{unknown}'.", unknown, "unknown_parameter")
    if kind == "required":
        missing = _joined(where, next(name for name in schema["required"] if name not in value))
        return SpecViolation(
            f"Missing required parameter: '{missing}'.", missing, "missing_required_parameter"
        )
    param = _param(where)
    if kind == "type":
        expected = " or ".join(
            _JSON_TYPES.get(name, name) for name in allowed or _union([error.validator_value])
        )
        message = f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead."
        return SpecViolation(message, param, "invalid_type")
    if kind in ("enum", "const"):
        listed = ", ".join(f"'{option}'" for option in allowed or _union([error.validator_value]))
        return SpecViolation(
            f"Invalid value: '{value}'. Supported values are: {listed}.", param, "invalid_value"
        )
    wording = _BOUNDS.get(kind)
    if wording is not None:
        return wording(param, value, error.validator_value, kind)
    return SpecViolation(
        f"Invalid value for '{param}': it is none of the forms the API takes.", param, "invalid_value"
    )


def _number_bound(param: str | None, value: Any, bound: Any, kind: str) -> SpecViolation:
    number = "integer" if isinstance(value, int) else "decimal"
    below = kind in ("minimum", "exclusiveMinimum")
    relation = (">" if below else "<") + ("" if kind.startswith("exclusive") else "=")
    return SpecViolation(
        f"Invalid '{param}': {number} {'below minimum' if below else 'above maximum'} value. Expected a "
        f"value {relation} {bound}, but got {value} instead.",
        param,
        f"{number}_{'below_min' if below else 'above_max'}_value",
    )


def _length_bound(param: str | None, value: Any, bound: Any, kind: str) -> SpecViolation:
    what = "array" if kind.endswith("Items") else "string"
    short = kind.startswith("min")
    return SpecViolation(
        f"Invalid '{param}': {what} too {'short' if short else 'long'}. Expected a length of "
        f"{'at least' if short else 'at most'} {bound}, but got {len(value)} instead.",
        param,
        f"{what}_{'below_min' if short else 'above_max'}_length",
    )


_BOUNDS: Final = {
    **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"), _number_bound),
    **dict.fromkeys(("minItems", "maxItems", "minLength", "maxLength"), _length_bound),
}
