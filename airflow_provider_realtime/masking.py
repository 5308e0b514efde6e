"""Keep tokens and keys out of logs: register minted tokens with Airflow's masker at a constant cost per
token, and scrub what servers say before it is quoted.

Airflow's ``mask_secret`` recompiles one regular expression made of every secret seen so far each time
a new one is added: minting tokens in bulk in one process becomes quadratic (measured: 27 ms per token
after only 1,000 tokens). Ephemeral tokens have a recognisable shape (``ek_`` + at least 16 URL-safe
characters, starting at a word boundary), so one pattern for that shape is registered once per process
and covers every token. A token of any other shape goes through ``mask_secret``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any, Final

from airflow_provider_realtime import compat

# The masker joins its patterns with "|", so this must be a self-contained alternative, and RE2 (which
# Airflow 2 may compile it with) has no look-arounds: \b keeps "seek_position_value" unmasked.
TOKEN_PATTERN: Final = r"\bek_[A-Za-z0-9_\-]{16,}"  # noqa: S105 - a pattern, not a password
TOKEN_SHAPE: Final = re.compile(TOKEN_PATTERN)


def mask_token(token: str) -> None:
    """Make ``token`` appear as ``***`` in task logs and rendered fields from now on."""
    if not TOKEN_SHAPE.fullmatch(token) or not _shape_registered():
        compat.mask_secret(token)
        return
    compat.tell_supervisor(token)


def _shape_registered() -> bool:
    """Add the token pattern to this process's masker (once); False where the masker is not as expected."""
    try:
        masker = compat.secrets_masker()
        patterns = masker.patterns
        if TOKEN_PATTERN not in patterns:
            patterns.add(TOKEN_PATTERN)
            masker.replacer = re.compile("|".join(patterns))
    except AttributeError:  # another Airflow layout: the public, slower path
        return False
    return True


# Anything shaped like an OpenAI key (sk-…) or ephemeral token (ek_…), in any case.
_KEY_OR_TOKEN_SHAPE: Final = re.compile(r"(?i)\b(?:sk-|ek_)[^\s'\",]*")
# Prefixes every OpenAI key shares: not secret, so not a fragment worth hiding.
_PUBLIC_KEY_PREFIX: Final = re.compile(r"(?i)^(?:sk-(?:proj-|svcacct-|admin-)?|ek_)")
FRAGMENT_LENGTH: Final = 4  # OpenAI's 401 quotes a key's last four characters
MAX_QUOTED_CHARS: Final = 500  # how much of a server's message an exception quotes


def scrub(
    text: str | None, secrets: Iterable[str] = (), *, limit: int | None = MAX_QUOTED_CHARS
) -> str | None:
    """Return a server's ``text`` fit to quote: no key or token, nor any fragment of ``secrets``.

    Replaces anything shaped like a key (``sk-…``) or token (``ek_…``), in any case, and every run of
    text that shares ``FRAGMENT_LENGTH`` or more characters with one of ``secrets`` (the credentials
    actually sent, whatever their shape: an Azure key has no prefix), compared without case. ``limit``
    cuts the text first, so a hostile server cannot make an exception message huge.
    """
    if text is None:
        return None
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    text = _KEY_OR_TOKEN_SHAPE.sub("***", text)
    grams = _fragments(tuple(secrets))
    if not grams or len(text) < FRAGMENT_LENGTH:
        return text
    folded = text.lower()
    hidden = bytearray(len(text))
    for start in range(len(text) - FRAGMENT_LENGTH + 1):
        if folded[start : start + FRAGMENT_LENGTH] in grams:
            hidden[start : start + FRAGMENT_LENGTH] = b"\x01" * FRAGMENT_LENGTH
    if not any(hidden):
        return text
    pieces: list[str] = []
    for index, char in enumerate(text):
        if not hidden[index]:
            pieces.append(char)
        elif index == 0 or not hidden[index - 1]:
            pieces.append("***")
    return "".join(pieces)


def scrub_json(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Return a copy of a parsed JSON answer with :func:`scrub` applied to every string in it.

    The answer has passed ``transport.parse_json`` (bounded depth), so recursion is safe here.
    """
    secrets = tuple(secrets)
    if isinstance(value, str):
        return scrub(value, secrets, limit=None)
    if isinstance(value, dict):
        return {
            scrub(str(key), secrets, limit=None): scrub_json(item, secrets) for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub_json(item, secrets) for item in value]
    return value


@functools.lru_cache(maxsize=16)
def _fragments(secrets: tuple[str, ...]) -> frozenset[str]:
    grams: set[str] = set()
    for secret in secrets:
        private = _PUBLIC_KEY_PREFIX.sub("", secret).lower()
        grams.update(private[i : i + FRAGMENT_LENGTH] for i in range(len(private) - FRAGMENT_LENGTH + 1))
    return frozenset(grams)
