"""Our own projection runner: follows the log by position in batches.

Why not eventsourcing's stock runner: it needs subscriptions (which its SQLite store lacks)
and commits one transaction per event. This one reads up to ``batch_size`` events (decoded
once, :class:`engine.store.log.LogReader`), lets every view apply the ones past its own
position, and writes the views' rows and their positions in ONE transaction, each position
moved by compare-and-set (:mod:`engine.store.positions`). Locking, the follow thread, idle
waits, backoff and read-your-writes waits are the shared :class:`engine.store.follower.Follower`.

A rebuild fills fresh tables (the other generation) of every view asked for from ONE pass
over the log: each batch is read and decoded once and fed to every fresh view, several
batches share a transaction, and the collector runs only between batches. The fresh
generation is then swapped in, in one transaction with the positions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from engine.errors import StoreError
from engine.store import gc as store_gc
from engine.store import positions
from engine.store.follower import Follower
from engine.store.locks import SingletonLock
from engine.store.log import LoggedEvent, LogReader
from projections.base import Projection

__all__ = ["LOCK_NAME", "ProjectionRunner"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
LOCK_NAME = "views"


def _other(generation: str) -> str:
    return "b" if generation == "a" else "a"


class ProjectionRunner:
    """Applies the log to a set of views; see the module docstring."""

    def __init__(
        self,
        reader: LogReader,
        sql: Engine,
        views: Sequence[Projection],
        *,
        lock: SingletonLock,
        batch_size: int = 1000,
        rebuild_commit_every: int = 10,
    ) -> None:
        """Prepare the positions and the live tables of ``views``; nothing is applied yet.

        ``views`` are configured instances (any generation); the live generation of each
        is read from the positions table.
        """
        self.reader = reader
        self.engine = sql
        self.batch_size = batch_size
        self.rebuild_commit_every = rebuild_commit_every
        positions.ensure(sql, [v.name for v in views])
        with sql.connect() as conn:
            rows = positions.rows(conn)
        self.live: dict[str, Projection] = {
            v.name: v.in_generation(rows[v.name]["generation"]) for v in views
        }
        # A view whose tables were laid out differently when its live generation was built
        # (an upgrade changed them) is rebuilt from the log before it applies anything.
        self.stale = [name for name, view in self.live.items()
                      if rows[name]["layout"] not in (None, view.layout_id())]
        with sql.begin() as conn:
            for name, view in self.live.items():
                if rows[name]["layout"] is None:
                    positions.set_layout(conn, name, view.layout_id())
        for name, projection in self.live.items():
            if name not in self.stale:
                projection.metadata.create_all(sql, checkfirst=True)
        self.follower = Follower("views", self._step, lock, idle=0.005, full=batch_size)

    @property
    def lock(self) -> SingletonLock:
        """The views' singleton lock."""
        return self.follower.lock

    @property
    def following(self) -> bool:
        """Whether this runner's thread follows the log."""
        return self.follower.following

    # ----------------------------------------------------------------- reading
    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        return self.reader.head()

    def positions(self) -> dict[str, int]:
        """Each live view's applied position."""
        with self.engine.connect() as conn:
            return {name: int(row["position"]) for name, row in positions.rows(conn).items()
                    if name in self.live}

    # ---------------------------------------------------------------- applying
    def run_once(self) -> int:
        """Apply at most one batch to every live view; return how many events were read
        (0 when another process holds the views' lock)."""
        return self.follower.run_once()

    def _step(self) -> int:
        if self.stale:
            stale, self.stale = self.stale, []
            log.warning("the tables of view(s) %s changed since they were built (an "
                        "upgrade): rebuilding them from the log", ", ".join(stale))
            self.rebuild(stale)
        with self.engine.connect() as conn:
            rows = positions.rows(conn)
        start = min(int(rows[name]["position"]) for name in self.live)
        events = self.reader.read(start, self.batch_size)
        if not events:
            return 0
        moves: dict[str, tuple[int, int]] = {}
        with self.engine.begin() as conn:
            for name, projection in self.live.items():
                position = int(rows[name]["position"])
                mine = [e for e in events if e.position > position]
                if mine:
                    projection.process(conn, mine)
                    moves[name] = (position, mine[-1].position)
            positions.advance_all(conn, moves)
        return len(events)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply everything up to the current head; return how many events were read."""
        total = 0
        head = self.head()
        with store_gc.batches() as collect:
            while True:
                read = self.run_once()
                collect()
                total += read
                if progress is not None:
                    progress(min(self.positions().values() or [head]), head)
                if read < self.batch_size:
                    return total

    # ----------------------------------------------------------------- following
    def start(self, poll_interval: float = 0.005) -> None:
        """Follow live appends in a background thread."""
        self.follower.idle = poll_interval
        self.follower.start()

    def stop(self) -> None:
        """Stop following and release the lock."""
        self.follower.stop()

    def close(self) -> None:
        """Stop and release the lock (the SQL engine belongs to whoever built it)."""
        self.follower.close()

    def nudge(self) -> None:
        """New events were committed (in this process): apply them without waiting for
        the next poll."""
        self.follower.nudge()

    def wait(self, position: int, timeout: float = 10.0) -> bool:
        """Block until every live view has applied ``position`` (read-your-writes)."""
        return self.follower.wait_until(
            lambda: min(self.positions().values(), default=position) >= position, timeout)

    # ------------------------------------------------------------------ rebuild
    def rebuild(self, names: Sequence[str] | None = None,
                progress: Progress | None = None) -> dict[str, int]:
        """Rebuild views from position zero into fresh tables, then swap them in.

        Returns each rebuilt view's position. Readers keep the old tables until the swap,
        which happens in one transaction together with the positions.
        """
        chosen = list(names or self.live)
        unknown = [n for n in chosen if n not in self.live]
        if unknown:
            raise KeyError(f"unknown view(s) {', '.join(unknown)}; known: {', '.join(self.live)}")
        if not self.lock.acquire(blocking=True, timeout=60):
            raise StoreError("another runner holds the views' lock; stop it or wait")
        fresh = {n: self.live[n].in_generation(_other(self.live[n].generation)) for n in chosen}
        for view in fresh.values():
            view.metadata.drop_all(self.engine, checkfirst=True)
            view.metadata.create_all(self.engine)
        position = self._fill(list(fresh.values()), progress)
        with self.engine.begin() as conn:
            for name, view in fresh.items():
                positions.move(conn, name, generation=view.generation, position=position,
                               layout=view.layout_id())
        for name, view in fresh.items():
            old, self.live[name] = self.live[name], view
            old.metadata.drop_all(self.engine, checkfirst=True)
        return dict.fromkeys(chosen, position)

    def _fill(self, views: list[Projection], progress: Progress | None) -> int:
        """Apply the whole log to ``views``' empty tables, one read per batch for all of
        them; secondary indexes are built after the load."""
        position, pending = 0, 0
        loads = [view.bulk_load() for view in views]
        deferred = [index for view in views for table in view.metadata.sorted_tables
                    for index in table.indexes if not index.unique]
        conn = self.engine.connect()
        transaction = conn.begin()
        try:
            for index in deferred:
                index.drop(conn)
            with store_gc.batches() as collect:
                while True:
                    head = self.head()
                    events: list[LoggedEvent] = self.reader.read(position, self.batch_size)
                    if events:
                        for load in loads:
                            load.process(conn, events)
                        position = events[-1].position
                        pending += 1
                    if len(events) < self.batch_size:
                        break
                    if pending >= self.rebuild_commit_every:
                        transaction.commit()
                        transaction = conn.begin()
                        pending = 0
                    collect()
                    if progress is not None:
                        progress(position, max(head, position))
                for load in loads:
                    load.finish(conn)
                for index in deferred:
                    index.create(conn)
            transaction.commit()
            if progress is not None:
                progress(position, position)
        except BaseException:
            transaction.rollback()
            raise
        finally:
            conn.close()
        return position
