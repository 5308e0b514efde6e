"""The OpenAI Realtime API's vocabulary and the one validation engine, as pure functions (no I/O, no Airflow).

Settings are described declaratively (:mod:`airflow_provider_realtime.kinds` holds every kind's
description) in a small language that mirrors JSON Schema: :class:`Text`, :class:`Integer`,
:class:`Number`, :class:`Flag`, :class:`Items`, :class:`Fields`, :class:`Tagged` (objects told apart by
their ``type``), :class:`Choice`, :class:`Nullable`, :class:`Json` and :class:`Mapped` (a value converted
on its way to the wire). :func:`validate` checks a value against a description and returns what goes on
the wire.

The validation rule, the same at every depth:

* an enum, range or type is checked only where a published OpenAI spec states it (the tests compare every
  description with both published specs), so a request the spec accepts is never refused;
* a near miss of a known key (``"treshold"``, ``"paramters"``) or of a known value (``"disable"``) is a
  typo, refused with a suggestion; a key of a sibling variant (``eagerness`` in ``server_vad``) is refused;
* any other unknown key is passed through, checked only to be JSON: fields OpenAI adds later work without
  a new release of this provider, and the server judges them. Model names are never checked;
* every mistake is a ``ValueError`` naming the field path, before anything is sent.

Tables of our own rather than pydantic or jsonschema: neither is installed with every Airflow this provider
supports, and the rule above (typo detection, pass-through, one error naming one path) is neither's.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

CLIENT_SECRETS: Final = "client_secrets"
TRANSCRIPTION_SESSIONS: Final = "transcription_sessions"
ENDPOINTS: Final = (CLIENT_SECRETS, TRANSCRIPTION_SESSIONS)  # those of transcription sessions
TRANSLATION_CLIENT_SECRETS: Final = "translations/client_secrets"
# Every endpoint that mints a client secret.
ENDPOINT_PATHS: Final = {
    CLIENT_SECRETS: "/realtime/client_secrets",
    TRANSCRIPTION_SESSIONS: "/realtime/transcription_sessions",
    TRANSLATION_CLIENT_SECRETS: "/realtime/translations/client_secrets",
}


MIN_LIFETIME_SECONDS: Final = 10
MAX_LIFETIME_SECONDS: Final = 7200

# Beta vocabulary <-> current format objects. pcm16 is 16-bit little-endian mono PCM at 24 kHz.
PCM_RATE: Final = 24000
FORMAT_TO_CURRENT: Final[dict[str, dict[str, Any]]] = {
    "pcm16": {"type": "audio/pcm", "rate": PCM_RATE},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
CURRENT_TYPE_TO_FORMAT: Final = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}

MAX_SETTINGS_DEPTH: Final = 32  # far beyond any real setting; deeper is a mistake or an attack
MAX_JSON_INTEGER: Final = 2**63 - 1
NEAR_MISS: Final = 0.8  # difflib ratio from which an unknown key or value is taken for a typo

_ABSENT: Final = object()


# --------------------------------------------------------------------------------------------------
# Messages. Values are echoed only when they are short scalars: settings never hold secrets, but a
# stray object's repr could be huge.
# --------------------------------------------------------------------------------------------------


def describe(value: Any) -> str:
    """A value as an error message may show it: short scalars as they are, anything else by its type."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_JSON_INTEGER:
        return "a very large integer"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a {len(value)}-character string"
    return f"a {type(value).__name__}"


class SettingsError(ValueError):
    """Every problem found in some settings at once, each a message naming its field path.

    One problem reads as that problem alone; several as a list, so a DAG's author fixes them in one go.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        if len(problems) == 1:
            super().__init__(problems[0])
        else:
            super().__init__(
                f"{len(problems)} problems:\n" + "\n".join(f"- {problem}" for problem in problems)
            )


def problems_of(error: ValueError) -> list[str]:
    """The problems ``error`` reports: a :class:`SettingsError`'s list, else its message."""
    return list(error.problems) if isinstance(error, SettingsError) else [str(error)]


def all_problems(checks: Iterable[Callable[[], Any]]) -> list[Any]:
    """Run every check; their results, or :class:`SettingsError` with every problem any of them found."""
    results, problems = [], []
    for check in checks:
        try:
            results.append(check())
        except ValueError as error:
            problems.extend(problems_of(error))
    if problems:
        raise SettingsError(problems)
    return results


def fail(path: str, expectation: str, value: Any = _ABSENT) -> ValueError:
    """``ValueError("<path> <expectation>, got <value>")``."""
    got = "" if value is _ABSENT else f", got {describe(value)}"
    return ValueError(f"{path} {expectation}{got}")


def _near_miss(word: str, known: Any) -> str | None:
    """The known value ``word`` is most likely a typo of, or None.

    Free text costs nothing here: difflib's ratio is at most ``2 * shorter / (both lengths)``, so a word
    much longer than every known one cannot reach the cutoff and is never handed to difflib.
    """
    if not known or len(word) > max(map(len, known)) * (2 - NEAR_MISS) / NEAR_MISS:
        return None
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=NEAR_MISS)
    return close[0] if close else None


def _misspelled_field(key: str, fields: Mapping[str, Any]) -> str | None:
    """The known field an unknown ``key`` is most likely a typo of, or None for a field of its own.

    A typo keeps the field's words but misspells one (``treshold``, ``silence_duraton_ms``), runs them
    together (``turndetection``) or drops one (``silence_duration``). A key that adds or changes a word
    (``prompt_id``, ``parallel_tools``) or is a known field in another number (``models``) may be a field
    OpenAI added since: it passes through for the server to judge.
    """
    close = _near_miss(key, fields)
    if close is None or key.rstrip("s") == close.rstrip("s"):
        return None
    words, known_words = key.split("_"), close.split("_")
    if key.replace("_", "") == close.replace("_", ""):
        return close  # words run together or split
    if len(words) < len(known_words):
        return close if all(word in known_words for word in words) else None  # a word dropped
    if len(words) != len(known_words):
        return None  # a word added
    changed = [(word, known) for word, known in zip(words, known_words, strict=True) if word != known]
    if len(changed) != 1:
        return None
    word, known_word = changed[0]
    return close if _edit_distance(word, known_word) <= (1 if len(known_word) <= 4 else 2) else None


def _edit_distance(first: str, second: str) -> int:
    """Insertions, deletions, substitutions and swaps of two neighbours that turn one word into the other."""
    before: list[int] = []
    row = list(range(len(second) + 1))
    for i, char in enumerate(first, 1):
        above, row = row, [i] + [0] * len(second)
        for j, other in enumerate(second, 1):
            row[j] = min(above[j] + 1, row[j - 1] + 1, above[j - 1] + (char != other))
            if i > 1 and j > 1 and char == second[j - 2] and first[i - 2] == other:
                row[j] = min(row[j], before[j - 2] + 1)
        before = above
    return row[-1]


def _bounds(low: float | None, high: float | None) -> str:
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    return f"{low}" if low == high else f"between {low} and {high}"


# --------------------------------------------------------------------------------------------------
# The description language. Each node checks a value and returns what goes on the wire; ``json_types``
# says which JSON types it takes (for Choice, and for the tests that compare it with the spec).
# --------------------------------------------------------------------------------------------------


class Node(Protocol):
    def check(self, value: Any, path: str) -> Any: ...

    def json_types(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Text:
    """A string. ``enum``: the values a published spec allows (others refused); ``known``: values this
    provider knows without a spec enum (only their near misses are refused)."""

    enum: tuple[str, ...] | None = None
    known: tuple[str, ...] = ()

    def check(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or (self.enum is not None and value not in self.enum):
            expected = "a string" if self.enum is None else f"one of {', '.join(self.enum)}"
            close = _near_miss(value, self.enum) if isinstance(value, str) and self.enum else None
            raise (
                fail(path, f"must be {expected}", value)
                if close is None
                else ValueError(f"{path} must be {expected}, got {describe(value)}; did you mean {close!r}?")
            )
        close = _near_miss(value, self.known) if value not in self.known else None
        if close is not None:
            raise ValueError(f"{path} is not a known value ({describe(value)}); did you mean {close!r}?")
        return value

    def json_types(self) -> frozenset[str]:
        return frozenset({"string"})


@dataclass(frozen=True)
class Integer:
    """A whole number (a bool is not one), within ``minimum``/``maximum`` where a spec states them."""

    minimum: int | None = None
    maximum: int | None = None

    def check(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(path, "must be an integer", value)
        too_low = self.minimum is not None and value < self.minimum
        if too_low or (self.maximum is not None and value > self.maximum):
            raise fail(path, f"must be {_bounds(self.minimum, self.maximum)}", value)
        if abs(value) > MAX_JSON_INTEGER:
            raise fail(path, "must be an integer within 64 bits", value)
        return value

    def json_types(self) -> frozenset[str]:
        return frozenset({"integer"})


@dataclass(frozen=True)
class Number:
    """A finite number, within ``minimum``/``maximum`` where a spec states them."""

    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(path, "must be a number", value)
        if isinstance(value, int) and abs(value) > MAX_JSON_INTEGER:
            raise fail(path, "must be an integer within 64 bits", value)
        if not math.isfinite(value):
            raise fail(path, "must be a finite number", value)
        too_low = self.minimum is not None and value < self.minimum
        if too_low or (self.maximum is not None and value > self.maximum):
            raise fail(path, f"must be {_bounds(self.minimum, self.maximum)}", value)
        return value

    def json_types(self) -> frozenset[str]:
        return frozenset({"number", "integer"})


@dataclass(frozen=True)
class Flag:
    """True or False: the text ``"false"`` is truthy and must not pass for False."""

    def check(self, value: Any, path: str) -> bool:
        return check_flag(value, path)

    def json_types(self) -> frozenset[str]:
        return frozenset({"boolean"})


@dataclass(frozen=True)
class Json:
    """Any JSON value, copied: where a spec states nothing this provider checks."""

    def check(self, value: Any, path: str) -> Any:
        return json_value(value, path)

    def json_types(self) -> frozenset[str]:
        return frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})


@dataclass(frozen=True)
class Items:
    """A list whose items are each ``item``."""

    item: Node

    def check(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise fail(path, "must be a list", value)
        return all_problems(
            functools.partial(validate, self.item, item, f"{path}[{index}]")
            for index, item in enumerate(value)
        )

    def json_types(self) -> frozenset[str]:
        return frozenset({"array"})


@dataclass(frozen=True)
class Fields:
    """An object of known fields. An unknown key passes through (its near misses refused) unless ``closed``.

    :param refused: keys refused with a reason, e.g. a beta name and where the setting lives now
        (``{path}`` in the reason is the object's path).
    """

    fields: Mapping[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    closed: bool = False
    refused: Mapping[str, str] = field(default_factory=dict)

    def check(self, value: Any, path: str, *, elsewhere: Mapping[str, str] | None = None) -> dict[str, Any]:
        """:param elsewhere: keys that belong to a sibling variant, with that variant's description."""
        settings = mapping(value, path)
        problems = [f"{path}.{key} is required" for key in self.required if key not in settings]
        checked: dict[str, Any] = {}
        for key, item in settings.items():
            try:
                checked[key] = self._check_one(key, item, path, elsewhere)
            except ValueError as error:
                problems.extend(problems_of(error))
        if problems:
            raise SettingsError(problems)
        return checked

    def _check_one(self, key: str, item: Any, path: str, elsewhere: Mapping[str, str] | None) -> Any:
        where = f"{path}.{key}"
        if key in self.fields:
            return validate(self.fields[key], item, where)
        if key in self.refused:
            raise ValueError(f"{where} {self.refused[key].format(path=path)}")
        if elsewhere and key in elsewhere:
            raise ValueError(f"{where} does not apply to {elsewhere[key]}")
        if self.closed:
            raise ValueError(f"{where} is not a known field; allowed: {', '.join(self.fields)}")
        close = _misspelled_field(key, self.fields)
        if close is not None:
            raise ValueError(
                f"{where} is not a known field; did you mean {path}.{close}? (A field OpenAI added "
                "since this release goes through extra_body, unchecked.)"
            )
        return json_value(item, where)

    def json_types(self) -> frozenset[str]:
        return frozenset({"object"})


@dataclass(frozen=True)
class Tagged:
    """Objects told apart by the value of ``tag`` (OpenAI's ``type``): one :class:`Fields` per value.

    :param default: the variant of an object without ``tag`` (the server's default), or None to require it.
    :param what: how messages name these objects (``turn detection``).
    """

    variants: Mapping[str, Fields]
    tag: str = "type"
    default: str | None = None
    what: str = "this object"

    def check(self, value: Any, path: str) -> dict[str, Any]:
        settings = mapping(value, path)
        if self.tag not in settings and self.default is None:
            raise ValueError(f"{path}.{self.tag} is required")
        name = Text(tuple(self.variants)).check(settings.get(self.tag, self.default), f"{path}.{self.tag}")
        elsewhere = {
            key: f"{self.what} of type {name}"
            for other in self.variants.values()
            for key in other.fields
            if key not in self.variants[name].fields
        }
        return self.variants[name].check(settings, path, elsewhere=elsewhere)

    def json_types(self) -> frozenset[str]:
        return frozenset({"object"})


@dataclass(frozen=True)
class Choice:
    """One of ``options``, picked by the JSON type of the value (at most one option per type)."""

    options: tuple[Node, ...]

    def check(self, value: Any, path: str) -> Any:
        kind = json_type(value)
        for option in self.options:
            if kind in option.json_types():
                return validate(option, value, path)
        names = sorted({name for option in self.options for name in option.json_types()})
        raise fail(path, f"must be {' or '.join(_A_TYPE.get(name, name) for name in names)}", value)

    def json_types(self) -> frozenset[str]:
        return frozenset().union(*(option.json_types() for option in self.options))


@dataclass(frozen=True)
class Nullable:
    """``node``, or null (sent as null: the server decides what it means, usually "off")."""

    node: Node

    def check(self, value: Any, path: str) -> Any:
        return None if value is None else validate(self.node, value, path)

    def json_types(self) -> frozenset[str]:
        return self.node.json_types() | {"null"}


@dataclass(frozen=True)
class Mapped:
    """``node``'s value converted on its way to the wire (a beta name to the current object).

    :param beyond_spec: accepts a form the spec of this place does not list (a convenience, such as
        the beta name of an audio format in the current shape): the spec comparison skips it.
    """

    node: Node
    convert: Callable[[Any], Any]
    beyond_spec: bool = False

    def check(self, value: Any, path: str) -> Any:
        return self.convert(validate(self.node, value, path))

    def json_types(self) -> frozenset[str]:
        return self.node.json_types()


_A_TYPE: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "True or False",
    "array": "a list",
    "object": "an object (dict)",
    "null": "null",
}


def validate(node: Node, value: Any, path: str) -> Any:
    """Check ``value`` against ``node`` and return what goes on the wire; ValueError naming the path."""
    if value is None and not isinstance(node, (Nullable, Json)):
        raise fail(path, "must not be null")
    return node.check(value, path)


def json_type(value: Any) -> str:
    """The JSON type of a Python value (``object`` for a mapping, ``array`` for a list or tuple)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    """``value`` if it is an object with string keys, else a ValueError naming ``path``."""
    if not isinstance(value, Mapping):
        raise fail(path, "must be an object (dict)", value)
    for key in value:
        if not isinstance(key, str):
            raise fail(path, "must have string keys", key)
    return value


def json_value(value: Any, path: str, ancestors: tuple[int, ...] = ()) -> Any:
    """Check that a pass-through value can go over the wire as JSON, and copy it.

    Refused: nesting deeper than ``MAX_SETTINGS_DEPTH``, a value that contains itself, integers beyond
    64 bits, non-finite floats and anything JSON cannot say.
    """
    kind = json_type(value)
    if kind in ("null", "string", "boolean"):
        return value
    if kind in ("integer", "number"):
        return Number().check(value, path)
    if kind not in ("object", "array"):
        raise fail(path, "must be JSON (object, list, string, number, boolean or null)", value)
    if id(value) in ancestors:
        raise ValueError(f"{path} contains itself")
    if len(ancestors) >= MAX_SETTINGS_DEPTH:
        raise ValueError(f"{path} is nested deeper than {MAX_SETTINGS_DEPTH} levels")
    inner = (*ancestors, id(value))
    if kind == "object":
        return {key: json_value(item, f"{path}.{key}", inner) for key, item in mapping(value, path).items()}
    return [json_value(item, f"{path}[{index}]", inner) for index, item in enumerate(value)]


# --------------------------------------------------------------------------------------------------
# Single parameters of the hook and operators.
# --------------------------------------------------------------------------------------------------


def check_flag(value: Any, name: str) -> bool:
    """Return ``value`` if it is a real bool: the text ``"false"`` is truthy and must not pass for False."""
    if not isinstance(value, bool):
        raise fail(name, "must be True or False", value)
    return value


def check_endpoint(endpoint: Any) -> str:
    """Return ``endpoint`` if it is one a transcription session can be minted at, else raise ValueError."""
    return Text(ENDPOINTS).check(endpoint, "endpoint")


def templated_integer(value: Any, path: str, *, low: int, high: int) -> int:
    """Check a whole number in ``low..high``; numeric strings (what Jinja templates render) are accepted."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,6}", value.strip()):  # ASCII digits, not "6²"
        value = int(value.strip())
    return Integer(low, high).check(value, path)


def validate_lifetime(value: Any, path: str) -> int:
    """Check a token lifetime in seconds (10..7200); numeric strings from Jinja templates are accepted."""
    return templated_integer(value, path, low=MIN_LIFETIME_SECONDS, high=MAX_LIFETIME_SECONDS)


def format_to_beta(value: Any) -> str | None:
    """An answer's audio format (current object, or the string some examples show) in beta vocabulary."""
    if isinstance(value, str):
        return value if value in FORMAT_TO_CURRENT else CURRENT_TYPE_TO_FORMAT.get(value, value)
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str):
            return CURRENT_TYPE_TO_FORMAT.get(kind, kind)
    return None


def as_object(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one (answers are read leniently)."""
    return value if isinstance(value, dict) else {}
