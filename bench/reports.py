"""Report time on a store ten times bigger, beside the same report on the small store, same run.

    python3 dev.py bench reports [--scale 1.0] [--events 100000] [--quarters 10] [--runs 3]
                                 [--keep DIR] [--seed 7] [--workers 1]

1. With the real console script: `dealflow demo --out` then `dealflow ingest` into two fresh
   SQLite stores: a small one of one quarter (2026-Q1, ~--events events) and a big one of
   --quarters quarters of the same org (the same number of deals per quarter, ~10x the log).
   The demo's first quarter is the same facts in both, so a report asked for 2026-Q1 as of
   its end must print the same thing on both. Ingest uses one worker by default: with more,
   log positions follow the order the workers commit in, so reports that cite positions
   (commission lines) differ even between two ingests of one file. --scale shrinks both
   stores for a quick run; --keep DIR keeps them in DIR and reuses them when asked again with
   the same sizes.
2. One untimed report per store brings the views up to the log.
3. Each report of REPORTS (pipeline, sla, commissions, kpis, forecast, waterfall, accuracy)
   with --as-of 2026-03-31 --period 2026-Q1 --json, the waterfall also with --from
   2026-02-15 --deals (each report gets only the filters it takes), on both stores: the
   outputs compared (a summary of what differs), and the wall time of the whole command,
   median of --runs, small and big alternating. Target:
   big / small <= 1.5x. The CLI's start-up (below) is part of both times.
4. Baseline: `dealflow --help` against `python -c pass`, median of 5: what importing the CLI
   costs (target <= 0.5 s).
Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
DEALFLOW = str(BIN / "dealflow")
AS_OF, PERIOD, WATERFALL_FROM = "2026-03-31", "2026-Q1", "2026-02-15"
GOOD_FACTS_PER_DEAL = 11.55  # events in the log per demo deal in a quarter (measured)

# One line per report: a label and the command after `dealflow`. Every report gets those of
# COMMON's options it takes, so one that takes no --period still runs.
REPORTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pipeline", ("report", "pipeline")),
    ("sla", ("report", "sla")),
    ("commissions", ("report", "commissions")),
    ("kpis", ("report", "kpis")),
    ("forecast", ("report", "forecast")),
    ("waterfall", ("report", "waterfall")),
    ("accuracy", ("report", "accuracy")),
)
# --from and --deals only for the waterfall: mid-quarter to the quarter's end, with the deals
# behind each term (the lists must be identical on both stores too).
COMMON = (("--as-of", AS_OF), ("--period", PERIOD), ("--from", WATERFALL_FROM),
          ("--deals", None), ("--json", None))
PLAIN = {**os.environ, "COLUMNS": "240", "NO_COLOR": "1", "TERM": "dumb"}


def run(*args: str) -> tuple[float, str]:
    """Wall time of ``args`` as a process, and its stdout; stop the bench if it fails."""
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=PLAIN, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(args)}\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout


def options_for(command: tuple[str, ...]) -> list[str]:
    """COMMON's options that the command takes: for a report, the filters it takes
    (``projections.registry.report_filters``; a filter it does not take is refused), for
    another command the options its ``--help`` lists."""
    if command[0] == "report":
        from projections.registry import report_filters

        takes = {f"--{name}" for name in report_filters(command[1])} | {"--as-of", "--json"}
    else:
        _, help_text = run(DEALFLOW, *command, "--help")
        takes = {option for option, _ in COMMON
                 if re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text)}
    chosen: list[str] = []
    for option, value in COMMON:
        if option in takes:
            chosen += [option] if value is None else [option, value]
    return chosen


def log_head(url: str) -> int:
    _, text = run(DEALFLOW, "views", "--db", url)
    match = re.search(r"log head ([\d,]+)", text)
    return int(match[1].replace(",", "")) if match else -1


def remove_store(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def store(folder: Path, name: str, *, seed: int, deals: int, quarters: int, workers: int
          ) -> str:
    """A SQLite store of the demo's ``quarters`` quarters, made (or reused) in ``folder``."""
    db, stamp = folder / f"{name}.db", folder / f"{name}.json"
    wanted = {"seed": seed, "deals": deals, "quarters": quarters, "workers": workers}
    url = f"sqlite:///{db}"
    if db.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"{name}: reusing {db}")
        return url
    remove_store(db)
    stamp.unlink(missing_ok=True)
    facts = folder / f"{name}.jsonl"
    made, said = run(DEALFLOW, "demo", "--seed", str(seed), "--deals", str(deals),
                     "--quarters", str(quarters), "--out", str(facts))
    print(f"{name}: {said.strip()} in {made:.0f} s")
    took, _ = run(DEALFLOW, "ingest", str(facts), "--db", url, "--quiet",
                  "--workers", str(workers))
    print(f"{name}: ingested in {took:.0f} s ({facts.stat().st_size / took / 2**20:.1f} MiB/s)")
    facts.unlink()
    stamp.write_text(json.dumps(wanted))
    return url


def differences(a: Any, b: Any, path: str = "$") -> Iterator[tuple[str, Any, Any]]:
    """Where two JSON values differ: (path, value in a, value in b)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            if key not in a or key not in b:
                yield f"{path}.{key}", a.get(key, "<missing>"), b.get(key, "<missing>")
            else:
                yield from differences(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path} (length)", len(a), len(b)
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from differences(x, y, f"{path}[{index}]")
    elif a != b:
        yield path, a, b


def compare(small: str, big: str) -> str:
    """``identical``, or a short summary of what differs: how many values, under which keys,
    and the first one."""
    if small == big:
        return "identical"
    try:
        found = list(differences(json.loads(small), json.loads(big)))
    except json.JSONDecodeError:
        return f"DIFFERENT (not JSON; {len(small):,} vs {len(big):,} characters)"
    if not found:
        return "same JSON, other formatting"
    keys = Counter(re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1] for path, _, _ in found)
    by_key = ", ".join(f"{key} x{n}" for key, n in keys.most_common(4))
    path, x, y = found[0]
    return (f"DIFFERENT: {len(found)} value(s), by key {by_key}; first {path}: "
            f"{json.dumps(x)[:40]} vs {json.dumps(y)[:40]}")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000,
                        help="events in the log per quarter (the small store)")
    parser.add_argument("--quarters", type=int, default=10, help="quarters in the big store")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink both stores")
    parser.add_argument("--runs", type=int, default=3, help="runs per report (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the stores in this folder and reuse them next time")
    parser.add_argument("--workers", type=int, default=1, help="dealflow ingest --workers")
    args = parser.parse_args()
    deals = max(1, round(args.events * args.scale / GOOD_FACTS_PER_DEAL))
    print(f"start: {load()}")

    bare: list[float] = []
    helped: list[float] = []
    for _ in range(5):  # alternating, so a change of load weighs on both alike
        bare.append(run(sys.executable, "-c", "pass")[0])
        helped.append(run(DEALFLOW, "--help")[0])
    python, cli = statistics.median(bare), statistics.median(helped)
    print(f"python -c pass {python:.3f} s (baseline); dealflow --help {cli:.3f} s; "
          f"start-up cost {cli - python:+.3f} s (target <= 0.5 s), median of 5")

    with tempfile.TemporaryDirectory() as tmp_name:
        folder = args.keep or Path(tmp_name)
        folder.mkdir(parents=True, exist_ok=True)
        small = store(folder, "small", seed=args.seed, deals=deals, quarters=1,
                      workers=args.workers)
        big = store(folder, "big", seed=args.seed, deals=deals, quarters=args.quarters,
                    workers=args.workers)
        for name, url in (("small", small), ("big", big)):
            took, _ = run(DEALFLOW, *REPORTS[0][1], "--db", url, "--as-of", AS_OF, "--json")
            print(f"{name}: views caught up in {took:.1f} s (untimed below)")
        sizes = {url: log_head(url) for url in (small, big)}
        print(f"small: 1 quarter, {deals:,} deals, {sizes[small]:,} events; big: "
              f"{args.quarters} quarters, {deals:,} deals each, {sizes[big]:,} events "
              f"({sizes[big] / max(1, sizes[small]):.1f}x)")
        print(f"each report --as-of {AS_OF} (--period {PERIOD} where listed), wall time of the "
              f"command, median of {args.runs}; target big/small <= 1.5x")
        print(f"{'report':<12}{'small':>9}{'big':>9}{'big/small':>11}{'big-small':>11}  output")
        for name, command in REPORTS:
            options = options_for(command)
            times: dict[str, list[float]] = {small: [], big: []}
            outputs: dict[str, str] = {}
            for _ in range(args.runs):
                for url in (small, big):
                    took, output = run(DEALFLOW, *command, *options, "--db", url)
                    times[url].append(took)
                    outputs.setdefault(url, output)
            fast, slow = statistics.median(times[small]), statistics.median(times[big])
            print(f"{name:<12}{fast:>8.2f}s{slow:>8.2f}s{slow / fast:>10.2f}x"
                  f"{slow - fast:>+10.2f}s  {compare(outputs[small], outputs[big])}")
    print(f"end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
