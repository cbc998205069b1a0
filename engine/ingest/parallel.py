"""Parallel ingest: helper processes parse and validate, one writer decides in line order.

Every fact is decided by ONE writer (this process) in the input's line order, whatever the
number of workers: routing (contract 1.1) reads and changes open loads, profiles and rule
cursors, which any ``deal.opened``, ``contract.signed``, ``deal.lost``, ``deal.reopened``,
``deal.reassigned`` or ``rep.profile_set`` changes, so deciding such facts in any other
order, or in two processes at once, could give other owners than one process gives. What
parallelises is the part that needs no state: decoding and validating each input against
the contract (pydantic), about a third of the work per fact. ``workers - 1`` spawned helpers
do it for batches ahead of the one being decided; their validated facts come back in order
and the writer decides and stores each batch in one transaction, exactly as
``Ingestor.ingest`` does alone. An input a helper refuses is parsed again by the writer, so
that its rejection is exactly the one-process rejection.

Memory stays flat: at most ``_QUEUE_DEPTH`` batches per helper are in flight.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.contract.envelope import Fact
from engine.errors import DealflowError
from engine.ingest.batch import Ingestor, RawInput
from engine.ingest.parsing import serve_parsing
from engine.ingest.summary import IngestSummary

__all__ = ["ParallelIngest", "default_workers"]

_QUEUE_DEPTH = 3  # batches in flight per helper
_BIG_INPUT = 4 * 2**20  # bytes: below this, a helper's start-up costs more than it saves


def default_workers(size: int, cores: int, load: float) -> int:
    """Processes for an input of ``size`` bytes on a machine of ``cores`` whose run queue
    is ``load`` (1-minute average): the writer alone unless more than two cores sit idle.

    A helper saves the writer the parse (~16 us per fact) but costs ~28 us per fact of
    pickling, and the writer's own work (SQLite's included) takes most of a core, so a
    helper is kept for a third idle core and beyond. Measured on 2 cores, whole command on
    the 60k-line demo file: one process 7,127 lines/s, two 5,091/s at load 1.3-2.4;
    9.9-13.4 s against 13.7-16.0 s at load 4-5 (docs/operations.md, "Write path
    performance"). Not measured on more cores.
    """
    if size <= _BIG_INPUT:
        return 1
    idle = int(cores - load)
    return 1 + max(0, min(3, idle - 2))


def _batches(inputs: Iterable[tuple[bytes, str]], size: int) -> Iterator[list[RawInput]]:
    batch: list[RawInput] = []
    for raw, origin in inputs:
        batch.append(RawInput(raw, origin))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class ParallelIngest:
    """Ingest an input stream with ``workers`` processes in all: this one decides and stores
    every batch of ``batch_size`` inputs in line order, ``workers - 1`` helpers parse and
    validate ahead of it (see the module docstring)."""

    ingestor: Ingestor
    batch_size: int
    workers: int = 2

    def run(
        self,
        inputs: Iterable[tuple[bytes, str]],
        on_batch: Callable[[IngestSummary], None] | None = None,
    ) -> IngestSummary:
        """Parse in the helpers, decide and store here, in order; return the summary."""
        helpers = max(1, self.workers - 1)
        ctx = mp.get_context("spawn")
        outbox: Any = ctx.Queue()
        inboxes: list[Any] = [ctx.Queue() for _ in range(helpers)]
        procs = [ctx.Process(target=serve_parsing, args=(inbox, outbox, self.ingestor.limits),
                             daemon=True)
                 for inbox in inboxes]
        for proc in procs:
            proc.start()
        summary = IngestSummary()
        waiting: dict[int, list[RawInput]] = {}  # sent to a helper, not yet stored
        parsed: dict[int, list[Fact | None]] = {}
        stored = 0  # the next batch to decide, in line order

        def receive() -> None:
            while True:
                try:
                    kind, sequence, payload = outbox.get(timeout=0.5)
                except queue.Empty:
                    codes = [p.exitcode for p in procs]
                    if any(c not in (None, 0) for c in codes) or None not in codes:
                        raise DealflowError(
                            f"an ingest helper died (exit codes {codes})") from None
                    continue
                if kind == "error":
                    raise DealflowError(f"an ingest helper failed:\n{payload}")
                parsed[sequence] = payload
                return

        def store_ready() -> None:
            nonlocal stored
            while stored in parsed:
                batch = waiting.pop(stored)
                result = self.ingestor.ingest(batch, parsed=parsed.pop(stored))
                summary.add(result.counts())
                if on_batch is not None:
                    on_batch(summary)
                stored += 1

        try:
            for sequence, batch in enumerate(_batches(inputs, self.batch_size)):
                inboxes[sequence % helpers].put((sequence, [item.raw for item in batch]))
                waiting[sequence] = batch
                while len(waiting) >= helpers * _QUEUE_DEPTH:
                    if stored not in parsed:
                        receive()
                    store_ready()
            for inbox in inboxes:
                inbox.put(None)
            while waiting:
                if stored not in parsed:
                    receive()
                store_ready()
        except BaseException:
            # A helper failed (or we were interrupted): do not wait for queues nobody reads.
            for inbox in inboxes:
                inbox.cancel_join_thread()
            for proc in procs:
                proc.kill()
            raise
        finally:
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():  # pragma: no cover - only after a failure above
                    proc.kill()
        return summary
