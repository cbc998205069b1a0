"""Keeping Python's cyclic garbage collector off the hot paths.

A batch (of facts ingested, of events applied to views) allocates many objects that live
exactly as long as the batch; the collector, triggered every 700 allocations, would scan
the long-lived heap (caches, compiled workflows) again and again. :func:`batches` freezes
what exists when it starts (start-up state is never garbage), turns automatic collection
off, and collects the young generations between batches, where the batch's cycles die.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["batches"]


def _collect() -> None:
    gc.collect(1)


@contextmanager
def batches() -> Iterator[Callable[[], None]]:
    """Within the block the collector runs only when the returned function is called
    (between batches); on exit the previous state is restored."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield _collect
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
