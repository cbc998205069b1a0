"""The outbox relay (``dealflow relay``): every domain event, in log order, to the events topic.

The store's log is the outbox. The relay reads it by position, encodes each event in the
outbound schema (:mod:`engine.kafka.schema`), keys it by the deal's subject (or the rep id,
:mod:`engine.kafka.keys`) and sends it with ``acks=all``, idempotence and one request in
flight per connection, so one deal's events reach one partition in log order. Sends are
pipelined; the relay's position (table ``dealflow_relay_positions``) only ever moves to the
last event of an unbroken run of events the broker acknowledged.

After a crash or a failed send the relay starts again from its saved position: events after
it may be published a second time (at-least-once), each with the same ``event_id``, and
never an event lost or skipped. Only one relay runs per store (``SingletonLock`` "relay"); a
second one waits as a standby and takes over when the first one's lock goes away.

When no broker answers (within ``bootstrap_timeout_ms``), a relay that follows the log
logs it and tries again; a one-shot relay (``run(until_idle=True)``) stops and raises
:class:`~engine.errors.BrokerUnreachableError`, naming the servers and why.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError
from sqlalchemy import Engine

from engine.errors import BrokerUnreachableError, StoreError
from engine.kafka.keys import EventKeys
from engine.kafka.metrics import RelayMetrics
from engine.kafka.prepare import Prepared, preparer_for, use_process
from engine.kafka.reach import check_reachable, is_bootstrap_failure, unreachable
from engine.kafka.settings import KafkaSettings
from engine.kafka.state import advance_relay_position, ensure_tables, relay_position
from engine.kafka.topics import TopicAdmin
from engine.store.app import DealflowApplication
from engine.store.follower import Follower
from engine.store.gc import batches
from engine.store.locks import SingletonLock

__all__ = ["LOCK_NAME", "OutboxRelay", "RelayPositionConflictError", "RelayStats"]

log = logging.getLogger(__name__)

LOCK_NAME = "relay"
#: Longest wait between two attempts to reach a broker that did not answer.
_MAX_CONNECT_BACKOFF = 10.0
InFlight = deque[tuple[int, Any]]


class RelayPositionConflictError(StoreError):
    """The relay's saved position moved under it: another relay ran without the lock."""


class _SendFailedError(Exception):
    """A send was not acknowledged; the relay resends from its saved position."""


@dataclass
class RelayStats:
    """What one relay did since it started."""

    published: int = 0
    position: int = 0
    resends: int = 0


class OutboxRelay:
    """Publishes the log to Kafka; see the module docstring.

    The loop (lock, thread, stop, idle wait, backoff) is the shared
    :class:`engine.store.follower.Follower`; one step sends what the log holds past the
    last sent position (up to the in-flight limit), collects acknowledgements and saves the
    acknowledged position every ``relay_commit_ms``. A failed send drops the producer; the
    next step reconnects and resends from the saved position.
    """

    def __init__(self, app: DealflowApplication, sql: Engine, lock: SingletonLock,
                 settings: KafkaSettings, *, metrics: RelayMetrics | None = None) -> None:
        """Prepare; nothing connects until the first step."""
        self.app = app
        self.settings = settings
        self.topic = settings.events_topic
        self.name = f"kafka:{self.topic}"
        self.metrics = metrics if metrics is not None else RelayMetrics()
        self.stats = RelayStats()
        self.db = sql
        self.keys = EventKeys(app, self.db)
        # Reading, decoding, keying and encoding run in a child process ahead of the sends.
        self.preparer = preparer_for(app, self.keys, settings.relay_batch_size,
                                     process=use_process(settings.relay_prepare_process,
                                                         os.cpu_count() or 1,
                                                         os.getloadavg()[0]))
        self.follower = Follower(LOCK_NAME, self._step, lock,
                                 idle=settings.relay_idle_ms / 1000, full=1,
                                 backoff=0.5, max_backoff=10.0,
                                 on_error=self._failed, on_stop=self._finish)
        self._producer: Any = None
        self._saved = self._acked = self._sent = 0
        self._in_flight: InFlight = deque()
        self._save_due = 0.0
        self._one_shot = False
        self._unreachable: BrokerUnreachableError | None = None
        self._unanswered = 0  # bootstraps in a row that found no broker
        self._connect_at = 0.0

    @property
    def lock(self) -> SingletonLock:
        """The relay's singleton lock."""
        return self.follower.lock

    def start(self) -> None:
        """Run in a background thread (for ``dealflow serve``)."""
        ensure_tables(self.db)
        self.follower.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is in flight, save the position and end; release the lock."""
        self.follower.stop(timeout)

    def run(self, *, until_idle: bool = False) -> RelayStats:
        """Publish in the calling thread until :meth:`stop` (or, with ``until_idle``, until
        the log is all published).

        With ``until_idle`` (a one-shot run), no broker answering is the end: raises
        :class:`~engine.errors.BrokerUnreachableError` (what was acknowledged is saved)."""
        ensure_tables(self.db)
        self._one_shot, self._unreachable = until_idle, None
        try:
            self.follower.follow(until_idle=until_idle)
        finally:
            self.follower.stop()
            self._one_shot = False
        if self._unreachable is not None:
            raise self._unreachable
        return self.stats

    # ------------------------------------------------------------------ a step
    def _step(self) -> int:
        """Send, harvest and save once; 0 when nothing was read and nothing is in flight."""
        # A step's objects (the chunk, the futures of what was acknowledged) die together:
        # the collector runs once after it, not every 700 allocations over the whole heap.
        with batches() as collect:
            done = self._send_step()
            collect()
        return done

    def _send_step(self) -> int:
        settings = self.settings
        if self._producer is None:
            if time.monotonic() < self._connect_at:
                return 0  # waiting for the broker (the loop idles, stop requests work)
            try:
                self._connect()
            except BrokerUnreachableError as exc:
                if self._one_shot:
                    self._unreachable = exc
                    self.follower.request_stop()
                    return 0
                # A known condition, not a failed step: one line, and our own backoff.
                self._unanswered += 1
                delay = min(0.5 * 2 ** (self._unanswered - 1), _MAX_CONNECT_BACKOFF)
                self._connect_at = time.monotonic() + delay
                log.warning("relay: %s; trying again in %.1fs", exc, delay)
                return 0
            self._unanswered, self._connect_at = 0, 0.0
            self._saved = self._acked = self._sent = relay_position(self.db, self.name)
            self.stats.position = self._saved
            self._in_flight.clear()
            self.preparer.seek(self._saved, self._partitions())
            self._save_due = time.monotonic() + settings.relay_commit_ms / 1000
        in_flight = self._in_flight
        notifications: list[Prepared] = []
        if len(in_flight) < settings.relay_max_in_flight:
            notifications = self.preparer.next()
        if notifications:
            self._send(notifications, in_flight)
            self._sent = notifications[-1][0]
        elif in_flight:
            self._producer.flush(timeout=settings.delivery_timeout_ms / 1000)
        if len(in_flight) >= settings.relay_max_in_flight:
            _wait(in_flight[0][1], settings.delivery_timeout_ms / 1000)
        try:
            self._harvest(in_flight)
        finally:
            # Also after a failed send: the acknowledged run before it is safe to save.
            now = time.monotonic()
            if self._acked > self._saved and (not notifications or now >= self._save_due
                                              or self.follower.stopping):
                self._save()
                self._save_due = now + settings.relay_commit_ms / 1000
        return len(notifications) + len(in_flight)

    def _failed(self, exc: Exception) -> None:
        """A step failed: count a resend and drop the producer (the next step reconnects and
        resends from the saved position)."""
        log.warning("relay: %r; resending from position %d", exc, self._saved)
        self.stats.resends += 1
        self.metrics.resends.inc()
        self._close_producer(timeout=0)

    def _finish(self) -> None:
        """At the end of the loop: wait for what is in flight, save, close the producer."""
        try:
            if self._producer is not None and self._in_flight:
                self._producer.flush(timeout=self.settings.delivery_timeout_ms / 1000)
                self._harvest(self._in_flight)
            if self._acked > self._saved:
                self._save()
        except Exception:
            log.exception("relay: finishing what was in flight failed; it will be resent")
        finally:
            self._close_producer(timeout=10)
            self.preparer.close()

    def _connect(self) -> None:
        """Create the topic if asked and a producer; BrokerUnreachableError if no broker
        answered within ``bootstrap_timeout_ms``."""
        # No server even accepting a connection: say so at once (and spare the log
        # kafka-python's page of connection errors per attempt).
        check_reachable(self.settings.bootstrap)
        self.preparer.start()  # it opens the store while the producer connects
        try:
            if self.settings.create_topics:
                admin = TopicAdmin(self.settings)
                try:
                    admin.ensure([self.topic])
                finally:
                    admin.close()
            self._producer = KafkaProducer(**self.settings.producer_config("relay"))
        except KafkaTimeoutError as exc:
            if not is_bootstrap_failure(exc):
                raise
            raise unreachable(self.settings.bootstrap,
                              self.settings.bootstrap_timeout_ms) from exc

    def _close_producer(self, timeout: float) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=timeout)
            except Exception:
                log.exception("closing the relay's producer")
            self._producer = None

    def _harvest(self, in_flight: InFlight) -> None:
        """Pop the acknowledged head of ``in_flight``, moving the acked position."""
        count = 0
        try:
            while in_flight and in_flight[0][1].is_done:
                position, future = in_flight[0]
                if future.exception is not None:
                    raise _SendFailedError(f"event at position {position} not acknowledged: "
                                           f"{future.exception!r}")
                in_flight.popleft()
                self._acked = position
                count += 1
        finally:
            self.stats.published += count
            self.metrics.published.inc(count)

    def _send(self, prepared: list[Prepared], in_flight: InFlight) -> None:
        send = self._producer.send
        topic = self.topic
        append = in_flight.append
        for position, partition, key, value, headers in prepared:
            append((position, send(topic, key=key, value=value, headers=headers,
                                   partition=partition)))

    def _partitions(self) -> list[int]:
        # The partition of each key is computed with the messages (kafka-python's default
        # partitioner, over the partitions the topic has when the producer connects).
        found = self._producer.partitions_for(self.topic)
        if not found:
            raise _SendFailedError(f"topic {self.topic!r} has no partitions")
        return sorted(found)

    def _save(self) -> None:
        with self.db.begin() as conn:
            if not advance_relay_position(conn, self.name, self._saved, self._acked):
                raise RelayPositionConflictError(
                    f"relay position {self.name!r} is no longer {self._saved}: another relay "
                    "ran without holding the lock")
        self._saved = self._acked
        self.stats.position = self._acked
        self.metrics.position.set(self._acked)


def _wait(future: Any, timeout: float) -> None:
    with contextlib.suppress(Exception):  # a failure is reported by _harvest
        future.get(timeout=timeout)
