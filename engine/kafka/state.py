"""What the Kafka side keeps in the store's database beside the events.

Own tables (created if missing):
``dealflow_relay_positions``
    per relay (one per output topic) the last log position the broker acknowledged;
``dealflow_kafka_partitions``
    per (group, topic, partition) the topic id the stored offsets belong to, so that a topic
    deleted and created again is read from its start instead of from stale offsets.

Read-only lookups in the engine's own tables: the rejections stored for given Kafka origins
(to publish dead letters again after a crash) and the subjects of accepted facts (the
relay's message keys).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    column,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from engine.store.chunks import lookup_chunks
from engine.store.rows import RejectionRow

__all__ = [
    "KAFKA_PARTITIONS",
    "RELAY_POSITIONS",
    "advance_relay_position",
    "ensure_tables",
    "fact_subjects",
    "rejections_at",
    "relay_position",
    "save_topic_id",
    "stored_topic_id",
]

_meta = MetaData()
RELAY_POSITIONS = Table(
    "dealflow_relay_positions",
    _meta,
    Column("name", String(255), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", String(40), nullable=False),
)
KAFKA_PARTITIONS = Table(
    "dealflow_kafka_partitions",
    _meta,
    Column("consumer_group", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("topic_id", String(64), nullable=False),
)

# The engine's tables, read only (columns as created by engine.store.recorders).
_REJECTIONS = table(
    "dealflow_rejections",
    column("seq", BigInteger), column("recorded_at", Text), column("origin", Text),
    column("reason", Text), column("field", Text), column("message", Text),
    column("source", Text), column("fact_id", Text), column("fact_type", Text),
    column("subject", Text), column("raw", LargeBinary),
)
_FACTS = table("dealflow_facts", column("source", Text), column("fact_id", Text),
               column("subject", Text))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _insert(engine: Engine, target: Table) -> Any:
    """An INSERT with ``on_conflict_*`` (PostgreSQL and SQLite spell it alike)."""
    return pg_insert(target) if engine.dialect.name == "postgresql" else sqlite_insert(target)


#: Serializes :func:`ensure_tables` within a process: ``serve --kafka`` starts its consumer
#: and its relay together, and each creates the tables on start.
_CREATING = threading.Lock()
#: Attempts against other processes creating the same tables at the same time.
_ATTEMPTS = 5


def ensure_tables(engine: Engine) -> None:
    """Create the Kafka side's own tables if missing (safe when workers start together).

    Another process may create a table between this one's check and its ``CREATE``; the
    tables are created one by one, so that can happen once per table: each failure checks
    again, up to :data:`_ATTEMPTS` times. (A single retry once failed in CI, when serve's
    consumer and relay threads raced each other over two of the tables.)"""
    with _CREATING:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                _meta.create_all(engine, checkfirst=True)
                return
            except DBAPIError:
                if attempt == _ATTEMPTS:
                    raise


def relay_position(engine: Engine, name: str) -> int:
    """The relay's saved position (0 when it never ran); creates its row."""
    with engine.begin() as conn:
        conn.execute(_insert(engine, RELAY_POSITIONS)
                     .values(name=name, position=0, updated_at=_now())
                     .on_conflict_do_nothing(index_elements=["name"]))
        found = conn.execute(select(RELAY_POSITIONS.c.position)
                             .where(RELAY_POSITIONS.c.name == name)).scalar_one()
        return int(found)


def advance_relay_position(conn: Connection, name: str, old: int, new: int) -> bool:
    """Move the relay's position from ``old`` to ``new``; False if someone else moved it."""
    result = conn.execute(
        update(RELAY_POSITIONS)
        .where(RELAY_POSITIONS.c.name == name, RELAY_POSITIONS.c.position == old)
        .values(position=new, updated_at=_now())
    )
    return result.rowcount == 1


def stored_topic_id(engine: Engine, group: str, topic: str, partition: int) -> str | None:
    """The topic id the group's stored offsets of this partition belong to, if recorded."""
    with engine.connect() as conn:
        found = conn.execute(select(KAFKA_PARTITIONS.c.topic_id).where(
            KAFKA_PARTITIONS.c.consumer_group == group, KAFKA_PARTITIONS.c.topic == topic,
            KAFKA_PARTITIONS.c.partition == partition)).scalar_one_or_none()
        return None if found is None else str(found)


def save_topic_id(engine: Engine, group: str, topic: str, partition: int, topic_id: str) -> None:
    """Record which topic id the partition's stored offsets now belong to."""
    stmt = _insert(engine, KAFKA_PARTITIONS).values(
        consumer_group=group, topic=topic, partition=partition, topic_id=topic_id)
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["consumer_group", "topic", "partition"],
            set_={"topic_id": topic_id}))


def rejections_at(engine: Engine, origins: Sequence[str]) -> list[RejectionRow]:
    """The stored rejections of inputs from ``origins``, in the order they were stored."""
    rows: list[RejectionRow] = []
    with engine.connect() as conn:
        for chunk in lookup_chunks(origins):
            for r in conn.execute(select(_REJECTIONS).where(_REJECTIONS.c.origin.in_(chunk))):
                rows.append(RejectionRow(
                    recorded_at=r.recorded_at, origin=r.origin, reason=r.reason,
                    field=r.field, message=r.message, source=r.source, fact_id=r.fact_id,
                    fact_type=r.fact_type, subject=r.subject, raw=bytes(r.raw), seq=int(r.seq)))
    rows.sort(key=lambda row: row.seq)
    return rows


def fact_subjects(
    engine: Engine, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The ``subject`` of each accepted fact among ``keys`` (``source``, ``id``)."""
    found: dict[tuple[str, str], str] = {}
    with engine.connect() as conn:
        for chunk in lookup_chunks(keys):
            query = select(_FACTS.c.source, _FACTS.c.fact_id, _FACTS.c.subject).where(
                tuple_(_FACTS.c.source, _FACTS.c.fact_id).in_(chunk))
            found.update({(r.source, r.fact_id): r.subject for r in conn.execute(query)})
    return found
