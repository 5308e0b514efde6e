"""When to retry a request and how long to wait: pure functions, so the rules are testable on their own.

The rules follow the official OpenAI SDK: connection errors, timeouts, 408, 409, 429 and 5xx are
retried; ``x-should-retry: true|false`` overrides the status rule; the server's ``retry-after-ms`` or
``Retry-After`` (seconds or an HTTP date) is honoured up to ``retry_after_max``; a server that asks for a
longer wait is not retried at all (Airflow's task retries are the tool for long waits). Otherwise the
wait is ``min(backoff_initial * 2**(retry-1), backoff_max)`` minus up to 25 % jitter.

urllib3's ``Retry`` was not enough: ``is_retry`` never sees response headers (so no ``x-should-retry``),
it ignores ``retry-after-ms``, waits nothing before the first retry, and its ``MaxRetryError`` loses the
attempt count that our error messages report.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

RETRYABLE_STATUSES: Final = frozenset({408, 409, 429})

DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_BACKOFF_INITIAL: Final = 0.5
DEFAULT_BACKOFF_MAX: Final = 8.0
DEFAULT_RETRY_AFTER_MAX: Final = 60.0
JITTER_FRACTION: Final = 0.25


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one request.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param backoff_initial: wait before the first retry, in seconds, when the server names none.
    :param backoff_max: the longest computed wait between two attempts.
    :param retry_after_max: the longest server-requested wait that is honoured; longer means give up.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_initial: float = DEFAULT_BACKOFF_INITIAL
    backoff_max: float = DEFAULT_BACKOFF_MAX
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX


def is_retryable_status(status: int, headers: Mapping[str, str]) -> bool:
    """Decide from the answer alone whether another attempt could succeed."""
    verdict = headers.get("x-should-retry", "").strip().lower()
    if verdict == "true":
        return True
    if verdict == "false":
        return False
    return status in RETRYABLE_STATUSES or status >= 500


def server_requested_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, else ``Retry-After``), or None.

    Anything unreadable (garbage, NaN, a date past the year 9999) counts as no request at all.
    """
    millis = _finite(headers.get("retry-after-ms"))
    if millis is not None:
        return max(millis / 1000.0, 0.0)
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(seconds, 0.0)
    import email.utils  # only HTTP-date waits need it; keeps the module cheap to import

    try:
        moment = email.utils.parsedate_tz(value)
        if moment is None:
            return None
        when = float(email.utils.mktime_tz(moment))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None
    wait = when - (time.time() if now is None else now)
    return max(wait, 0.0) if math.isfinite(wait) else None


def _finite(text: str | None) -> float | None:
    if not text or len(text) > 40:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def backoff_wait(retry_number: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Exponential wait before retry ``retry_number`` (1-based), capped, minus up to 25 % jitter."""
    base: float = min(policy.backoff_initial * 2 ** (retry_number - 1), policy.backoff_max)
    draw: float = (rng or random).random()
    return base * (1.0 - JITTER_FRACTION * draw)


def wait_before_retry(retry_number: int, headers: Mapping[str, str], policy: RetryPolicy) -> float | None:
    """How long to wait before retry ``retry_number``; None when the server asks for more than the cap."""
    requested = server_requested_wait(headers)
    if requested is not None:
        if requested > policy.retry_after_max:
            return None
        if requested > 0:
            return requested
    return backoff_wait(retry_number, policy)
