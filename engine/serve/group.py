"""Group commit: concurrent HTTP batches decided and stored in one transaction.

A store transaction has a fixed cost (the commit, the dedupe lookup, loading aggregates), so
when several requests wait for the ingestor, the one that gets it takes every waiting
request (up to ``max_inputs`` inputs) and ingests them as one batch, in arrival order: the
same decisions as taking them one after the other, for one commit. Each request gets its
own outcomes back; the position returned covers the whole transaction (a later position
than its own events at worst, which is still right for read-your-writes).

The queue is bounded: a request holds its places (one per input) from before it waits for
a thread until it has its answer (:meth:`GroupCommitter.admitted`); when ``max_waiting``
inputs are already held, another request is refused at once (``OverloadedError``, HTTP 503
with ``Retry-After``) rather than queued, so overload costs neither unbounded memory nor
unbounded latency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from engine.errors import OverloadedError
from engine.ingest.batch import BatchResult, RawInput

__all__ = ["GroupCommitter"]

Ingest = Callable[[Sequence[RawInput]], BatchResult]


@dataclass
class _Ticket:
    inputs: Sequence[RawInput]
    result: BatchResult | None = None
    error: BaseException | None = None
    done: bool = False


class GroupCommitter:
    """Serializes ingestion (the ingestor is not thread-safe) and combines waiting batches."""

    def __init__(self, ingest: Ingest, *, max_inputs: int, max_waiting: int | None = None,
                 max_requests: int | None = None) -> None:
        """``ingest`` decides and stores one batch; ``max_inputs`` caps a combined batch;
        ``max_waiting`` caps the inputs admitted and not yet answered, ``max_requests`` the
        requests (None: no bound). A waiting request holds a server thread, so
        ``max_requests`` must stay below the thread pool's size: the rest of the pool
        authenticates, refuses and reads meanwhile."""
        self._ingest = ingest
        self.max_inputs = max_inputs
        self.max_waiting = max_waiting
        self.max_requests = max_requests
        self._admitted = 0
        self._requests = 0
        self._admit_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: list[_Ticket] = []
        self._busy = False

    @property
    def waiting(self) -> int:
        """Inputs admitted and not yet answered."""
        return self._admitted

    def full(self) -> str | None:
        """Why no request would be admitted now (checked before reading a body), or None."""
        if self.max_requests is not None and self._requests >= self.max_requests:
            return (f"{self._requests} requests are already waiting to be stored; the limit "
                    f"api_max_waiting_requests={self.max_requests} is reached; retry later")
        if self.max_waiting is not None and self._admitted >= self.max_waiting:
            return (f"{self._admitted} facts are already waiting to be stored; the limit "
                    f"api_max_waiting={self.max_waiting} is reached; retry later")
        return None

    @contextmanager
    def admitted(self, count: int) -> Iterator[None]:
        """Hold ``count`` places in the queue for the block; ``OverloadedError`` naming the
        limit if they would take it past ``max_waiting`` (a request alone in the queue is
        always admitted, whatever its size: batches have their own limit)."""
        with self._admit_lock:
            if self.max_requests is not None and self._requests >= self.max_requests:
                raise OverloadedError(self.full() or "overloaded")
            if (self.max_waiting is not None and self._admitted > 0
                    and self._admitted + count > self.max_waiting):
                raise OverloadedError(
                    f"{self._admitted} facts are already waiting to be stored; the limit "
                    f"api_max_waiting={self.max_waiting} is reached; retry later")
            self._admitted += count
            self._requests += 1
        try:
            yield
        finally:
            with self._admit_lock:
                self._admitted -= count
                self._requests -= 1

    def submit(self, inputs: Sequence[RawInput]) -> BatchResult:
        """Ingest ``inputs`` (possibly together with other waiting requests)."""
        ticket = _Ticket(inputs)
        with self._cond:
            self._queue.append(ticket)
        while True:
            with self._cond:
                while not ticket.done and self._busy:
                    self._cond.wait()
                if ticket.done:
                    return self._result(ticket)
                self._busy = True
                group = self._take()
            try:
                self._run(group)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _take(self) -> list[_Ticket]:
        """The waiting tickets, oldest first, up to ``max_inputs`` inputs (at least one)."""
        group: list[_Ticket] = []
        size = 0
        while self._queue:
            nxt = self._queue[0]
            if group and size + len(nxt.inputs) > self.max_inputs:
                break
            group.append(self._queue.pop(0))
            size += len(nxt.inputs)
        return group

    def _run(self, group: list[_Ticket]) -> None:
        try:
            combined = self._ingest([i for t in group for i in t.inputs])
        except BaseException as exc:  # every request of the group gets the failure
            for ticket in group:
                ticket.error = exc
                ticket.done = True
            return
        start = 0
        for ticket in group:
            end = start + len(ticket.inputs)
            ticket.result = BatchResult(outcomes=combined.outcomes[start:end],
                                        last_position=combined.last_position,
                                        events=combined.events)
            ticket.done = True
            start = end

    @staticmethod
    def _result(ticket: _Ticket) -> BatchResult:
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result
