"""Every check the settings descriptions make is one a published OpenAI spec states, and no narrower.

The descriptions (``kinds.py``) are walked side by side with the request schemas of both published specs
(``tests/spec``: 2025-04-29, while the beta endpoint was live, and 2026-08): for each endpoint, the specs
that describe a place are its authority. An enum is checked only where every such spec states one, and
holds every value any of them allows; a range only where each states a bound, and no tighter; a type only
where a spec states it; a required key only where a spec requires it; an object is closed only where the
spec says ``additionalProperties: false``. What the provider checks beyond the specs is listed below, each
with its reason, so a new one cannot slip in unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_realtime import contract, kinds
from airflow_provider_realtime.testing.emulator import SPEC_FOLDER

pytestmark = pytest.mark.version_independent

SPECS = {
    version: json.loads((SPEC_FOLDER / name).read_text())
    for version, name in (
        ("2025-04-29", "openai-realtime-openapi-2025-04-29.json"),
        ("2026-08", "openai-realtime-openapi.json"),
    )
}

# (description, [(spec version, schema name)]) for each endpoint's settings.
DESCRIBED = {
    "transcription, current endpoint": (
        kinds.TRANSCRIPTION_CURRENT,
        [("2026-08", "RealtimeTranscriptionSessionCreateRequestGA")],
    ),
    "transcription, beta endpoint": (
        kinds.TRANSCRIPTION_BETA,
        [
            ("2025-04-29", "RealtimeTranscriptionSessionCreateRequest"),
            ("2026-08", "RealtimeTranscriptionSessionCreateRequest"),
        ],
    ),
    "realtime": (kinds.REALTIME_SETTINGS, [("2026-08", "RealtimeSessionCreateRequestGA")]),
    "translation": (kinds.TRANSLATION_SETTINGS, [("2026-08", "RealtimeTranslationSessionCreateRequest")]),
}

# Checks beyond the specs, by (description, path): each is the provider's own, on purpose.
BEYOND_SPEC = {
    # The beta shape's lifetime: OpenAI's SDK types had it, no published spec of the endpoint does.
    ("transcription, beta endpoint", "client_secret"),
    ("transcription, beta endpoint", "client_secret.expires_at"),
    ("transcription, beta endpoint", "client_secret.expires_at.anchor"),
    ("transcription, beta endpoint", "client_secret.expires_at.seconds"),
}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The concrete schemas ``schema`` allows: $refs followed, anyOf/oneOf/allOf flattened."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from _resolve(spec["components"]["schemas"][name], spec)
        return
    branches = [branch for key in ("anyOf", "oneOf", "allOf") for branch in schema.get(key, [])]
    if branches:
        for branch in branches:
            yield from _resolve(branch, spec)
        if not any(key in schema for key in ("type", "enum", "properties", "items", "const")):
            return
    yield schema


def _at(version: str, schema_name: str, path: tuple[str, ...]) -> list[dict[str, Any]]:
    """The spec's concrete schemas at ``path`` ("[]" for a list's items); [] where it describes nothing."""
    spec = SPECS[version]
    found = list(_resolve(spec["components"]["schemas"][schema_name], spec))
    for key in path:
        below: list[dict[str, Any]] = []
        for schema in found:
            child = schema.get("items") if key == "[]" else schema.get("properties", {}).get(key)
            if child is not None:
                below.extend(_resolve(child, spec))
        found = below
    return found


def _types(schema: dict[str, Any]) -> set[str]:
    if "type" in schema:
        declared = schema["type"]
        return set(declared) if isinstance(declared, list) else {declared}
    if "items" in schema:
        return {"array"}
    if "properties" in schema:
        return {"object"}
    if "const" in schema or "enum" in schema:
        return {JSON_TYPES[type(value)] for value in _enum(schema) or []}
    return set()  # anything


JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _enum(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return schema.get("enum")


Check = tuple[tuple[str, ...], str, Any]


def _checks(node: Any, path: tuple[str, ...]) -> Iterator[Check]:
    """Every check a description makes: (path, what, detail)."""
    walk = _WALKS.get(type(node))
    if walk is None:  # Number's walk serves Integer too
        walk = next((found for kind, found in _WALKS.items() if isinstance(node, kind)), None)
    if walk is not None:
        yield from walk(node, path)


def _through(node: Any, path: tuple[str, ...]) -> Iterator[Check]:
    inner = getattr(node, "node", None)
    if inner is not None and not getattr(node, "beyond_spec", False):
        yield from _checks(inner, path)


def _choice(node: contract.Choice, path: tuple[str, ...]) -> Iterator[Check]:
    for option in node.options:
        yield from _checks(option, path)


def _tagged(node: contract.Tagged, path: tuple[str, ...]) -> Iterator[Check]:
    if node.default is None:
        yield path, "required", node.tag
    yield (*path, node.tag), "enum", set(node.variants)  # each variant's own tag: one of them
    for variant in node.variants.values():
        untagged = {key: child for key, child in variant.fields.items() if key != node.tag}
        yield from _checks(contract.Fields(untagged, variant.required, variant.closed), path)


def _fields(node: contract.Fields, path: tuple[str, ...]) -> Iterator[Check]:
    yield path, "type", "object"
    for key in node.required:
        yield path, "required", key
    if node.closed:
        yield path, "closed", None
    for key, child in node.fields.items():
        yield from _checks(child, (*path, key))


def _items(node: contract.Items, path: tuple[str, ...]) -> Iterator[Check]:
    yield path, "type", "array"
    yield from _checks(node.item, (*path, "[]"))


def _text(node: contract.Text, path: tuple[str, ...]) -> Iterator[Check]:
    yield path, "type", "string"
    if node.enum is not None:
        yield path, "enum", set(node.enum)


def _number(node: contract.Integer | contract.Number, path: tuple[str, ...]) -> Iterator[Check]:
    yield path, "type", "integer" if isinstance(node, contract.Integer) else "number"
    if node.minimum is not None:
        yield path, "minimum", node.minimum
    if node.maximum is not None:
        yield path, "maximum", node.maximum


def _flag(node: contract.Flag, path: tuple[str, ...]) -> Iterator[Check]:
    yield path, "type", "boolean"


_WALKS: dict[type, Any] = {
    contract.Nullable: _through,
    contract.Mapped: _through,
    contract.Choice: _choice,
    contract.Tagged: _tagged,
    contract.Fields: _fields,
    contract.Items: _items,
    contract.Text: _text,
    contract.Integer: _number,
    contract.Number: _number,
    contract.Flag: _flag,
}


def _problem(what: str, detail: Any, places: list[list[dict[str, Any]]]) -> str | None:
    """Why a check is not one the specs state (``places``: per describing spec, its schemas there)."""
    judge = _JUDGES.get(what)
    if judge is None:
        raise AssertionError(what)
    return judge(detail, places, what)


def _every(places: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [schema for schemas in places for schema in schemas]


def _type_problem(detail: Any, places: list[list[dict[str, Any]]], what: str) -> str | None:
    stated = [_types(schema) for schema in _every(places)]
    if any(not types for types in stated):
        return None  # a spec allows any type here
    union = set().union(*stated)
    # A number where the spec says integer is looser, never the other way round.
    return None if detail in union or (detail == "number" and "integer" in union) else f"spec types {union}"


def _enum_problem(detail: Any, places: list[list[dict[str, Any]]], what: str) -> str | None:
    every = _every(places)
    if any(_enum(schema) is None and "string" in (_types(schema) or {"string"}) for schema in every):
        return "a spec allows any string here"
    allowed = {value for schema in every for value in _enum(schema) or []}
    return None if allowed <= detail else f"misses {sorted(allowed - detail)}"


def _bound_problem(detail: Any, places: list[list[dict[str, Any]]], what: str) -> str | None:
    numeric = [schema for schema in _every(places) if _types(schema) & {"integer", "number"}]
    bounds = [schema.get(what, (_enum(schema) or [None])[0]) for schema in numeric]
    if not bounds or any(bound is None for bound in bounds):
        return f"a spec states no {what} here"
    loosest = min(bounds) if what == "minimum" else max(bounds)
    tighter = detail > loosest if what == "minimum" else detail < loosest
    return f"tighter than the spec's {loosest}" if tighter else None


def _required_problem(detail: Any, places: list[list[dict[str, Any]]], what: str) -> str | None:
    if all(any(detail in schema.get("required", []) for schema in schemas) for schemas in places):
        return None
    return "no spec requires it"


def _closed_problem(detail: Any, places: list[list[dict[str, Any]]], what: str) -> str | None:
    objects = [schema for schema in _every(places) if "object" in _types(schema)]
    return (
        None if all(schema.get("additionalProperties") is False for schema in objects) else "the spec is open"
    )


_JUDGES = {
    "type": _type_problem,
    "enum": _enum_problem,
    "minimum": _bound_problem,
    "maximum": _bound_problem,
    "required": _required_problem,
    "closed": _closed_problem,
}


@pytest.mark.parametrize("described", DESCRIBED)
def test_every_check_is_one_a_published_spec_states(described: str) -> None:
    description, schemas = DESCRIBED[described]
    problems = []
    for path, what, detail in _checks(description, ()):
        places = [found for version, name in schemas if (found := _at(version, name, path))]
        where = ".".join(path).replace(".[]", "[]") or "session"
        if (described, where) in BEYOND_SPEC:
            continue
        if not places:
            problems.append(f"{where}: no spec describes this place")
            continue
        problem = _problem(what, detail, places)
        if problem is not None:
            problems.append(f"{where}: {what} {detail!r}: {problem}")
    assert problems == []


def test_every_beyond_spec_entry_is_still_used() -> None:
    used = {
        (described, ".".join(path).replace(".[]", "[]"))
        for described, (description, _) in DESCRIBED.items()
        for path, _, _ in _checks(description, ())
    }
    assert used >= BEYOND_SPEC


def test_the_lifetime_range_is_the_specs() -> None:
    spec = SPECS["2026-08"]["components"]["schemas"]["RealtimeCreateClientSecretRequest"]
    seconds = spec["properties"]["expires_after"]["properties"]["seconds"]
    assert (seconds["minimum"], seconds["maximum"]) == (
        contract.MIN_LIFETIME_SECONDS,
        contract.MAX_LIFETIME_SECONDS,
    )


def _samples(version: str, name: str) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) for every enum value and every stated bound in a spec's request schema."""
    spec = SPECS[version]

    def walk(
        schema: dict[str, Any], path: tuple[str, ...], depth: int
    ) -> Iterator[tuple[tuple[str, ...], Any]]:
        if depth > 6:
            return
        for concrete in _resolve(schema, spec):
            for value in _enum(concrete) or []:
                yield path, value
            for bound in ("minimum", "maximum"):
                if bound in concrete:
                    yield path, concrete[bound]
            for key, child in concrete.get("properties", {}).items():
                yield from walk(child, (*path, key), depth + 1)
            if "items" in concrete:
                yield from walk(concrete["items"], (*path, "[]"), depth + 1)

    yield from walk(spec["components"]["schemas"][name], (), 0)


SIBLINGS_NEEDED: dict[Any, dict[str, Any]] = {  # what a value needs beside it: its variant, a required key
    "eagerness": {"type": "semantic_vad"},
    "connector_id": {"type": "mcp", "server_label": "s"},
    "allowed_callers": {"type": "mcp", "server_label": "s"},
    "require_approval": {"type": "mcp", "server_label": "s"},
    "retention_ratio": {"type": "retention_ratio"},
    "token_limits": {"type": "retention_ratio", "retention_ratio": 0.5},
    "rate": {"type": "audio/pcm"},
    ("type", "mcp"): {"server_label": "s"},
    ("type", "function"): {"name": "f"},
    ("type", "retention_ratio"): {"retention_ratio": 0.5},
}


def _place(path: tuple[str, ...], value: Any) -> Any:
    """``value`` at ``path``, each object on the way given the siblings its variant needs."""
    if not path:
        return value
    key, below = path[0], path[1:]
    if key == "[]":
        return [_place(below, value)]
    holder = {key: _place(below, value)}
    needed = {**SIBLINGS_NEEDED.get(key, {}), **(SIBLINGS_NEEDED.get((key, value), {}) if not below else {})}
    for name, wanted in needed.items():
        holder.setdefault(name, wanted)
    return holder


@pytest.mark.parametrize("described", DESCRIBED)
def test_every_value_and_bound_a_spec_allows_is_accepted(described: str) -> None:
    """End to end through ``prepare``: each enum value and each stated bound, in the smallest settings."""
    kind = {"realtime": "realtime", "translation": "translation"}.get(described, "transcription")
    endpoint = contract.TRANSCRIPTION_SESSIONS if "beta" in described else None
    tried = 0
    for version, name in DESCRIBED[described][1]:
        for path, value in _samples(version, name):
            settings = _place(path, value)
            if kind == "translation":
                settings.setdefault("model", "m")
            kinds.prepare(kind, settings, None, endpoint)
            tried += 1
    assert tried > 1
