"""The Kafka ingest worker (``dealflow consume``, and ``dealflow serve --kafka``).

Exactly-once effect per offset and per fact id:

- Each poll is one batch: its facts' events, dedupe records, rejections and the partitions'
  next offsets commit in ONE store transaction (``Ingestor.ingest(..., offsets=...)``). The
  store is the source of truth; offsets are committed to Kafka afterwards, best effort, only
  so that Kafka tools show the group's progress.
- A partition is read only after its fence is taken (:mod:`engine.kafka.fence`) and the
  consumer has been moved to the store's offset for it; the aggregate cache is dropped on
  every assignment change. A worker that was thought dead but is still finishing a batch
  keeps its fence until it notices, so the new owner reads the offset that batch committed.

Dead letters are published after the batch's store commit and acknowledged before the next
batch. What was published is recorded as a second offset row per partition (group
``<group>#dead-letters``), written with the next transaction (or when idle or giving a
partition up). Whoever takes a partition whose dead-letter offset is behind its consumed
offset publishes the rejections of that range again from the store: a crash can only cause
a dead letter to be published twice, never lost (at-least-once).

A topic deleted and created again (its topic id changed, or the fetched log end stays below
the stored offset) is read from its start.

Pipelining: a batch is decided and stored in a second thread while this one polls the next
records and parses them against the contract (kafka-python's fetch, and SQLite's or
psycopg's database work, release the interpreter lock for part of their time). While the
batch in flight is not stored yet, this thread keeps polling (up to ``batch_max_records``
records held), so a worker that is behind stores larger batches: fewer transactions, each
writing its touched index pages once for more facts, and views that apply the log in larger
steps; a worker that keeps up still hands each poll on at once. Everything else happens
with no batch in flight: the stored batch's dead letters are published and its offsets
noted, then assignment changes are acted on (a revoked partition's fence is released only
once the batch that was in flight has committed or failed), then the held records of
partitions no longer owned are dropped, then pending partitions are taken (positioned at
the store's offset), and only then is the next batch handed to the deciding thread.
Records are held only from partitions owned when they were polled, and a partition that
stops being owned loses its held records before it can be taken again (taking it seeks to
the store's offset, which reads them again).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, OffsetAndMetadata
from kafka import TopicPartition as TP
from kafka.errors import KafkaError

from engine.contract.envelope import Fact
from engine.errors import BrokerUnreachableError
from engine.ingest.parsing import parse_chunk
from engine.kafka.batches import store_batch
from engine.kafka.deadletters import DeadLetter, DeadLetterError, DeadLetterPublisher
from engine.kafka.fence import PartitionFence
from engine.kafka.metrics import ConsumerMetrics
from engine.kafka.origin import KafkaOrigin
from engine.kafka.partitions import DEAD_LETTER_SUFFIX, Partitions
from engine.kafka.reach import check_reachable
from engine.kafka.settings import KafkaSettings
from engine.kafka.state import ensure_tables
from engine.kafka.topics import TopicAdmin

if TYPE_CHECKING:
    from engine.bootstrap import Engine

__all__ = ["DEAD_LETTER_SUFFIX", "SWITCH_INTERVAL", "ConsumerStats", "KafkaIngestWorker",
           "unstick_rejoin"]

log = logging.getLogger(__name__)

#: Seconds between the interpreter's thread switches while the consumer runs (Python's
#: default is 0.005): the deciding thread releases the interpreter lock for each statement
#: and the commit, and on its return waited for the polling thread to give the lock back,
#: up to a whole interval each time.
SWITCH_INTERVAL = 0.001

_WATCH_SECONDS = 1.0


@dataclass
class ConsumerStats:
    """What one worker did since it started."""

    records: int = 0
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_letters: int = 0


@dataclass
class _InFlight:
    """A batch handed to the deciding thread, and what its follow-up needs."""

    records: list[Any]
    markers: list[Any]
    started: float
    stored: Future[list[Any]]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Only notes assignment changes: the worker acts on them between polls."""

    def __init__(self, worker: KafkaIngestWorker) -> None:
        self._worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._worker._note("revoked", revoked)

    def on_partitions_lost(self, lost: Any) -> None:
        self._worker._note("lost", lost)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._worker._note("assigned", assigned)


class KafkaIngestWorker:
    """Consumes contract facts from Kafka into the store; see the module docstring.

    ``run()`` blocks until ``stop()`` (or the ``stop`` event) and returns the stats.
    """

    def __init__(self, engine: Engine, settings: KafkaSettings | None = None, *,
                 metrics: ConsumerMetrics | None = None,
                 stop: threading.Event | None = None) -> None:
        """Prepare; nothing connects until :meth:`run`."""
        self.engine = engine
        self.settings = settings if settings is not None else engine.settings.kafka
        self.ingestor = engine.ingestor
        self.group = self.settings.group
        self.stop_event = stop if stop is not None else threading.Event()
        self.metrics = metrics if metrics is not None else ConsumerMetrics()
        self.stats = ConsumerStats()
        self.db = engine.sql
        self._admin = TopicAdmin(self.settings)
        self.partitions = Partitions(self.settings, self.ingestor,
                                     PartitionFence(engine.app.url, self.db, self.group),
                                     self._admin, self.db, self.metrics)
        self._consumer: Any = None
        self._producer: Any = None
        self._notes: list[tuple[str, list[TP]]] = []
        self._notes_lock = threading.Lock()
        self._watch_at = 0.0
        self._topics_at = 0.0
        self._check_all_topics = False
        self._thread: threading.Thread | None = None
        self._decider: ThreadPoolExecutor | None = None
        self._inflight: _InFlight | None = None
        # Polled records (with their parsed facts) of owned partitions, for the next batch.
        self._held: list[tuple[TP, list[Any], list[Fact | None]]] = []
        self._held_count = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def topics(self) -> list[str]:
        """Every topic the worker needs: the inputs and the dead-letter topic."""
        return [*self.settings.topics, self.settings.dead_letter_topic]

    @property
    def assignment(self) -> set[TP]:
        """Partitions this worker reads now (fence held, positioned at the store's offset)."""
        return set(self.partitions.owned)

    def start(self) -> threading.Thread:
        """Run in a background thread (for ``dealflow serve``)."""
        self._thread = threading.Thread(target=self.run, name="dealflow-kafka-consumer",
                                        daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to end after the current batch; wait for a background thread."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> ConsumerStats:
        """Consume until stopped."""
        ensure_tables(self.db)
        self._decider = ThreadPoolExecutor(1, thread_name_prefix="dealflow-kafka-decide")
        # The deciding thread gives the interpreter lock up for each statement and the
        # commit, and on its return would wait up to a whole switch interval for this
        # thread (polling, parsing) to give it back (SWITCH_INTERVAL); a longer interval
        # already set is shortened, a shorter one kept.
        before = sys.getswitchinterval()
        sys.setswitchinterval(min(before, SWITCH_INTERVAL))
        try:
            if self._connect():
                while not self.stop_event.is_set():
                    self._step()
        finally:
            sys.setswitchinterval(before)
            self._shutdown()
        return self.stats

    def _connect(self) -> bool:
        backoff = 0.5
        while not self.stop_event.is_set():
            try:
                check_reachable(self.settings.bootstrap)  # quietly, before kafka-python tries
                if self.settings.create_topics:
                    self._admin.ensure(self.topics)
                self._new_publisher()
                self._consumer = KafkaConsumer(**self.settings.consumer_config())
                self.partitions.consumer = self._consumer
                self._consumer.subscribe(self.settings.topics, listener=_Listener(self))
                log.info("consuming %s as group %r into %s", ", ".join(self.settings.topics),
                         self.group, self.engine.app.url)
                return True
            except BrokerUnreachableError as exc:
                log.warning("%s; trying again in %.1fs", exc, backoff)
                self._close_clients()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except KafkaError as exc:
                log.warning("Kafka at %s not usable yet (%r); retrying", self.settings.bootstrap,
                            exc)
                self._close_clients()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        return False

    def _new_publisher(self) -> None:
        """A fresh dead-letter producer (also after one failed: its state may be fatal,
        e.g. an idempotent producer whose id a restarted broker no longer knows)."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception:
                log.exception("closing the dead-letter producer")
        self._producer = None
        self._producer = KafkaProducer(**{
            **self.settings.producer_config("dead-letters"),
            "max_block_ms": max(1000, self.settings.max_poll_interval_ms // 3)})
        self.partitions.publisher = DeadLetterPublisher(
            self._producer, self.settings.dead_letter_topic,
            max_bytes=self.settings.dead_letter_max_bytes,
            flush_timeout=max(1.0, self.settings.max_poll_interval_ms / 3000))

    def _publisher_failed(self, exc: Exception) -> None:
        self._check_all_topics = True  # the dead-letter topic may be missing
        self._topics_at = 0.0
        try:
            self._new_publisher()
        except KafkaError as error:
            log.warning("no new dead-letter producer yet: %r (after %r)", error, exc)

    def _shutdown(self) -> None:
        partitions = self.partitions
        try:
            self._settle()  # the batch in flight commits (or fails) before fences go
        except Exception:
            log.exception("while finishing the last batch")
        if self._decider is not None:
            self._decider.shutdown()
            self._decider = None
        try:
            if partitions.owned or partitions.pending:
                partitions.give_up(list(partitions.owned | partitions.pending))
        except Exception:
            log.exception("while giving partitions up")
        self._close_clients()
        partitions.fence.close()

    def _close_clients(self) -> None:
        for client, name in ((self._consumer, "consumer"), (self._producer, "producer")):
            if client is None:
                continue
            try:
                if name == "consumer":
                    client.close(autocommit=False)
                else:
                    client.close(timeout=5)
            except Exception:
                log.exception("closing the Kafka %s", name)
        self._consumer = self._producer = None
        self.partitions.consumer = self.partitions.publisher = None
        self._admin.close()

    # ------------------------------------------------------------------ the loop
    def _step(self) -> None:
        partitions = self.partitions
        inflight = self._inflight
        if inflight is not None:
            # Its follow-up is waiting: look again soon whether it is stored.
            timeout = min(self.settings.poll_timeout_ms, 100 if not self._held else 10)
        elif partitions.pending:
            timeout = min(self.settings.poll_timeout_ms, 200)
        else:
            timeout = self.settings.poll_timeout_ms
        settings = self.settings
        most = max(settings.batch_max_records, settings.max_poll_records)  # per batch
        try:
            polled = self._consumer.poll(  # while the batch in flight is decided
                timeout_ms=timeout,
                max_records=min(settings.max_poll_records, most - self._held_count))
        except KafkaError as exc:
            log.warning("poll failed: %r", exc)
            self._settle()
            self._drop_held()
            self.stop_event.wait(1.0)
            return
        unstick_rejoin(self._consumer)
        # Parsing needs no state: it runs here while the batch in flight is still decided.
        # Records of partitions not owned now are dropped: revoked ones, those given back
        # after a failed batch, and those not (yet) taken: taking one seeks it to the
        # store's offset, which discards what was fetched before. (No pause()/resume():
        # kafka-python 3.0.12 never again returns records a partition had buffered when it
        # was paused.)
        limits = self.ingestor.limits
        for tp, batch in polled.items():
            if tp in partitions.owned:
                self._held.append((tp, batch, parse_chunk(
                    [r.value if r.value is not None else b"" for r in batch], limits)))
                self._held_count += len(batch)
        if (inflight is not None and not inflight.stored.done()
                and self._held_count < most and not self.stop_event.is_set()):
            return  # read ahead while the batch in flight is decided and stored
        self._settle()
        self._apply_notes()
        if self._held:
            partitions.fences_lost()  # checked before each batch
        held, self._held, self._held_count = self._held, [], 0
        records = [r for tp, batch, _ in held if tp in partitions.owned for r in batch]
        parsed = [f for tp, _, facts in held if tp in partitions.owned for f in facts]
        failed = partitions.claim()
        if failed is not None:
            self._publisher_failed(failed)
        self._check_topics()
        now = time.monotonic()
        if now >= self._watch_at:
            self._watch_at = now + _WATCH_SECONDS
            partitions.watch()
        if records:
            self._submit(records, parsed)
        else:
            partitions.flush_markers(idle=True)

    def _drop_held(self) -> None:
        """Forget the records held for the next batch of partitions no longer owned."""
        owned = self.partitions.owned
        self._held = [chunk for chunk in self._held if chunk[0] in owned]
        self._held_count = sum(len(chunk[1]) for chunk in self._held)

    def _submit(self, records: list[Any], parsed: list[Fact | None]) -> None:
        """Hand ``records`` (and their ``parsed`` facts) to the deciding thread;
        :meth:`_settle` finishes them."""
        partitions = self.partitions
        partitions.reading(records)
        markers = partitions.markers()
        assert self._decider is not None
        stored = self._decider.submit(store_batch, self.ingestor, self.group, records, markers,
                                      parsed)
        self._inflight = _InFlight(records, markers, time.perf_counter(), stored)

    def _settle(self) -> None:
        """Wait for the batch in flight; publish its dead letters and note its offsets."""
        batch, self._inflight = self._inflight, None
        if batch is None:
            return
        records = batch.records
        partitions = self.partitions
        nexts = {TP(r.topic, r.partition): r.offset + 1 for r in records}
        try:
            outcomes = batch.stored.result()
        except Exception as exc:
            # unclaim() backs off (0.5 s doubling to 5 s) before the store is asked again.
            self.metrics.store_errors.inc()
            log.error("storing a batch of %d records failed (%r); resuming from the store's "
                      "offsets", len(records), exc)
            partitions.unclaim(partitions.owned)
            return
        partitions.recorded(batch.markers)
        now = datetime.now(UTC).isoformat()
        letters = [
            DeadLetter(raw=r.value if r.value is not None else b"",
                       origin=KafkaOrigin(r.topic, r.partition, r.offset),
                       reason=o.reason or "rejected", message=o.message or "", field=o.field,
                       rejected_at=now, key=r.key, headers=tuple(r.headers or ()))
            for r, o in zip(records, outcomes, strict=True) if o.status == "rejected"
        ]
        try:
            assert partitions.publisher is not None
            partitions.publisher.publish(letters)
        except DeadLetterError as exc:
            log.error("%s; publishing them again from the store", exc)
            partitions.unclaim(nexts)
            self._publisher_failed(exc)
            return
        partitions.published(nexts)
        self._commit_to_kafka(nexts)
        self._count(records, outcomes, letters, time.perf_counter() - batch.started)

    def _count(self, records: Sequence[Any], outcomes: Sequence[Any],
               letters: Sequence[DeadLetter], seconds: float) -> None:
        statuses = Counter(o.status for o in outcomes)
        stats = self.stats
        stats.batches += 1
        stats.records += len(records)
        stats.accepted += statuses["accepted"]
        stats.duplicates += statuses["duplicate"]
        stats.rejected += statuses["rejected"]
        stats.dead_letters += len(letters)
        for status, count in statuses.items():
            self.metrics.outcomes.labels(status).inc(count)
        for reason, count in Counter(letter.reason for letter in letters).items():
            self.metrics.dead_letters.labels(reason).inc(count)
        for topic, count in Counter(r.topic for r in records).items():
            self.metrics.records.labels(topic).inc(count)
        self.metrics.batch_seconds.observe(seconds)

    def _commit_to_kafka(self, nexts: dict[TP, int]) -> None:
        # Informational only (the store holds the offsets that count), so failures only log.
        try:
            self._consumer.commit_async(
                offsets={tp: OffsetAndMetadata(offset, "", -1) for tp, offset in nexts.items()},
                callback=_log_commit)
        except Exception as exc:
            log.debug("Kafka offset commit not sent: %r", exc)

    # ------------------------------------------------------------------ assignment
    def _note(self, kind: str, partitions: Iterable[TP]) -> None:
        """Called by kafka-python's IO thread: record the change, act between polls."""
        with self._notes_lock:
            self._notes.append((kind, list(partitions)))

    def _apply_notes(self) -> None:
        with self._notes_lock:
            notes, self._notes = self._notes, []
        for kind, tps in notes:
            if not tps:
                continue
            self.metrics.rebalances.inc()
            log.info("partitions %s: %s", kind,
                     ", ".join(f"{t.topic}:{t.partition}" for t in sorted(tps)))
            if kind == "assigned":
                self.partitions.assigned(tps)
            else:
                self.partitions.give_up(tps)
        if notes:
            self.ingestor.forget()

    def _check_topics(self) -> None:
        """Recreate missing topics (e.g. after a broker lost its data)."""
        now = time.monotonic()
        if not self.settings.create_topics or now < self._topics_at:
            return
        self._topics_at = now + self.settings.topic_check_seconds
        partitions = self.partitions
        held = {tp.topic for tp in partitions.owned | partitions.pending}
        if not self._check_all_topics and all(t in held for t in self.settings.topics):
            return
        try:
            created = self._admin.ensure(self.topics)
        except Exception as exc:
            log.warning("cannot check topics: %r", exc)
            self._admin.close()
            return
        self._check_all_topics = False
        if created:
            log.warning("created missing topics %s", ", ".join(created))


def unstick_rejoin(consumer: Any) -> bool:
    """Ask ``consumer`` (a subscribed kafka-python consumer) to join its group again if a
    rebalance it started was left half done; whether it had to.

    kafka-python 3.0.12 leaves a consumer without partitions for good when a rebalance that
    metadata started (a subscribed topic created again, or given more partitions) completes
    its JoinGroup and SyncGroup after the poll that sent them has returned: while the group's
    leader computes the assignment it records the new metadata, after which the consumer no
    longer "needs to rejoin", so no later poll collects the finished join. The assignment is
    never applied and the rebalance listener never hears of it, while the coordinator keeps
    the member in the group. Seen as: "partitions revoked", then nothing, for as long as the
    worker runs. The state is recognisable between polls (the coordinator is still
    ``rejoining`` but does not ``need_rejoin()``); asking it to rejoin makes the next poll
    collect the join in flight or send a new one, and the listener then hears the
    assignment. Harmless where the library has no such state (other versions): nothing is
    done.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not getattr(coordinator, "rejoining", False):
        return False
    try:
        if coordinator.need_rejoin():
            return False
        coordinator.request_rejoin()
    except AttributeError:  # not the kafka-python this was written for
        return False
    log.warning("kafka-python left a rebalance half done (joined, assignment never applied); "
                "joining the group again")
    return True


def _log_commit(offsets: Any, response: Any) -> None:
    if isinstance(response, Exception):
        log.debug("Kafka offset commit failed (the store's offsets count): %r", response)
