"""Lock files beside a SQLite store (engine.store.flock), shared by the singleton locks,
the write lock and the Kafka partition fences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from engine.kafka.fence import PartitionFence
from engine.store import flock
from engine.store.locks import SingletonLock
from engine.store.writelock import lock_path


@pytest.mark.parametrize(("store", "expected"), [
    ("/data/store.db", "/data/store.db.views.lock"),
    ("file:/data/store.db?mode=rwc", "/data/store.db.views.lock"),
    (":memory:", None),
    ("file:x?mode=memory&cache=shared", None),
    ("", None),
    (None, None),
])
def test_a_lock_file_sits_beside_the_store_file_and_an_in_memory_store_has_none(
        store: str | None, expected: str | None) -> None:
    assert flock.lock_file(store, ".views.lock") == expected


def test_the_write_lock_uses_the_same_rule() -> None:
    assert lock_path("file:/data/s.db?mode=rwc") == "/data/s.db.write.lock"
    assert lock_path(":memory:") is None


def test_a_taken_lock_is_refused_until_released(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db.x.lock")
    first = flock.try_lock(path)
    assert first is not None
    assert flock.try_lock(path) is None
    flock.release(first)
    second = flock.try_lock(path)
    assert second is not None
    flock.release(second)


def test_a_program_started_while_a_lock_is_held_does_not_inherit_it(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db.x.lock")
    fd = flock.try_lock(path)
    assert fd is not None
    assert not os.get_inheritable(fd)
    # The child tries the lock itself: it must find it taken (held by this process).
    code = ("import sys; from engine.store import flock; "
            f"sys.exit(0 if flock.try_lock({path!r}) is None else 1)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    flock.release(fd)
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 1


def test_singleton_locks_and_partition_fences_keep_their_files_beside_the_store(
        tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    engine = create_engine(url)
    try:
        lock = SingletonLock(url, engine, "views")
        assert lock.acquire()
        assert SingletonLock(url, engine, "views").acquire() is False
        assert (tmp_path / "store.db.views.lock").exists()
        lock.release()
        assert SingletonLock(url, engine, "views").acquire()
        fence = PartitionFence(url, engine, "group")
        assert fence.acquire("facts", 0)
        assert PartitionFence(url, engine, "group").acquire("facts", 0) is False
        assert [p.name for p in tmp_path.glob("store.db.kafka-*.lock")]
        fence.close()
        assert PartitionFence(url, engine, "group").acquire("facts", 0)
    finally:
        engine.dispose()


def test_an_in_memory_store_locks_nothing_on_disk(tmp_path: Path) -> None:
    engine = create_engine("sqlite://")
    try:
        lock = SingletonLock("sqlite:///:memory:", engine, "views")
        assert lock.acquire() and lock.held
        lock.release()
        assert not lock.held
        fence = PartitionFence("sqlite:///:memory:", engine, "group")
        assert fence.acquire("facts", 0)
        fence.close()
    finally:
        engine.dispose()
