"""Verify rate: `dealflow audit verify` over a SQLite log, beside the raw log read rates.

    python3 dev.py bench audit_verify [--events 1000000] [--runs 3] [--keep FILE]

The log is built from real events: a demo quarter (``engine.demo.generate``) is ingested
through the normal path into a template store, and its stored events are then copied
(each copy with fresh aggregate ids, same versions, topics and stored bytes) by direct
inserts until the log holds ``--events`` events; the chain follower then chains it and a
checkpoint is signed. Measured in the same run, medians over ``--runs``:

- baseline (a): read + decode, what a projection rebuild pays: eventsourcing's
  ``select_notifications`` in batches of 10,000 and the store's mapper on every event;
- baseline (b): raw read, a bare cursor over the events table (5 columns);
- verify: ``Verifier.run()`` (recompute every entry and the Merkle frontier from the stored
  bytes, compare with the whole stored chain and the checkpoint).

Target: verify >= 100,000 events/s. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from engine.audit import Verifier
from engine.audit.keys import Ed25519PrivateKey
from engine.bootstrap import Engine, bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.settings import Settings
from engine.store.app import DealflowApplication


def template_rows(folder: Path, deals: int) -> list[tuple[str, int, str, bytes]]:
    """Ingest a demo quarter of ``deals`` deals; its stored events, in log order."""
    url = f"sqlite:///{folder / 'template.db'}"
    engine = bootstrap(Settings(db=url))
    batch: list[RawInput] = []
    for number, raw in enumerate(generate(7, deals=deals)):
        batch.append(RawInput(raw, f"demo:{number}"))
        if len(batch) == 1000:
            engine.ingestor.ingest(batch)
            batch = []
    engine.ingestor.ingest(batch)
    engine.close()
    conn = sqlite3.connect(folder / "template.db")
    rows = conn.execute("SELECT originator_id, originator_version, topic, state "
                        "FROM stored_events ORDER BY rowid").fetchall()
    conn.close()
    return rows


def build_log(path: Path, template: list[tuple[str, int, str, bytes]], events: int) -> None:
    """Fill a fresh store with copies of the template's events (fresh aggregate ids)."""
    bootstrap(Settings(db=f"sqlite:///{path}")).close()  # dealflow's schema
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    written = 0
    while written < events:
        ids: dict[str, str] = {}
        chunk = [(ids.setdefault(o, uuid.uuid4().hex), v, t, s)
                 for o, v, t, s in template[: events - written]]
        conn.executemany("INSERT INTO stored_events (originator_id, originator_version, "
                         "topic, state) VALUES (?,?,?,?)", chunk)
        written += len(chunk)
    conn.execute("COMMIT")
    conn.close()


def read_decode_rate(app: DealflowApplication) -> float:
    """Baseline (a): eventsourcing's notifications and the mapper, every event."""
    started, done, last = time.perf_counter(), 0, 0
    mapper = app.mapper
    while True:
        batch = app.recorder.select_notifications(start=last + 1, limit=10_000)
        if not batch:
            break
        for notification in batch:
            mapper.to_domain_event(notification)
        done += len(batch)
        last = batch[-1].id
    return done / (time.perf_counter() - started)


def raw_read_rate(path: Path) -> float:
    """Baseline (b): a bare cursor over the events table, 10,000 rows at a time."""
    conn = sqlite3.connect(path)
    started, done, last = time.perf_counter(), 0, 0
    while True:
        rows = conn.execute("SELECT rowid, originator_id, originator_version, topic, state "
                            "FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT 10000",
                            (last,)).fetchall()
        if not rows:
            break
        done += len(rows)
        last = rows[-1][0]
    conn.close()
    return done / (time.perf_counter() - started)


def verify_rate(engine: Engine, key: Ed25519PrivateKey) -> float:
    verifier = Verifier(engine.app, engine.sql, key.public_key())
    report = verifier.run()
    if not report.ok or report.checkpoints_valid == []:
        raise SystemExit(f"verification failed: {report.findings}")
    return report.events / report.seconds


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--template-deals", type=int, default=1500,
                        help="deals in the ingested demo quarter the log is copied from")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        template = template_rows(tmp, args.template_deals)
        path = tmp / "log.db"
        build_log(path, template, args.events)
        size = sum(len(r[3]) for r in template) / len(template)
        print(f"log: {args.events:,} events copied from {len(template):,} ingested demo events "
              f"(mean {size:.0f} stored bytes) in {time.perf_counter() - started:.0f} s")
        engine = bootstrap(Settings(db=f"sqlite:///{path}"))
        key = Ed25519PrivateKey.generate()
        follower = engine.chain_follower(key, batch_size=20_000, periodic=False)
        started = time.perf_counter()
        follower.catch_up()
        chain_seconds = time.perf_counter() - started
        follower.checkpoint()
        follower.stop()
        print(f"chained by the follower at {args.events / chain_seconds:,.0f} events/s; "
              f"{args.runs} runs each, medians")
        decode = median(args.runs, lambda: read_decode_rate(engine.app))
        raw = median(args.runs, lambda: raw_read_rate(path))
        verify = median(args.runs, lambda: verify_rate(engine, key))
        engine.close()
    print(f"{'measure':<46}{'events/s':>12}{'vs (a)':>9}{'vs (b)':>9}")
    for name, rate in (("(a) read + decode (select_notifications+mapper)", decode),
                       ("(b) raw read (bare cursor, 5 columns)", raw),
                       ("dealflow audit verify", verify)):
        print(f"{name:<46}{rate:>12,.0f}{rate / decode:>8.2f}x{rate / raw:>8.2f}x")
    verdict = "meets" if verify >= 100_000 else "MISSES"
    print(f"verify {verify:,.0f} events/s {verdict} the target of 100,000 events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
