"""Reading an answer: :class:`RealtimeResponse` from a transport answer, and what its JSON holds (the
token, an error's fields, the structured result).

Error answers are scrubbed of every credential here, before any code can quote them; a 2xx answer that
quotes the API key is refused whole (scrubbing it would hand back ``***`` where a token was).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_realtime import kinds
from airflow_provider_realtime.contract import TRANSCRIPTION_SESSIONS, as_object
from airflow_provider_realtime.exceptions import RealtimeMalformedResponseError
from airflow_provider_realtime.masking import scrub, scrub_json

if TYPE_CHECKING:
    from airflow_provider_realtime.transport import Answer


@dataclass(frozen=True)
class RealtimeResponse:
    """What the API answered: status, parsed JSON body (or text when not JSON), request id, attempts.

    The body may hold a client secret, so it is kept out of ``repr``.

    :param body_problem: why the body is not the JSON it should be (not JSON, cut off, too large),
        or None.
    """

    status: int
    body: Any = field(repr=False)
    request_id: str | None
    attempts: int
    endpoint: str
    body_problem: str | None = None
    request: kinds.PreparedRequest | None = field(default=None, repr=False)

    def structured(self, *, include_client_secret: bool = True) -> dict[str, Any]:
        """The answer as the operators' structured result (``client_secret``, ``expires_at``,
        ``session_id``, …), for the answer to a minting request (``create``, ``create_many``, ``post``)."""
        if self.request is None:
            raise ValueError("only the answer to a minting request has a structured result")
        return shape_result(
            self.request.kind, self.request.endpoint, self.body, include_client_secret=include_client_secret
        )


def read_answer(answer: Answer, label: str, attempt: int, secrets: tuple[str, ...]) -> RealtimeResponse:
    """Parse an answer's body strictly; scrub every credential from an error answer (and from any echo)."""
    from airflow_provider_realtime.transport import parse_json

    problem = answer.problem
    body: Any = ""
    if answer.content:
        try:
            body = parse_json(answer.content)
        except ValueError as error:
            problem = f"not usable JSON: {error}"
            body = answer.content.decode("utf-8", errors="replace")
    request_id = scrub(answer.request_id, secrets, limit=100)
    if answer.status < 400 and _echoes(answer.content, body, secrets):
        # Scrubbing would hand back "***" where the token was: such an answer is not used at all.
        raise RealtimeMalformedResponseError(
            "The answer quotes the API key, so it is not used (a token in it expires unused)",
            endpoint=label,
            status=answer.status,
            request_id=request_id,
            attempts=attempt,
        )
    if answer.status >= 400:
        body = scrub_json(body, secrets)
    return RealtimeResponse(
        status=answer.status,
        body=body,
        request_id=request_id,
        attempts=attempt,
        endpoint=label,
        body_problem=problem,
    )


def _echoes(content: bytes, body: Any, secrets: Iterable[str]) -> bool:
    """Whether the answer quotes one of ``secrets`` (without case): in its bytes, or in any string or key
    of its parsed JSON, where an escape (``\\u0073k-…``) spells it differently on the wire."""
    folded = [secret.lower() for secret in secrets if secret]
    if not folded:
        return False
    wire = content.lower()
    if any(secret.encode() in wire for secret in folded):
        return True
    pending = [body]
    while pending:  # parse_json bounded the depth; a stack rather than recursion all the same
        item = pending.pop()
        if isinstance(item, str):
            text = item.lower()
            if any(secret in text for secret in folded):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


# --------------------------------------------------------------------------------------------------
# Reading an answer's JSON: the token, an error's fields, the structured result. Lenient: whatever a
# server sends, these return (None where a field is missing), never raise.
# --------------------------------------------------------------------------------------------------


def extract_client_secret(endpoint: str, body: Any) -> tuple[str | None, Any]:
    """Return ``(token, expires_at)`` from a 2xx body of ``endpoint``; ``(None, None)`` when absent."""
    if not isinstance(body, dict):
        return None, None
    holder = body.get("client_secret") if endpoint == TRANSCRIPTION_SESSIONS else body
    if not isinstance(holder, dict):
        return None, None
    token = holder.get("value")
    return (token if isinstance(token, str) and token else None), holder.get("expires_at")


def missing_client_secret(endpoint: str, body: Any) -> str:
    """Name the answer field that should hold the client secret and does not: where to look first."""
    if endpoint != TRANSCRIPTION_SESSIONS:
        return "value"
    holder = body.get("client_secret") if isinstance(body, dict) else None
    return "client_secret.value" if isinstance(holder, dict) else "client_secret"


def iso_utc(timestamp: Any) -> str | None:
    """Unix seconds -> ISO-8601 UTC (``2026-11-24T10:00:00+00:00``); None for anything else."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat()


def redact_client_secret(endpoint: str, body: Any) -> Any:
    """Return a copy of a raw body with the token's value replaced by ``None`` (for XCom opt-out)."""
    if not isinstance(body, dict):
        return body
    copy = dict(body)
    if endpoint != TRANSCRIPTION_SESSIONS:
        if "value" in copy:
            copy["value"] = None
    elif isinstance(copy.get("client_secret"), dict):
        copy["client_secret"] = {**copy["client_secret"], "value": None}
    return copy


def parse_error(body: Any) -> dict[str, str | None]:
    """Read OpenAI's ``{"error": {message, type, param, code}}``; missing parts are None."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {"message": None, "type": None, "param": None, "code": None}
    return {
        key: (str(error[key]) if error.get(key) is not None else None)
        for key in ("message", "type", "param", "code")
    }


def _get(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = as_object(value).get(key)
    return value


def shape_result(
    kind: str, endpoint: str, body: Any, *, include_client_secret: bool = True
) -> dict[str, Any]:
    """Turn a 2xx answer into the structured result: the keys every kind shares, then the kind's own.

    A field the server did not send is ``None``; nothing is invented.
    """
    token, secret_expires_at = extract_client_secret(endpoint, body)
    # The beta endpoint answers with the session itself; the others hold it in "session".
    session = as_object(body if endpoint == TRANSCRIPTION_SESSIONS else as_object(body).get("session"))
    own = {}
    for key, where in kinds.KINDS[kind].result[endpoint].items():
        value = _get(session, where.path)
        own[key] = where.convert(value) if where.convert is not None and value is not None else value
    return {
        "client_secret": token if include_client_secret else None,
        "expires_at": iso_utc(secret_expires_at),
        "session_id": session.get("id"),
        "session_expires_at": iso_utc(session.get("expires_at")),
        "session_type": session.get("type"),
        **own,
        "endpoint": endpoint,
    }
