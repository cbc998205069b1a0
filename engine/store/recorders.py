"""eventsourcing recorders that also write dealflow's own rows in the events' transaction.

``Application.save(*events, accepted=[...], rejections=[...], counters={...},
offsets=[...])`` passes these keyword arguments down to ``_insert_events``, which runs inside
the recorder's transaction: dedupe records, rejections, counters and consumed Kafka offsets
commit atomically with the events they belong to (DESIGN: "whatever must commit atomically
with the events belongs in the recorder's transaction").

This module holds what both backends share and the SQLite recorder; the PostgreSQL one is
in :mod:`engine.store.postgres`, so that a SQLite store never imports psycopg.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteProcessRecorder,
)

from engine.store.chunks import lookup_chunks
from engine.store.rows import AcceptedFactRow, RejectionRow
from engine.store.writelock import write_lock

__all__ = ["CONNECTION_PRAGMAS", "DealflowSQLiteRecorder", "EventRow", "KafkaOffset"]

KafkaOffset = tuple[str, str, int, int]  # (group, topic, partition, next offset)

#: An event in eventsourcing's stored form, without a ``StoredEvent`` around it:
#: (originator id, originator version, topic, state).
EventRow = tuple[UUID, int, str, bytes]

_TABLES = {
    "dealflow_facts": (
        "source TEXT NOT NULL, fact_id TEXT NOT NULL, digest TEXT NOT NULL, "
        "fact_type TEXT NOT NULL, subject TEXT NOT NULL, recorded_at TEXT NOT NULL, "
        "PRIMARY KEY (source, fact_id)"
    ),
    "dealflow_rejections": (
        "seq {serial} PRIMARY KEY, recorded_at TEXT NOT NULL, origin TEXT NOT NULL, "
        "reason TEXT NOT NULL, field TEXT, message TEXT NOT NULL, source TEXT, fact_id TEXT, "
        "fact_type TEXT, subject TEXT, raw {blob} NOT NULL"
    ),
    "dealflow_counters": "name TEXT PRIMARY KEY, value BIGINT NOT NULL",
    "dealflow_offsets": (
        "consumer_group TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, "
        "next_offset BIGINT NOT NULL, PRIMARY KEY (consumer_group, topic, partition)"
    ),
}
_INDEXES = [
    "CREATE INDEX IF NOT EXISTS dealflow_rejections_reason ON dealflow_rejections (reason)",
]
_COLUMNS_REJECTION = (
    "recorded_at, origin, reason, field, message, source, fact_id, fact_type, subject, raw"
)
_COLUMNS_FACT = "source, fact_id, digest, fact_type, subject, recorded_at"
_EVENT_COLUMNS = ("originator_id", "originator_version", "topic", "state")


def _ddl(serial: str, blob: str) -> list[str]:
    tables = [
        f"CREATE TABLE IF NOT EXISTS {name} ({cols.format(serial=serial, blob=blob)})"
        for name, cols in _TABLES.items()
    ]
    return tables + _INDEXES


def _fact_params(rows: Iterable[AcceptedFactRow]) -> list[tuple[Any, ...]]:
    # Each row is already a tuple of the columns in order (_COLUMNS_FACT).
    return list(rows)


def _rejection_params(rows: Iterable[RejectionRow]) -> list[tuple[Any, ...]]:
    return [
        (r.recorded_at, r.origin, r.reason, r.field, r.message, r.source, r.fact_id,
         r.fact_type, r.subject, r.raw)
        for r in rows
    ]


_INSERT_FACTS = f"INSERT INTO dealflow_facts ({_COLUMNS_FACT}) VALUES (?,?,?,?,?,?)"
_INSERT_REJECTIONS = (
    f"INSERT INTO dealflow_rejections ({_COLUMNS_REJECTION}) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_UPSERT_COUNTERS = (
    "INSERT INTO dealflow_counters (name, value) VALUES {rows} ON CONFLICT (name) "
    "DO UPDATE SET value = dealflow_counters.value + excluded.value"
)
_UPSERT_OFFSET = (
    "INSERT INTO dealflow_offsets (consumer_group, topic, partition, next_offset) "
    "VALUES (?,?,?,?) ON CONFLICT (consumer_group, topic, partition) "
    "DO UPDATE SET next_offset = excluded.next_offset"
)


class _DealflowRows:
    """What both backends write and read beside the events (SQL in ``?`` style)."""

    placeholder = "?"
    events_table_name: str

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _write_rows(self, cursor: Any, kwargs: Mapping[str, Any]) -> None:
        accepted: Sequence[AcceptedFactRow] = kwargs.get("accepted") or ()
        if accepted:
            cursor.executemany(self._sql(_INSERT_FACTS), _fact_params(accepted))
        rejections: Sequence[RejectionRow] = kwargs.get("rejections") or ()
        if rejections:
            cursor.executemany(self._sql(_INSERT_REJECTIONS), _rejection_params(rejections))
        counters: Mapping[str, int] = kwargs.get("counters") or {}
        changed = [(name, delta) for name, delta in counters.items() if delta]
        if changed:  # one statement for all of them (the names are distinct)
            rows = ",".join(["(?, ?)"] * len(changed))
            cursor.execute(self._sql(_UPSERT_COUNTERS.format(rows=rows)),
                           [part for row in changed for part in row])
        offsets: Sequence[KafkaOffset] = kwargs.get("offsets") or ()
        if offsets:
            cursor.executemany(self._sql(_UPSERT_OFFSET), list(offsets))

    def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def known_digests(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Content digests of the already accepted facts among ``keys`` (source, id)."""
        found: dict[tuple[str, str], str] = {}
        for chunk in lookup_chunks(keys):
            values = ",".join(["(?,?)"] * len(chunk))
            params = [part for key in chunk for part in key]
            rows = self._fetch(
                f"WITH k (s, i) AS (VALUES {values}) SELECT f.source, f.fact_id, f.digest "
                "FROM k JOIN dealflow_facts f ON f.source = k.s AND f.fact_id = k.i",
                params,
            )
            found.update({(row[0], row[1]): row[2] for row in rows})
        return found

    def _id_param(self, originator_id: UUID) -> Any:
        return originator_id

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """All stored events of several aggregates in one query, by aggregate then version."""
        found: list[StoredEvent] = []
        for chunk in lookup_chunks(originator_ids):
            marks = ",".join(["?"] * len(chunk))
            rows = self._fetch(
                "SELECT originator_id, originator_version, topic, state "
                f"FROM {self.events_table_name} "
                f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
                [self._id_param(i) for i in chunk],
            )
            found.extend(
                StoredEvent(originator_id=UUID(str(row[0])), originator_version=row[1],
                            topic=row[2], state=bytes(row[3]))
                for row in rows
            )
        return found

    def last_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The last stored version of each of ``originator_ids`` that has events, in one
        query (per 500 ids)."""
        found: dict[UUID, int] = {}
        for chunk in lookup_chunks(originator_ids):
            marks = ",".join(["?"] * len(chunk))
            rows = self._fetch(
                "SELECT originator_id, MAX(originator_version) "
                f"FROM {self.events_table_name} "
                f"WHERE originator_id IN ({marks}) GROUP BY originator_id",
                [self._id_param(i) for i in chunk],
            )
            found.update({UUID(str(row[0])): int(row[1]) for row in rows})
        return found

    def select_rejections(
        self, *, limit: int = 100, after: int = 0, reason: str | None = None
    ) -> list[RejectionRow]:
        """Stored rejections in arrival order, after sequence number ``after``."""
        where = "WHERE seq > ?" + (" AND reason = ?" if reason else "")
        params: list[Any] = [after, *([reason] if reason else []), limit]
        rows = self._fetch(
            f"SELECT {_COLUMNS_REJECTION}, seq FROM dealflow_rejections {where} "
            "ORDER BY seq LIMIT ?",
            params,
        )
        return [
            RejectionRow(recorded_at=r[0], origin=r[1], reason=r[2], field=r[3], message=r[4],
                         source=r[5], fact_id=r[6], fact_type=r[7], subject=r[8],
                         raw=bytes(r[9]), seq=int(r[10]))
            for r in rows
        ]

    def rejection_counts(self) -> dict[str, int]:
        """How many rejections are stored, per reason."""
        rows = self._fetch("SELECT reason, COUNT(*) FROM dealflow_rejections GROUP BY reason")
        return {row[0]: int(row[1]) for row in rows}

    def counters(self) -> dict[str, int]:
        """Durable counters (e.g. ``duplicates``)."""
        rows = self._fetch("SELECT name, value FROM dealflow_counters")
        return {row[0]: int(row[1]) for row in rows}

    def committed_offsets(self, group: str, topic: str) -> dict[int, int]:
        """Next offset to consume per partition, as committed with the events."""
        rows = self._fetch(
            "SELECT partition, next_offset FROM dealflow_offsets "
            "WHERE consumer_group = ? AND topic = ?",
            (group, topic),
        )
        return {int(row[0]): int(row[1]) for row in rows}


#: Pragmas every connection of the recorder runs (see :class:`DealflowSQLiteRecorder`).
CONNECTION_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    # 8 MiB of page cache instead of SQLite's 2 MB: a batch's inserts land on random pages
    # of the events' primary-key index (random UUIDs), which outgrows 2 MB at ~40k events;
    # each miss was a pread (51,169 against 11,857 on the 60k-line demo file).
    "PRAGMA cache_size=-8192",
    # Checkpoint when the WAL holds 4,000 pages (16 MiB), not 1,000: a batch of 1,000 facts
    # writes ~1,300 pages, so every commit checkpointed, copying each index page to the
    # database file again; now a page rewritten by several commits is copied once.
    "PRAGMA wal_autocheckpoint=4000",
)


#: Prepared statements each connection keeps. eventsourcing opens its connections with
#: ``cached_statements=True``, a cache of ONE statement, so every batch prepared its dedupe
#: lookup (500 keys in a VALUES list: 1.74 ms against 1.13 ms from the cache) and its
#: inserts again, each statement having pushed the previous one out.
STATEMENT_CACHE = 64


def _configure_connections(pool: SQLiteConnectionPool) -> None:
    """Have every connection ``pool`` opens from now on keep :data:`STATEMENT_CACHE`
    prepared statements and run :data:`CONNECTION_PRAGMAS`."""

    def create_configured() -> SQLiteConnection:
        connection = _connect(pool)
        for pragma in CONNECTION_PRAGMAS:
            connection._sqlite_conn.execute(pragma)
        return connection

    pool._create_connection = create_configured  # type: ignore[method-assign]


def _connect(pool: SQLiteConnectionPool) -> SQLiteConnection:
    """A connection as eventsourcing 9.5.6's ``SQLiteConnectionPool._create_connection``
    makes it (the version is pinned), but with a statement cache of
    :data:`STATEMENT_CACHE`: ``sqlite3`` cannot change a connection's cache size later."""
    try:
        conn = sqlite3.connect(database=pool.db_name, uri=True, check_same_thread=False,
                               isolation_level=None,  # autocommit: eventsourcing's BEGINs
                               cached_statements=STATEMENT_CACHE,
                               timeout=pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT)
    except (sqlite3.Error, TypeError) as exc:
        raise InterfaceError(exc) from exc
    if not pool.is_sqlite_memory_mode and not pool.is_journal_mode_wal:
        mode = conn.execute("PRAGMA journal_mode;").fetchone()[0]
        if mode.lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL;")
            pool.journal_mode_was_changed_to_wal = True
        pool.is_journal_mode_wal = True
    conn.row_factory = sqlite3.Row
    return SQLiteConnection(sqlite_conn=conn, max_age=pool.max_age)


class DealflowSQLiteRecorder(_DealflowRows, SQLiteProcessRecorder):
    """SQLite recorder: events plus dealflow's rows in one transaction.

    Its connections commit with ``synchronous=NORMAL`` (the stock recorder leaves SQLite's
    ``FULL``), as the views' connections to the same file always did: in WAL mode a commit
    is then written to the log but not fsynced, which survives the process's crash or kill
    at any point; an operating-system crash or power cut may lose the last commits, each
    whole (events, dedupe records, rejections and Kafka offsets commit together), never
    part of one, so that sending the same inputs again stores them exactly once. The fsync
    of every batch's commit was ~30 % of SQLite ingest's wall time on the 2-core machine.
    They also keep a larger page cache and checkpoint less often (see
    :data:`CONNECTION_PRAGMAS`); neither changes what is stored or when it is durable.
    """

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        """As the stock recorder; connections commit without fsync (see the class)."""
        super().__init__(datastore, **kwargs)
        _configure_connections(datastore.pool)
        #: Every write transaction of the event store writes under the store's write lock
        #: (engine.store.writelock), let go right before the commit: a writer waits for
        #: another (e.g. the views' runner in another process) in steps of 1 ms at most,
        #: not in SQLite's busy handler's steps of up to 100 ms.
        self.write_lock = write_lock(datastore.pool.db_name,
                                     float(datastore.pool.lock_timeout or 5))

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """As the stock recorder, under the store's write lock (let go before the commit)."""
        with self.write_lock.writing():
            return super().insert_events(stored_events, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        """The stock tables, then dealflow's."""
        return [*super().construct_create_table_statements(), *_ddl("INTEGER", "BLOB")]

    def _id_param(self, originator_id: UUID) -> Any:
        return originator_id.hex

    def insert_event_rows(self, rows: Sequence[EventRow], **kwargs: Any) -> list[int]:
        """``insert_events`` for events already in stored form (see
        ``DealflowApplication.append``): the same transaction, rows and positions."""
        params = [(r[0].hex, r[1], r[2], r[3]) for r in rows]
        with self.write_lock.writing(), self.datastore.transaction(commit=True) as c:
            return self._insert_rows(c, params, kwargs)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self._insert_rows(c, [
            (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
             s.originator_version, s.topic, s.state)
            for s in stored_events
        ], kwargs)

    def _insert_rows(self, c: SQLiteCursor, params: Sequence[tuple[Any, ...]],
                     kwargs: Mapping[str, Any]) -> list[int]:
        # One executemany instead of the stock row-at-a-time inserts. The write lock is held
        # from the first insert to commit, and a rowid table without deletions numbers new
        # rows max(rowid)+1, +2, ..., so the batch's positions are the last n rowids.
        ids: list[int] = []
        if params:
            c.executemany(self.insert_events_statement, params)
            c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
            last = int(c.fetchone()[0])
            ids = list(range(last - len(params) + 1, last + 1))
        tracking = kwargs.get("tracking")
        if tracking is not None:
            self._insert_tracking(c, tracking)
        self._write_rows(c, kwargs)
        self.write_lock.before_commit()
        return ids

    def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [tuple(row) for row in c.fetchall()]
