"""The store's write lock: one writer at a time, waited for in the kernel; the event store's
inserts and the views' write phase take it (SQLite), and nothing takes it on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.bootstrap import Engine
from engine.store.writelock import WriteLock, lock_path, write_lock
from tests.engine.conftest import send
from tests.engine.facts import opened

#: Long enough for a thread that should be blocked to have got the lock if it could.
SETTLE = 0.2


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "store.db.write.lock")


def test_a_second_writer_waits_until_the_first_lets_go(path: str) -> None:
    first, second = WriteLock(path), WriteLock(path)
    first.acquire()
    thread, done = _in_thread(lambda: (second.acquire(), second.release()))
    assert not done.wait(SETTLE)  # blocked while the first holds it
    first.release()
    thread.join(10)
    assert done.is_set()
    assert second.waits == 1 and first.waits == 0


def test_reentrant_in_one_thread(path: str) -> None:
    lock, other = WriteLock(path), WriteLock(path)
    with lock:
        with lock:
            assert lock.held
        assert lock.held  # the inner release kept it
        thread, done = _in_thread(lambda: (other.acquire(), other.release()))
        assert not done.wait(SETTLE)
    assert not lock.held
    thread.join(10)
    assert done.is_set()


def test_threads_of_one_lock_object_exclude_each_other(path: str) -> None:
    lock = WriteLock(path)
    lock.acquire()
    thread, done = _in_thread(lambda: (lock.acquire(), lock.release()))
    assert not done.wait(SETTLE)
    lock.release()
    thread.join(10)
    assert done.is_set()


def test_freed_when_its_process_is_killed(path: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom engine.store.writelock import WriteLock\n"
         f"WriteLock({path!r}).acquire()\nprint('held', flush=True)\ntime.sleep(600)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[3])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = WriteLock(path)
        thread, done = _in_thread(lambda: (lock.acquire(), lock.release()))
        assert not done.wait(SETTLE)
        os.kill(holder.pid, signal.SIGKILL)
        thread.join(10)
        assert done.is_set()
    finally:
        holder.kill()
        holder.communicate()


def test_a_write_transaction_lets_go_before_its_commit(path: str) -> None:
    lock, other = WriteLock(path), WriteLock(path)
    with lock.writing():
        assert lock.held
        lock.before_commit()
        assert not lock.held
        with other:  # free for the next writer while this one commits
            pass
    assert not lock.held
    with lock.writing():
        pass  # the block's end lets go when before_commit was not called
    assert not lock.held


def test_before_commit_inside_an_outer_hold_keeps_the_lock(path: str) -> None:
    lock = WriteLock(path)
    with lock:
        with lock.writing():
            lock.before_commit()
            assert lock.held  # the outer hold of this thread still needs it
        assert lock.held
    assert not lock.held
    lock.before_commit()  # outside writing(): nothing to let go
    assert not lock.held


def test_a_waiter_gives_up_after_the_timeout_and_goes_on(path: str) -> None:
    holder, waiter = WriteLock(path), WriteLock(path, timeout=0.05)
    with holder:
        with waiter:
            assert not waiter.held
        assert (waiter.waits, waiter.gave_up) == (1, 1)
    with waiter:
        assert waiter.held


@pytest.mark.parametrize("name", [None, "", ":memory:", "file:x?mode=memory&cache=shared"])
def test_no_lock_without_a_file(name: str | None) -> None:
    lock = write_lock(name)
    assert lock.path is None
    with lock:
        assert not lock.held


def test_a_file_uri_locks_the_file() -> None:
    assert lock_path("file:/data/store.db?cache=shared") == "/data/store.db.write.lock"
    assert lock_path("/data/store.db") == "/data/store.db.write.lock"


# ------------------------------------------------------------------ the store's writers
@pytest.fixture
def held(engine: Engine) -> Iterator[WriteLock | None]:
    """Another holder of the store's write lock (None on PostgreSQL, which has none)."""
    url = engine.sql.url
    if engine.sql.dialect.name != "sqlite":
        yield None
        return
    other = write_lock(url.database)
    other.acquire()
    try:
        yield other
    finally:
        if other.held:
            other.release()


def test_the_event_store_writes_under_the_lock(engine: Engine, held: WriteLock | None) -> None:
    thread, done = _in_thread(lambda: send(engine, opened("D-1")))
    if held is not None:
        assert not done.wait(SETTLE)  # the append waits for the other writer
        held.release()
    thread.join(30)
    assert done.is_set()
    assert engine.app.recorder.max_notification_id()


def test_the_views_write_under_the_lock(engine: Engine) -> None:
    send(engine, *[opened(f"D-{i}") for i in range(3)])
    runner = engine.runner(["pipeline"])
    try:
        if engine.sql.dialect.name != "sqlite":
            assert runner.write_lock.path is None
            assert runner.run_once() > 0
            return
        other = write_lock(engine.sql.url.database)
        other.acquire()
        thread, done = _in_thread(runner.run_once)
        assert not done.wait(SETTLE)  # the step read and decided, and waits to write
        assert runner.positions() == {"pipeline": 0}
        other.release()
        thread.join(30)
        assert done.is_set()
        assert runner.positions()["pipeline"] > 0
        assert not runner.write_lock.held
    finally:
        runner.stop()
