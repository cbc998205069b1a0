"""The ingest consumer against a real broker: dead letters, SIGKILL, broker restart, scale-out."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import kafka
import pytest

from engine.bootstrap import Engine, bootstrap
from engine.demo import BAD_CLASSES, FIELD_CLASSES, generate_lines
from engine.kafka.consumer import DEAD_LETTER_SUFFIX, KafkaIngestWorker
from engine.kafka.settings import KafkaSettings
from engine.settings import Settings
from tests.infra import TansuBroker, free_loopback_port, stop_process
from tests.kafka.conftest import (
    DEALFLOW,
    Worker,
    consume_all,
    consume_killed_once,
    create_topics,
    kafka_settings,
    letter_origin,
    processed,
    produce,
    reference_run,
    snapshot,
    wait_until,
)

pytestmark = pytest.mark.kafka

POISON: list[bytes | None] = [
    b"\xff\xfe\xfa not UTF-8 at all",
    b"[" * 50_000,                         # nests deeper than any parser recursion limit
    b'{"id": "x", ' + b"9" * 5000 + b"}",  # not JSON, with a giant number in it
    b"G" * 400_000,                        # a giant message
    b"",
    None,                                  # a tombstone
    b"42",
]
WORKFLOW_REASONS = {
    "stage_jump": {"stage_jump"},
    "missing_requirement": {"requirement_missing"},
    "unknown_deal": {"deal_not_found"},
    "opened_twice": {"deal_already_opened"},
    "closed_deal": {"closed_deal"},
    "conflict": {"conflict"},
}


def corpus(deals: int, seed: int = 11) -> tuple[list[bytes | None], list[str | None]]:
    """A quarter's lines (good, duplicates, every bad class) and each line's bad class."""
    lines = list(generate_lines(seed, deals=deals))
    return [line.raw for line in lines], [line.bad_class for line in lines]


@contextmanager
def running(engine: Engine, settings: KafkaSettings) -> Iterator[KafkaIngestWorker]:
    """An in-process worker on a background thread."""
    worker = KafkaIngestWorker(engine, settings)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop_event.set()
        thread.join(30)
        assert not thread.is_alive()


def test_every_bad_input_class_and_poison_ends_up_in_the_dead_letter_topic(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    values, classes = corpus(deals=40)
    assert set(BAD_CLASSES) <= set(filter(None, classes))
    values = values[:200] + POISON + values[200:]
    classes = classes[:200] + ["poison"] * len(POISON) + classes[200:]
    settings = kafka_settings(kafka_bootstrap, max_poll_records=100)
    create_topics(settings)
    placed = produce(kafka_bootstrap, settings.topics[0], values)
    expected, outcomes = reference_run(tmp_path, values)

    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/store.db"))
    try:
        with running(engine, settings) as worker:
            wait_until(lambda: processed(engine) >= len(values), timeout=90,
                       what="every input decided")
        # Counted once the batch's dead letters went out, which follows its store commit.
        assert worker.stats.records == len(values)
        assert snapshot(engine) == expected
        rejections = engine.app.store.select_rejections(limit=10_000)
    finally:
        engine.close()

    letters = consume_all(kafka_bootstrap, settings.dead_letter_topic, expect=len(rejections))
    assert len(letters) == len(rejections) == sum(o.status == "rejected" for o in outcomes)
    by_position = {(p.partition, p.offset): i for i, p in enumerate(placed)}
    stored = {row.origin: row for row in rejections}
    seen_classes = set()
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}
        origin = letter_origin(letter)
        index = by_position[(origin.partition, origin.offset)]
        assert origin.topic == settings.topics[0]
        assert letter.value == (values[index] or b"")        # the original bytes
        assert headers["dealflow.reason"] == outcomes[index].reason
        assert headers["dealflow.reason"] == stored[str(origin)].reason
        assert headers.get("dealflow.field") == outcomes[index].field
        assert headers["dealflow.message"]
        bad_class = classes[index]
        seen_classes.add(bad_class)
        if bad_class in FIELD_CLASSES or bad_class == "poison":
            assert headers["dealflow.reason"].startswith("invalid:")
        else:
            assert headers["dealflow.reason"] in WORKFLOW_REASONS[bad_class or ""]
    assert seen_classes == {*BAD_CLASSES, "poison"}


def test_a_worker_killed_mid_stream_and_restarted_applies_every_fact_exactly_once(
    kafka_bootstrap: str, tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    values, _ = corpus(deals=120)
    settings = kafka_settings(kafka_bootstrap, max_poll_records=10)
    create_topics(settings)
    produce(kafka_bootstrap, settings.topics[0], values)
    expected, _ = reference_run(tmp_path, values)
    db = f"sqlite:///{tmp_path}/store.db"
    got, rejected = consume_killed_once(workers(["consume", "--db", db], settings), db,
                                        len(values))
    assert got == expected
    letters = consume_all(kafka_bootstrap, settings.dead_letter_topic, expect=len(rejected))
    assert {str(letter_origin(r)) for r in letters} == rejected  # each at least once


def test_the_worker_survives_a_broker_restart_that_loses_everything(
    tansu_broker: TansuBroker, tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    values, _ = corpus(deals=60)
    first, second = values[: len(values) * 2 // 3], values[len(values) * 2 // 3:]
    settings = kafka_settings(tansu_broker.bootstrap, max_poll_records=200)
    create_topics(settings)
    produce(tansu_broker.bootstrap, settings.topics[0], first)
    expected, _ = reference_run(tmp_path, values)
    db = f"sqlite:///{tmp_path}/store.db"
    engine = bootstrap(Settings(db=db))
    try:
        worker = workers(["consume", "--db", db], settings).start()
        wait_until(lambda: processed(engine) >= len(first), timeout=90,
                   what="the first part decided", on_timeout=worker.output)
        pid = worker.proc.pid if worker.proc else None

        tansu_broker.stop()
        time.sleep(3.0)
        assert worker.running
        tansu_broker.start()  # same port, nothing kept: no topics, no groups, no offsets

        admin = kafka.KafkaAdminClient(bootstrap_servers=tansu_broker.bootstrap)
        try:
            wait_until(lambda: settings.topics[0] in admin.list_topics(), timeout=60,
                       what="the worker to create its topic again", on_timeout=worker.output)
        finally:
            admin.close()
        produce(tansu_broker.bootstrap, settings.topics[0], second)
        wait_until(lambda: processed(engine) >= len(values), timeout=90,
                   what="the part produced after the restart", on_timeout=worker.output)
        time.sleep(1.0)
        assert worker.running and worker.proc and worker.proc.pid == pid
        assert snapshot(engine) == expected
        offsets = engine.app.store.committed_offsets(settings.group, settings.topics[0])
        assert sum(offsets.values()) == len(second)  # positions in the new topic
    finally:
        engine.close()


@pytest.mark.postgres
def test_workers_in_one_group_share_partitions_and_take_over_from_a_dead_one(
    kafka_bootstrap: str, pg_database_url: str, tmp_path: Path,
    workers: Callable[..., Worker]
) -> None:
    values, _ = corpus(deals=120)
    half = len(values) // 2
    settings = kafka_settings(kafka_bootstrap, max_poll_records=25, partitions=4)
    create_topics(settings)
    expected, _ = reference_run(tmp_path, values)
    engine = bootstrap(Settings(db=pg_database_url))
    try:
        args = ["consume", "--db", pg_database_url]
        one, two = workers(args, settings, "one").start(), workers(args, settings, "two").start()

        def both_read() -> bool:
            return all("reading " in w.log.read_text(errors="replace") for w in (one, two))

        wait_until(both_read, timeout=60, what="both workers to get partitions",
                   on_timeout=lambda: one.output() + two.output())
        produce(kafka_bootstrap, settings.topics[0], values[:half])
        wait_until(lambda: processed(engine) >= half // 2, timeout=90,
                   what="progress", on_timeout=lambda: one.output() + two.output())
        one.kill()
        produce(kafka_bootstrap, settings.topics[0], values[half:])
        wait_until(lambda: processed(engine) >= len(values), timeout=120,
                   what="the survivor to finish", on_timeout=two.output)
        time.sleep(1.0)
        assert snapshot(engine) == expected
        offsets = engine.app.store.committed_offsets(settings.group, settings.topics[0])
        assert sum(offsets.values()) == len(values)
        markers = engine.app.store.committed_offsets(settings.group + DEAD_LETTER_SUFFIX,
                                                     settings.topics[0])
        assert set(markers) <= set(offsets)
    finally:
        engine.close()


@pytest.mark.postgres
def test_a_worker_reports_lag_only_for_the_partitions_it_reads(
    kafka_bootstrap: str, pg_database_url: str
) -> None:
    settings = kafka_settings(kafka_bootstrap, partitions=4)
    create_topics(settings)
    produce(kafka_bootstrap, settings.topics[0], [b"{}"] * 8)  # some lag to report

    def lagging(worker: KafkaIngestWorker) -> set[int]:
        """Partitions with a lag sample in the worker's own registry."""
        return {int(s.labels["partition"]) for metric in worker.metrics.lag.collect()
                for s in metric.samples}

    def read(worker: KafkaIngestWorker) -> set[int]:
        return {tp.partition for tp in worker.assignment}

    engines = [bootstrap(Settings(db=pg_database_url)) for _ in range(2)]
    try:
        with running(engines[0], settings) as first:
            wait_until(lambda: lagging(first) == {0, 1, 2, 3}, timeout=60,
                       what="the only worker to report every partition's lag")
            with running(engines[1], settings) as second:
                def shared() -> bool:
                    return bool(read(first)) and bool(read(second)) and \
                        read(first) | read(second) == {0, 1, 2, 3} and \
                        lagging(first) == read(first) and lagging(second) == read(second)

                wait_until(shared, timeout=60, what="each worker to report only its own")
    finally:
        for engine in engines:
            engine.close()


def test_a_consumer_without_a_broker_keeps_trying_and_says_why(tmp_path: Path) -> None:
    port = free_loopback_port()
    said = f"cannot reach a Kafka broker at 127.0.0.1:{port} (127.0.0.1:{port}: connection " \
        "refused)"
    log = tmp_path / "consume.log"
    with log.open("wb") as out:
        consumer = subprocess.Popen([DEALFLOW, "consume", "--db", f"sqlite:///{tmp_path}/s.db",
                                     "--kafka", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
    try:
        # Bounded by lines, not by a clock: a loaded machine may take seconds to start it.
        wait_until(lambda: log.read_text(errors="replace").count(said) >= 2 or
                   consumer.poll() is not None, timeout=60, what="two connection attempts",
                   on_timeout=lambda: log.read_text(errors="replace"))
        assert consumer.poll() is None  # a service waits for its broker
    finally:
        stop_process(consumer, timeout=20)
    output = log.read_text(errors="replace")
    tries = [line for line in output.splitlines() if said in line]
    assert len(tries) >= 2, output
    assert "Traceback" not in output and consumer.returncode == 0, output
