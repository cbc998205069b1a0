"""Singleton locks: only one process per store runs a given singleton (the views' runner,
the outbox relay, the SLA timer), named by ``name``.

SQLite (one machine): an exclusive ``flock`` on ``<file>.<name>.lock``. PostgreSQL (several
workers): a session advisory lock, keyed by the name, held on a dedicated connection.

A session lock dies with its session: when the server restarts or the lock's connection is
cut, another process may take the lock while this one still believes it holds it. So on
PostgreSQL every :meth:`SingletonLock.acquire` of a held lock (the loops call it before each
step) first asks the lock's own connection whether its session still holds it (in
``pg_locks``); if not, or if the connection is gone, the lock is counted as lost and given
up here, and taken again only if it is free: the holder steps down rather than become a
second singleton.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from engine.store import flock
from engine.store.app import store_env

__all__ = ["SingletonLock", "held_advisory_keys"]

log = logging.getLogger(__name__)

#: The advisory locks of this session with bigint keys (pg_locks shows such a key as two
#: 32-bit halves, objsubid 1).
_HELD = text("SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory' AND granted "
             "AND pid = pg_backend_pid() AND objsubid = 1")


def held_advisory_keys(conn: Connection) -> set[int]:
    """The (signed bigint) keys of the advisory locks that ``conn``'s session holds."""
    keys = set()
    for hi, lo in conn.execute(_HELD):
        unsigned = (int(hi) << 32) | int(lo)
        keys.add(unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned)
    return keys


def _advisory_key(name: str) -> int:
    digest = hashlib.sha256(f"dealflow.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SingletonLock:
    """Try-acquire (or wait for) the singleton lock ``name``; held until :meth:`release`."""

    def __init__(self, store_url: str, engine: Engine, name: str = "views") -> None:
        """Prepare; nothing is locked yet."""
        env = store_env(store_url)
        self.name = name
        self._key = _advisory_key(name)
        self._engine = engine
        # SQLite: the lock file, or None for an in-memory store (one process by definition).
        self._sqlite = env["PERSISTENCE_MODULE"].endswith("sqlite")
        self._path = flock.lock_file(env["SQLITE_DBNAME"], f".{name}.lock") if self._sqlite \
            else None
        self._fd: int | None = None
        self._conn: Connection | None = None
        self.losses = 0

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None or self._conn is not None

    def acquire(self, *, blocking: bool = False, timeout: float = 0.0) -> bool:
        """Take the lock if free (or wait up to ``timeout`` seconds when ``blocking``).

        A lock held here is checked first (PostgreSQL): one found lost is given up, then
        taken again only if free."""
        if self.held and self._still_held():
            return True
        deadline = time.monotonic() + timeout
        while True:
            if self._try():
                return True
            if not blocking or time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _try(self) -> bool:
        if self._sqlite:
            fd = -1 if self._path is None else flock.try_lock(self._path)
            self._fd = fd
            return fd is not None
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:  # the database is down: not taken, asked again later
            log.debug("the %r lock cannot be asked for: %r", self.name, exc)
            return False
        try:
            got: Any = conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": self._key}).scalar()
            conn.commit()
        except SQLAlchemyError as exc:
            log.debug("the %r lock cannot be asked for: %r", self.name, exc)
            conn.invalidate()
            conn.close()
            return False
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _still_held(self) -> bool:
        """Whether the lock this object holds is still its own (always, on SQLite)."""
        conn = self._conn
        if conn is None:
            return True
        try:
            held = self._key in held_advisory_keys(conn)
            conn.commit()
        except SQLAlchemyError as exc:
            held, why = False, f"its connection is gone ({' '.join(str(exc).split())[:200]})"
        else:
            why = "its session no longer holds it"
        if held:
            return True
        self.losses += 1
        log.warning("the %r lock was lost: %s; stepping down until it is taken again",
                    self.name, why)
        self._conn = None
        try:
            conn.invalidate()  # never back into the pool
            conn.close()
        except SQLAlchemyError:
            pass
        return False

    def release(self) -> None:
        """Give the lock up (no-op if not held)."""
        if self._fd is not None:
            if self._fd >= 0:
                flock.release(self._fd)
            self._fd = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                conn.commit()
            except DBAPIError:
                # The session is gone (the server restarted, the connection was cut): a
                # session lock dies with it, so there is nothing left to give up.
                pass
            finally:
                conn.close()
