"""Views' writes held back to the end of the runner's step, so SQLite's write lock is held
for the writes alone.

SQLite lets one connection write at a time, and a transaction holds the file's write lock
from its first write to its commit. A live step used to take it at the first view's first
write and keep it while every later view read, decided and built its rows in Python, so a
Kafka consumer or an HTTP batch appending to the same file waited (py-spy: over a quarter of
the consumer's storing thread in ``executemany`` waiting, against a tenth without views).
:class:`DeferredWrites` hands a view's reads to the connection at once and queues its
writes; the runner replays the queue, in order, right before it moves the positions and
commits. The statements and their parameters are the same, so the tables are the same.

A read of a table with queued writes first replays the queue (a view that reads back what it
wrote sees it, as before); statements it cannot place (DDL, text it cannot parse) also
replay the queue first and then run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, TextClause
from sqlalchemy.sql import util as sql_util

__all__ = ["DeferredWrites"]

_DML = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
#: The table an INSERT, UPDATE, DELETE or REPLACE writes: its (maybe quoted) name.
_TARGET = re.compile(
    r"\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+"
    r"(?:\"((?:[^\"]|\"\")+)\"|`([^`]+)`|([\w.]+))", re.IGNORECASE)


class DeferredWrites:
    """Stands in for a :class:`~sqlalchemy.Connection` inside one step: reads run at once,
    writes (INSERT, UPDATE, DELETE) wait in order for :meth:`flush`."""

    def __init__(self, conn: Connection,
                 before_writes: Callable[[], object] | None = None) -> None:
        """Queue the writes meant for ``conn``; ``before_writes`` runs before queued writes
        are run (each :meth:`flush` that has any), e.g. to take the store's write lock."""
        self.conn = conn
        self.dialect = conn.dialect
        self.before_writes = before_writes
        self.pending: list[Callable[[], Any]] = []
        self.tables: set[str] = set()  # the tables the queue writes (lower case)

    def __getattr__(self, name: str) -> Any:
        # Anything else a view may ask of its connection (e.g. ``engine``) is the real one's.
        return getattr(self.conn, name)

    # ------------------------------------------------------------------ statements
    def execute(self, statement: Any, parameters: Any = None, **kw: Any) -> Any:
        """Queue a DML statement (its result is not available: ``None``); run anything
        else now, after the queued writes if it reads one of their tables."""
        target = _written_table(statement)
        if target is not None:
            self._queue(target, lambda: self.conn.execute(statement, parameters, **kw))
            return None
        self._before_read(_read_tables(statement))
        return self.conn.execute(statement, parameters, **kw)

    def exec_driver_sql(self, statement: str, parameters: Any = None, **kw: Any) -> Any:
        """As :meth:`execute`, for the driver's own SQL text."""
        match = _TARGET.match(statement) if _DML.match(statement) else None
        if match is not None:
            name = next(g for g in match.groups() if g is not None).replace('""', '"')
            self._queue(name, lambda: self.conn.exec_driver_sql(statement, parameters, **kw))
            return None
        self._before_read(None, text=statement)
        return self.conn.exec_driver_sql(statement, parameters, **kw)

    # ------------------------------------------------------------------ the queue
    def flush(self) -> None:
        """Run the queued writes in the order they were asked for."""
        pending, self.pending = self.pending, []
        self.tables = set()
        if pending and self.before_writes is not None:
            self.before_writes()
        for write in pending:
            write()

    def _queue(self, table: str, write: Callable[[], Any]) -> None:
        self.pending.append(write)
        self.tables.add(table.lower())

    def _before_read(self, tables: set[str] | None, text: str | None = None) -> None:
        if not self.pending:
            return
        if text is not None:
            lowered = text.lower()
            if any(name in lowered for name in self.tables):
                self.flush()
            return
        if tables is None or tables & self.tables:
            self.flush()


def _written_table(statement: Any) -> str | None:
    """The table a DML statement writes (None: not DML, or not known)."""
    if getattr(statement, "is_dml", False):
        table = getattr(statement, "table", None)
        name = getattr(table, "name", None)
        return name if isinstance(name, str) else None
    if isinstance(statement, TextClause):
        match = _TARGET.match(statement.text) if _DML.match(statement.text) else None
        if match is not None:
            return next(g for g in match.groups() if g is not None).replace('""', '"')
    return None


def _read_tables(statement: Any) -> set[str] | None:
    """The names of the tables ``statement`` reads (None: not known, assume any)."""
    if isinstance(statement, TextClause):
        return None
    try:
        return {t.name.lower() for t in sql_util.find_tables(statement, include_joins=True,
                                                             include_aliases=True)
                if isinstance(getattr(t, "name", None), str)}
    except Exception:  # not a statement find_tables knows: replay the queue first
        return None
