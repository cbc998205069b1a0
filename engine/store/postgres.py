"""The PostgreSQL recorder: events plus dealflow's rows in one transaction, by binary COPY.

Apart from :mod:`engine.store.recorders` (what both backends share, and the SQLite
recorder) so that only a PostgreSQL store imports psycopg and eventsourcing's PostgreSQL
module; the store finds this class by its topic (:func:`engine.store.app.parse_store_url`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from engine.store.pgcopy import copy_rows
from engine.store.recorders import (
    _COLUMNS_FACT,
    _COLUMNS_REJECTION,
    _EVENT_COLUMNS,
    EventRow,
    _ddl,
    _DealflowRows,
    _fact_params,
    _rejection_params,
)
from engine.store.rows import AcceptedFactRow, RejectionRow

__all__ = ["DealflowPostgresRecorder"]


class DealflowPostgresRecorder(_DealflowRows, PostgresProcessRecorder):
    """PostgreSQL recorder: events plus dealflow's rows in one transaction, written by
    binary COPY (see :mod:`engine.store.pgcopy`)."""

    placeholder = "%s"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Add dealflow's tables to the statements ``create_table`` runs."""
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(
            SQL(s).format() for s in _ddl("BIGSERIAL", "BYTEA")
        )
        self._events_table = SQL("{}.{}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self._last_id = SQL("SELECT currval(pg_get_serial_sequence({}, 'notification_id'))"
                            ).format(f"{self.datastore.schema}.{self.events_table_name}")
        # The stock recorder's lock statements (lock timeout, EXCLUSIVE table lock) and its
        # NOTIFY, in that order, sent as one message (no parameters: the simple query
        # protocol runs them in turn in the transaction): one round trip instead of three.
        self._lock_and_notify = SQL("; ").join(
            [*self.lock_table_statements,
             SQL("NOTIFY {0}").format(Identifier(self.channel_name))])

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """As the stock recorder (tracking and dealflow's rows, then the events under its
        EXCLUSIVE table lock, with its NOTIFY), but every row goes by binary COPY."""
        ids = self.insert_event_rows(
            [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events],
            **kwargs)
        return ids or None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_event_rows(self, rows: Sequence[EventRow], **kwargs: Any) -> list[int]:
        """``insert_events`` for events already in stored form (see
        ``DealflowApplication.append``).

        COPY returns no ids. Under the table lock no other transaction draws from the
        events' sequence, and COPY draws one value per row in row order, so this batch's
        ids are the ``n`` values ending at the sequence's ``currval`` in this session.
        """
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            self._insert_events(curs, (), **kwargs)
            if not rows:
                return []
            # The stock ``_lock_table`` then ``_notify_channel``, in one message.
            curs.execute(self._lock_and_notify)
            copy_rows(curs, self._events_table, _EVENT_COLUMNS,
                      (self.datastore.originator_id_type, "int8", "text", "bytea"), rows)
            curs.execute(self._last_id)
            row = curs.fetchone()
            last = int(next(iter(row.values()))) if row else 0
        return list(range(last - len(rows) + 1, last + 1))

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self._write_rows(curs, kwargs)
        super()._insert_events(curs, stored_events, **kwargs)

    def _write_rows(self, cursor: Any, kwargs: Mapping[str, Any]) -> None:
        accepted: Sequence[AcceptedFactRow] = kwargs.get("accepted") or ()
        if accepted:
            copy_rows(cursor, Identifier("dealflow_facts"), _COLUMNS_FACT.split(", "),
                      ["text"] * 6, _fact_params(accepted))
        rejections: Sequence[RejectionRow] = kwargs.get("rejections") or ()
        if rejections:
            copy_rows(cursor, Identifier("dealflow_rejections"),
                      _COLUMNS_REJECTION.split(", "), ["text"] * 9 + ["bytea"],
                      _rejection_params(rejections))
        super()._write_rows(cursor, {**kwargs, "accepted": (), "rejections": ()})

    def known_digests(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Content digests of the already accepted facts among ``keys`` (one query).

        The lateral subquery with ``LIMIT 1`` cannot be flattened into a join, so each key
        is one probe of the primary key whatever the table's size and statistics (a plain
        join turned into a hash join over a sequential scan at ~60k rows).

        The keys go as one JSON text of ``[source, id]`` pairs, which the server splits:
        psycopg dumps two Python lists of 1,000 strings as text arrays in Python, ~2 ms a
        batch, where orjson writes the JSON in ~30 us. A key with a NUL (which JSON writes
        as ``\\u0000``, an escape the server's ``->>`` refuses) cannot name a stored fact
        (PostgreSQL text holds no NUL): such keys are left out.
        """
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        pairs = orjson.dumps(unique)
        if b"\\u0000" in pairs:  # rare: a NUL, or a backslash before "u0000"
            unique = [k for k in unique if "\x00" not in k[0] and "\x00" not in k[1]]
            if not unique:
                return {}
            pairs = orjson.dumps(unique)
        rows = self._fetch(
            "SELECT f.source, f.fact_id, f.digest FROM json_array_elements(%s::json) "
            "AS k (key) CROSS JOIN LATERAL (SELECT source, fact_id, digest "
            "FROM dealflow_facts WHERE source = k.key->>0 AND fact_id = k.key->>1 LIMIT 1) "
            "AS f",
            [pairs.decode()],
        )
        return {(row[0], row[1]): row[2] for row in rows}

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """All stored events of several aggregates in one query, by aggregate then version."""
        unique = list(dict.fromkeys(originator_ids))
        if not unique:
            return []
        rows = self._fetch(
            "SELECT originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE originator_id = ANY(%s::uuid[]) "
            "ORDER BY originator_id, originator_version",
            [unique],
        )
        return [StoredEvent(originator_id=row[0], originator_version=row[1], topic=row[2],
                            state=bytes(row[3])) for row in rows]

    def last_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The last stored version of each of ``originator_ids`` that has events (one
        query)."""
        unique = list(dict.fromkeys(originator_ids))
        if not unique:
            return {}
        rows = self._fetch(
            "SELECT originator_id, MAX(originator_version) "
            f"FROM {self.events_table_name} WHERE originator_id = ANY(%s::uuid[]) "
            "GROUP BY originator_id",
            [unique],
        )
        return {row[0]: int(row[1]) for row in rows}

    def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # One statement on the pool's autocommit connection is its own transaction: no
        # BEGIN and ROLLBACK round trips around it (two of the three each lookup cost).
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql(statement), params)
            return [tuple(row.values()) for row in curs.fetchall()]
