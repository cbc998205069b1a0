"""Raw reads of the event log in position order, undecoded, on SQLite and PostgreSQL.

The audit trail hashes stored bytes, so it never decodes events; it reads the events table
directly through a SQLAlchemy engine on the store's database (``engine.store.sql``), with
plain DB-API cursors because the verifier reads a million rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from engine.audit.record import record_sql
from engine.store.app import DealflowApplication

__all__ = ["EventLog", "LogRow"]


@dataclass(frozen=True, slots=True)
class LogRow:
    """One stored event as the log holds it."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class EventLog:
    """Queries on the events table of ``app``'s store (see the module docstring)."""

    def __init__(self, app: DealflowApplication, engine: Engine) -> None:
        """Name the table and its position column for the store's backend."""
        self.dialect = engine.dialect.name
        if self.dialect == "sqlite":
            self.table = app.recorder.events_table_name  # type: ignore[attr-defined]
            self.position = "rowid"
            self.mark = "?"
            self._originator = "lower(replace(originator_id, '-', ''))"
            state = "CAST(state AS BLOB)"  # a text value written behind our back stays bytes
        else:
            schema = app.recorder.datastore.schema  # type: ignore[attr-defined]
            self.table = f'"{schema}"."{app.recorder.events_table_name}"'  # type: ignore[attr-defined]
            self.position = "notification_id"
            self.mark = "%s"
            self._originator = "replace(originator_id::text, '-', '')"
            state = "state"
        p, t, m = self.position, self.table, self.mark
        self._chainable = (f"SELECT {p}, {record_sql(self.dialect, p)}, {self._originator}, "
                           f"originator_version FROM {t} WHERE {p} > {m} ORDER BY {p} LIMIT {m}")
        self._records = (f"SELECT {p}, {record_sql(self.dialect, p)} FROM {t} "
                         f"WHERE {p} > {m} ORDER BY {p} LIMIT {m}")
        self._columns = columns = f"{p}, {self._originator}, originator_version, topic, {state}"
        self._rows = f"SELECT {columns} FROM {t} WHERE {p} > {m} ORDER BY {p} LIMIT {m}"
        self._rows_in = (f"SELECT {columns} FROM {t} WHERE {p} > {m} AND {p} <= {m} "
                         f"ORDER BY {p}")
        self._of = f"SELECT {columns} FROM {t} WHERE originator_id = {m} ORDER BY {p}"
        self._position_of = (f"SELECT {p} FROM {t} WHERE originator_id = {m} "
                             f"AND originator_version = {m}")
        self._last = f"SELECT MAX({p}) FROM {t}"
        self._topics = f"SELECT {columns} FROM {t} WHERE {p} <= {m} AND topic IN ({{marks}}) " \
                       f"ORDER BY {p}"
        self._like = f"SELECT {columns} FROM {t} WHERE topic LIKE {m} ORDER BY {p}"

    def _fetch(self, conn: Connection, statement: str, params: tuple[Any, ...]) -> list[Any]:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(statement, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _originator_param(self, originator_hex: str) -> Any:
        if self.dialect == "sqlite":
            return originator_hex
        return UUID(originator_hex)

    def records(self, conn: Connection, after: int, limit: int) -> list[tuple[int, bytes]]:
        """(position, record) of the events after ``after`` (see :mod:`engine.audit.record`)."""
        return self._fetch(conn, self._records, (after, limit))

    def chainable(self, conn: Connection, after: int, limit: int
                  ) -> list[tuple[int, bytes, str, int]]:
        """(position, record, aggregate id as 32 hex, version) of the events after ``after``."""
        return self._fetch(conn, self._chainable, (after, limit))

    def rows(self, conn: Connection, after: int, limit: int) -> list[LogRow]:
        """The events after position ``after``, at most ``limit``."""
        return [_row(r) for r in self._fetch(conn, self._rows, (after, limit))]

    def rows_between(self, conn: Connection, after: int, upto: int) -> list[LogRow]:
        """The events in positions ``(after, upto]``."""
        return [_row(r) for r in self._fetch(conn, self._rows_in, (after, upto))]

    def row_at(self, conn: Connection, position: int) -> LogRow | None:
        """The event at ``position``, if any."""
        found = self.rows_between(conn, position - 1, position)
        return found[0] if found else None

    def rows_at(self, conn: Connection, positions: list[int]) -> list[LogRow]:
        """The events at ``positions`` (those that exist), in log order."""
        found: list[LogRow] = []
        unique = sorted(set(positions))
        p, t, m, columns = self.position, self.table, self.mark, self._columns
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            statement = (f"SELECT {columns} FROM {t} WHERE {p} IN ({','.join([m] * len(chunk))})"
                         f" ORDER BY {p}")
            found.extend(_row(r) for r in self._fetch(conn, statement, tuple(chunk)))
        return found

    def next_position(self, conn: Connection, position: int) -> int | None:
        """The first position after ``position`` that holds an event."""
        found = self.rows(conn, position, 1)
        return found[0].position if found else None

    def events_of(self, conn: Connection, originator_hex: str) -> list[LogRow]:
        """Every event of one aggregate, in log order."""
        return [_row(r) for r in self._fetch(conn, self._of,
                                             (self._originator_param(originator_hex),))]

    def position_of(self, conn: Connection, originator_hex: str, version: int) -> int | None:
        """Where the event (aggregate, version) is in the log, if it is there."""
        found = self._fetch(conn, self._position_of,
                            (self._originator_param(originator_hex), version))
        return int(found[0][0]) if found else None

    def last_position(self, conn: Connection) -> int:
        """The last position in the log (0 when empty)."""
        found = self._fetch(conn, self._last, ())
        return int(found[0][0] or 0)

    def with_topics(self, conn: Connection, topics: list[str], upto: int) -> list[LogRow]:
        """The events with one of ``topics`` up to position ``upto``, in log order."""
        statement = self._topics.format(marks=",".join([self.mark] * len(topics)))
        return [_row(r) for r in self._fetch(conn, statement, (upto, *topics))]

    def with_topic_prefix(self, conn: Connection, prefix: str) -> list[LogRow]:
        """The events whose topic starts with ``prefix``, in log order."""
        return [_row(r) for r in self._fetch(conn, self._like, (prefix + "%",))]


def _row(r: Any) -> LogRow:
    return LogRow(int(r[0]), str(r[1]), int(r[2]), str(r[3]), bytes(r[4]))
