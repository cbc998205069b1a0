"""Which partitions an ingest worker reads, and where each one stands.

A partition Kafka assigns is *pending* until the worker holds its fence and has positioned
the consumer at the store's offset for it (publishing first any dead letters of its last
batch that may not have gone out, and starting over if the topic was created again); then
it is *owned* and its records are stored. Per owned partition the worker also knows up to
which offset dead letters are published, and which of that the store already records.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from kafka import TopicPartition as TP
from sqlalchemy.exc import SQLAlchemyError

from engine.ingest.batch import Ingestor
from engine.kafka.batches import is_input_error
from engine.kafka.deadletters import DeadLetter, DeadLetterError, DeadLetterPublisher
from engine.kafka.fence import PartitionFence
from engine.kafka.metrics import ConsumerMetrics
from engine.kafka.origin import KafkaOrigin
from engine.kafka.settings import KafkaSettings
from engine.kafka.state import rejections_at, save_topic_id, stored_topic_id
from engine.kafka.topics import TopicAdmin
from engine.store.recorders import KafkaOffset

__all__ = ["DEAD_LETTER_SUFFIX", "Partitions"]

log = logging.getLogger(__name__)

DEAD_LETTER_SUFFIX = "#dead-letters"
"""Group suffix of the offset rows saying up to where dead letters are published."""
_MARKER_FLUSH_SECONDS = 1.0


class Partitions:
    """The pending and owned partitions of one worker; see the module docstring.

    ``consumer`` and ``publisher`` are set (and replaced) by the worker.
    """

    def __init__(self, settings: KafkaSettings, ingestor: Ingestor, fence: PartitionFence,
                 admin: TopicAdmin, db: Any, metrics: ConsumerMetrics) -> None:
        """No partitions yet."""
        self.settings = settings
        self.group = settings.group
        self.marker_group = settings.group + DEAD_LETTER_SUFFIX
        self.ingestor = ingestor
        self.store = ingestor.app.store
        self.fence = fence
        self.admin = admin
        self.db = db
        self.metrics = metrics
        self.consumer: Any = None
        self.publisher: DeadLetterPublisher | None = None
        self.owned: set[TP] = set()
        self.pending: set[TP] = set()
        self._published: dict[TP, int | None] = {}
        self._saved: dict[TP, int | None] = {}
        self._beyond_end: dict[TP, float] = {}
        self._claim_at = 0.0
        self._backoff = 0.5
        self._marker_at = 0.0

    # ------------------------------------------------------------ assignment changes
    def assigned(self, tps: Iterable[TP]) -> None:
        """Kafka assigned ``tps``: take them as soon as possible."""
        self.pending.update(tps)
        self._claim_at = 0.0

    def give_up(self, tps: Iterable[TP]) -> None:
        """Kafka took ``tps`` away (after the last batch committed): save, release fences."""
        mine = [tp for tp in tps if tp in self.owned or tp in self.pending]
        try:
            self.flush_markers(mine)
        except Exception as exc:
            log.warning("dead-letter offsets not saved on giving partitions up: %r", exc)
        for tp in mine:
            self.owned.discard(tp)
            self.pending.discard(tp)
            self._published.pop(tp, None)
            self._saved.pop(tp, None)
            self._beyond_end.pop(tp, None)
            self.fence.release(tp.topic, tp.partition)
            # Its new owner reports its lag now; a last value left here would be summed
            # with that one for ever.
            with contextlib.suppress(KeyError):
                self.metrics.lag.remove(tp.topic, str(tp.partition))

    def unclaim(self, tps: Iterable[TP]) -> None:
        """Stop storing ``tps`` (fences kept) until positioned from the store again."""
        tps = [tp for tp in tps if tp in self.owned]
        self.ingestor.forget()
        self.owned.difference_update(tps)
        self.pending.update(tps)
        self._claim_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, 5.0)

    def fences_lost(self) -> bool:
        """Whether fences of owned partitions were lost with their session (the store's
        connection cut, the server restarted): those partitions are unclaimed, and
        :meth:`claim` takes them again only if their fences are free."""
        lost = self.fence.lost()
        tps = [tp for tp in self.owned if (tp.topic, tp.partition) in lost]
        if tps:
            log.warning("partition fences lost with their session: %s; taking them again "
                        "before reading on", ", ".join(f"{t.topic}:{t.partition}" for t in tps))
            self.unclaim(tps)
        return bool(tps)

    def claim(self) -> DeadLetterError | None:
        """Take what pending partitions can be taken now; the dead-letter error, if any."""
        if not self.pending or time.monotonic() < self._claim_at:
            return None
        topic_ids: dict[str, str | None] | None = None
        failed: Exception | None = None
        for tp in sorted(self.pending):
            try:  # taking the fence needs the database too: it may be down
                if not self.fence.acquire(tp.topic, tp.partition):
                    continue  # its previous owner has not given it up yet
                if topic_ids is None:
                    topic_ids = self.admin.topic_ids({t.topic for t in self.pending})
                self._take(tp, topic_ids.get(tp.topic))
            except Exception as exc:
                log.warning("cannot take %s:%d yet: %r", tp.topic, tp.partition, exc)
                if isinstance(exc, SQLAlchemyError) or not is_input_error(exc):  # the store's
                    self.metrics.store_errors.inc()
                failed = exc
                break
            self.pending.discard(tp)
            self.owned.add(tp)
        if failed is not None:
            self._claim_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, 5.0)
        else:
            self._claim_at = time.monotonic() + 0.1
            if not self.pending:
                self._backoff = 0.5
        return failed if isinstance(failed, DeadLetterError) else None

    def _take(self, tp: TP, topic_id: str | None) -> None:
        """Position ``tp`` at the store's offset, after publishing unpublished dead letters."""
        stored = self.store.committed_offsets(self.group, tp.topic).get(tp.partition)
        marker = self.store.committed_offsets(self.marker_group, tp.topic).get(tp.partition)
        if stored is not None and marker is not None and marker < stored:
            self._republish(tp, marker, stored)
        known = stored_topic_id(self.db, self.group, tp.topic, tp.partition)
        if stored and topic_id and known and topic_id != known:
            log.warning("topic %s was created again (id %s, stored offsets belong to %s): "
                        "reading partition %d from its start", tp.topic, topic_id, known,
                        tp.partition)
            self._reset_offsets(tp)
            stored = marker = 0
        if topic_id and topic_id != known:
            save_topic_id(self.db, self.group, tp.topic, tp.partition, topic_id)
        self.ingestor.forget()
        self._beyond_end.pop(tp, None)
        if stored is None:
            if self.settings.auto_offset_reset == "earliest":
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek_to_end(tp)
            self._published[tp] = self._saved[tp] = None
        else:
            self.consumer.seek(tp, stored)
            self._published[tp] = stored
            self._saved[tp] = marker
        log.info("reading %s:%d from offset %s", tp.topic, tp.partition,
                 stored if stored is not None else self.settings.auto_offset_reset)

    def _republish(self, tp: TP, start: int, stop: int) -> None:
        origins = [str(KafkaOrigin(tp.topic, tp.partition, o)) for o in range(start, stop)]
        letters = [DeadLetter.from_rejection(row) for row in rejections_at(self.db, origins)]
        assert self.publisher is not None
        self.publisher.publish(letters)
        if letters:
            log.info("published %d dead letters of %s:%d offsets %d-%d again", len(letters),
                     tp.topic, tp.partition, start, stop - 1)

    def _reset_offsets(self, tp: TP) -> None:
        self.ingestor.ingest([], offsets=[(self.group, tp.topic, tp.partition, 0),
                                          (self.marker_group, tp.topic, tp.partition, 0)])

    # ------------------------------------------------------------ dead-letter offsets
    def reading(self, records: Iterable[Any]) -> None:
        """A batch is about to be stored: partitions read from their start learn it."""
        for record in records:
            tp = TP(record.topic, record.partition)
            if self._published.get(tp) is None:
                self._published[tp] = record.offset

    def markers(self, tps: Iterable[TP] | None = None) -> list[KafkaOffset]:
        """Dead-letter offsets published but not yet recorded in the store."""
        return [(self.marker_group, tp.topic, tp.partition, offset)
                for tp in (self.owned if tps is None else tps)
                if (offset := self._published.get(tp)) is not None
                and offset != self._saved.get(tp)]

    def recorded(self, markers: Iterable[KafkaOffset]) -> None:
        """``markers`` are now in the store."""
        self._saved.update({TP(t, p): offset for _g, t, p, offset in markers})

    def published(self, nexts: dict[TP, int]) -> None:
        """Every dead letter below ``nexts`` is acknowledged by the broker."""
        self._published.update(nexts)

    def flush_markers(self, tps: Iterable[TP] | None = None, *, idle: bool = False) -> None:
        """Record published dead-letter offsets in the store (when idle: at most once a
        second, and failures only logged)."""
        markers = self.markers(tps)
        if not markers or (idle and time.monotonic() < self._marker_at):
            return
        self._marker_at = time.monotonic() + _MARKER_FLUSH_SECONDS
        try:
            self.ingestor.ingest([], offsets=markers)
        except Exception as exc:
            if not idle:
                raise
            log.warning("dead-letter offsets not saved yet: %r", exc)
            return
        self.recorded(markers)

    # ------------------------------------------------------------ positions
    def watch(self) -> None:
        """Lag gauges; a position beyond the fetched log end means a recreated topic."""
        now = time.monotonic()
        for tp in list(self.owned):
            try:
                highwater = self.consumer.highwater(tp)
                position = self.consumer.position(tp, timeout_ms=1000)
            except Exception:
                continue
            if highwater is None or position is None:
                continue
            self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))
            if position <= highwater:
                self._beyond_end.pop(tp, None)
                continue
            since = self._beyond_end.setdefault(tp, now)
            if now - since < self.settings.beyond_end_grace_seconds:
                continue
            log.warning("%s:%d: position %d is beyond the log end %d (topic recreated?); "
                        "reading it from its start", tp.topic, tp.partition, position, highwater)
            try:
                self.flush_markers([tp])
                self._reset_offsets(tp)
                self.consumer.seek_to_beginning(tp)
            except Exception as exc:
                log.warning("reset of %s:%d failed: %r", tp.topic, tp.partition, exc)
                continue
            self._published[tp] = self._saved[tp] = None
            self._beyond_end.pop(tp, None)
