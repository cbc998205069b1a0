"""The consumer's pipeline: a batch is decided while the next poll is fetched, and nothing
that happens around it (a revoke, the end of the run) lets a batch count twice or a fence go
before its batch committed."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import kafka
import pytest

import engine.kafka.consumer as consumer_module
from engine.bootstrap import Engine
from engine.kafka.batches import store_batch
from engine.kafka.consumer import SWITCH_INTERVAL, KafkaIngestWorker
from tests.kafka.conftest import (
    create_topics,
    kafka_settings,
    processed,
    produce,
    reference_run,
    snapshot,
    wait_until,
)
from tests.kafka.test_consumer import corpus, running

pytestmark = pytest.mark.kafka

_WAIT = 20.0  # seconds a held decision waits for the event it expects before giving up


class _Gate:
    """Holds the decision of each batch until the worker's thread has started a poll while
    that batch was in flight (a sequential consumer never does: it would hold for ever, so
    the gate gives up after ``_WAIT`` seconds once and then lets every batch through)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch,
                 before_poll: Callable[[KafkaIngestWorker], None] = lambda worker: None) -> None:
        self.worker: KafkaIngestWorker | None = None
        self.overlapped: list[bool] = []
        self._seen: list[list[Any]] = []  # batches a poll started beside (kept: ids recur)
        self._changed = threading.Condition()
        self._patience = _WAIT
        gate = self

        class WatchedConsumer(kafka.KafkaConsumer):  # type: ignore[misc]
            def poll(self, *args: Any, **kwargs: Any) -> Any:
                worker = gate.worker
                batch = getattr(worker, "_inflight", None)  # None: nothing in flight
                if worker is not None and batch is not None:
                    before_poll(worker)
                    with gate._changed:
                        gate._seen.append(batch.records)
                        gate._changed.notify_all()
                return super().poll(*args, **kwargs)

        monkeypatch.setattr(consumer_module, "KafkaConsumer", WatchedConsumer)

    def hold(self, records: Sequence[Any]) -> None:
        """Return once a poll started while ``records`` were in flight (or patience ran out)."""
        with self._changed:
            seen = self._changed.wait_for(lambda: any(r is records for r in self._seen),
                                          self._patience)
        self.overlapped.append(seen)
        if not seen:
            self._patience = 0.0  # one sequential batch is proof enough; do not stall more

    def decide(self, ingestor: Any, group: str, records: Sequence[Any], *rest: Any) -> Any:
        """``store_batch``, held until a poll ran beside it."""
        self.hold(records)
        return store_batch(ingestor, group, records, *rest)


def test_a_batch_is_decided_while_the_next_poll_is_fetched(
    kafka_bootstrap: str, tmp_path: Path, make_engine: Callable[..., Engine],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    values, _ = corpus(deals=30)
    settings = kafka_settings(kafka_bootstrap, max_poll_records=50)
    create_topics(settings)
    produce(kafka_bootstrap, settings.topics[0], values)
    expected, _ = reference_run(tmp_path, values)
    gate = _Gate(monkeypatch)
    monkeypatch.setattr(consumer_module, "store_batch", gate.decide)
    engine = make_engine()
    with running(engine, settings) as worker:
        gate.worker = worker
        wait_until(lambda: processed(engine) >= len(values), timeout=120,
                   what="every input decided")
    assert gate.overlapped and all(gate.overlapped), gate.overlapped
    assert worker.stats.records == len(values)
    assert snapshot(engine) == expected


def test_a_revoked_partition_is_released_only_after_its_batch_in_flight_committed(
    kafka_bootstrap: str, tmp_path: Path, make_engine: Callable[..., Engine],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kafka revokes partitions inside a poll, which now runs while a batch is decided: the
    worker must let that batch commit before it releases the fences (the next owner reads
    the offset it committed), and must drop what that poll fetched for them."""
    values, _ = corpus(deals=30)
    settings = kafka_settings(kafka_bootstrap, max_poll_records=40)
    create_topics(settings)
    produce(kafka_bootstrap, settings.topics[0], values)
    topic = settings.topics[0]
    engine = make_engine()
    revoked: list[kafka.TopicPartition] = []
    in_flight: dict[int, int] = {}  # partition -> the next offset after the held batch
    released: list[tuple[int, int | None, int | None]] = []

    def revoke(worker: KafkaIngestWorker) -> None:
        # What kafka-python's rebalance callback does inside a poll: note the change. The
        # batch in flight is held until this poll has started, so it commits after the note.
        if revoked or worker._inflight is None or processed(engine) < len(values) // 3:
            return
        for record in worker._inflight.records:
            in_flight[record.partition] = record.offset + 1
        revoked.extend(worker.assignment)
        worker._note("revoked", revoked)

    gate = _Gate(monkeypatch, revoke)
    monkeypatch.setattr(consumer_module, "store_batch", gate.decide)
    with running(engine, settings) as worker:
        gate.worker = worker
        release = worker.partitions.fence.release

        def noting_release(topic_name: str, partition: int) -> None:
            stored = engine.app.store.committed_offsets(settings.group, topic_name)
            released.append((partition, in_flight.get(partition), stored.get(partition)))
            release(topic_name, partition)

        monkeypatch.setattr(worker.partitions.fence, "release", noting_release)
        # Every revoked partition's fence released: the worker releases them one after
        # another, and after the first release alone the others were still owned.
        wait_until(lambda: bool(released) and len(released) >= len(revoked), timeout=120,
                   what="the revoked partitions released")
        assert not worker.assignment
        stored_at_release = engine.app.store.committed_offsets(settings.group, topic)
        processed_at_release = processed(engine)
    assert gate.overlapped and all(gate.overlapped), gate.overlapped
    assert {p for p, _, _ in released} == {tp.partition for tp in revoked}
    for partition, batch_end, stored in released:
        # Its batch in flight had committed when the fence went, and nothing after it.
        if batch_end is not None:
            assert stored == batch_end
        assert stored == stored_at_release.get(partition)
    assert processed(engine) == processed_at_release
    assert processed_at_release < len(values)


def test_a_worker_behind_stores_larger_batches_up_to_the_limit(
    kafka_bootstrap: str, tmp_path: Path, make_engine: Callable[..., Engine],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a batch is stored the worker keeps polling: the next transaction holds what it
    read meanwhile, more than one poll's worth but never more than ``batch_max_records``,
    and every input is still stored exactly once."""
    values, _ = corpus(deals=30)
    assert len(values) > 40 + 150
    settings = kafka_settings(kafka_bootstrap, max_poll_records=40, batch_max_records=150)
    create_topics(settings)
    produce(kafka_bootstrap, settings.topics[0], values)
    expected, _ = reference_run(tmp_path, values)
    sizes: list[int] = []
    held: list[int] = []
    worker_of: list[KafkaIngestWorker] = []
    intervals: set[float] = set()
    before = sys.getswitchinterval()

    def slow_store(ingestor: Any, group: str, records: Sequence[Any], *rest: Any) -> Any:
        sizes.append(len(records))
        intervals.add(sys.getswitchinterval())
        if len(sizes) == 1:  # the first batch is stored once the worker read a batch ahead
            deadline = time.monotonic() + _WAIT
            while worker_of[0]._held_count < 150 and time.monotonic() < deadline:
                time.sleep(0.01)
            held.append(worker_of[0]._held_count)
        return store_batch(ingestor, group, records, *rest)

    monkeypatch.setattr(consumer_module, "store_batch", slow_store)
    engine = make_engine()
    worker = KafkaIngestWorker(engine, settings)
    worker_of.append(worker)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: processed(engine) >= len(values), timeout=120,
                   what="every input decided")
    finally:
        worker.stop_event.set()
        thread.join(30)
    # While it ran, threads switched every millisecond (the deciding thread, back from
    # SQLite, does not wait 5 ms for the polling one); the interval is restored after.
    assert intervals == {min(before, SWITCH_INTERVAL)}
    assert sys.getswitchinterval() == before
    assert held == [150]  # polls of 40 gathered up to the limit while the first was stored
    assert sizes[0] <= 40 and sizes[1] == 150, sizes
    assert max(sizes) == 150, sizes  # never beyond the limit
    assert worker.stats.records == len(values) == sum(sizes)
    assert snapshot(engine) == expected
