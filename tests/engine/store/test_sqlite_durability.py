"""The SQLite recorder's commits: written to the WAL without fsync (``synchronous=NORMAL``,
durable across a crash of the process), on every connection its pool opens."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from engine.store.app import DealflowApplication
from engine.store.recorders import STATEMENT_CACHE, DealflowSQLiteRecorder

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


def test_every_connection_keeps_a_larger_page_cache_and_checkpoints_less_often(
    tmp_path: Path,
) -> None:
    # SQLite's defaults: cache_size -2000 (2 MB), wal_autocheckpoint 1000 pages.
    recorder = DealflowSQLiteRecorder(SQLiteDatastore(db_name=str(tmp_path / "c.db")))
    recorder.create_table()
    try:
        for writer in (True, False):
            assert _pragma(recorder, "cache_size", writer=writer) == -8192
            assert _pragma(recorder, "wal_autocheckpoint", writer=writer) == 4000
    finally:
        recorder.datastore.close()


def test_larger_cache_and_rarer_checkpoints_store_the_same_rows(tmp_path: Path) -> None:
    # The pragmas change only how the file is written: the same events read back alike.
    recorder = DealflowSQLiteRecorder(SQLiteDatastore(db_name=str(tmp_path / "r.db")))
    recorder.create_table()
    try:
        ids = [uuid4() for _ in range(3_000)]
        for start in range(0, len(ids), 1_000):
            recorder.insert_event_rows(
                [(i, 1, "t", i.bytes * 20) for i in ids[start:start + 1_000]])
        stored = recorder.select_events_of(ids)
        assert sorted((s.originator_id, s.state) for s in stored) == sorted(
            (i, i.bytes * 20) for i in ids)
    finally:
        recorder.datastore.close()


def test_every_connection_keeps_its_prepared_statements(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # eventsourcing asks for a statement cache of one; the recorder's connections keep
    # STATEMENT_CACHE, so a batch's lookup and inserts are not prepared again each time.
    opened: list[dict[str, object]] = []
    connect = sqlite3.connect

    def recording(*args: Any, **kwargs: Any) -> Any:
        opened.append(kwargs)
        return connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", recording)
    recorder = DealflowSQLiteRecorder(SQLiteDatastore(db_name=str(tmp_path / "c.db")))
    recorder.create_table()
    for writer in (True, False):
        assert _pragma(recorder, "synchronous", writer=writer) == _NORMAL
    recorder.datastore.close()
    assert opened
    assert {kwargs.get("cached_statements") for kwargs in opened} == {STATEMENT_CACHE}
    assert STATEMENT_CACHE > 1
