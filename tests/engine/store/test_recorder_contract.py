"""eventsourcing's own recorder contract tests against dealflow's two recorders.

``ApplicationRecorderTestCase`` and ``ProcessRecorderTestCase`` (from
``eventsourcing.tests.persistence``) are what eventsourcing runs against its stock recorders;
dealflow's recorders replace the stock inserts (one executemany on SQLite, binary COPY on
PostgreSQL), so they must pass the same cases, set up as eventsourcing's own suite sets up
the stock ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    ProcessRecorderTestCase,
    tmpfile_uris,
)

from engine.store.app import parse_store_url
from engine.store.postgres import DealflowPostgresRecorder
from engine.store.recorders import DealflowSQLiteRecorder


class TestSQLiteApplicationRecorderContract(
    ApplicationRecorderTestCase[DealflowSQLiteRecorder]
):
    """As eventsourcing's ``TestSQLiteApplicationRecorder``."""

    db_uri = ":memory:"

    def create_recorder(self) -> DealflowSQLiteRecorder:
        recorder = DealflowSQLiteRecorder(SQLiteDatastore(db_name=self.db_uri, pool_size=100))
        recorder.create_table()
        return recorder

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.db_uri = next(tmpfile_uris())
        super().test_concurrent_no_conflicts()

    def test_concurrent_throughput(self) -> None:
        self.db_uri = next(tmpfile_uris())
        super().test_concurrent_throughput()


class TestSQLiteProcessRecorderContract(ProcessRecorderTestCase):
    """As eventsourcing's ``TestSQLiteProcessRecorder``."""

    def create_recorder(self) -> DealflowSQLiteRecorder:
        recorder = DealflowSQLiteRecorder(SQLiteDatastore(db_name=":memory:"))
        recorder.create_table()
        return recorder


def _datastore(url: str, pool_size: int = 5) -> PostgresDatastore:
    env = parse_store_url(url)
    return PostgresDatastore(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], pool_size=pool_size,
        max_overflow=10,
    )


class _PostgresDatabase:
    """A fresh database per test (the suite's fixture), closed after the test."""

    datastore: PostgresDatastore

    @pytest.fixture(autouse=True)
    def _database(self, pg_database_url: str) -> Iterator[None]:
        self.datastore = _datastore(pg_database_url)
        yield
        self.datastore.close()


@pytest.mark.postgres
class TestPostgresApplicationRecorderContract(
    _PostgresDatabase, ApplicationRecorderTestCase[DealflowPostgresRecorder]
):
    """As eventsourcing's ``TestPostgresApplicationRecorder``."""

    def create_recorder(self) -> DealflowPostgresRecorder:
        recorder = DealflowPostgresRecorder(self.datastore, events_table_name="stored_events")
        recorder.create_table()
        return recorder

    def test_concurrent_throughput(self) -> None:
        self.datastore.pool.resize(4, 10)
        super().test_concurrent_throughput()


@pytest.mark.postgres
class TestPostgresProcessRecorderContract(_PostgresDatabase, ProcessRecorderTestCase):
    """As eventsourcing's ``TestPostgresProcessRecorder``."""

    def create_recorder(self) -> Any:
        recorder = DealflowPostgresRecorder(
            self.datastore, events_table_name="stored_events",
            tracking_table_name="notification_tracking",
        )
        recorder.create_table()
        return recorder
