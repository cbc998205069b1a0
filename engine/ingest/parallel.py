"""Partitioned ingest: several worker processes, each owning the deals routed to it.

Scale-out in dealflow is partitioning by deal (DESIGN: Kafka partitions keyed by deal, several
workers, one store), and a big file is ingested the same way: the parent reads inputs and
routes each by a hash of its ``subject`` (an input without a readable subject goes to any
worker; it can only be rejected), so one deal's facts stay in order in one worker. Workers
decide and save batches on their own; the store keeps the guarantees across them (a fact id
seen by two workers at once hits the dedupe key and is decided again; see ``batch.py``).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from engine.errors import DealflowError
from engine.ingest.batch import Ingestor, RawInput
from engine.ingest.summary import IngestSummary

__all__ = ["ParallelIngest", "WorkerEngine", "route"]


class WorkerEngine(Protocol):
    """What a worker process needs: an ingestor on the store, and closing it."""

    @property
    def ingestor(self) -> Ingestor:
        """Decides and stores batches."""

    def close(self) -> None:
        """Release the store."""

_QUEUE_DEPTH = 4  # chunks in flight per worker: memory stays flat


def route(raw: bytes, partitions: int, fallback: int) -> int:
    """The partition of an input: by its ``subject``, else ``fallback`` (round robin)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return fallback % partitions
    subject = obj.get("subject") if isinstance(obj, dict) else None
    if isinstance(subject, str):
        return zlib.crc32(subject.encode()) % partitions
    return fallback % partitions


def _work(open_worker: Callable[[], WorkerEngine], inbox: Any, outbox: Any) -> None:
    # A spawned worker builds its own engine; nothing is shared.
    try:
        engine = open_worker()
        try:
            while True:
                chunk = inbox.get()
                if chunk is None:
                    break
                result = engine.ingestor.ingest([RawInput(r, o) for r, o in chunk])
                outbox.put(("batch", result.counts()))
        finally:
            engine.close()
        outbox.put(("done", None))
    except BaseException:
        outbox.put(("error", traceback.format_exc()))


@dataclass
class ParallelIngest:
    """Ingest an input stream with ``workers`` processes, ``batch_size`` facts per batch.

    ``open_worker`` opens a worker's engine; it must be picklable (spawned processes call
    it), e.g. ``Engine.worker_factory()``, and the store's tables must exist already.
    """

    open_worker: Callable[[], WorkerEngine]
    batch_size: int
    workers: int = 2

    def run(
        self,
        inputs: Iterable[tuple[bytes, str]],
        on_batch: Callable[[IngestSummary], None] | None = None,
    ) -> IngestSummary:
        """Route, ingest and wait; return the merged summary."""
        ctx = mp.get_context("spawn")
        outbox = ctx.Queue()
        inboxes = [ctx.Queue(maxsize=_QUEUE_DEPTH) for _ in range(self.workers)]
        procs = [ctx.Process(target=_work, args=(self.open_worker, inbox, outbox), daemon=True)
                 for inbox in inboxes]
        for proc in procs:
            proc.start()
        summary = IngestSummary()
        pending: list[list[tuple[bytes, str]]] = [[] for _ in range(self.workers)]
        size = self.batch_size
        done = 0

        def drain(block: bool) -> None:
            nonlocal done
            while True:
                try:
                    kind, payload = outbox.get(block=block, timeout=0.5 if block else None)
                except queue.Empty:
                    # A worker that finished (exit code 0) has sent its "done" already; one
                    # still starting may be silent for long. Only a worker that died, or all
                    # gone without every "done", is a failure.
                    died = any(p.exitcode not in (None, 0) for p in procs)
                    if block and done < len(procs) and (
                            died or not any(p.is_alive() for p in procs)):
                        crashed = [p.exitcode for p in procs]
                        raise DealflowError(
                            f"an ingest worker died (exit codes {crashed})") from None
                    return
                if kind == "batch":
                    summary.add(payload)
                    if on_batch is not None:
                        on_batch(summary)
                elif kind == "done":
                    done += 1
                else:
                    raise DealflowError(f"an ingest worker failed:\n{payload}")
                if block:
                    return

        def put(worker: int, chunk: list[tuple[bytes, str]]) -> None:
            while True:
                try:
                    inboxes[worker].put(chunk, timeout=0.2)
                    return
                except queue.Full:
                    drain(block=False)

        try:
            for number, (raw, origin) in enumerate(inputs):
                worker = route(raw, self.workers, number)
                pending[worker].append((raw, origin))
                if len(pending[worker]) >= size:
                    put(worker, pending[worker])
                    pending[worker] = []
                    drain(block=False)
            for worker, chunk in enumerate(pending):
                if chunk:
                    put(worker, chunk)
            for inbox in inboxes:
                inbox.put(None)
            while done < len(procs):
                drain(block=True)
        except BaseException:
            # A worker failed (or we were interrupted): do not wait for queues nobody reads.
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

