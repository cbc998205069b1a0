"""Append-to-visible latency of the views at a steady fact rate (default 1,000 facts/s).

    python3 dev.py bench live_latency [--rate 1000] [--seconds 20] [--batch 10]

A writer ingests demo facts in small batches at a steady rate; the projection runner
follows live in its own thread. For each batch, latency = the moment every view has
applied the batch's last position minus the moment its transaction committed. Prints p50,
p90, p99 and max, beside the writer's own commit time per batch as a baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path

from engine.bootstrap import bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.settings import Settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="facts per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=10, help="facts per append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = bootstrap(Settings(db=f"sqlite:///{Path(tmp) / 'live.db'}"))
        runner = engine.runner()
        runner.start(poll_interval=0.002)
        lines = generate(5, deals=max(50, int(args.rate * args.seconds / 11)))
        committed: dict[int, float] = {}
        commit_times: list[float] = []
        latencies: list[float] = []
        done = threading.Event()

        def watch() -> None:
            # Woken by the runner after each batch it applies (no polling of the store
            # between batches, which would compete with the runner for the GIL).
            while not done.is_set() or committed:
                if not committed:
                    time.sleep(0.001)
                    continue
                oldest = min(list(committed))
                if not runner.wait(oldest, timeout=0.05):
                    continue
                lowest = min(runner.positions().values())
                now = time.perf_counter()
                for position in [p for p in list(committed) if p <= lowest]:
                    latencies.append(now - committed.pop(position))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        interval = args.batch / args.rate
        deadline = time.perf_counter() + args.seconds
        next_at = time.perf_counter()
        number = 0
        while time.perf_counter() < deadline:
            chunk = list(islice(lines, args.batch))
            if not chunk:
                break
            inputs = [RawInput(raw, f"live:{number + i}") for i, raw in enumerate(chunk)]
            number += len(chunk)
            started = time.perf_counter()
            result = engine.ingestor.ingest(inputs)
            finished = time.perf_counter()
            commit_times.append(finished - started)
            if result.last_position is not None:
                committed[result.last_position] = finished
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        done.set()
        watcher.join(timeout=30)
        runner.stop()
        engine.close()
    ms = [v * 1000 for v in latencies]
    base = [v * 1000 for v in commit_times]
    print(f"{number:,} facts at {args.rate:,}/s in batches of {args.batch}; "
          f"{len(ms):,} batches measured")
    print(f"append-to-visible  p50 {statistics.median(ms):6.1f} ms  p90 {percentile(ms, .9):6.1f}"
          f"  p99 {percentile(ms, .99):6.1f}  max {max(ms):6.1f}")
    print(f"baseline: the append itself  p50 {statistics.median(base):6.1f} ms  "
          f"p99 {percentile(base, .99):6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
