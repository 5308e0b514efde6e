"""What the API answered, as the hook hands it out: :class:`RealtimeResponse`, read from a transport answer.

Error answers are scrubbed of every credential here, before any code can quote them; a 2xx answer that
quotes the API key is refused whole (scrubbing it would hand back ``***`` where a token was).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_realtime import kinds
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
        return kinds.shape_result(
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
