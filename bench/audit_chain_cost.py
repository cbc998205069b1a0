"""Chain cost on ingest: facts/s with and without the audit chain follower running.

    python3 dev.py bench audit_chain_cost [--facts 60000] [--runs 3]

Each run ingests the same demo facts file (``engine.demo``, duplicates and bad inputs
included) into a fresh SQLite store through the real ingest path (one process, batches of
1,000 facts per transaction, as ``dealflow ingest``):

- baseline: nothing else runs;
- with chain: ``dealflow audit follow`` runs in a second process for the whole ingest
  (polling every 0.2 s, 5,000 events per batch), as it would in production.

The two kinds of run alternate and the medians are compared; the follower's lag when the
ingest ends (events not chained yet) and the time it then needs to catch up are printed
too, and so are CPU seconds (ingest process; follower process after start-up), which vary
much less than wall-clock rates on a shared machine. Target: with the chain at most 10 %
slower. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.bootstrap import bootstrap
from engine.demo import write_jsonl
from engine.ingest.jsonl import read_batches
from engine.settings import Settings

BATCH = 5000


def follow(url: str, ready: Any, stop: Any, results: Any) -> None:
    """The follower process: chain until told to stop, then catch up and report."""
    engine = bootstrap(Settings(db=url))
    follower = engine.chain_follower(batch_size=BATCH, periodic=False)
    follower.lock.acquire(blocking=True, timeout=10)
    cpu = _cpu()
    ready.set()
    while not stop.is_set():
        if follower.run_once() < BATCH:
            stop.wait(0.2)
    lag = follower.head() - follower.state().position
    started = time.perf_counter()
    follower.catch_up()
    results.put((lag, time.perf_counter() - started, follower.state().size, _cpu() - cpu))
    follower.stop()
    engine.close()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ingest(url: str, path: Path) -> tuple[float, int, float]:
    """Ingest ``path``; (facts/s, events appended, CPU seconds)."""
    engine = bootstrap(Settings(db=url))
    done, events = 0, 0
    cpu, started = _cpu(), time.perf_counter()
    for batch in read_batches(path, 1000):
        events += engine.ingestor.ingest(batch).events
        done += len(batch)
    rate, cpu = done / (time.perf_counter() - started), _cpu() - cpu
    engine.close()
    return rate, events, cpu


def with_chain(url: str, path: Path) -> tuple[float, int, float, int, float, float]:
    """Ingest with a follower process running: (facts/s, lag at the end, catch-up seconds,
    events, ingest CPU seconds, follower CPU seconds)."""
    bootstrap(Settings(db=url)).close()  # the store exists before the follower starts
    context = mp.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=follow, args=(url, ready, stop, results))
    process.start()
    if not ready.wait(60):
        raise SystemExit("the follower did not start")
    rate, events, cpu = ingest(url, path)
    stop.set()
    lag, catch_up, size, follower_cpu = results.get(timeout=600)
    process.join()
    if size != events:
        raise SystemExit(f"the chain holds {size} events, the log {events}")
    return rate, lag, catch_up, events, cpu, follower_cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "facts.jsonl"
        counts = write_jsonl(path, 7, max(1, round(args.facts / 12)))
        print(f"facts file: {counts.lines:,} lines; {args.runs} runs each, alternating, medians")
        base: list[tuple[float, int, float]] = []
        chained: list[tuple[float, int, float, int, float, float]] = []
        for run in range(args.runs):
            base.append(ingest(f"sqlite:///{tmp / f'base{run}.db'}", path))
            chained.append(with_chain(f"sqlite:///{tmp / f'chain{run}.db'}", path))
    without = statistics.median(r[0] for r in base)
    rate = statistics.median(r[0] for r in chained)
    lag = statistics.median(r[1] for r in chained)
    catch_up = statistics.median(r[2] for r in chained)
    events = chained[0][3]
    base_cpu = statistics.median(r[2] for r in base)
    ingest_cpu = statistics.median(r[4] for r in chained)
    follower_cpu = statistics.median(r[5] for r in chained)
    print(f"{'ingest into SQLite (batches of 1,000)':<44}{'facts/s':>10}{'ratio':>8}"
          f"{'CPU s':>8}")
    print(f"{'without the chain (baseline)':<44}{without:>10,.0f}{1.0:>7.2f}x{base_cpu:>8.2f}")
    print(f"{'with the chain follower running':<44}{rate:>10,.0f}{rate / without:>7.2f}x"
          f"{ingest_cpu:>8.2f}")
    print(f"{'  the follower process itself':<62}{follower_cpu:>8.2f}")
    slower = (1 - rate / without) * 100
    change = f"{slower:.1f} % slower" if slower >= 0 else f"{-slower:.1f} % faster (noise)"
    print(f"with the chain: {change} (target: at most 10 % slower); chaining cost "
          f"{follower_cpu / base_cpu * 100:.1f} % of the ingest's CPU, on the other core; "
          f"{events:,} events chained; lag when ingest ended {lag:,.0f} events, caught up "
          f"{catch_up:.2f} s later; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
          "cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
