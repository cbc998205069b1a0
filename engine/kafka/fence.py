"""Partition fences: at most one worker writes for a (group, topic, partition) at a time.

Kafka's group protocol alone cannot promise that: a worker that stalls past
``max.poll.interval.ms`` (or misses heartbeats) loses its partitions to another worker while
it may still be committing a batch it fetched earlier. Before a worker reads a partition's
stored offset it takes the partition's fence, and it holds it until it has given the partition
up (after its last batch committed), so a new owner always starts from the final offset.

PostgreSQL: session advisory locks, all on one dedicated connection (a worker that dies loses
its connection and with it its locks; so does one whose connection is cut or whose server
restarted, while it still runs: :meth:`PartitionFence.lost` finds that out before each
batch). SQLite (one machine): an exclusive ``flock`` per partition on a file beside the
database.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from sqlalchemy import Engine, text

from engine.store import flock
from engine.store.app import store_env
from engine.store.locks import held_advisory_keys

__all__ = ["PartitionFence"]


def _name(group: str, topic: str, partition: int) -> str:
    return f"dealflow.kafka\0{group}\0{topic}\0{partition}"


class PartitionFence:
    """Try-acquire / release the fence of each partition; see the module docstring."""

    def __init__(self, store_url: str, engine: Engine, group: str) -> None:
        """Prepare; nothing is locked and no connection opened yet."""
        env = store_env(store_url)
        self.group = group
        self._engine = engine
        self._sqlite: str | None = None
        if env["PERSISTENCE_MODULE"].endswith("sqlite"):
            self._sqlite = env["SQLITE_DBNAME"]
        self._files: dict[tuple[str, int], int] = {}
        self._keys: dict[tuple[str, int], int] = {}
        self._conn: Any = None

    @property
    def held(self) -> set[tuple[str, int]]:
        """The (topic, partition) fences this object holds."""
        return set(self._files) | set(self._keys)

    def acquire(self, topic: str, partition: int) -> bool:
        """Take the partition's fence if it is free (never waits)."""
        key = (topic, partition)
        if key in self._files or key in self._keys:
            return True
        name = _name(self.group, topic, partition)
        digest = hashlib.sha256(name.encode()).digest()
        if self._sqlite is not None:
            path = flock.lock_file(self._sqlite, f".kafka-{digest[:8].hex()}.lock")
            # An in-memory store (no lock file) has one process by definition.
            fd = -1 if path is None else flock.try_lock(path)
            if fd is None:
                return False
            self._files[key] = fd
            return True
        lock_key = int.from_bytes(digest[:8], "big", signed=True)
        try:
            if self._conn is None:
                self._conn = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT")
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                     {"k": lock_key}).scalar()
        except Exception:
            self._drop_connection()  # the database is down: try on a new one next time
            raise
        if got:
            self._keys[key] = lock_key
        return bool(got)

    def lost(self) -> set[tuple[str, int]]:
        """The fences this object held but its session no longer does (PostgreSQL: the
        connection was cut or the server restarted); they are forgotten here, so that
        :meth:`acquire` takes them again only if free."""
        if not self._keys:
            return set()
        try:
            held = held_advisory_keys(self._conn)
        except Exception:  # the connection is gone, and its session's locks with it
            gone = set(self._keys)
            self._drop_connection()
            return gone
        gone = {key for key, lock_key in self._keys.items() if lock_key not in held}
        for key in gone:
            del self._keys[key]
        return gone

    def release(self, topic: str, partition: int) -> None:
        """Give the partition's fence up (no-op if not held)."""
        key = (topic, partition)
        fd = self._files.pop(key, None)
        if fd is not None and fd >= 0:
            flock.release(fd)
        lock_key = self._keys.pop(key, None)
        if lock_key is not None and self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
            except Exception:
                # The connection is gone, and the server dropped its locks with it.
                self._drop_connection()

    def close(self) -> None:
        """Release every fence and the connection."""
        for topic, partition in list(self.held):
            self.release(topic, partition)
        self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
            self._keys.clear()
