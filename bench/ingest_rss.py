"""Peak RSS while ingesting a large JSONL file (default 1,000,000 facts) into SQLite.

    python3 dev.py bench ingest_rss [--facts 1000000] [--batch-size 1000]

Streams the file in batches exactly as `dealflow ingest` does (``ingest_stream``, batches of
the setting's default size) and samples this process's resident set size after every batch.
Prints RSS at each tenth of the file, the peak, the baseline RSS after start-up (before the
first batch), and the peak over the whole file beside the peak over its first 100,000 facts
(the same run's baseline: what growing the store and the run from 100k to 1M facts adds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from engine.bootstrap import bootstrap
from engine.demo import write_jsonl
from engine.ingest.jsonl import read_batches
from engine.ingest.stream import ingest_stream
from engine.settings import Settings


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int,
                        default=Settings.model_fields["batch_size"].default,
                        help="facts per transaction (default: the setting's, as ingest)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "facts.jsonl"
        started = time.perf_counter()
        counts = write_jsonl(path, 11, max(1, round(args.facts / 12)))
        print(f"wrote {counts.lines:,} facts ({path.stat().st_size / 2**20:,.0f} MiB) in "
              f"{time.perf_counter() - started:.0f} s")
        engine = bootstrap(Settings(db=f"sqlite:///{tmp / 'rss.db'}",
                                    batch_size=args.batch_size))
        baseline = rss_mb()
        peak = baseline
        peak_100k: float | None = None
        done = 0
        marks = [counts.lines * k // 10 for k in range(1, 11)]
        started = time.perf_counter()
        for result in ingest_stream(engine.ingestor,
                                    read_batches(path, engine.settings.batch_size)):
            done += len(result.outcomes)
            current = rss_mb()
            peak = max(peak, current)
            if peak_100k is None and done >= 100_000:
                peak_100k = peak
            while marks and done >= marks[0]:
                print(f"  {done:>10,} facts  RSS {current:7.1f} MB")
                marks.pop(0)
        elapsed = time.perf_counter() - started
        engine.close()
    print(f"baseline RSS after start-up {baseline:.1f} MB; peak {peak:.1f} MB "
          f"(+{peak - baseline:.1f} MB) over {done:,} facts in {elapsed:.0f} s "
          f"({done / elapsed:,.0f} facts/s)")
    if peak_100k is not None:
        print(f"peak over the first 100,000 facts {peak_100k:.1f} MB; over all {done:,} "
              f"facts {peak:.1f} MB: +{peak - peak_100k:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
