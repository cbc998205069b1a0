"""Keeping Python's cyclic garbage collector off the hot paths.

A batch (of facts ingested, of events applied to views) allocates many objects that live
exactly as long as the batch; the collector, triggered every 700 allocations, would scan
the long-lived heap (caches, compiled workflows) again and again. Two measures:

- :func:`freeze_startup`, called once by a process's entry point after start-up, moves
  what exists then (modules, compiled workflows, settings) out of the collector's sight;
- :func:`batches` turns automatic collection off for a loop over batches and collects the
  young generations between batches, where the batch's cycles die, once enough young
  objects add up (:data:`YOUNG_LIMIT`). Nested and concurrent
  uses (threads) are counted: collection comes back on when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_LIMIT", "batches", "freeze_startup"]

_lock = threading.Lock()
_active = 0
_was_enabled = True


def freeze_startup() -> None:
    """Collect the young generations, then exclude everything alive now from future
    collections.

    Not a full collection: at the end of a command's start-up it scanned every module's
    objects for ~25-40 ms and found nothing (imports and bootstrap leave no cycles in the
    old generation); the young ones hold what the last steps of start-up left."""
    gc.collect(1)
    gc.freeze()


#: Container objects allocated and still alive since the last collection (the collector's
#: young generation) above which the collection between batches runs. Nearly all of them
#: at that moment are the next batch's parsed facts (~10 per fact: ~10,000 for a batch of
#: 1,000), alive and soon freed by reference counting: a collection after every batch scanned
#: them all each time (~4 ms a batch, 6 % of the demo file's ingest) and found nothing (a
#: batch leaves no cycles: ``tests/engine/ingest/test_no_cycles.py``). Now what is young is
#: scanned once it adds up to this many objects: what lives on (cached aggregates) and any
#: cycles an unexpected path leaves, which are then freed all the same.
YOUNG_LIMIT = 100_000


def _collect() -> None:
    if gc.get_count()[0] >= YOUNG_LIMIT:
        gc.collect(1)


@contextmanager
def batches() -> Iterator[Callable[[], None]]:
    """Within the block the collector runs only when the returned function is called
    (between batches); on exit (of the last concurrent block) it runs as before."""
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield _collect
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
