"""One bulk mint: worker threads send the items, the caller's thread collects what each one ended as.

Workers are daemon threads, not a ``ThreadPoolExecutor``: an executor's threads are joined at interpreter
exit, so a request in flight would hold up a stopped task's end. Only the caller's thread calls back (and
may be interrupted); a stop, from it or from ``on_kill``, goes through the shared :class:`BatchGate`.
"""

from __future__ import annotations

import contextvars
import itertools
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar

from airflow_provider_realtime.exceptions import RealtimeError, RealtimeStoppedError
from airflow_provider_realtime.retry import RetryPolicy, server_requested_wait

if TYPE_CHECKING:
    from airflow_provider_realtime.kinds import PreparedRequest

Minted = TypeVar("Minted")
_WAKE = -1  # put in the queue of finished items to wake the collecting thread


class Pacing(Protocol):
    """What paces one request's attempts: the rules a batch shares between its requests, or none."""

    def before_attempt(self, label: str, attempt: int, outcome: str) -> None:
        """Wait until the request may be sent; raise :class:`RealtimeStoppedError` if it may not."""

    def after_failure(self, headers: Mapping[str, str], wait: float | None, policy: RetryPolicy) -> None:
        """Learn from an attempt that failed, and the wait before the next one (None: no next one)."""

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` before the next attempt; False when told to stop meanwhile."""


class Alone:
    """The pacing of a request on its own: nothing shared, a retry's wait slept through."""

    def before_attempt(self, label: str, attempt: int, outcome: str) -> None:
        return None

    def after_failure(self, headers: Mapping[str, str], wait: float | None, policy: RetryPolicy) -> None:
        return None

    def sleep(self, seconds: float) -> bool:
        time.sleep(seconds)
        return True


ALONE: Final = Alone()
# The pacing of the request this thread is sending: the batch's gate while a batch's worker sends one
# of its items, else a request alone. Set by the batch around each item: the request needs no parameter.
_PACING: Final[contextvars.ContextVar[Pacing]] = contextvars.ContextVar("realtime_pacing", default=ALONE)


def current_pacing() -> Pacing:
    """The pacing of the request this thread is sending (see :class:`Batch`)."""
    return _PACING.get()


class BatchGate:
    """What the concurrent requests of one batch share: a pause the server asked for, and a stop.

    When the server asks one request to wait (``retry-after``), none of them sends anything until that
    wait is over; without it, a 429 slows only the request that got it while the others go on hitting
    the limit. When the batch is stopped (the task was stopped, or the server asked for a wait longer
    than anyone will honour), no request starts any more, and every pause and retry wait ends at once.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep  # tests inject a fake clock's sleep; by default waits end when stopped
        self._until = 0.0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.stop_reason: str | None = None

    def hold(self, seconds: float) -> None:
        """Pause every request of the batch for ``seconds`` from now (a longer pause already set stays)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def stop(self, reason: str) -> None:
        """Send nothing more: the first reason given is kept; every wait ends at once."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if the batch is stopped meanwhile; False when it was stopped."""
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            self._stopped.wait(seconds)
        return not self.stopped

    def before_attempt(self, label: str, attempt: int, outcome: str) -> None:
        """Wait out a pause the batch is in; refuse to send once it is stopped."""
        self.wait()
        if self.stopped:
            raise RealtimeStoppedError(
                f"{outcome.capitalize()}, and not sent again: {self.stop_reason}"
                if attempt > 1
                else f"Not sent: {self.stop_reason}",
                endpoint=label,
                attempts=attempt - 1,
            )

    def after_failure(self, headers: Mapping[str, str], wait: float | None, policy: RetryPolicy) -> None:
        """A wait the server asked one request for holds the whole batch; one too long stops it."""
        requested = server_requested_wait(headers)
        if requested is None:
            return
        if wait is not None:
            self.hold(wait)
        elif requested > policy.retry_after_max:
            self.stop(
                f"the server asked for a wait of {requested:g} s, longer than retry_after_max "
                f"({policy.retry_after_max:g} s)"
            )

    def wait(self) -> float:
        """Wait until no pause holds (or the batch is stopped); return the seconds waited."""
        waited = 0.0
        while not self.stopped:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0:
                break
            self.sleep(remaining)
            waited += remaining
        return waited


class Batch(Generic[Minted]):
    """Mint every request of ``requests`` with ``mint(request, gate)``; each item ends as what ``mint``
    returned, or as the :class:`RealtimeError` it raised: one failure costs no other item its token.

    :param unusable: builds the error an item ends as when ``mint`` raised something unexpected.
    """

    def __init__(
        self,
        requests: Sequence[PreparedRequest],
        mint: Callable[[PreparedRequest], Minted],
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
        self.killed: str | None = None  # why the task was killed, once it was
        self._taken = 0  # items a worker has taken up (sent, or about to be)
        self._taking = threading.Lock()

    def kill(self, reason: str) -> None:
        """Stop the batch because the task is being killed: nothing more is sent, and :meth:`collect`
        waits only ``grace`` seconds more for the requests in flight.

        Safe from a signal handler in the collecting thread (Airflow 3 calls ``on_kill`` from its SIGTERM
        handler, and the task goes on where it was): it only sets state and wakes :meth:`collect`.
        """
        self.killed = reason
        self.gate.stop(reason)
        self._finished.put(_WAKE)

    def start(self, workers: int) -> None:
        for number in range(workers):
            threading.Thread(target=self._work, name=f"realtime-mint-{number}", daemon=True).start()

    def _work(self) -> None:
        while (index := next(self._next)) < len(self.requests):
            with self._taking:
                self._taken += 1
            self._results[index] = self._mint(self.requests[index])
            self._finished.put(index)

    def _mint(self, request: PreparedRequest) -> RealtimeError | Minted:
        """Mint one item as a request on its own would be, paced by this batch's gate."""
        paced = _PACING.set(self.gate)
        try:
            return self._mint_one(request)
        except RealtimeError as error:
            return error
        except Exception as error:  # whatever one answer does, it ends as this item's error
            return self._unusable(request, error)
        finally:
            _PACING.reset(paced)

    def collect(
        self,
        on_result: Callable[[int, RealtimeError | Minted], None] | None,
        *,
        until: float | None,
        grace: float,
    ) -> None:
        """Hand each finished item to ``on_result`` until every item has ended (or ``until`` passes, or
        ``grace`` seconds after the batch was killed)."""
        if self.killed is not None:
            until = _within(until, grace)
        while self._collected < len(self.requests):
            timeout = None if until is None else until - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            try:
                index = self._finished.get(timeout=timeout)
            except queue.Empty:
                return
            if index == _WAKE:
                until = _within(until, grace)
                continue
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
        never_taken = len(self.requests) - min(self._taken, len(self.requests)) if self.gate.stopped else 0
        minted, failed = len(ended) - len(errors), len(errors) - not_sent
        text = f"{minted} minted, {failed} failed, {not_sent + never_taken} not sent"
        in_flight = len(self.requests) - len(ended) - never_taken
        if in_flight:
            text += f", {in_flight} in flight (a token they mint expires unused)"
        if self.gate.stop_reason:
            text += f"; stopped: {self.gate.stop_reason}"
        return text


def _within(until: float | None, seconds: float) -> float:
    """``until``, or ``seconds`` from now if that comes first."""
    deadline = time.monotonic() + seconds
    return deadline if until is None else min(until, deadline)
