"""Lock files beside a SQLite store: one exclusive ``flock`` per file, never waited for here.

The store's singleton locks (:mod:`engine.store.locks`), its write lock
(:mod:`engine.store.writelock`) and the Kafka partition fences (:mod:`engine.kafka.fence`)
each keep a lock file beside the store's file, ``<file><suffix>``. An in-memory store has no
file and one process by definition, so it has no lock file (:func:`lock_file` gives None).
A lock's descriptor is not inherited by a program this process starts (``O_CLOEXEC``), and
the kernel frees the lock when the descriptor is closed or its process dies.
"""

from __future__ import annotations

import fcntl
import os

__all__ = ["lock_fd", "lock_file", "open_file", "release", "try_lock"]


def lock_file(sqlite_file: str | None, suffix: str) -> str | None:
    """The lock file ``<file><suffix>`` of the SQLite store ``sqlite_file`` (None for no
    file or an in-memory store). A ``file:`` URI's query is not part of the file name."""
    if not sqlite_file or ":memory:" in sqlite_file or "mode=memory" in sqlite_file:
        return None
    if sqlite_file.startswith("file:"):
        sqlite_file = sqlite_file.removeprefix("file:").split("?", 1)[0]
    return sqlite_file + suffix


def try_lock(path: str) -> int | None:
    """Take the exclusive lock on ``path`` (created if missing) if it is free: the open
    descriptor that holds it, or None (then nothing is left open)."""
    fd = open_file(path)
    try:
        if lock_fd(fd):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def open_file(path: str) -> int:
    """``path`` opened (created if missing) to be locked, not inherited by programs run."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def lock_fd(fd: int) -> bool:
    """Take the exclusive lock on the open file ``fd`` if it is free."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def release(fd: int) -> None:
    """Let the lock held by ``fd`` go, also for a process forked since, and close ``fd``."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
