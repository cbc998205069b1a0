"""Ingesting a stream of batches in one process: each batch parsed, decided and stored in
turn, in one thread.

Deciding a batch needs the batches before it stored (the aggregates, the dedupe records and
the routing book it reads); parsing, validating and translating a batch into commands needs
nothing, and on a machine with idle cores helper processes do it ahead of the writer
(:mod:`engine.ingest.parallel`, chosen by ``default_workers``). Within one process it is
not done ahead: a second thread parsing the next batch while this one is decided and stored
cost more than it saved, because both need the interpreter lock and the store's work
(SQLite's statements, its commit) is mostly in this process too. Measured on 2 cores with
d9b6309's 60,462-line demo file, the whole command, interleaved rounds at load 1.0-1.3
(docs/operations.md, "Write path performance"): SQLite 15,875 against 14,637 lines/s with
the parsing thread, CPU 3.65 against 4.11 s (faster in every round kept); PostgreSQL 13,580
against 12,946 lines/s, client CPU 3.40 against 3.78 s (4 pairs: faster in
3, less CPU in 4).

Batches are decided one at a time, in order, each in one transaction, exactly as
``Ingestor.ingest`` decides them alone; an error in a batch is raised before the next batch
is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from engine.ingest.batch import BatchResult, Ingestor, RawInput
from engine.store import gc as store_gc

__all__ = ["ingest_stream"]


def ingest_stream(
    ingestor: Ingestor, batches: Iterable[Sequence[RawInput]]
) -> Iterator[BatchResult]:
    """Decide and store ``batches`` in order, yielding each batch's result."""
    # The collector stays off for the whole stream (each batch's ``ingest`` would turn it
    # back on after the batch, and it would then scan the next batch's parsed facts at
    # once), collecting between batches as ``engine.store.gc`` decides.
    with store_gc.batches():
        for batch in batches:
            yield ingestor.ingest(batch)
