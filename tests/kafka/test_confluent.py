"""Facts produced the way most other services produce them: confluent-kafka (librdkafka), its
default partitioner (consistent_random: CRC32 of the key, where kafka-python and Java use
murmur2) and headers of its own, keyed by subject. ``dealflow consume`` (the console
script), killed once mid-stream, applies them exactly once and in order per deal: the store
ends up the same as a ``dealflow ingest`` of the same facts from a file."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message, Producer

from engine.bootstrap import bootstrap
from engine.demo import BAD_CLASSES, generate_lines
from engine.settings import Settings
from tests.kafka.conftest import (
    DEALFLOW,
    Worker,
    consume_all,
    consume_killed_once,
    create_topics,
    kafka_settings,
    letter_origin,
    snapshot,
    subject_key,
)

pytestmark = pytest.mark.kafka

#: What a typical service puts on each message besides the key.
HEADERS: list[tuple[str, str | bytes | None]] = [
    ("content-type", b"application/json"), ("producer", b"crm-web/4.2"),
    ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> list[tuple[int, int]]:
    """librdkafka's defaults but the servers; keyed by subject; (partition, offset) of each."""
    producer = Producer({"bootstrap.servers": bootstrap, "client.id": "crm-web"})
    placed: list[tuple[int, int] | None] = [None] * len(values)
    errors: list[KafkaError] = []

    def delivered(index: int) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(error)
            else:
                partition, offset = message.partition(), message.offset()
                assert partition is not None and offset is not None
                placed[index] = (partition, offset)
        return report

    for index, value in enumerate(values):
        producer.produce(topic, value=value, key=subject_key(value), headers=HEADERS,
                         on_delivery=delivered(index))
        producer.poll(0)
    assert producer.flush(60) == 0, "messages left undelivered"
    assert errors == []
    assert all(p is not None for p in placed)
    return [p for p in placed if p is not None]


def _file_ingest(tmp_path: Path, values: list[bytes]) -> dict[str, Any]:
    """``dealflow ingest`` of the same facts from a file (one per line, produce order)."""
    facts = tmp_path / "facts.jsonl"
    facts.write_bytes(b"".join(v + b"\n" for v in values))
    db = f"sqlite:///{tmp_path}/file.db"
    done = subprocess.run([DEALFLOW, "ingest", str(facts), "--db", db, "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    engine = bootstrap(Settings(db=db))
    try:
        return snapshot(engine)
    finally:
        engine.close()


def test_facts_from_confluent_kafka_are_applied_once_in_order_per_deal(
    kafka_bootstrap: str, tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    lines = list(generate_lines(23, deals=100))
    assert {line.bad_class for line in lines} >= set(BAD_CLASSES)
    values = [line.raw for line in lines if b"\n" not in line.raw]
    settings = kafka_settings(kafka_bootstrap, max_poll_records=10)
    create_topics(settings)
    placed = _produce(kafka_bootstrap, settings.topics[0], values)

    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for value, (partition, _) in zip(values, placed, strict=True):
        key = subject_key(value)
        if key is not None:
            partitions_of[key].add(partition)
    assert all(len(p) == 1 for p in partitions_of.values())  # a deal in one partition
    assert len({p for ps in partitions_of.values() for p in ps}) == settings.partitions

    expected = _file_ingest(tmp_path, values)
    db = f"sqlite:///{tmp_path}/kafka.db"
    got, rejected = consume_killed_once(workers(["consume", "--db", db], settings), db,
                                        len(values))
    assert got == expected  # once each, each deal's events in order

    letters = consume_all(kafka_bootstrap, settings.dead_letter_topic, expect=len(rejected))
    assert {str(letter_origin(letter)) for letter in letters} == rejected
    at = {where: value for where, value in zip(placed, values, strict=True)}
    again = 0
    for letter in letters:  # the rejected input as produced: bytes and the producer's headers
        origin = letter_origin(letter)
        assert letter.value == at[(origin.partition, origin.offset)]
        own = [(k, v) for k, v in letter.headers if not k.startswith("dealflow.")]
        if own != HEADERS:
            # Published again from the store after the kill (stored, not yet acknowledged):
            # the store keeps bytes, subject and reason, not the producer's headers.
            assert own == [], own
            again += 1
    assert again <= settings.batch_max_records  # at most the batch the kill interrupted
