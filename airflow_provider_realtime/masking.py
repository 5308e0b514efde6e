"""Register minted tokens with Airflow's secret masker at a constant cost per token.

``airflow.sdk.log.mask_secret`` recompiles one regular expression made of every secret seen so far each
time a new one is added: minting tokens in bulk in one process becomes quadratic (measured: 27 ms per
token after only 1,000 tokens). Ephemeral tokens have a recognisable shape (``ek_`` + URL-safe
characters), so in this process one pattern for that shape is registered once and covers every token.
Inside a running task the supervisor process writes the task log and masks it, so each token is also
sent to it exactly as ``mask_secret`` would. A token of any other shape goes through ``mask_secret``.
"""

from __future__ import annotations

import contextlib
import re
import sys
from typing import Final

# The masker joins its patterns with "|", so this must be a self-contained alternative.
TOKEN_PATTERN: Final = r"ek_[A-Za-z0-9_\-]{8,}"  # noqa: S105 - a pattern, not a password
TOKEN_SHAPE: Final = re.compile(TOKEN_PATTERN)


def mask_token(token: str) -> None:
    """Make ``token`` appear as ``***`` in task logs and rendered fields from now on."""
    from airflow.sdk.log import mask_secret

    if not TOKEN_SHAPE.fullmatch(token):
        mask_secret(token)
        return
    try:
        from airflow.sdk._shared.secrets_masker import _secrets_masker

        masker = _secrets_masker()
        if TOKEN_PATTERN not in masker.patterns:
            masker.patterns.add(TOKEN_PATTERN)
            masker.replacer = re.compile("|".join(masker.patterns))
    except (ImportError, AttributeError):  # another Airflow layout: the public, slower path
        mask_secret(token)
        return
    _tell_supervisor(token)


def _tell_supervisor(token: str) -> None:
    """Send the token to the task supervisor, which masks the log file it writes."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None:
        return
    # As airflow.sdk.log.mask_secret does: a supervisor that cannot take the message must not fail the task.
    with contextlib.suppress(Exception):
        from airflow.sdk.execution_time.comms import MaskSecret

        comms.send(MaskSecret(value=token, name=None))


_KEY_OR_TOKEN = re.compile(r"\b(?:sk-|ek_)[^\s'\",]*")


def scrub(text: str | None) -> str | None:
    """Replace anything shaped like an API key (``sk-…``) or token (``ek_…``) in a server's message.

    OpenAI's 401 message quotes the start and end of the key it was given.
    """
    return None if text is None else _KEY_OR_TOKEN.sub("***", text)
