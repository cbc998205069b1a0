"""Partition fences lost with their session (engine.kafka.fence): a Kafka ingest worker whose
fence connection is cut (what a PostgreSQL restart does) notices before its next batch,
gives the partitions up and takes their fences again before it reads on, so it never
stores a partition whose fence another worker may hold; every offset is still stored
once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.bootstrap import bootstrap
from engine.kafka.consumer import KafkaIngestWorker
from engine.kafka.fence import PartitionFence
from engine.settings import Settings
from engine.store.sql import sql_engine
from tests.engine.facts import opened, raw
from tests.kafka.conftest import create_topics, kafka_settings, produce, wait_until

pytestmark = pytest.mark.postgres


def _fence_backends(url: str) -> set[int]:
    """Backends of this test's database holding advisory locks."""
    sql = sql_engine(url)
    try:
        with sql.connect() as conn:
            return {int(pid) for (pid,) in conn.execute(text(
                "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))}
    finally:
        sql.dispose()


def _terminate(url: str, pids: set[int]) -> None:
    """Cut backends of this test's own database (what a server restart does to all), each
    waited for until it has exited (PostgreSQL 14+; up to 30 s): the signal alone leaves its
    locks held for a moment, longer on a busy machine."""
    sql = sql_engine(url)
    try:
        with sql.connect() as conn:
            for pid in pids:
                assert conn.execute(text("SELECT pg_terminate_backend(:p, 30000)"),
                                    {"p": pid}).scalar()
    finally:
        sql.dispose()


def test_a_fence_whose_session_is_gone_is_reported_lost_and_can_be_taken(
        pg_database_url: str) -> None:
    url = pg_database_url
    sql = sql_engine(url)
    first, second = PartitionFence(url, sql, "g"), PartitionFence(url, sql, "g")
    try:
        assert first.acquire("facts", 0) and first.acquire("facts", 1)
        assert first.lost() == set()  # checked: still held
        assert not second.acquire("facts", 0)
        _terminate(url, _fence_backends(url))
        assert second.acquire("facts", 0)  # the session's locks died with it
        assert first.lost() == {("facts", 0), ("facts", 1)}
        assert first.held == set()
        assert not first.acquire("facts", 0)  # taken only if free
        assert first.acquire("facts", 1)
    finally:
        first.close()
        second.close()
        sql.dispose()


@pytest.mark.kafka
def test_a_worker_whose_fences_were_cut_takes_them_again_and_stores_every_offset_once(
        pg_database_url: str, kafka_bootstrap: str) -> None:
    url = pg_database_url
    settings = kafka_settings(kafka_bootstrap)
    create_topics(settings)
    topic = settings.topics[0]
    facts = [raw(opened(f"LF-{d}")) for d in range(300)]
    engine = bootstrap(Settings(db=url, kafka=settings))
    worker = KafkaIngestWorker(engine, settings)
    store = engine.app.store

    def stored() -> int:
        return sum(store.committed_offsets(settings.group, topic).values())

    try:
        worker.start()
        produce(kafka_bootstrap, topic, facts[:150])
        wait_until(lambda: stored() == 150, timeout=60, what="the first half stored")
        before = _fence_backends(url)
        assert len(before) == 1 and worker.partitions.fence.held
        _terminate(url, before)
        produce(kafka_bootstrap, topic, facts[150:])
        wait_until(lambda: stored() == 300, timeout=60, what="the rest stored")
        after = _fence_backends(url)
        assert len(after) == 1 and after != before  # taken again, on a new session
        assert len(worker.partitions.fence.held) == settings.partitions
    finally:
        worker.stop()
        engine.close()
    assert worker.stats.records == 300 and worker.stats.duplicates == 0, worker.stats
    assert worker.stats.accepted == 300
