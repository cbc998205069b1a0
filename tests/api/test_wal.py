"""``dealflow serve`` keeps a SQLite store's WAL from growing (engine.serve.wal)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from prometheus_client import CollectorRegistry

from engine.serve.service import Service
from engine.serve.wal import WalCheckpointer
from tests.api.conftest import api_settings


def _store(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # as if readers always kept it from restarting
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    return conn


def _write(conn: sqlite3.Connection, start: int, n: int) -> None:
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?, ?)",
                     ((k, bytes(1000)) for k in range(start, start + n)))
    conn.execute("COMMIT")


def test_a_wal_past_the_limit_is_checkpointed_and_truncated(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = _store(path)
    _write(conn, 0, 3000)
    checkpointer = WalCheckpointer(str(path), limit_bytes=1 << 20)
    before = checkpointer.wal_bytes()
    assert before > 1 << 20
    done = checkpointer.check()
    assert done is not None and not done.busy and done.wal_bytes == before
    assert checkpointer.wal_bytes() == 0 and checkpointer.truncated == 1
    # Every row is in the database file itself: a fresh connection without the WAL sees them.
    fresh = sqlite3.connect(path)
    assert fresh.execute("SELECT count(*) FROM t").fetchone() == (3000,)
    fresh.close()
    conn.close()


def test_a_wal_under_the_limit_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = _store(path)
    _write(conn, 0, 100)
    checkpointer = WalCheckpointer(str(path), limit_bytes=1 << 20)
    size = checkpointer.wal_bytes()
    assert 0 < size <= 1 << 20
    assert checkpointer.check() is None
    assert checkpointer.wal_bytes() == size and checkpointer.truncated == 0
    conn.close()


def test_a_reader_on_an_old_snapshot_makes_it_wait_for_a_later_look(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    writer = _store(path)
    _write(writer, 0, 1500)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1500,)  # snapshot held
    _write(writer, 1500, 1500)
    checkpointer = WalCheckpointer(str(path), limit_bytes=1 << 20, busy_ms=50)
    size = checkpointer.wal_bytes()
    held = checkpointer.check()
    assert held is not None and held.busy and checkpointer.busy == 1
    assert checkpointer.wal_bytes() == size  # nothing truncated under the reader
    # The writer was not failed: it goes on while the reader still holds its snapshot.
    _write(writer, 3000, 10)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1500,)
    reader.execute("COMMIT")
    done = checkpointer.check()
    assert done is not None and not done.busy and checkpointer.wal_bytes() == 0
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (3010,)
    reader.close()
    writer.close()


def test_serve_watches_the_wal_of_a_sqlite_store_as_configured(tmp_path: Path) -> None:
    service = Service.build(api_settings(f"sqlite:///{tmp_path}/s.db", serve_wal_limit_mb=8,
                                         serve_wal_check_seconds=3, serve_wal_busy_ms=200),
                            registry=CollectorRegistry())
    try:
        service.start()
        watching = [t for t in service.background if isinstance(t, WalCheckpointer)]
        assert len(watching) == 1
        assert (watching[0].path, watching[0].interval, watching[0].limit_bytes,
                watching[0].busy_ms) == (f"{tmp_path}/s.db", 3, 8 << 20, 200)
    finally:
        service.stop()
    off = Service.build(api_settings(f"sqlite:///{tmp_path}/s.db", serve_wal_check_seconds=0),
                        registry=CollectorRegistry())
    try:
        off.start()
        assert not [t for t in off.background if isinstance(t, WalCheckpointer)]
    finally:
        off.stop()
