"""One writer at a time on a SQLite store, waiting in short steps instead of SQLite's busy
handler's long ones.

SQLite lets one connection write at a time. A writer that finds the write lock taken is
put to sleep by SQLite's busy handler in growing steps (1, 2, 5, 10, ... up to 100 ms) and
looks again only when a step ends, however soon the lock was freed: behind a Kafka
consumer, the consumer and the views' runner each wait for the other's transactions this
way (perf trace of a bench run at load ~7: the consumer slept 2.2 s in 56 such sleeps,
twelve of them of 100 ms, in a run of 23 s). The event store's writes and the views'
write phases first take :class:`WriteLock`, an exclusive ``flock`` on ``<file>.write.lock``
beside the store; a waiter looks again every millisecond at most (0.25, 0.5, then 1 ms
steps), and then finds SQLite's own lock free.

The lock only orders writers: SQLite's lock still decides what is consistent, and a writer
that does not take this lock (or another program) is waited for by the busy handler as
before. It is held from before a transaction's first write until after its commit or
rollback, and the kernel frees it when its process dies. A waiter gives up after
``timeout`` seconds (the store's busy timeout) and writes without it, so a store locked
from outside still fails a write after SQLite's own busy timeout (at most twice it when one
of our writers already waits for that lock). It is re-entrant in a thread; other threads, in
this process or another, wait for it.

A PostgreSQL store or an in-memory SQLite store has no such lock (:func:`write_lock` gives
a no-op).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from engine.store import flock

__all__ = ["WriteLock", "lock_path", "write_lock"]

_SUFFIX = ".write.lock"


def lock_path(sqlite_file: str | None) -> str | None:
    """The write lock's file for the SQLite store ``sqlite_file`` (None: no lock, for no
    file or an in-memory store; :func:`engine.store.flock.lock_file`)."""
    return flock.lock_file(sqlite_file, _SUFFIX)


class WriteLock:
    """An exclusive lock on ``path`` (see the module docstring); a no-op when ``path`` is
    None. Use as a context manager around a write transaction."""

    def __init__(self, path: str | None, timeout: float = 30.0) -> None:
        """Prepare; the file is opened on each acquisition. A waiter gives up after
        ``timeout`` seconds and goes on without the lock."""
        self.path = path
        self.timeout = timeout
        self._local = threading.local()  # per thread: depth, and the descriptor held
        self.waits = 0  # acquisitions that found the lock taken (for tests and benches)
        self.gave_up = 0  # acquisitions that went on without it after the timeout

    def acquire(self) -> None:
        """Take the lock, waiting while another writer holds it (up to the timeout)."""
        if self.path is None:
            return
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth:
            local.depth = depth + 1
            return
        fd = flock.open_file(self.path)
        try:
            got = flock.lock_fd(fd) or self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        if not got:
            os.close(fd)
        local.depth, local.fd = 1, fd if got else None

    def _wait(self, fd: int) -> bool:
        self.waits += 1
        deadline = time.monotonic() + self.timeout
        pause = 0.00025
        while True:
            time.sleep(pause)
            if flock.lock_fd(fd):
                return True
            if time.monotonic() >= deadline:
                self.gave_up += 1
                return False
            pause = min(pause * 2, 0.001)

    def release(self) -> None:
        """Let the lock go (the outermost release of this thread frees it)."""
        if self.path is None:
            return
        local = self._local
        local.depth -= 1
        if local.depth == 0:
            fd, local.fd = local.fd, None
            if fd is not None:
                flock.release(fd)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock for one write transaction: from here until :meth:`before_commit`
        (or the end of the block, whichever comes first)."""
        self.acquire()
        local = self._local
        local.early = False
        try:
            yield
        finally:
            if not local.early:
                self.release()
            local.early = True

    def before_commit(self) -> None:
        """In :meth:`writing`'s block (and not nested in another hold of this thread): let
        the lock go now, before the commit. The commit's own work (writing the WAL, and
        SQLite's checkpoint when the WAL is long, two fsyncs: 20-40 ms here) then holds up
        no waiter; a waiter that starts to write during the commit meets SQLite's lock for
        the few milliseconds the WAL takes to write."""
        local = self._local
        if self.path is not None and getattr(local, "depth", 0) == 1 and not getattr(
                local, "early", True):
            local.early = True
            self.release()

    @property
    def held(self) -> bool:
        """Whether this thread holds the lock (False for a no-op lock, and for a waiter
        that gave up)."""
        return getattr(self._local, "fd", None) is not None

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def write_lock(sqlite_file: str | None, timeout: float = 30.0) -> WriteLock:
    """The write lock of the SQLite store ``sqlite_file`` (a no-op lock for None, an
    in-memory store, or a PostgreSQL store, whose caller passes None)."""
    return WriteLock(lock_path(sqlite_file), timeout)
