"""The test infrastructure itself: PostgreSQL fixtures, the embedded fallback, the broker."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.infra import (
    DB_PREFIX,
    EmbeddedPostgres,
    TansuBroker,
    acquire_postgres,
    create_database,
    drop_database,
    free_loopback_port,
    port_accepts,
    probe,
)

# --- PostgreSQL ----------------------------------------------------------------------------

_USER_TABLES = """
    select count(*) from information_schema.tables
    where table_schema not in ('pg_catalog', 'information_schema')
"""


@pytest.mark.postgres
def test_pg_database_is_reachable_and_empty(pg_database_url: str, postgres_url: str) -> None:
    with psycopg.connect(pg_database_url, connect_timeout=3) as conn:
        row = conn.execute("select current_database()").fetchone()
        assert row is not None
        assert row[0].startswith(DB_PREFIX)
        assert pg_database_url != postgres_url
        assert conn.execute(_USER_TABLES).fetchone() == (0,)
        conn.execute("create table scratch (id int primary key)")  # and it is ours to use
        # A test database's commits do not wait for the WAL flush (tests.infra.postgres).
        assert conn.execute("show synchronous_commit").fetchone() == ("off",)


@pytest.mark.postgres
def test_pg_databases_are_distinct_and_dropped(postgres_url: str) -> None:
    first, second = create_database(postgres_url), create_database(postgres_url)
    names = [url.rsplit("/", 1)[1] for url in (first, second)]
    assert names[0] != names[1]
    held = psycopg.connect(first, connect_timeout=3)  # a leftover session must not block the drop
    try:
        drop_database(postgres_url, first)
        drop_database(postgres_url, second)
    finally:
        held.close()
    with psycopg.connect(postgres_url, connect_timeout=3) as conn:
        rows = conn.execute(
            "select datname from pg_database where datname = any(%s)", (names,)
        ).fetchall()
    assert rows == []


def test_store_url_per_backend(store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("sqlite:"):
        assert store_url == f"sqlite:///{tmp_path}/dealflow.db"
        assert store_url.startswith("sqlite:////")  # absolute path
        return
    assert store_url.startswith("postgresql://")
    with psycopg.connect(store_url, connect_timeout=3) as conn:
        row = conn.execute("select current_database()").fetchone()
    assert row is not None
    assert row[0].startswith(DB_PREFIX)


@pytest.mark.slow
@pytest.mark.postgres
def test_embedded_postgres_starts_answers_and_stops() -> None:
    server = EmbeddedPostgres.start()
    try:
        assert server.process.poll() is None
        with psycopg.connect(server.url, connect_timeout=3) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            listen = conn.execute("show listen_addresses").fetchone()
            assert listen == ("127.0.0.1",)
    finally:
        server.stop()
    assert server.process.returncode is not None
    assert not port_accepts(server.port)
    assert not server.base_dir.exists()


@pytest.mark.slow
@pytest.mark.postgres
def test_unreachable_configured_server_falls_back_to_embedded() -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_loopback_port()}/test"
    with acquire_postgres(nowhere) as target:
        assert target.source == "embedded"
        assert "unreachable" in target.detail
        assert probe(target.url) is None
        db_url = create_database(target.url)
        assert probe(db_url) is None
        drop_database(target.url, db_url)
    assert probe(target.url) is not None


# --- Kafka ---------------------------------------------------------------------------------


def _create_topic(bootstrap: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="dealflow-test-admin")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()


def _topics(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="dealflow-test-admin")
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=10)
    finally:
        producer.close(timeout=5)


@pytest.mark.kafka
def test_broker_round_trip_through_a_consumer_group(kafka_bootstrap: str) -> None:
    topic = f"infra-{uuid.uuid4().hex[:8]}"
    _create_topic(kafka_bootstrap, topic)
    _produce(kafka_bootstrap, topic, b"deal-1", b"hello")

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"infra-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=5000,
    )
    try:
        received: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                received.extend((record.key, record.value) for record in batch)
        assert received == [(b"deal-1", b"hello")]
        consumer.commit()
        assert consumer.committed(TopicPartition(topic, 0)) == 1
    finally:
        consumer.close()


@pytest.mark.kafka
def test_tansu_restart_keeps_port_and_loses_state(tansu_broker: TansuBroker) -> None:
    topic = f"infra-{uuid.uuid4().hex[:8]}"
    _create_topic(tansu_broker.bootstrap, topic)
    _produce(tansu_broker.bootstrap, topic, b"k", b"v")
    port, pid = tansu_broker.port, tansu_broker.pid

    tansu_broker.stop()
    assert not tansu_broker.running
    assert tansu_broker.pid is None
    assert not port_accepts(port)

    tansu_broker.start()
    assert tansu_broker.port == port
    assert tansu_broker.pid not in (None, pid)
    tansu_broker.restart()
    assert tansu_broker.port == port
    assert tansu_broker.running
    assert topic not in _topics(tansu_broker.bootstrap)  # Tansu's memory storage: all gone


@pytest.mark.kafka
def test_producer_rides_through_a_broker_restart(tansu_broker: TansuBroker) -> None:
    topic = f"infra-{uuid.uuid4().hex[:8]}"
    _create_topic(tansu_broker.bootstrap, topic)
    # Tansu forgets producer ids on restart: an idempotent producer would get
    # UnknownProducerIdError afterwards, so this one is not idempotent.
    producer = KafkaProducer(
        bootstrap_servers=tansu_broker.bootstrap, enable_idempotence=False, reconnect_backoff_ms=100
    )
    try:
        assert producer.send(topic, b"before").get(timeout=10).offset == 0
        tansu_broker.stop()
        time.sleep(1)  # the producer's reconnect attempts are refused meanwhile
        tansu_broker.start()
        _create_topic(tansu_broker.bootstrap, topic)  # the topic went with the old process
        assert producer.send(topic, b"after").get(timeout=20).offset == 0
    finally:
        producer.close(timeout=5)


def test_broker_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        TansuBroker(host="0.0.0.0")
