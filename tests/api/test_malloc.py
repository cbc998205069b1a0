"""``dealflow serve`` caps glibc's malloc arenas and SQLite's heap (engine.serve.malloc).

Each case runs in a fresh interpreter: arenas, once made, stay for the process's life.
glibc's ``malloc_stats`` prints one ``Arena N:`` block per arena to stderr; eight threads
that each allocate make their own arenas without the cap, and share two with it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="glibc's arenas are Linux's")

_THREADS = """
import ctypes, ctypes.util, threading
from engine.serve.malloc import limit_arenas
print(limit_arenas() if CAP else None, flush=True)
ready, go = threading.Barrier(9), threading.Event()
def work():
    ready.wait()
    held = [bytearray(4096) for _ in range(200)]
    go.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
ready.wait()
ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()
go.set()
for t in threads: t.join()
"""


def _arenas(cap: bool, env: dict[str, str] | None = None) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", f"CAP = {cap}\n{_THREADS}"],
                          capture_output=True, text=True, timeout=30, env=env, check=True)
    if "Arena 0:" not in done.stderr:
        pytest.skip("not glibc's malloc_stats")
    return done.stdout.strip(), done.stderr.count("Arena ")


def test_two_arenas_however_many_threads_allocate() -> None:
    assert _arenas(cap=False)[1] > 2  # what the cap prevents: an arena per thread
    assert _arenas(cap=True) == ("True", 2)


def test_an_operators_malloc_arena_max_is_left_alone() -> None:
    import os

    env = {**os.environ, "MALLOC_ARENA_MAX": "3"}
    assert _arenas(cap=True, env=env) == ("False", 3)


_TRIM = """
from engine.serve.malloc import trim_heap
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
keep = []
chunks = [bytearray(2000) for _ in range(60_000)]  # ~120 MB in malloc'd chunks
for i in range(0, len(chunks), 500):
    keep.append(chunks[i])  # a few live chunks spread over the heap: no top to trim alone
del chunks
before = rss()
trimmed = trim_heap()
print(trimmed, before, rss())
"""


def test_a_trim_gives_freed_heap_pages_back() -> None:
    done = subprocess.run([sys.executable, "-c", _TRIM], capture_output=True, text=True,
                          timeout=60, check=True)
    trimmed, before, after = done.stdout.split()
    assert trimmed == "True"
    assert int(before) - int(after) > 80 * 2**20  # most of the freed ~120 MB went back


def test_the_trimmer_trims_until_stopped() -> None:
    import threading

    from engine.serve.malloc import HeapTrimmer

    calls = threading.Semaphore(0)

    def trim() -> bool:
        calls.release()
        return True

    trimmer = HeapTrimmer(0.01, trim)
    trimmer.start()
    for _ in range(3):
        assert calls.acquire(timeout=10)
    trimmer.stop()
    done = trimmer.trims
    assert done >= 3
    threading.Event().wait(0.05)
    assert trimmer.trims == done  # the thread ended with stop()


_HEAP_SCRIPT = """
import os, sqlite3, sys, tempfile
from engine.serve.malloc import limit_sqlite_heap, sqlite_heap_bytes
path = os.path.join(tempfile.mkdtemp(), "db")
with sqlite3.connect(path) as c:
    c.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)")
    c.executemany("INSERT INTO t VALUES (?, ?)", ((i, os.urandom(1000)) for i in range(40_000)))
limit_sqlite_heap(int(sys.argv[1]) << 20)
conns = [sqlite3.connect(path) for _ in range(4)]
for conn in conns:  # four connections with the event store's 8 MiB page cache each
    conn.execute("PRAGMA cache_size=-8192")
    conn.execute("SELECT sum(length(v)) FROM t").fetchone()
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (40_000,)
print(sqlite_heap_bytes() >> 20)
"""


def test_the_sqlite_heap_limit_bounds_every_connections_page_cache() -> None:
    def heap_mb(limit_mb: int) -> int:
        done = subprocess.run([sys.executable, "-c", _HEAP_SCRIPT, str(limit_mb)],
                              capture_output=True, text=True, check=True, timeout=120)
        return int(done.stdout)

    # 40 MB of rows read through four 8 MiB caches: ~32 MiB without a limit, 8 with one.
    assert heap_mb(0) > 24
    assert heap_mb(8) <= 9


def test_serve_sets_the_sqlite_heap_limit_and_puts_the_old_one_back(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    from engine.serve.malloc import limit_sqlite_heap
    from engine.serve.service import Service
    from tests.api.conftest import api_settings

    def limit() -> int:
        with closing(sqlite3.connect(":memory:")) as conn:
            return int(conn.execute("PRAGMA soft_heap_limit").fetchone()[0])

    before = limit_sqlite_heap(0)
    try:
        service = Service.build(api_settings(f"sqlite:///{tmp_path}/s.db",
                                             serve_sqlite_heap_mb=12),
                                registry=CollectorRegistry())
        try:
            service.start()
            assert limit() == 12 << 20
        finally:
            service.stop()
        assert limit() == 0
    finally:
        limit_sqlite_heap(before)


_MMAP = """
import ctypes, ctypes.util
from engine.serve.malloc import fix_mmap_threshold
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = Info
print(fix_mmap_threshold() if FIX else None)
big = bytearray(4 << 20)  # mapped on its own (over the threshold)
del big  # freed: glibc's default then raises its threshold to this block's size
before = libc.mallinfo2().hblks
blocks = [bytearray(300_000) for _ in range(8)]
print(libc.mallinfo2().hblks - before)  # of the 8 blocks, those mapped on their own
"""


def _mapped(fix: bool, env: dict[str, str] | None = None) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", f"FIX = {fix}\n{_MMAP}"],
                          capture_output=True, text=True, timeout=30, env=env, check=True)
    result, mapped = done.stdout.split()
    return result, int(mapped)


def test_large_blocks_stay_mapped_after_a_larger_one_was_freed() -> None:
    # glibc's moving threshold: after the 4 MiB block, 300 KB blocks come from the heap.
    assert _mapped(fix=False)[1] < 8
    assert _mapped(fix=True) == ("True", 8)  # fixed at 128 KiB: each is mapped alone


def test_an_operators_mmap_threshold_is_left_alone() -> None:
    import os

    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    assert _mapped(fix=True, env=env)[0] == "False"
