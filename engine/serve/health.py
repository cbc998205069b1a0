"""Whether the store answers, so that an outage is a quick 503, never a hung request, a 500
or an input wrongly stored as unprocessable.

A failure of the database itself (the server stopped, the connection lost, a SQLite file
locked by another writer beyond the busy timeout, a pool with no connection to give) is not
a property of the input: :func:`is_store_outage` tells it apart, the service marks the
store down (:class:`StoreHealth`) and answers ``StoreUnavailableError`` (HTTP 503 with
``Retry-After``), having stored nothing. While it is down, requests are refused at once,
without touching the database; a background thread probes it (a direct connection with a
2 s timeout for PostgreSQL; taking and releasing the write lock for SQLite) every
``interval`` seconds and marks it up again when it answers, and the service resumes by
itself. A PostgreSQL store is also probed while up, so that an outage is noticed before a
request waits on the connection pool.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import psycopg
import psycopg_pool
import sqlalchemy.exc
from eventsourcing.persistence import InterfaceError, OperationalError

from engine.errors import StoreError, StoreUnavailableError
from engine.serve.periodic import Periodic
from engine.store.app import parse_store_url
from engine.store.probe import probe_store

__all__ = ["OUTAGE_ERRORS", "StoreHealth", "is_store_outage"]

log = logging.getLogger(__name__)

#: Exceptions that mean the database did not answer (not that an input is bad).
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    StoreUnavailableError, OperationalError, InterfaceError, sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError,
    psycopg_pool.PoolTimeout, sqlite3.OperationalError,
)


def is_store_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the database not answering."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OUTAGE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _probe(url: str) -> Callable[[], None]:
    """A function raising when the store at ``url`` does not answer."""
    path = parse_store_url(url).get("SQLITE_DBNAME")
    if path is None:
        return lambda: probe_store(url)
    if path == ":memory:":
        return lambda: None

    def sqlite_probe() -> None:
        # The write lock, taken and given back at once: answers only when no other writer
        # holds it (a lock held beyond the busy timeout is what marked the store down).
        try:
            with closing(sqlite3.connect(Path(path), timeout=0.5)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StoreError(f"the SQLite store {path} is not writable: {exc}") from exc

    return sqlite_probe


class StoreHealth(Periodic):
    """The store's availability as this service last saw it, and the probe that finds it
    back (a :class:`~engine.serve.periodic.Periodic` task). ``interval``: seconds between
    probes."""

    thread_name = "dealflow-store-health"
    first_wait = False

    def __init__(self, url: str, *, interval: float = 0.5) -> None:
        """Prepare; :meth:`start` runs the probing thread."""
        super().__init__(interval)
        self._probe = _probe(url)
        self._always = parse_store_url(url).get("SQLITE_DBNAME") is None
        self._down: str | None = None
        self._since = 0.0
        self._lock = threading.Lock()
        self.outages = 0

    @property
    def down(self) -> str | None:
        """Why the store is down, or None while it answers."""
        return self._down

    def check(self) -> None:
        """Raise ``StoreUnavailableError`` at once while the store is down."""
        reason = self._down
        if reason is not None:
            raise StoreUnavailableError(
                f"the store is unavailable ({reason}) for {time.monotonic() - self._since:.1f}"
                " s; nothing was stored; retry")

    def mark_down(self, exc: BaseException) -> StoreUnavailableError:
        """Record an outage seen by a request; the error to answer it with."""
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        with self._lock:
            if self._down is None:
                self._down, self._since = reason, time.monotonic()
                self.outages += 1
                log.error("the store does not answer (%s); refusing writes until it does",
                          reason)
        self.wake()
        return StoreUnavailableError(f"the store is unavailable ({reason}); nothing was "
                                     "stored; retry")

    def probe_once(self) -> bool:
        """Probe now; mark the store up or down accordingly; whether it answered."""
        try:
            self._probe()
        except Exception as exc:
            if self._down is None:
                self.mark_down(exc)
            return False
        with self._lock:
            if self._down is not None:
                log.warning("the store answers again after %.1f s; resuming",
                            time.monotonic() - self._since)
                self._down = None
        return True

    def work(self) -> None:
        """Probe (always for PostgreSQL, while down for SQLite)."""
        if self._down is not None or self._always:
            self.probe_once()
