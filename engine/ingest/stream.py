"""Ingesting a stream of batches in one process: the next batch is parsed while the current
one is decided and stored.

Deciding a batch needs the batches before it stored (the aggregates, the dedupe records and
the routing book it reads), but parsing, validating and translating the next batch into
commands needs nothing: it runs in this thread while a second thread decides and stores the
current batch (the writer, which alone sets the pace on two cores, then spends nothing on
a fact before deciding it). SQLite
and psycopg release the interpreter lock while the database works (the statements, the
commit's fsync), so the parse of batch n+1 overlaps the store work of batch n on a second
core. Batches are still decided one at a time, in order, each in one transaction, exactly
as ``Ingestor.ingest`` decides them alone; an error in a batch is raised before the next
batch is decided.

While a stream runs, the interpreter is asked to switch threads every millisecond instead of
every 5 ms (:data:`SWITCH_INTERVAL`): the deciding thread releases the interpreter lock for
each statement and the commit, and on its return waited for the parsing thread to give the
lock back, up to a whole interval each time. On the 60,462-line d9b6309 demo file (in one
process, four interleaved pairs, load ~3) the stream took 5.11 s against 5.68 s (medians),
the CPU unchanged (4.88 against 5.06 s).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from engine.ingest.batch import BatchResult, Ingestor, Parsed, RawInput
from engine.store import gc as store_gc

__all__ = ["SWITCH_INTERVAL", "ingest_stream"]

#: Seconds between the interpreter's thread switches while a stream runs (Python's default
#: is 0.005); a longer interval already set is shortened, a shorter one kept.
SWITCH_INTERVAL = 0.001


def ingest_stream(
    ingestor: Ingestor, batches: Iterable[Sequence[RawInput]]
) -> Iterator[BatchResult]:
    """Decide and store ``batches`` in order, yielding each batch's result."""
    inputs = iter(batches)
    current = next(inputs, None)
    if current is None:
        return
    facts: list[Parsed] = ingestor.parse(current)
    commands = ingestor.translate(facts)
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, SWITCH_INTERVAL))
    try:
        # The collector stays off for the whole stream (each batch's ``ingest`` would turn
        # it back on after the batch, and it would then scan the next batch's parsed facts
        # at once), collecting between batches as ``engine.store.gc`` decides.
        with (store_gc.batches(),
              ThreadPoolExecutor(1, thread_name_prefix="dealflow-ingest") as decider):
            while current is not None:
                stored = decider.submit(ingestor.ingest, current, parsed=facts,
                                        commands=commands)
                following = next(inputs, None)
                if following is not None:
                    facts = ingestor.parse(following)
                    commands = ingestor.translate(facts)
                yield stored.result()
                current = following
    finally:
        sys.setswitchinterval(before)

