"""Rebuilding all views from the log, events/s, beside baselines from the same run.

    python3 dev.py bench rebuild [--facts 1000000] [--baseline-events 20000] [--db FILE]
                                 [--processes 2]

1. Fill a fresh SQLite store with ~--facts demo facts (`dealflow ingest --workers 2` path),
   unless --db names an existing store to reuse.
2. Baseline: read and decode the whole log through eventsourcing's own API: the recorder's
   ``select_notifications`` in batches of 1,000 and a ``Mapper`` with eventsourcing's stock
   ``JSONTranscoder`` (same transcodings as the store). dealflow's own reader
   (``LogReader``: plain rows, orjson decoding, same values) is timed too, for reference.
3. dealflow rebuild of all the engine's views (each process reads each batch of 1,000
   events once for its views; several batches per transaction; --processes 2 shares the
   views out to a helper process).
4. Baseline: the same views applied one event per transaction (the shape of eventsourcing's
   stock projection runner, which commits a transaction per event and cannot run on SQLite
   for lack of subscriptions), on the first --baseline-events events (0: skip).
Peak RSS is the kernel's high-water mark (VmHWM, reset before the rebuild) of this process
and, when there is one, of the helper process; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from eventsourcing.persistence import JSONTranscoder, Mapper

from engine.bootstrap import bootstrap
from engine.demo import write_jsonl
from engine.ingest.jsonl import iter_lines
from engine.settings import Settings
from engine.store.app import DealflowApplication


def peak_rss_mb() -> float:
    """This process's RSS high-water mark."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    """Start the high-water mark again from the current RSS (Linux 4.0 and later)."""
    Path("/proc/self/clear_refs").write_text("5")


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


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


def stock_read(app: DealflowApplication, head: int) -> float:
    """Events/s reading and decoding the log through eventsourcing's recorder and mapper."""
    transcoder = JSONTranscoder()
    app.register_transcodings(transcoder)
    mapper: Mapper = Mapper(transcoder=transcoder)
    started = time.perf_counter()
    position = 0
    while True:
        batch = app.recorder.select_notifications(start=position + 1, limit=1000)
        if not batch:
            break
        for n in batch:
            mapper.to_domain_event(n)
        position = batch[-1].id
    return head / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=20_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse this SQLite store")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = args.db or tmp / "rebuild.db"
        if not db.exists():
            fill(db, args.facts, tmp)
        engine = bootstrap(Settings(db=f"sqlite:///{db}"))
        app = engine.app
        head = engine.reader.head()
        print(f"log: {head:,} events; views: {', '.join(engine.views)}; "
              f"cpus: {os.cpu_count()}; load average before: {load()}")

        runner = engine.runner(batch_size=1000)
        runner.rebuild_processes = args.processes
        runner.catch_up()  # the live tables exist and are current; rebuild makes fresh ones

        raw = stock_read(app, head)
        started = time.perf_counter()
        position = 0
        while events := engine.reader.read(position, 1000):
            position = events[-1].position
        ours = head / (time.perf_counter() - started)

        reset_peak_rss()
        started = time.perf_counter()
        runner.rebuild()
        seconds = time.perf_counter() - started
        rebuilt = head / seconds
        stats = runner.rebuild_stats
        here_rss, helper_rss = peak_rss_mb(), stats.get("helper_peak_rss_mb")
        load_after = load()
        runner.stop()

        baseline = None
        if args.baseline_events:
            per_event_db = tmp / "per-event.db"
            per_event = bootstrap(Settings(db=f"sqlite:///{per_event_db}"))
            # The first N events in a small store, so the baseline replays the same events.
            events = app.recorder.select_notifications(start=1, limit=args.baseline_events)
            per_event.app.recorder.insert_events(events)
            slow = per_event.runner(batch_size=1)
            started = time.perf_counter()
            slow.catch_up()
            baseline = len(events) / (time.perf_counter() - started)
            slow.stop()
            per_event.close()
        engine.close()

    print(f"read + decode, eventsourcing's select_notifications + stock JSONTranscoder "
          f"{raw:>9,.0f} events/s  (baseline)")
    print(f"read + decode, dealflow's LogReader (same values)                        "
          f"{ours:>9,.0f} events/s  ({ours / raw:.2f}x baseline)")
    if baseline is not None:
        print(f"one transaction per event (all views), first {len(events):,} events"
              f"{'':>21}{baseline:>9,.0f} events/s")
    print(f"dealflow rebuild, all views, {stats['processes']} process(es) "
          f"({'; '.join(', '.join(g) for g in (stats['here'], stats['there']) if g)})")
    print(f"    {seconds:.1f} s = {rebuilt:,.0f} events/s = {rebuilt / raw:.3f}x the read + "
          f"decode baseline ({rebuilt / ours:.3f}x dealflow's LogReader)"
          + ("" if baseline is None else f", {rebuilt / baseline:.0f}x per-event"))
    parts = [f"{what} {stats[key]:.1f} s" + (f" (CPU {stats[cpu]:.1f} s)" if cpu in stats else "")
             for what, key, cpu in (
                 ("this process's views", "here_seconds", "here_cpu_seconds"),
                 ("helper's views", "helper_seconds", "helper_cpu_seconds"),
                 ("copy in + swap", "swap_seconds", ""),
                 ("dropping the old tables", "drop_seconds", ""))
             if key in stats]
    print(f"    {'; '.join(parts)}")
    total = here_rss + (helper_rss or 0.0)
    print(f"peak RSS during the rebuild: this process {here_rss:.0f} MB"
          + ("" if helper_rss is None else f", helper {helper_rss:.0f} MB, together "
             f"{total:.0f} MB"))
    print(f"load average after: {load_after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
