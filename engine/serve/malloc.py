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
C library without ``mallopt`` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["ARENAS", "limit_arenas"]

#: Arenas for the serving process: the threads mostly wait for one another (the ingestor
#: is serialized, the GIL more so), so contention on two arenas costs nothing measurable.
ARENAS = 2
#: ``M_ARENA_MAX`` in glibc's ``malloc.h``.
_M_ARENA_MAX = -8


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas in this process at ``arenas``; whether the cap was set
    (False: not glibc, or ``MALLOC_ARENA_MAX`` given by the environment)."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
