"""Rebuilding all views from the log, events/s, beside two baselines from the same run.

    python3 dev.py bench rebuild [--facts 1000000] [--baseline-events 20000] [--db FILE]

1. Fill a fresh SQLite store with ~--facts demo facts (`dealflow ingest --workers 2` path),
   unless --db names an existing store to reuse.
2. Raw read-and-decode of the whole log (select in batches of 1,000 + decode every event).
3. dealflow rebuild of all the engine's views (one read of each batch of 1,000 events for
   all of them; several batches per transaction).
4. Baseline: the same views applied one event per transaction (the shape of eventsourcing's
   stock projection runner, which commits a transaction per event and cannot run on SQLite
   for lack of subscriptions), on the first --baseline-events events.
Peak RSS during the rebuild is sampled after every batch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from engine.bootstrap import bootstrap
from engine.demo import write_jsonl
from engine.ingest.jsonl import iter_lines
from engine.settings import Settings


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill(db: Path, facts: int, tmp: Path) -> None:
    path = tmp / "facts.jsonl"
    counts = write_jsonl(path, 21, max(1, round(facts / 12)))
    settings = Settings(db=f"sqlite:///{db}", workers=2)
    engine = bootstrap(settings)
    started = time.perf_counter()
    engine.parallel_ingest(2).run(iter_lines(path))
    engine.close()
    print(f"filled {db} with {counts.lines:,} facts in {time.perf_counter() - started:.0f} s")
    path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=20_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse this SQLite store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = args.db or tmp / "rebuild.db"
        if not db.exists():
            fill(db, args.facts, tmp)
        engine = bootstrap(Settings(db=f"sqlite:///{db}"))
        app = engine.app
        head = int(app.recorder.max_notification_id() or 0)
        print(f"log: {head:,} events; views: {', '.join(engine.views)}")

        started = time.perf_counter()
        position = 0
        while True:
            batch = app.recorder.select_notifications(start=position + 1, limit=1000)
            if not batch:
                break
            for n in batch:
                app.mapper.to_domain_event(n)
            position = batch[-1].id
        raw = head / (time.perf_counter() - started)

        runner = engine.runner(batch_size=1000)
        runner.catch_up()  # the live tables exist and are current; rebuild makes fresh ones
        base_rss = rss_mb()
        peak = [base_rss]

        def sample(_done: int, _total: int) -> None:
            peak[0] = max(peak[0], rss_mb())

        started = time.perf_counter()
        runner.rebuild(progress=sample)
        rebuilt = head / (time.perf_counter() - started)
        runner.stop()

        per_event_db = tmp / "per-event.db"
        per_event = bootstrap(Settings(db=f"sqlite:///{per_event_db}"))
        # Copy the first N events into a small store, so the baseline replays the same events.
        events = app.recorder.select_notifications(start=1, limit=args.baseline_events)
        per_event.app.recorder.insert_events(events)
        slow = per_event.runner(batch_size=1)
        started = time.perf_counter()
        slow.catch_up()
        baseline = len(events) / (time.perf_counter() - started)
        slow.stop()
        per_event.close()
        engine.close()

    print(f"raw read + decode of the log        {raw:>10,.0f} events/s  (baseline)")
    print(f"one transaction per event (all views){baseline:>9,.0f} events/s  (baseline, "
          f"first {len(events):,} events)")
    print(f"dealflow rebuild, all views          {rebuilt:>10,.0f} events/s  "
          f"= {rebuilt / baseline:.1f}x per-event, {rebuilt / raw:.2f}x raw decode")
    print(f"RSS during rebuild: start {base_rss:.0f} MB, peak {peak[0]:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
