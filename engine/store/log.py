"""Reading the log in position order, in batches, decoded once for every reader.

Followers of the log (the views, the audit tooling, the relay) read the same thing: the
events after a position, in order, at most a batch at a time. :class:`LogReader` reads a
batch and decodes it through the application's mapper once, so a rebuild of several views
decodes each event once, not once per view.

On SQLite the rows are selected on the recorder's own connection as plain rows (a row per
event, its originator id parsed once per aggregate): eventsourcing's
``select_notifications`` builds a ``Notification`` dataclass and a ``UUID`` per row, which
cost as much as the query itself. Decoding is the mapper's either way.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder

from engine.store.app import DealflowApplication

__all__ = ["LogReader", "LoggedEvent", "StoredRow"]

# Originator ids parsed and kept (an aggregate's events share one); ~300 bytes each, so a
# live service's cache stays within ~6 MB instead of growing for an hour to 30 MB.
_IDS = 20_000


class LoggedEvent(NamedTuple):
    """A decoded event with its position in the log (and its stored bytes).

    A named tuple (immutable, like the frozen dataclass it was): a rebuild makes one per
    event, and a tuple is built in a third of the time."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    event: Any
    state: bytes = b""
    id_text: str = ""  # str(originator_id) when the reader has it at hand

    @property
    def originator_text(self) -> str:
        """The originator id as text (``str(originator_id)``), the key views store."""
        return self.id_text or str(self.originator_id)

    @property
    def recorded_at(self) -> datetime:
        """When dealflow recorded it."""
        value: datetime = self.event.timestamp
        return value

    @property
    def occurred_at(self) -> datetime:
        """When it happened (the fact's ``time``); recording time for derived events."""
        value: datetime = getattr(self.event, "occurred_at", None) or self.event.timestamp
        return value


class StoredRow(NamedTuple):
    """An event of the log as stored: its position, originator (as UUID and as text),
    version, topic and stored state (eventsourcing's bytes), not decoded."""

    position: int
    originator_id: UUID
    id_text: str
    version: int
    topic: str
    state: bytes


class _Stored:
    """What the mapper reads of a stored event; one is refilled for every row (the mapper
    keeps no reference to it)."""

    __slots__ = ("originator_id", "originator_version", "state", "topic")

    def __init__(self) -> None:
        self.originator_id: UUID | None = None
        self.originator_version = 0
        self.topic = ""
        self.state = b""


class LogReader:
    """Batches of decoded events from ``app``'s log."""

    def __init__(self, app: DealflowApplication) -> None:
        """Read through ``app``'s recorder and mapper."""
        self.app = app
        recorder = app.recorder
        mapper = app.mapper
        self._table: str | None = None
        if (isinstance(recorder, SQLiteApplicationRecorder)
                and recorder.datastore.originator_id_type == "uuid"
                and mapper.cipher is None and mapper.compressor is None):
            self._table = recorder.events_table_name
        self._ids: dict[str, tuple[UUID, str]] = {}

    def head(self) -> int:
        """The last position in the log (0 when empty)."""
        return int(self.app.recorder.max_notification_id() or 0)

    def read(self, after: int, limit: int, *, upto: int | None = None,
             topics: Collection[str] = ()) -> list[LoggedEvent]:
        """At most ``limit`` events with positions after ``after`` (and at most ``upto``),
        only those of ``topics`` when given."""
        if self._table is not None:
            return self._read_sqlite(after, limit, upto, topics)
        notifications: Any = self.app.recorder.select_notifications(
            start=after + 1, limit=limit, stop=upto, topics=sorted(topics))
        to_domain_event = self.app.mapper.to_domain_event
        return [
            LoggedEvent(n.id, n.originator_id, n.originator_version, n.topic,
                        to_domain_event(n), n.state)
            for n in notifications
        ]

    @property
    def reads_rows(self) -> bool:
        """Whether :meth:`rows` can read the stored rows directly (a SQLite store with UUID
        ids whose states are neither compressed nor encrypted)."""
        return self._table is not None

    def rows(self, after: int, limit: int, *, upto: int | None = None,
             topics: Collection[str] = ()) -> list[StoredRow]:
        """:meth:`read`'s events as stored, not decoded (only when :attr:`reads_rows`): one
        query, and each aggregate's UUID parsed once per ~20,000 aggregates."""
        table = self._table
        if table is None:
            raise TypeError("rows() reads a SQLite store's rows; this store is read by read()")
        sql = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
               "WHERE rowid > ?")
        params: list[Any] = [after]
        if upto is not None:
            sql += " AND rowid <= ?"
            params.append(upto)
        if topics:
            sql += f" AND topic IN ({', '.join('?' for _ in topics)})"
            params += sorted(topics)
        sql += " ORDER BY rowid LIMIT ?"
        params.append(limit)
        recorder: Any = self.app.recorder
        with recorder.datastore.transaction(commit=False) as cursor:
            rows_of = cursor.sqlite_cursor
            rows_of.row_factory = None  # plain tuples, not sqlite3.Row
            rows_of.execute(sql, params)
            found = rows_of.fetchall()
        ids = self._ids
        if len(ids) > _IDS:
            ids.clear()
        out: list[StoredRow] = []
        new = tuple.__new__  # a named tuple's own __new__ costs ~0.4 us a row more
        for position, stored_id, version, topic, state in found:
            known = ids.get(stored_id)
            if known is None:
                originator = UUID(stored_id)
                known = ids[stored_id] = (originator, str(originator))
            out.append(new(StoredRow, (position, known[0], known[1], version, topic, state)))
        return out

    def _read_sqlite(self, after: int, limit: int, upto: int | None,
                     topics: Collection[str]) -> list[LoggedEvent]:
        to_domain_event: Any = self.app.mapper.to_domain_event  # reads the four fields only
        stored = _Stored()
        out = []
        for row in self.rows(after, limit, upto=upto, topics=topics):
            stored.originator_id, stored.originator_version = row.originator_id, row.version
            stored.topic, stored.state = row.topic, row.state
            out.append(LoggedEvent(row.position, row.originator_id, row.version, row.topic,
                                   to_domain_event(stored), row.state, row.id_text))
        return out
