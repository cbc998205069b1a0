"""The relay's messages prepared in a child process: the same bytes, in log order, as the
relay prepares itself; the child ends with the relay, also when the relay is SIGKILLed."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from kafka.partitioner.default import DefaultPartitioner

from engine.bootstrap import Engine, bootstrap
from engine.demo import generate
from engine.kafka.keys import EventKeys
from engine.kafka.prepare import LocalPreparer, Prepared, PreparingProcess, use_process
from engine.settings import Settings
from engine.store.sql import sql_engine
from tests.kafka.conftest import Worker, consume_all, kafka_settings, wait_until
from tests.kafka.test_relay import check_published, head, ingest, saved_position

PARTITIONS = [0, 1, 2]


def half_filled(tmp_path: Path, seed: int, deals: int) -> tuple[Engine, list[bytes]]:
    """A SQLite store holding the first half of a demo's facts, and the other half."""
    lines = list(generate(seed, deals=deals))
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/store.db"))
    ingest(engine, lines[: len(lines) // 2])
    return engine, lines[len(lines) // 2:]


def drain(preparer: LocalPreparer | PreparingProcess) -> list[Prepared]:
    """Every chunk up to the first empty one, joined."""
    out: list[Prepared] = []
    while chunk := preparer.next():
        out.extend(chunk)
    return out


def started(engine: Engine, batch_size: int) -> PreparingProcess:
    """A preparing process that has taken over from the relay's own process."""
    local = LocalPreparer(engine.app, EventKeys(engine.app, engine.sql), batch_size)
    preparer = PreparingProcess(engine.app.url, batch_size, local)
    preparer.start()
    deadline = time.monotonic() + 60
    while not preparer.ready:
        assert time.monotonic() < deadline, "the preparing process never became ready"
        preparer.seek(0, PARTITIONS)
        preparer.next()  # prepared here until the child says it is ready
        time.sleep(0.05)
    return preparer


class _Cluster:
    """What kafka-python's partitioner reads of the cluster metadata."""

    def topics(self) -> set[str]:
        return {"events"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(PARTITIONS)

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(PARTITIONS)


def test_the_child_prepares_what_the_relay_would_byte_for_byte(store_url: str) -> None:
    engine = bootstrap(Settings(db=store_url))
    try:
        ingest(engine, list(generate(3, deals=25)))
        local = LocalPreparer(engine.app, EventKeys(engine.app, engine.sql), 40)
        local.seek(0, PARTITIONS)
        expected = drain(local)
        assert [p[0] for p in expected] == list(range(1, head(engine) + 1))

        preparer = started(engine, 40)
        try:
            preparer.seek(0, PARTITIONS)
            assert drain(preparer) == expected
            preparer.seek(100)  # back to an earlier position mid-stream: from there again
            preparer.next()
            preparer.seek(7)
            assert drain(preparer) == expected[7:]
            pid = preparer.pid
            assert pid is not None
        finally:
            preparer.close()
        assert not psutil.pid_exists(pid) or _gone(psutil.Process(pid))
    finally:
        engine.close()
    partitioner = DefaultPartitioner()
    for _, partition, key, _, _ in expected:  # as kafka-python's own partitioner picks
        assert partition == partitioner.partition("events", key, key, None, None, _Cluster())


def test_a_chunk_asked_ahead_at_the_head_is_asked_afresh(tmp_path: Path) -> None:
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/store.db"))
    lines = list(generate(4, deals=10))
    try:
        ingest(engine, lines[:60])  # the first ~60 events
        preparer = started(engine, 1000)
        try:
            preparer.seek(0, PARTITIONS)
            assert len(drain(preparer)) == head(engine)
            first = head(engine)
            ingest(engine, lines[60:])  # appended after the child found the head
            assert [p[0] for p in drain(preparer)] == list(range(first + 1, head(engine) + 1))
        finally:
            preparer.close()
    finally:
        engine.close()


@pytest.mark.parametrize(("choice", "cores", "load", "expected"), [
    ("auto", 2, 0.0, True), ("auto", 2, 0.5, False), ("auto", 2, 4.0, False),
    ("auto", 8, 5.5, True), ("always", 2, 9.0, True), ("never", 16, 0.0, False),
])
def test_the_child_is_used_only_with_two_idle_cores_unless_told(
    choice: str, cores: int, load: float, expected: bool
) -> None:
    assert use_process(choice, cores, load) is expected


def _preparing(pid: int) -> list[Any]:
    """The preparing processes among ``pid``'s children (spawned: ``spawn_main``)."""
    return [p for p in psutil.Process(pid).children()
            if any("spawn_main" in part for part in p.cmdline())]


def _gone(process: Any) -> bool:
    return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


@pytest.mark.kafka
def test_a_relay_killed_with_its_child_loses_nothing_and_leaves_no_process(
    kafka_bootstrap: str, tmp_path: Path, workers: Any
) -> None:
    engine, rest = half_filled(tmp_path, 6, 80)
    sql = sql_engine(engine.app.url)
    # Slow (small windows, long linger) so the kill lands mid-stream, and with the child.
    settings = kafka_settings(kafka_bootstrap, relay_batch_size=20, relay_max_in_flight=20,
                              linger_ms=40, relay_commit_ms=0, relay_prepare_process="always")
    try:
        relay: Worker = workers(["relay", "--db", engine.app.url], settings, "relay").start()
        assert relay.proc is not None

        def progress() -> int:
            return saved_position(sql, f"kafka:{settings.events_topic}")

        wait_until(lambda: progress() >= 100 and bool(_preparing(relay.proc.pid)),
                   timeout=60, what="the relay to get going with its child",
                   on_timeout=relay.output)
        children = psutil.Process(relay.proc.pid).children()  # multiprocessing's too
        relay.kill()
        assert progress() < head(engine), "killed too late to be mid-stream"
        wait_until(lambda: all(_gone(child) for child in children), timeout=10,
                   what="the killed relay's children to end")

        # The rest, from the saved position, by a relay that prepares in its own process.
        ingest(engine, rest)
        other = engine.relay(settings.model_copy(update={"relay_prepare_process": "never"}))
        assert other.run(until_idle=True).position == progress() == head(engine)
        check_published(engine, consume_all(kafka_bootstrap, settings.events_topic,
                                            expect=head(engine)))
    finally:
        sql.dispose()
        engine.close()


@pytest.mark.kafka
def test_a_one_shot_relay_with_its_child_publishes_the_log_and_ends_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/store.db"))
    try:
        ingest(engine, list(generate(8, deals=40)))
        settings = kafka_settings(kafka_bootstrap, relay_batch_size=50,
                                  relay_prepare_process="always")
        relay = engine.relay(settings)
        assert isinstance(relay.preparer, PreparingProcess)
        stats = relay.run(until_idle=True)
        assert stats.position == head(engine) == stats.published
        assert not relay.preparer.alive
        records = consume_all(kafka_bootstrap, settings.events_topic, expect=head(engine))
        assert check_published(engine, records) == 0
    finally:
        engine.close()


@pytest.mark.kafka
def test_a_killed_child_is_replaced_and_the_relay_resends_from_its_saved_position(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    engine, rest = half_filled(tmp_path, 9, 40)
    try:
        settings = kafka_settings(kafka_bootstrap, relay_batch_size=50,
                                  relay_prepare_process="always")
        relay = engine.relay(settings)
        preparer = relay.preparer
        assert isinstance(preparer, PreparingProcess)
        thread = threading.Thread(target=relay.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: relay.stats.position == head(engine) and preparer.ready,
                       timeout=60, what="the relay to publish the log through its child")
            first = preparer.pid
            assert first is not None
            os.kill(first, signal.SIGKILL)
            ingest(engine, rest)
            wait_until(lambda: relay.stats.position == head(engine), timeout=60,
                       what="the relay to publish the rest")
            assert relay.stats.resends >= 1
            assert preparer.pid not in (None, first)  # a new child took over
        finally:
            relay.follower.request_stop()
            thread.join(30)
        assert not preparer.alive
        records = consume_all(kafka_bootstrap, settings.events_topic, expect=head(engine))
        check_published(engine, records)  # repeats allowed (at-least-once), nothing lost
    finally:
        engine.close()
