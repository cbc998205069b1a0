"""The relay's messages: events read from the log, keyed, and encoded in the outbound
schema (docs/kafka.md), with the partition kafka-python's default partitioner would pick.

:func:`prepare` turns a chunk of the log into what ``KafkaProducer.send`` takes, in log
order. On a SQLite store it encodes each message from the event's stored row
(:class:`RelayLog`, :func:`engine.kafka.schema.encode_stored`) and decodes an event only
where the message needs it; elsewhere it decodes every event. Where this runs (the relay's
thread or a child process) is :mod:`engine.kafka.prepare`'s concern.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    StoredEvent,
)
from eventsourcing.utils import resolve_topic
from kafka.partitioner.default import murmur2

from engine.kafka.keys import EventKeys
from engine.kafka.schema import encode_event, encode_stored
from engine.store.app import DateAsISO, DealflowApplication
from engine.store.log import LogReader, StoredRow

__all__ = ["Partitions", "Prepared", "RelayLog", "prepare"]

#: position, partition, key, value, headers: what ``KafkaProducer.send`` takes for one event.
Prepared = tuple[int, int, bytes, bytes, list[tuple[str, bytes]]]
_PARTITIONS_OF_KEYS = 100_000  # keys whose partition is kept


class Partitions:
    """The partition of each key, as kafka-python's default partitioner picks it (murmur2
    of the key over all of the topic's partitions), computed once per key."""

    def __init__(self, partitions: Sequence[int]) -> None:
        """``partitions``: the topic's partition ids."""
        self.partitions = sorted(partitions)
        self._of: dict[bytes, int] = {}

    def of(self, key: bytes) -> int:
        """The partition of ``key``."""
        partition = self._of.get(key)
        if partition is None:
            if len(self._of) > _PARTITIONS_OF_KEYS:
                self._of.clear()
            index = (murmur2(key) & 0x7FFFFFFF) % len(self.partitions)
            partition = self._of[key] = self.partitions[index]
        return partition


class RelayLog:
    """The log as the relay reads it: stored rows, decoded only where the message needs
    the event (an aggregate not keyed yet, a state :func:`encode_stored` leaves to the
    decoded path).

    A message is the event's stored state re-encoded in the outbound schema, so building
    the event object (reviving every datetime and decimal, then writing them out again)
    was a quarter of the relay's own time. Rows are read by :meth:`LogReader.rows` (a
    SQLite store); any other store, or one whose states are transcoded differently from
    what :func:`encode_stored` knows, goes through :meth:`LogReader.read` and the decoded
    events."""

    def __init__(self, app: DealflowApplication) -> None:
        """Read ``app``'s log."""
        self.app = app
        self.reader = LogReader(app)
        mapper = app.mapper
        names = getattr(mapper.transcoder, "names", {})
        #: Whether messages are encoded from the stored rows.
        self.stored = (self.reader.reads_rows
                       and isinstance(mapper.transcoder, JSONTranscoder)
                       and type(names.get("datetime_iso")) is DatetimeAsISO
                       and type(names.get("decimal_str")) is DecimalAsStr
                       and type(names.get("date_iso")) is DateAsISO)
        self._classes: dict[str, type] = {}

    def rows(self, after: int, limit: int) -> list[StoredRow]:
        """At most ``limit`` stored events after position ``after`` (only when
        :attr:`stored`)."""
        return self.reader.rows(after, limit)

    def event_class(self, topic: str) -> type:
        """The domain event class stored under ``topic``."""
        found = self._classes.get(topic)
        if found is None:
            found = self._classes[topic] = resolve_topic(topic)
        return found

    def decode(self, row: StoredRow) -> Any:
        """The domain event of ``row``, as the application's mapper decodes it."""
        return self.app.mapper.to_domain_event(StoredEvent(
            originator_id=row.originator_id, originator_version=row.version,
            topic=row.topic, state=row.state))


def prepare(log: RelayLog, keys: EventKeys, partitions: Partitions, after: int,
            limit: int) -> list[Prepared]:
    """At most ``limit`` events after position ``after``, ready to send."""
    if not log.stored:
        return _prepare_decoded(log.reader, keys, partitions, after, limit)
    rows = log.rows(after, limit)
    # Aggregates not keyed yet: the first event of each is decoded, and they are keyed
    # together (one query).
    cached = keys.cached
    found: list[str | None] = [cached(row.originator_id) for row in rows]
    firsts: dict[UUID, int] = {}
    for i, key in enumerate(found):
        if key is None:
            firsts.setdefault(rows[i].originator_id, i)
    decoded: dict[int, Any] = {}
    if firsts:
        events = [log.decode(rows[i]) for i in firsts.values()]
        named = dict(zip(firsts, keys.keys(events), strict=True))
        decoded = dict(zip(firsts.values(), events, strict=True))
        found = [key if key is not None else named[row.originator_id]
                 for row, key in zip(rows, found, strict=True)]
    partition_of = partitions.of
    event_class = log.event_class
    out: list[Prepared] = []
    for i, (row, maybe) in enumerate(zip(rows, found, strict=True)):
        assert maybe is not None
        key = maybe
        position, originator, text, version, topic, state = row
        event = decoded.get(i)
        message = None
        if event is None:
            message = encode_stored(state, event_class(topic), topic=topic,
                                    position=position, key=key, originator_id=originator,
                                    originator_text=text, originator_version=version)
            if message is None:
                event = log.decode(row)
        if message is None:
            message = encode_event(event, topic=topic, position=position, key=key,
                                   originator_text=text)
        key_bytes = key.encode()
        out.append((position, partition_of(key_bytes), key_bytes, message[0], message[1]))
    return out


def _prepare_decoded(reader: LogReader, keys: EventKeys, partitions: Partitions, after: int,
                     limit: int) -> list[Prepared]:
    logged = reader.read(after, limit)
    found = keys.keys([item.event for item in logged])
    partition_of = partitions.of
    out: list[Prepared] = []
    for item, key in zip(logged, found, strict=True):
        value, headers = encode_event(item.event, topic=item.topic, position=item.position,
                                      key=key, originator_text=item.originator_text)
        key_bytes = key.encode()
        out.append((item.position, partition_of(key_bytes), key_bytes, value, headers))
    return out
