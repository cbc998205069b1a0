"""Filling a fresh generation of views from the log, in this process and in a helper.

:func:`fill` applies the log up to a position to views' empty tables: each batch is read
and decoded once for all of them (only the events their ``topics`` name, when they all
name theirs), several batches share a transaction, the cyclic collector runs only between
batches, and the secondary indexes, dropped before the load, are built once at its end.

A rebuild of a large log shares the views out between this process and a helper process
(:func:`share`, by each view's ``rebuild_cost``), each reading the log itself: the work is
Python, so two processes use two cores. On PostgreSQL the helper writes the fresh tables
directly. On SQLite, where two writers would take turns holding the database's write lock,
the helper loads into a scratch SQLite file of its own; :meth:`Helper.copy_into` then moves
its rows into the fresh tables in the swap transaction (``INSERT INTO main.t SELECT * FROM
scratch.t``: with the same layout and indexes on both sides SQLite copies the records
as they are, indexes included). The rows are the ones the views would have written
themselves, so a rebuild equals the live views whichever process built them.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index

import engine.domain  # noqa: F401  (the helper decodes events: registers their stored names)
from engine.errors import DealflowError
from engine.store import gc as store_gc
from engine.store.app import DealflowApplication
from engine.store.log import LogReader
from engine.store.sql import sql_engine, sqlite_engine
from projections.base import Projection

__all__ = ["Helper", "can_spawn", "deferred_indexes", "dropping", "fill", "prepare", "share"]


def deferred_indexes(views: Iterable[Projection]) -> list[Index]:
    """The secondary (non-unique) indexes of ``views``: built after a load, not during."""
    return [index for view in views for table in view.metadata.sorted_tables
            for index in table.indexes if not index.unique]


@contextmanager
def dropping(conn: Connection) -> Iterator[None]:
    """Drop tables on ``conn`` without zeroing their pages: Debian's SQLite zeroes every
    freed page (``secure_delete``), so dropping a generation of views would write all of
    it once more. View rows are derived from the log kept in the same file: nothing private
    is left behind."""
    if conn.dialect.name != "sqlite":
        yield
        return
    secure = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete=FAST")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA secure_delete={int(secure or 0)}")


def prepare(sql: Engine, views: Iterable[Projection]) -> None:
    """Empty tables for ``views`` on ``sql``, without their secondary indexes (committed,
    so that another process can load them)."""
    views = list(views)
    with sql.connect() as conn, dropping(conn):
        for view in views:
            view.metadata.drop_all(conn, checkfirst=True)
            view.metadata.create_all(conn)
        for index in deferred_indexes(views):
            index.drop(conn)
        conn.commit()


def _topics(views: Sequence[Projection]) -> frozenset[str]:
    """The topics ``views`` act on; empty (read everything) when one of them may act on
    any event."""
    wanted: set[str] = set()
    for view in views:
        if view.topics is None:
            return frozenset()
        wanted |= view.topics
    return frozenset(wanted)


def fill(reader: LogReader, sql: Engine, views: Sequence[Projection], upto: int, *,
         batch_size: int, commit_every: int,
         progress: Callable[[int], None] | None = None) -> None:
    """Apply the log up to position ``upto`` to ``views``' empty tables (prepared by
    :func:`prepare`), then build their secondary indexes."""
    loads = [view.bulk_load() for view in views]
    topics = _topics(views)
    position, pending = 0, 0
    conn = sql.connect()
    transaction = conn.begin()
    try:
        with store_gc.batches() as collect:
            while True:
                events = reader.read(position, batch_size, upto=upto, topics=topics)
                if events:
                    for load in loads:
                        load.process(conn, events)
                    position = events[-1].position
                    pending += 1
                if len(events) < batch_size:
                    break
                if pending >= commit_every:
                    transaction.commit()
                    transaction = conn.begin()
                    pending = 0
                collect()
                if progress is not None:
                    progress(position)
            for load in loads:
                load.finish(conn)
            for index in deferred_indexes(views):
                index.create(conn)
        transaction.commit()
    except BaseException:
        transaction.rollback()
        raise
    finally:
        conn.close()


def share(views: Sequence[Projection]) -> tuple[list[Projection], list[Projection]]:
    """``views`` in two groups of about equal ``rebuild_cost``: (this process's, the
    helper's); the helper gets the lighter group, since on SQLite its rows are copied
    once more."""
    here: list[Projection] = []
    there: list[Projection] = []
    for view in sorted(views, key=lambda v: -v.rebuild_cost):
        lighter = here if _cost(here) <= _cost(there) else there
        lighter.append(view)
    if _cost(there) > _cost(here):
        here, there = there, here
    order = {id(v): i for i, v in enumerate(views)}
    return (sorted(here, key=lambda v: order[id(v)]), sorted(there, key=lambda v: order[id(v)]))


def _cost(views: Sequence[Projection]) -> float:
    return sum(v.rebuild_cost for v in views)


def _scratch_engine(path: Path) -> Engine:
    """A SQLite file nobody else reads until the helper is done: no journal, no syncs
    (a crash throws the file away)."""
    return sqlite_engine(str(path), "journal_mode=OFF", "synchronous=OFF")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _helper_main(store_url: str, views: list[Projection], scratch: str | None,
                 batch_size: int, commit_every: int, go: Pipe, done: Pipe,
                 position: Any) -> None:
    """The helper process: open the store (and prepare ``scratch`` when given) while the
    parent prepares, wait for the position to fill up to on ``go``, fill ``views``, report
    ``("done", {"seconds": ..., "cpu_seconds": ..., "peak_rss_mb": ...})`` or
    ``("error", traceback)`` on ``done``."""
    try:
        app = DealflowApplication(store_url, create_tables=False)
        try:
            if scratch is None:
                sql = sql_engine(store_url)
            else:
                sql = _scratch_engine(Path(scratch))
                prepare(sql, views)
            try:
                upto = go.recv()

                def moved(at: int) -> None:
                    position.value = at

                started, cpu = time.perf_counter(), time.process_time()
                fill(LogReader(app), sql, views, upto, batch_size=batch_size,
                     commit_every=commit_every, progress=moved)
            finally:
                sql.dispose()
        finally:
            app.close()
        position.value = upto
        done.send(("done", {"seconds": time.perf_counter() - started,
                            "cpu_seconds": time.process_time() - cpu,
                            "peak_rss_mb": _peak_rss_mb()}))
    except BaseException:
        done.send(("error", traceback.format_exc()))


def can_spawn() -> bool:
    """Whether this process may start a helper: a daemonic process (e.g. ``dealflow
    serve``'s views process) may have no children."""
    return not mp.current_process().daemon


class Helper:
    """A helper process filling some of the fresh views (see the module docstring)."""

    def __init__(self, store_url: str, views: list[Projection], *, scratch: Path | None,
                 batch_size: int, commit_every: int) -> None:
        """Start the process for ``views`` (it fills a scratch SQLite file in a folder it
        makes in ``scratch``, beside the store, whose disk takes these rows next anyway;
        else the store's database), which opens the store and waits for :meth:`start`."""
        self.views = views
        self.folder = (None if scratch is None
                       else Path(tempfile.mkdtemp(prefix="dealflow-rebuild-", dir=scratch)))
        self.path = None if self.folder is None else self.folder / "views.db"
        self.stats: dict[str, float] = {}  # the helper's fill time and peak RSS, once done
        ctx = mp.get_context("spawn")
        self._done, child_done = ctx.Pipe(duplex=False)
        child_go, self._go = ctx.Pipe(duplex=False)
        self._position = ctx.Value("q", 0, lock=False)
        self._process = ctx.Process(
            target=_helper_main, daemon=True,
            args=(store_url, views, None if self.path is None else str(self.path),
                  batch_size, commit_every, child_go, child_done, self._position))
        self._process.start()
        child_done.close()
        child_go.close()

    def start(self, upto: int) -> None:
        """Fill up to position ``upto`` (the fresh tables exist now)."""
        with suppress(OSError):  # the process failed already: wait() reports why
            self._go.send(upto)

    @property
    def position(self) -> int:
        """How far the helper has applied the log."""
        return int(self._position.value)

    def wait(self, progress: Callable[[int], None] | None = None) -> None:
        """Block until the helper is done; raise if it failed or died."""
        while not self._done.poll(0.2):
            if not self._process.is_alive() and not self._done.poll(0):
                raise DealflowError(
                    f"the rebuild helper process died (exit code {self._process.exitcode})")
            if progress is not None:
                progress(self.position)
        try:
            kind, payload = self._done.recv()
        except EOFError:
            raise DealflowError("the rebuild helper process died without a word") from None
        if kind != "done":
            raise DealflowError(f"the rebuild helper process failed:\n{payload}")
        self.stats = payload

    def attach(self, conn: Connection) -> None:
        """Make the scratch file readable on ``conn`` (outside any transaction)."""
        if self.path is not None:
            conn.exec_driver_sql("ATTACH DATABASE ? AS dealflow_rebuild", (str(self.path),))

    def copy_into(self, conn: Connection) -> None:
        """Copy the scratch tables into the fresh tables of the store (empty, with their
        secondary indexes built first, so that SQLite copies records and index entries
        as they are). Nothing to do when the helper wrote the store itself."""
        if self.path is None:
            return
        for view in self.views:
            for index in deferred_indexes([view]):
                index.create(conn)
            for table in view.metadata.sorted_tables:
                name = conn.dialect.identifier_preparer.quote(table.name)
                conn.exec_driver_sql(
                    f"INSERT INTO main.{name} SELECT * FROM dealflow_rebuild.{name}")

    def detach(self, conn: Connection) -> None:
        """Undo :meth:`attach` (after the transaction)."""
        if self.path is not None:
            conn.exec_driver_sql("DETACH DATABASE dealflow_rebuild")

    def close(self) -> None:
        """Stop the process if it still runs and remove the scratch file."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=30)
        self._done.close()
        self._go.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
