"""Our own projection runner: follows the log by position in batches.

Why not eventsourcing's stock runner: it needs subscriptions (which its SQLite store lacks)
and commits one transaction per event. This one reads up to ``batch_size`` events (decoded
once, :class:`engine.store.log.LogReader`), lets every view apply the ones past its own
position, and writes the views' rows and their positions in ONE transaction, each position
moved by compare-and-set (:mod:`engine.store.positions`). Locking, the follow thread, idle
waits, backoff and read-your-writes waits are the shared :class:`engine.store.follower.Follower`.

A rebuild fills fresh tables (the other generation) of every view asked for from one pass
over the log per process: each batch is read and decoded once and fed to every fresh view
of the process, several batches share a transaction, and the collector runs only between
batches; a large log is shared out between this process and a helper process
(:mod:`projections.rebuild`). The fresh generation is then swapped in, in one transaction
with the positions.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine

from engine.errors import StoreError
from engine.store import gc as store_gc
from engine.store import positions
from engine.store.follower import Follower
from engine.store.locks import SingletonLock
from engine.store.log import LogReader
from engine.store.writelock import WriteLock, write_lock
from projections.base import Projection
from projections.deferred import DeferredWrites
from projections.rebuild import Helper, can_spawn, dropping, fill, prepare, share

__all__ = ["LOCK_NAME", "WAL_AUTOCHECKPOINT", "ProjectionRunner"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
LOCK_NAME = "views"
#: The views' connections checkpoint a SQLite store's WAL when it holds 4,000 pages, as the
#: event store's own connections do (engine/store/recorders.py), not at SQLite's 1,000: a
#: step of 1,000 events writes over 1,000 pages, so at 1,000 nearly every commit of the views
#: checkpointed, copying their index pages to the database file again each time (64 commits
#: of a demo quarter: 3.9-5.2 s against 2.7-3.0 s at 4,000); and with the writers at
#: different thresholds the views would do nearly every checkpoint.
WAL_AUTOCHECKPOINT = "PRAGMA wal_autocheckpoint=4000"


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
        catch_up_factor: int = 10,
        rebuild_commit_every: int = 10,
        rebuild_processes: int = 2,
        rebuild_parallel_from: int = 200_000,
    ) -> None:
        """Prepare the positions and the live tables of ``views``; nothing is applied yet.

        ``views`` are configured instances (any generation); the live generation of each
        is read from the positions table. A step reads what the log holds past the views,
        up to ``catch_up_factor`` batches at once: one read, one ``process`` call per view
        and one commit for all of them (commits alone were ~11 % of the views' time behind
        a Kafka consumer, py-spy); ``batch_size`` is what counts as a full step (the
        follower does not idle after one). Every step costs more
        than its events (commits write each touched page to the WAL; the pipeline rereads
        and rewrites a deal's rows and totals once per step it is touched in): applying a
        demo quarter in steps of 10,000 took 0.92x the CPU of steps of 5,000 for ~10 MB
        more peak RSS (bench/views_apply.py). A rebuild of a log of at
        least ``rebuild_parallel_from`` events uses ``rebuild_processes`` processes (this
        one and a helper; see :mod:`projections.rebuild`).
        """
        self.reader = reader
        self.engine = sql
        self.batch_size = batch_size
        self.catch_up_size = batch_size * max(1, catch_up_factor)
        self.rebuild_commit_every = rebuild_commit_every
        self.rebuild_processes = min(rebuild_processes, os.cpu_count() or 1)
        self.rebuild_parallel_from = rebuild_parallel_from
        self.rebuild_stats: dict[str, Any] = {}
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
        #: A live step's writes and commit run under the store's write lock (as the event
        #: store's do; engine.store.writelock), taken right before the first write.
        self.write_lock: WriteLock = write_lock(
            sql.url.database if sql.dialect.name == "sqlite" else None)

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
        # The collector is off while a step reads, decides and writes; the collection
        # between steps is engine.store.gc's (as for ``Ingestor.ingest``'s batches): a
        # step's objects (events, rows, statements) live exactly as long as the step, and
        # automatic runs every 700 allocations would scan them again and again. A step
        # that found nothing (every few milliseconds when idle) asks for no collection.
        with store_gc.batches() as collect:
            done = self._apply_step()
            if done:
                collect()
            return done

    def _apply_step(self) -> int:
        if self.stale:
            stale, self.stale = self.stale, []
            log.warning("the tables of view(s) %s changed since they were built (an "
                        "upgrade): rebuilding them from the log", ", ".join(stale))
            self.rebuild(stale)
        with self.engine.connect() as conn:
            rows = positions.rows(conn)
        start = min(int(rows[name]["position"]) for name in self.live)
        # Everything written since the last step, in one step (up to catch_up_size): a
        # writer's transaction of several thousand events is applied at once, not as a
        # first batch and then the rest.
        events = self.reader.read(start, self.catch_up_size)
        if not events:
            return 0
        moves: dict[str, tuple[int, int]] = {}
        lock = self.write_lock
        taken = False

        def take() -> None:
            nonlocal taken
            if not taken:
                lock.acquire()
                taken = True

        try:
            with self.engine.connect() as conn:
                transaction = conn.begin()
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql(WAL_AUTOCHECKPOINT)
                # Every view reads and decides first; their writes then run together, so
                # SQLite's write lock (and the store's, taken before the first write) is
                # held for the writes and the commit alone (see projections.deferred).
                deferred = DeferredWrites(conn, before_writes=take)
                for name, projection in self.live.items():
                    position = int(rows[name]["position"])
                    mine = (events if events[0].position > position
                            else [e for e in events if e.position > position])
                    if mine:
                        projection.process(cast(Connection, deferred), mine)
                        moves[name] = (position, mine[-1].position)
                deferred.flush()
                take()
                positions.advance_all(conn, moves)
                # The store's lock goes before the commit (as the event store's does): the
                # commit's WAL write and checkpoint hold up no other writer's wait.
                lock.release()
                taken = False
                transaction.commit()
        finally:
            if taken:
                lock.release()  # the step failed before its commit (rolled back)
        return len(events)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply everything up to the current head; return how many events were read."""
        total = 0
        head = self.head()
        while True:
            read = self.run_once()  # each step collects after itself
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

        Returns each rebuilt view's position (the head of the log when the rebuild
        started; later events are applied by the next step). Readers keep the old tables
        until the swap, which happens in one transaction together with the positions.
        """
        chosen = list(names or self.live)
        unknown = [n for n in chosen if n not in self.live]
        if unknown:
            raise KeyError(f"unknown view(s) {', '.join(unknown)}; known: {', '.join(self.live)}")
        if not self.lock.acquire(blocking=True, timeout=60):
            raise StoreError("another runner holds the views' lock; stop it or wait")
        fresh = {n: self.live[n].in_generation(_other(self.live[n].generation)) for n in chosen}
        upto = self.head()
        here, there = list(fresh.values()), list[Projection]()
        sqlite_file = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if (self.rebuild_processes > 1 and len(here) > 1
                and upto >= self.rebuild_parallel_from and can_spawn()
                and sqlite_file != ":memory:"):  # another process could not see that store
            here, there = share(here)
        # The helper starts first: it imports and opens the store while the tables are made.
        helper = None
        if there:
            helper = Helper(self.reader.app.url, there,
                            scratch=None if not sqlite_file else Path(sqlite_file).parent,
                            batch_size=self.batch_size, commit_every=self.rebuild_commit_every)
        stats: dict[str, Any] = {"processes": 1 if helper is None else 2,
                                 "here": [v.name for v in here], "there": [v.name for v in there]}
        try:
            prepare(self.engine, fresh.values())
            if helper is not None:
                helper.start(upto)
            started, cpu = time.perf_counter(), time.process_time()

            def report(done: int) -> None:
                if progress is not None:
                    progress(min(done, upto if helper is None else helper.position), upto)

            fill(self.reader, self.engine, here, upto, batch_size=self.batch_size,
                 commit_every=self.rebuild_commit_every, progress=report)
            stats["here_seconds"] = time.perf_counter() - started
            stats["here_cpu_seconds"] = time.process_time() - cpu
            if helper is not None:
                helper.wait(lambda done: report(upto))
                stats.update({f"helper_{k}": v for k, v in helper.stats.items()})
            swapping = time.perf_counter()
            self._swap(fresh, upto, helper)
            stats["swap_seconds"] = time.perf_counter() - swapping
        finally:
            if helper is not None:
                helper.close()
        if progress is not None:
            progress(upto, upto)
        dropping = time.perf_counter()
        old = [self.live[name] for name in fresh]
        self.live.update(fresh)
        self._drop(old)
        stats["drop_seconds"] = time.perf_counter() - dropping
        self.rebuild_stats = stats
        return dict.fromkeys(chosen, upto)

    def _drop(self, views: list[Projection]) -> None:
        """Drop the tables of ``views`` (a generation no longer live)."""
        with self.engine.connect() as conn, dropping(conn):
            for view in views:
                view.metadata.drop_all(conn, checkfirst=True)
            conn.commit()

    def _swap(self, fresh: dict[str, Projection], upto: int, helper: Helper | None) -> None:
        """Bring in the helper's rows (if it loaded a scratch file) and move the positions
        to the fresh generation, in one transaction."""
        with self.engine.connect() as conn:
            if helper is not None:
                helper.attach(conn)
                conn.commit()
            try:
                with conn.begin():
                    if helper is not None:
                        helper.copy_into(conn)
                    for name, view in fresh.items():
                        positions.move(conn, name, generation=view.generation, position=upto,
                                       layout=view.layout_id())
            finally:
                if helper is not None:
                    helper.detach(conn)
                    conn.commit()
