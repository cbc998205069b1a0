"""Views' writes held back to the end of the runner's step (projections.deferred): the same
statements in the same order, reads of a written table see the writes, and on SQLite the
file's write lock is free while the views read and decide."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    func,
    select,
    text,
)

from engine.bootstrap import Engine
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.deferred import DeferredWrites
from tests.engine.conftest import send
from tests.engine.facts import opened

META = MetaData()
A = Table("deferred_a", META, Column("id", Integer, primary_key=True), Column("v", String))
B = Table("deferred_b", META, Column("id", Integer, primary_key=True))


def count(conn: Connection | DeferredWrites, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_writes_wait_for_flush_and_replay_in_order() -> None:
    sql = create_engine("sqlite://")
    META.create_all(sql)
    with sql.begin() as conn:
        deferred = DeferredWrites(conn)
        deferred.execute(A.insert(), [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}])
        deferred.exec_driver_sql('INSERT INTO "deferred_a" (id, v) VALUES (?, ?)', [(3, "z")])
        deferred.execute(delete(A).where(A.c.id == 2))
        deferred.execute(text("UPDATE deferred_a SET v = 'w' WHERE id = 1"))
        assert len(deferred.pending) == 4
        assert count(conn, A) == 0  # nothing ran yet
        assert count(deferred, B) == 0  # a read of another table runs at once...
        assert len(deferred.pending) == 4  # ...and leaves the queue alone
        deferred.flush()
        assert deferred.pending == []
        rows = conn.execute(select(A.c.id, A.c.v).order_by(A.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, "w"), (3, "z")]  # inserted, deleted, updated


@pytest.mark.parametrize("read", ["select", "driver", "text"])
def test_a_read_of_a_table_with_queued_writes_sees_them(read: str) -> None:
    sql = create_engine("sqlite://")
    META.create_all(sql)
    with sql.begin() as conn:
        deferred = DeferredWrites(conn)
        deferred.execute(A.insert(), [{"id": 1, "v": "x"}])
        deferred.execute(B.insert(), [{"id": 7}])
        if read == "select":
            found = count(deferred, A)
        elif read == "driver":
            found = deferred.exec_driver_sql('SELECT count(*) FROM "deferred_a"').scalar()
        else:
            found = deferred.execute(text("SELECT count(*) FROM deferred_a")).scalar()
        assert found == 1
        assert deferred.pending == []  # replayed, in order, before the read
        assert count(conn, B) == 1


class LockProbe(Projection):
    """Writes a row per event, then asks whether another connection could take the store
    file's write lock at that moment (no waiting)."""

    name = "lock_probe"
    free: list[bool] = []

    def define_tables(self) -> None:
        self.seen = self.table("seen", Column("position", Integer, primary_key=True))

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        conn.execute(self.seen.insert(), [{"position": e.position} for e in events])
        path = conn.engine.url.database
        assert path is not None
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            self.free.append(True)
        except sqlite3.OperationalError:  # "database is locked": our step holds it
            self.free.append(False)
        finally:
            other.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_write_lock_is_free_while_views_decide(engine: Engine) -> None:
    send(engine, *[opened(f"D-{i}") for i in range(5)])
    LockProbe.free = []
    runner = engine.runner_of([LockProbe()])
    try:
        assert runner.run_once() > 0
        with runner.engine.connect() as conn:
            seen = runner.live["lock_probe"].seen  # type: ignore[attr-defined]
            assert count(conn, seen) == runner.head()  # the writes ran, and committed
    finally:
        runner.stop()
    assert LockProbe.free == [True]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_views_connection_checkpoints_at_4000_wal_pages(engine: Engine) -> None:
    send(engine, opened("D-1"))
    runner = engine.runner_of([LockProbe()])
    try:
        with runner.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert runner.run_once() > 0
        with runner.engine.connect() as conn:  # the pool's one connection, as the step left it
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 4000
    finally:
        runner.stop()
