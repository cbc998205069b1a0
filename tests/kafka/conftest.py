"""Kafka test helpers: fast group timeouts, unique topics, producing a corpus, worker processes,
and a comparable snapshot of a store.

Every test that talks to the broker is marked ``kafka``. The session broker
(``kafka_bootstrap``) is shared, so each test gets topics and a group of its own.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kafka
import pytest

from engine.bootstrap import Engine, bootstrap
from engine.domain.routing_book import ROUTING_BOOK_ID, RoutingBook
from engine.ingest.batch import RawInput, open_loads
from engine.kafka.origin import KafkaOrigin
from engine.kafka.settings import KafkaSettings
from engine.kafka.topics import TopicAdmin
from engine.settings import Settings
from tests.engine.conftest import engine, make_engine
from tests.infra.common import stop_process, tail
from tests.infra.factory import closing_factory

__all__ = ["engine", "make_engine"]

#: Fast group membership; used by every test. Tansu completes a join about half the session
#: timeout after it starts (measured: 6 s -> 3.0 s, 3 s -> 2.0 s, 2 s -> 1.0 s) and holds a
#: killed member's partitions for the whole session timeout, so a short one makes each join
#: and each take-over after a kill quicker; a heartbeat every 400 ms keeps a live member in.
FAST = {
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 400,
    "max_poll_interval_ms": 5000,
    "metadata_max_age_ms": 1000,
    "topic_check_seconds": 1.0,
    "reconnect_backoff_max_ms": 1000,
    "poll_timeout_ms": 200,
    "beyond_end_grace_seconds": 2.0,
}
DEALFLOW = str(Path(sys.executable).with_name("dealflow"))


def kafka_settings(bootstrap: str, **overrides: Any) -> KafkaSettings:
    """Settings with fast timeouts and topics/group unique to the calling test."""
    tag = secrets.token_hex(4)
    values: dict[str, Any] = {
        "bootstrap": bootstrap,
        "topics": [f"facts-{tag}"],
        "group": f"ingest-{tag}",
        "dead_letter_topic": f"facts-{tag}.dlq",
        "events_topic": f"events-{tag}",
        "partitions": 3,
        **FAST,
    }
    values.update(overrides)
    if "max_poll_records" in overrides and "batch_max_records" not in overrides:
        # A test that asks for small polls wants many batches: a worker behind still
        # gathers polls into one batch, but up to three polls, not up to the default 5,000.
        values["batch_max_records"] = 3 * overrides["max_poll_records"]
    return KafkaSettings(**values)


def settings_env(settings: KafkaSettings) -> dict[str, str]:
    """The environment that gives a ``dealflow`` subprocess these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALFLOW_")}
    for name, value in settings.model_dump().items():
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        if value is not None:
            env[f"DEALFLOW_KAFKA_{name.upper()}"] = text
    return env


def subject_key(raw: bytes) -> bytes | None:
    """The key a contract producer uses: the fact's subject (None if unreadable)."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    subject = obj.get("subject") if isinstance(obj, dict) else None
    return subject.encode() if isinstance(subject, str) else None


def create_topics(settings: KafkaSettings) -> None:
    """Create the settings' input topics (as an operator would before producing)."""
    admin = TopicAdmin(settings)
    try:
        admin.ensure(settings.topics)
    finally:
        admin.close()


@dataclass(frozen=True)
class Produced:
    """One produced record: its bytes and where it landed."""

    raw: bytes | None
    partition: int
    offset: int


def produce(bootstrap: str, topic: str, values: Iterable[bytes | None]) -> list[Produced]:
    """Send ``values`` keyed by subject (acks=all); return where each one landed."""
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                   allow_auto_create_topics=False, max_request_size=4_000_000)
    try:
        futures = [(v, producer.send(topic, key=subject_key(v) if v else b"poison", value=v))
                   for v in values]
        producer.flush(timeout=60)
        return [Produced(v, f.get(timeout=10).partition, f.get(timeout=10).offset)
                for v, f in futures]
    finally:
        producer.close(timeout=10)


def consume_all(bootstrap: str, topic: str, *, expect: int, timeout: float = 60.0) -> list[Any]:
    """Every record of ``topic`` (no group), reading until ``expect`` arrived and no more come."""
    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                   enable_auto_commit=False, group_id=None)
    try:
        deadline = time.monotonic() + timeout
        while not consumer.partitions_for_topic(topic):
            assert time.monotonic() < deadline, f"topic {topic} never appeared"
            time.sleep(0.2)
        tps = [kafka.TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=300)
            got = [r for tp in tps for r in polled.get(tp, [])]
            records.extend(got)
            if got:
                quiet_since = time.monotonic()
            elif len(records) >= expect and time.monotonic() - quiet_since > 1.0:
                break
        return records
    finally:
        consumer.close()


def letter_origin(letter: Any) -> KafkaOrigin:
    """Where a dead letter's input was read, from its headers."""
    headers = {k: v.decode() for k, v in letter.headers}
    return KafkaOrigin(headers["dealflow.source.topic"],
                       int(headers["dealflow.source.partition"]),
                       int(headers["dealflow.source.offset"]))


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str,
               on_timeout: Callable[[], str] = lambda: "") -> None:
    """Poll ``predicate`` (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}")
        time.sleep(0.2)


def processed(engine: Engine) -> int:
    """Inputs the store has decided: accepted + duplicates + rejected."""
    return sum(engine.app.store.counters().values())


def kill_mid_stream(worker: Worker, engine: Engine, total: int, *, timeout: float = 90) -> None:
    """SIGKILL ``worker`` as soon as it has stored its first batch (a consumer on a
    loopback broker gets through a thousand small batches in well under a second: waiting
    for some fraction of them, polling, often sees it done)."""
    deadline = time.monotonic() + timeout
    while processed(engine) == 0:
        if time.monotonic() > deadline or not worker.running:
            pytest.fail(f"the worker stored nothing within {timeout:.0f}s\n{worker.output()}")
        time.sleep(0.01)
    worker.kill()  # a batch may be half read, none half stored
    assert processed(engine) < total, "killed too late to be mid-stream"


def consume_killed_once(worker: Worker, db: str, total: int) -> tuple[dict[str, Any], set[str]]:
    """Start ``worker`` (a ``consume`` into ``db``), SIGKILL it mid-stream
    (:func:`kill_mid_stream`), start it again and let it decide all ``total`` inputs; stop
    it. Returns the store's :func:`snapshot` and the origins of its stored rejections."""
    engine = bootstrap(Settings(db=db))
    try:
        worker.start()
        kill_mid_stream(worker, engine, total)
        worker.start()
        wait_until(lambda: processed(engine) >= total, timeout=120,
                   what="every input decided after the restart", on_timeout=worker.output)
        time.sleep(1.0)  # anything applied twice would show up now
        worker.stop()
        rejected = {row.origin for row in engine.app.store.select_rejections(limit=10_000)}
        return snapshot(engine), rejected
    finally:
        engine.close()


def snapshot(engine: Engine) -> dict[str, Any]:
    """What two runs over the same facts must agree on: counters, rejections by reason,
    every aggregate's events (version, stored name, causing fact) in order, the profiles the
    routing book holds and that its loads are those of the deals' events.

    The book's events are one per batch (their number follows the batching), and routed
    owners follow the order in which the engine decides across partitions (contract 1.1):
    two runs may route differently, each consistently."""
    app = engine.app
    aggregates: dict[str, list[tuple[int, str, str | None]]] = defaultdict(list)
    for n in app.recorder.select_notifications(start=1, limit=10_000_000):
        if n.originator_id == ROUTING_BOOK_ID:
            continue
        event = app.mapper.to_domain_event(n)
        aggregates[str(n.originator_id)].append(
            (n.originator_version, n.topic, getattr(event, "fact_id", None)))
    book = None
    if app.recorder.select_events(ROUTING_BOOK_ID, limit=1):
        found: RoutingBook = app.repository.get(ROUTING_BOOK_ID)
        loads = {r: n for r, n in found.loads.items() if n}
        book = (sorted(p.key for held in found.profiles.values() for p in held),
                loads == open_loads(app))
    return {"counters": app.store.counters(), "rejections": app.store.rejection_counts(),
            "aggregates": dict(aggregates), "routing_book": book}


def reference_run(tmp_path: Path, values: Sequence[bytes | None]) -> tuple[dict[str, Any],
                                                                          list[Any]]:
    """A clean in-process ingest of ``values``: its snapshot and each input's outcome."""
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/reference-{secrets.token_hex(3)}.db"))
    try:
        outcomes = []
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            outcomes.extend(engine.ingestor.ingest(
                [RawInput(v or b"", f"ref:{start + i}") for i, v in enumerate(chunk)]).outcomes)
        return snapshot(engine), outcomes
    finally:
        engine.close()


@dataclass
class Worker:
    """A ``dealflow`` subprocess (consume or relay), stopped by its PID."""

    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    logs: list[str] = field(default_factory=list)

    def start(self) -> Worker:
        """Start it (again)."""
        assert self.proc is None or self.proc.poll() is not None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([DEALFLOW, *self.args], env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        return self

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, no chance to clean up."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (graceful), SIGKILL after a bounded wait."""
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGTERM, timeout=20)

    def output(self) -> str:
        """The tail of what it wrote."""
        return tail(self.log.read_text(errors="replace"), 60)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Make ``dealflow`` subprocesses; all are stopped at the end of the test."""
    count = itertools.count()

    def make(args: list[str], settings: KafkaSettings, name: str = "worker") -> Worker:
        return Worker(args, settings_env(settings), tmp_path / f"{name}-{next(count)}.log")

    yield from closing_factory(make, Worker.stop)
