"""The SQLite recorder's commits: written to the WAL without fsync (``synchronous=NORMAL``,
durable across a crash of the process), on every connection its pool opens."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.sqlite import SQLiteDatastore

from engine.store.app import DealflowApplication
from engine.store.recorders import DealflowSQLiteRecorder

_NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL (SQLite's default)


def _pragma(recorder: DealflowSQLiteRecorder, name: str, *, writer: bool) -> object:
    with recorder.datastore.transaction(commit=writer) as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_every_connection_commits_in_wal_mode_without_fsync(tmp_path: Path) -> None:
    recorder = DealflowSQLiteRecorder(SQLiteDatastore(db_name=str(tmp_path / "s.db")))
    recorder.create_table()
    for writer in (True, False, True):
        assert _pragma(recorder, "synchronous", writer=writer) == _NORMAL
    assert str(_pragma(recorder, "journal_mode", writer=False)).lower() == "wal"
    recorder.datastore.close()


def test_the_application_store_uses_the_same_setting(tmp_path: Path) -> None:
    app = DealflowApplication(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        assert isinstance(app.recorder, DealflowSQLiteRecorder)
        assert _pragma(app.recorder, "synchronous", writer=True) == _NORMAL
    finally:
        app.close()
