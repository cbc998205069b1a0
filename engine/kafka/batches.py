"""One polled batch into the store: the offsets commit with the events, and a poison input is
isolated instead of failing its batch forever.

:func:`store_batch` hands the whole batch to ``Ingestor.ingest`` with the partitions' next
offsets, so the facts' events, dedupe records, rejections and the consumed offsets commit in
one transaction. If that raises something an input can cause (a bug a strange input trips,
a value the database refuses), the batch is halved and each half stored on its own, down to
single records; a single record that still fails is stored as a rejection
(``unprocessable``) together with its offset, so the partition moves on. Errors of the store
itself (connection lost, lock timeouts) are not input-specific: they propagate, and the
worker retries the batch from the store's offsets later.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.persistence import DataError as StoreDataError
from eventsourcing.persistence import PersistenceError

from engine.contract.envelope import Fact
from engine.errors import StoreError
from engine.ingest.batch import Ingestor, Outcome, RawInput
from engine.kafka.origin import KafkaOrigin
from engine.store.recorders import KafkaOffset
from engine.store.rows import RejectionRow

__all__ = ["UNPROCESSABLE", "is_input_error", "store_batch"]

log = logging.getLogger(__name__)

UNPROCESSABLE = "unprocessable"
"""Reason stored for an input that made the engine fail (not a contract rejection)."""


def is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` may be caused by one input (isolate it) rather than by the store."""
    if isinstance(exc, StoreDataError | sqlite3.DataError | psycopg.DataError):
        return True
    return not isinstance(exc, PersistenceError | StoreError | OSError | sqlite3.Error
                          | psycopg.Error)


def _origin(record: Any) -> KafkaOrigin:
    return KafkaOrigin(record.topic, record.partition, record.offset)


def _offsets(group: str, records: Sequence[Any]) -> list[KafkaOffset]:
    nexts: dict[tuple[str, int], int] = {}
    for record in records:
        nexts[(record.topic, record.partition)] = record.offset + 1
    return [(group, topic, partition, offset) for (topic, partition), offset in nexts.items()]


def store_batch(
    ingestor: Ingestor,
    group: str,
    records: Sequence[Any],
    extra_offsets: Sequence[KafkaOffset] = (),
    parsed: Sequence[Fact | None] | None = None,
) -> list[Outcome]:
    """Store ``records`` (Kafka ``ConsumerRecord``s, in offset order per partition).

    Returns one outcome per record. ``extra_offsets`` are written with every transaction.
    ``parsed``: the records' facts as already validated (``parse_chunk``), None for each
    record to parse here.
    """
    if not records:
        return []
    inputs = [RawInput(r.value if r.value is not None else b"", str(_origin(r)))
              for r in records]
    offsets = [*_offsets(group, records), *extra_offsets]
    try:
        return ingestor.ingest(inputs, offsets=offsets, parsed=parsed).outcomes
    except Exception as exc:
        # A failed attempt may have changed cached aggregates that were never saved.
        ingestor.forget()
        if not is_input_error(exc):
            raise
        if len(records) == 1:
            return [_quarantine(ingestor, inputs[0], exc, offsets)]
        log.warning("a batch of %d records failed (%r); storing it in halves to isolate "
                    "the input", len(records), exc)
        middle = len(records) // 2
        return (store_batch(ingestor, group, records[:middle], extra_offsets,
                            parsed[:middle] if parsed is not None else None)
                + store_batch(ingestor, group, records[middle:], extra_offsets,
                              parsed[middle:] if parsed is not None else None))


def _quarantine(
    ingestor: Ingestor, item: RawInput, exc: Exception, offsets: Sequence[KafkaOffset]
) -> Outcome:
    message = f"{UNPROCESSABLE}: the engine failed on this input: {type(exc).__name__}: {exc}"
    message = message[:1000]
    log.error("input at %s is unprocessable (%s); stored as a rejection", item.origin, message)
    row = RejectionRow(recorded_at=datetime.now(UTC).isoformat(), origin=item.origin,
                       reason=UNPROCESSABLE, field=None, message=message, source=None,
                       fact_id=None, fact_type=None, subject=None,
                       raw=ingestor.limits.kept(item.raw))
    ingestor.app.events.put([], rejections=[row], counters={"rejected": 1}, offsets=offsets)
    return Outcome("rejected", item.origin, UNPROCESSABLE, message, None)
