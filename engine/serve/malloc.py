"""Keeping the C heap of ``dealflow serve`` from spreading: two glibc malloc arenas.

glibc gives each new thread that allocates an arena of its own, up to eight per core (16
on two cores). ``serve`` has a dozen threads that allocate (the HTTP thread pool deciding
batches, the Kafka consumer, the relay, the store health check, the event loop), and a
chunk is freed into the arena it came from, where only the threads bound to that arena
reuse it: each arena keeps its own high-water mark of free chunks. ``bench/soak.py
--probe-memory`` showed it: after warm-up, 248 of serve's 485 MB of malloc heap were free
but kept (``mallinfo2``), while the live Python objects were bounded by the caches.

Capped at two arenas, the threads reuse one another's free chunks. Measured with two soaks
side by side at 600 facts/s (docs/operations.md, "Failure modes", the soak rows): serve's
RSS 13-19 MB lower in every minute than with glibc's default. It does not make the slope
flat: after warm-up serve still grew +8 to +14 MB per 10 minutes with the cap (against +13
to +18 without, within the noise of those runs), and what grows is not found yet.

:func:`limit_arenas` is called first thing by the serving process, before it starts a
thread; arenas made before the call stay, none are made past the limit. An operator's own
``MALLOC_ARENA_MAX`` is respected (glibc read it at start: nothing is changed), and on a
C library without ``mallopt`` (musl, macOS) this does nothing. With it the serving process
calls :func:`fix_mmap_threshold`: large blocks stay mapped on their own instead of coming
from the heap once one was freed (``MALLOC_MMAP_THRESHOLD_`` given by an operator is
respected the same way).

:class:`HeapTrimmer` also gives free pages back to the system every
``DEALFLOW_SERVE_HEAP_TRIM_SECONDS`` (default 60; 0: never), in the serving process and in
its views child, so RSS follows the memory in use rather than the high-water mark of
freed chunks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from functools import cache

from engine.serve.periodic import Periodic

__all__ = ["ARENAS", "MMAP_THRESHOLD", "HeapTrimmer", "fix_mmap_threshold", "limit_arenas",
           "limit_sqlite_heap", "sqlite_heap_bytes", "trim_heap"]

#: Arenas for the serving process: the threads mostly wait for one another (the ingestor
#: is serialized, the GIL more so), so contention on two arenas costs nothing measurable.
ARENAS = 2
#: ``M_ARENA_MAX`` in glibc's ``malloc.h``.
_M_ARENA_MAX = -8
#: Blocks of this size or more are mapped on their own and unmapped when freed: glibc's
#: default for the threshold, kept fixed (see :func:`fix_mmap_threshold`).
MMAP_THRESHOLD = 128 * 1024
#: ``M_MMAP_THRESHOLD`` in glibc's ``malloc.h``.
_M_MMAP_THRESHOLD = -3


log = logging.getLogger(__name__)


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None


def trim_heap() -> bool:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim(0)``: the free
    top of every arena, and whole free pages inside them); whether anything was returned
    (False also without glibc)."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))


class HeapTrimmer(Periodic):
    """A background task: :func:`trim_heap` every ``interval`` seconds.

    Freed chunks the allocator keeps show as RSS although nothing uses them; between bursts
    (a catch-up batch, a big request) they can be most of the heap. Trimming costs a few
    milliseconds a time and frees no live object, so the process's RSS follows what it uses.
    """

    thread_name = "dealflow-heap-trim"

    def __init__(self, interval: float, trim: Callable[[], bool] = trim_heap) -> None:
        """Trim every ``interval`` seconds (> 0) once started."""
        super().__init__(interval)
        self.trim = trim

    @property
    def trims(self) -> int:
        """Trims done so far."""
        return self.rounds

    def work(self) -> None:
        """Trim the heap once."""
        self.trim()


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas in this process at ``arenas``; whether the cap was set
    (False: not glibc, or ``MALLOC_ARENA_MAX`` given by the environment)."""
    return _mallopt(_M_ARENA_MAX, arenas, "MALLOC_ARENA_MAX")


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Keep glibc's mmap threshold at ``threshold`` bytes; whether it was set (False: not
    glibc, or ``MALLOC_MMAP_THRESHOLD_`` given by the environment).

    By default the threshold moves: each freed mapped block raises it to that block's size
    (up to 32 MiB), so after the first large block is freed, blocks up to that size come
    from the heap instead. ``serve`` allocates such blocks all the time and for moments
    (a request body of 500 facts is ~150 KB, a Kafka fetch up to 1 MiB, a batch's lists
    and dicts), and once they come from the heap, the small objects allocated between
    them pin the heap's pages after they are freed, where no trim reaches. A fixed
    threshold keeps every such block mapped and gives its pages back when it is freed
    (also fixing the trim threshold, which ``malloc_trim`` ignores anyway)."""
    return _mallopt(_M_MMAP_THRESHOLD, threshold, "MALLOC_MMAP_THRESHOLD_")


def _mallopt(option: int, value: int, env: str) -> bool:
    """glibc's ``mallopt(option, value)`` unless the environment variable ``env`` set the
    option (glibc read it at start); whether it was set (False too without glibc)."""
    if os.environ.get(env):
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(option, value))


def limit_sqlite_heap(limit_bytes: int) -> int:
    """Set SQLite's soft heap limit for this process to ``limit_bytes`` (0: none); the
    limit it had (bytes), to put back with the same call.

    The event store's connections keep 8 MiB of page cache each (faster appends, see
    ``engine.store.recorders.CONNECTION_PRAGMAS``), and a service holds several of them
    (the recorder's pool, the API's and the views' readers), each filling its cache as
    the store grows: in the soak, SQLite's heap in ``serve`` went from 7 to 15 MB over
    nine minutes and was still growing. Past the soft limit SQLite recycles its least
    recently used cached pages instead of allocating new ones (what it would do at a
    connection's own ``cache_size``), so its memory is bounded for the whole process
    whatever the number of connections; nothing else changes (the pages are read again
    from the operating system's cache when needed). It covers every connection of the
    process: SQLAlchemy's, eventsourcing's and the standard library's share one SQLite.
    """
    with sqlite3.connect(":memory:") as conn:
        before = int(conn.execute("PRAGMA soft_heap_limit").fetchone()[0])
        conn.execute(f"PRAGMA soft_heap_limit={int(limit_bytes)}")
    conn.close()
    return before


def sqlite_heap_bytes() -> int | None:
    """The bytes SQLite's allocator holds in this process (``sqlite3_memory_used``), or
    None where it cannot be reached.

    Asked of the SQLite that Python's ``sqlite3`` module uses: the symbol is looked up
    through the ``_sqlite3`` extension itself (its own copy when SQLite is built into it,
    else the shared library it links), not by library name, which could load a second
    SQLite whose counter stays at 0."""
    import _sqlite3

    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError):
        return None
    used.restype = ctypes.c_int64
    return int(used())
