"""One bulk mint: worker threads send the items, the caller's thread collects what each one ended as.

Workers are daemon threads, not a ``ThreadPoolExecutor``: an executor's threads are joined at interpreter
exit, so a request in flight would hold up a stopped task's end. Only the caller's thread calls back (and
may be interrupted); a stop, from it or from ``on_kill``, goes through the shared :class:`BatchGate`.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from airflow_provider_realtime.exceptions import RealtimeError, RealtimeStoppedError
from airflow_provider_realtime.retry import BatchGate

if TYPE_CHECKING:
    from airflow_provider_realtime.kinds import PreparedRequest

Minted = TypeVar("Minted")


class Batch(Generic[Minted]):
    """Mint every request of ``requests`` with ``mint(request, gate)``; each item ends as what ``mint``
    returned, or as the :class:`RealtimeError` it raised: one failure costs no other item its token.

    :param unusable: builds the error an item ends as when ``mint`` raised something unexpected.
    """

    def __init__(
        self,
        requests: Sequence[PreparedRequest],
        mint: Callable[[PreparedRequest, BatchGate], Minted],
        unusable: Callable[[PreparedRequest, Exception], RealtimeError],
    ) -> None:
        self.requests = requests
        self.gate = BatchGate()
        self._mint_one = mint
        self._unusable = unusable
        self._results: list[RealtimeError | Minted | None] = [None] * len(requests)
        self._next = itertools.count()  # next() on it is atomic: each item is taken by one worker
        self._finished: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._collected = 0

    def start(self, workers: int) -> None:
        for number in range(workers):
            threading.Thread(target=self._work, name=f"realtime-mint-{number}", daemon=True).start()

    def _work(self) -> None:
        while (index := next(self._next)) < len(self.requests):
            self._results[index] = self._mint(self.requests[index])
            self._finished.put(index)

    def _mint(self, request: PreparedRequest) -> RealtimeError | Minted:
        try:
            return self._mint_one(request, self.gate)
        except RealtimeError as error:
            return error
        except Exception as error:  # whatever one answer does, it ends as this item's error
            return self._unusable(request, error)

    def collect(
        self, on_result: Callable[[int, RealtimeError | Minted], None] | None, *, until: float | None
    ) -> None:
        """Hand each finished item to ``on_result`` until every item has ended (or ``until`` passes)."""
        while self._collected < len(self.requests):
            timeout = None if until is None else until - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            try:
                index = self._finished.get(timeout=timeout)
            except queue.Empty:
                return
            self._collected += 1
            result = self._results[index]
            if on_result is not None and result is not None:
                on_result(index, result)

    def results(self) -> list[RealtimeError | Minted]:
        return [result for result in self._results if result is not None]

    def tally(self) -> str:
        """How the items ended so far, e.g. ``3 minted, 1 failed, 6 not sent, 2 in flight``."""
        ended = [result for result in self._results if result is not None]
        errors = [result for result in ended if isinstance(result, RealtimeError)]
        not_sent = sum(isinstance(error, RealtimeStoppedError) and error.attempts == 0 for error in errors)
        text = f"{len(ended) - len(errors)} minted, {len(errors) - not_sent} failed, {not_sent} not sent"
        in_flight = len(self.requests) - len(ended)
        if in_flight:
            text += f", {in_flight} in flight (a token they mint expires unused)"
        if self.gate.stop_reason:
            text += f"; stopped: {self.gate.stop_reason}"
        return text
