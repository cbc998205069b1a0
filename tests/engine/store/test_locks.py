"""Singleton locks (engine.store.locks) on PostgreSQL: a session advisory lock dies with its
session, so a holder whose lock connection was cut (the server restarted, or its backend
terminated) must notice before its next step and step down rather than run beside the
process that took the lock meanwhile."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import text

from engine.bootstrap import Engine
from engine.store.follower import Follower
from engine.store.locks import SingletonLock
from engine.store.sql import sql_engine
from tests.infra.common import free_loopback_port

NAME = "test-lost-lock"


def _holder_pid(engine: Engine, name: str) -> int | None:
    """The backend holding the advisory lock ``name``, read from pg_locks."""
    digest = hashlib.sha256(f"dealflow.{name}".encode()).digest()
    key = int.from_bytes(digest[:8], "big")  # unsigned: pg_locks shows two oid halves
    with engine.sql.connect() as conn:
        pid = conn.execute(
            text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND objsubid = 1 AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid) "
                 "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"hi": key >> 32, "lo": key & 0xFFFF_FFFF}).scalar()
    return None if pid is None else int(pid)


def _terminate(engine: Engine, pid: int) -> None:
    """Cut one backend of this test's own database (what a server restart does to all), and
    wait until it has exited: the signal alone leaves its locks held for a moment, longer on a
    busy machine (PostgreSQL 14+ waits for the exit, here up to 30 s)."""
    with engine.sql.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 30000)"),
                            {"pid": pid}).scalar()


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_holder_whose_lock_connection_was_cut_steps_down(engine: Engine) -> None:
    steps: list[str] = []

    def step(who: str) -> Callable[[], int]:
        def one() -> int:
            steps.append(who)
            return 1
        return one

    first = Follower("first", step("first"), engine.lock(NAME), idle=0.01, full=None)
    second = Follower("second", step("second"), engine.lock(NAME), idle=0.01, full=None)
    try:
        assert first.run_once() == 1
        assert first.run_once() == 1 and first.lock.losses == 0  # checked, still its own
        assert second.run_once() == 0  # standby while the first holds it
        pid = _holder_pid(engine, NAME)
        assert pid is not None
        _terminate(engine, pid)
        assert second.run_once() == 1  # the lock died with its session: free to take
        assert second.lock.held and _holder_pid(engine, NAME) != pid
        # The first still thinks it holds the lock: it must find out and stand by.
        assert first.run_once() == 0
        assert not first.lock.held and first.lock.losses == 1
        assert steps == ["first", "first", "second"]
        second.stop()
        assert first.run_once() == 1  # taken again once free
        assert first.lock.held and steps == ["first", "first", "second", "first"]
    finally:
        first.close()
        second.close()


def test_a_lock_asked_for_while_the_database_is_down_is_not_taken() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_loopback_port()}/nothing"  # nobody listens
    sql = sql_engine(url)
    try:
        lock = SingletonLock(url, sql, NAME)
        assert not lock.acquire() and not lock.held  # stands by; no exception for the loop
    finally:
        sql.dispose()
