"""The outbox relay (``dealflow relay``): every domain event, in log order, to the events topic.

The store's log is the outbox. The relay reads it by position, encodes each event in the
outbound schema (:mod:`engine.kafka.schema`), keys it by the deal's subject (or the rep id,
:mod:`engine.kafka.keys`) and sends it with ``acks=all``, idempotence and one request in
flight per connection, so one deal's events reach one partition in log order. Sends are
pipelined; the relay's position (table ``dealflow_relay_positions``) only ever moves to the
last event of an unbroken run of events the broker acknowledged.

After a crash or a failed send the relay starts again from its saved position: events after
it may be published a second time (at-least-once), each with the same ``event_id``, and
never an event lost or skipped. Only one relay runs per store (``RunnerLock`` "relay"); a
second one waits as a standby and takes over when the first one's lock goes away.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from engine.errors import StoreError
from engine.kafka.keys import EventKeys
from engine.kafka.metrics import RelayMetrics
from engine.kafka.schema import encode_event
from engine.kafka.settings import KafkaSettings
from engine.kafka.state import advance_relay_position, ensure_tables, relay_position
from engine.kafka.topics import TopicAdmin
from engine.store.app import DealflowApplication
from projections.db import view_engine
from projections.lock import RunnerLock

__all__ = ["LOCK_NAME", "OutboxRelay", "RelayPositionConflictError", "RelayStats"]

log = logging.getLogger(__name__)

LOCK_NAME = "relay"
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
    """Publishes the log to Kafka; see the module docstring."""

    def __init__(self, app: DealflowApplication, settings: KafkaSettings, *,
                 metrics: RelayMetrics | None = None,
                 stop: threading.Event | None = None) -> None:
        """Prepare; nothing connects until :meth:`run`."""
        self.app = app
        self.settings = settings
        self.topic = settings.events_topic
        self.name = f"kafka:{self.topic}"
        self.metrics = metrics if metrics is not None else RelayMetrics()
        self.stop_event = stop if stop is not None else threading.Event()
        self.stats = RelayStats()
        self.db = view_engine(app.url)
        self.keys = EventKeys(app, self.db)
        self.lock = RunnerLock(app.url, self.db, name=LOCK_NAME)
        self._producer: Any = None
        self._saved = self._acked = 0
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        """Run in a background thread (for ``dealflow serve``)."""
        self._thread = threading.Thread(target=self.run, name="dealflow-relay", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the relay to finish what is in flight and end; wait for a background thread."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, *, until_idle: bool = False) -> RelayStats:
        """Publish until stopped (or, with ``until_idle``, until the log is all published)."""
        ensure_tables(self.db)
        if not self._wait_for_lock():
            return self.stats
        backoff = 0.5
        try:
            while not self.stop_event.is_set():
                try:
                    self._connect()
                    self._pump(until_idle=until_idle)
                    return self.stats
                except (KafkaError, _SendFailedError) as exc:
                    log.warning("relay: %r; resending from position %d", exc,
                                relay_position(self.db, self.name))
                    self.stats.resends += 1
                    self.metrics.resends.inc()
                    self._close_producer(timeout=0)
                    self.stop_event.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
            return self.stats
        finally:
            self._close_producer(timeout=10)
            self.lock.release()
            self.db.dispose()

    def _wait_for_lock(self) -> bool:
        said = False
        while not self.stop_event.is_set():
            if self.lock.acquire():
                return True
            if not said:
                log.info("another relay holds the %r lock; standing by", LOCK_NAME)
                said = True
            self.stop_event.wait(1.0)
        return False

    def _connect(self) -> None:
        if self.settings.create_topics:
            admin = TopicAdmin(self.settings)
            try:
                admin.ensure([self.topic])
            finally:
                admin.close()
        self._producer = KafkaProducer(**self.settings.producer_config("relay"))

    def _close_producer(self, timeout: float) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=timeout)
            except Exception:
                log.exception("closing the relay's producer")
            self._producer = None

    def _pump(self, *, until_idle: bool) -> None:
        settings = self.settings
        self._saved = self._acked = sent = relay_position(self.db, self.name)
        self.stats.position = self._saved
        in_flight: InFlight = deque()
        save_due = time.monotonic() + settings.relay_commit_ms / 1000
        while True:
            stopping = self.stop_event.is_set()
            notifications: Any = []
            if not stopping and len(in_flight) < settings.relay_max_in_flight:
                notifications = self.app.recorder.select_notifications(
                    start=sent + 1, limit=settings.relay_batch_size)
            if notifications:
                self._send(notifications, in_flight)
                sent = notifications[-1].id
            elif in_flight:
                self._producer.flush(timeout=settings.delivery_timeout_ms / 1000)
            if len(in_flight) >= settings.relay_max_in_flight:
                _wait(in_flight[0][1], settings.delivery_timeout_ms / 1000)
            try:
                self._harvest(in_flight)
            finally:
                # Also after a failed send: the acknowledged run before it is safe to save.
                now = time.monotonic()
                if self._acked > self._saved and (not notifications or now >= save_due
                                                  or self.stop_event.is_set()):
                    self._save()
                    save_due = now + settings.relay_commit_ms / 1000
            if not notifications and not in_flight:
                if stopping or until_idle:
                    return
                self.stop_event.wait(settings.relay_idle_ms / 1000)

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

    def _send(self, notifications: Any, in_flight: InFlight) -> None:
        mapper = self.app.mapper
        events = [mapper.to_domain_event(n) for n in notifications]
        keys = self.keys.keys(events)
        send = self._producer.send
        topic = self.topic
        for notification, event, key in zip(notifications, events, keys, strict=True):
            value, headers = encode_event(event, topic=notification.topic,
                                          position=notification.id, key=key)
            in_flight.append((notification.id,
                              send(topic, key=key.encode(), value=value, headers=headers)))

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
