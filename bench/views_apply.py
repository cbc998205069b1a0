"""The live views' apply rate (events/s per view), beside another version's in the same run.

    python3 dev.py bench views_apply [--db FILE] [--runs 3] [--views a,b] [--batch N]
                                     [--base DIR] [--no-all | --only-all]

A store is filled once (the demo quarter, ~63k events, `dealflow ingest --workers 1`)
unless --db names one; views are never applied by ingest, so every view starts at zero.
Then, per run, for each view alone and for all of them together ("all"): the store is
copied, a runner is built over the view(s) through ``bootstrap`` and ``runner.catch_up()``
applies the whole log by the runner's LIVE path (a step applies what the log holds, up to
the runner's catch-up size, one transaction per step; --batch N: N events every step, like a
runner following a live log closely) — not ``dealflow rebuild``'s bulk path. Printed per view: the
median events/s (wall) and CPU seconds of this process, each with the 1-minute load average.

With --base DIR (a checkout of another version, e.g. ``git worktree add /tmp/base HEAD``),
each run measures that version too, right after this one on the same store copy, by running
this script (this version of it) with ``PYTHONPATH=DIR`` and ``--child``; the ratio
this/base is printed per view. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def fill(folder: Path) -> Path:
    """A fresh SQLite store holding the demo quarter (views not applied)."""
    facts, db = folder / "facts.jsonl", folder / "store.db"
    exe = Path(sys.executable).parent / "dealflow"
    subprocess.run([str(exe), "demo", "--out", str(facts)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([str(exe), "ingest", str(facts), "--db", f"sqlite:///{db}", "-q",
                    "--workers", "1"], check=True, stdout=subprocess.DEVNULL)
    return db


def measure(db: Path, names: list[str], batch: int) -> dict[str, float]:
    """Apply the whole log of ``db`` (a scratch copy) to ``names`` by the live path, in
    steps of ``batch`` events (0: the runner's default catch-up size)."""
    from engine.bootstrap import bootstrap
    from engine.settings import Settings

    engine = bootstrap(Settings(db=f"sqlite:///{db}"))
    try:
        runner = engine.runner(names, batch_size=batch or 1000)
        if batch:  # every step reads one batch, as when following a live log closely
            runner.catch_up_size = batch
        started, cpu = time.perf_counter(), time.process_time()
        read = runner.catch_up()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        head = runner.head()
        applied = min(runner.positions().values())
        runner.close()
    finally:
        engine.close()
    if applied != head:
        raise SystemExit(f"{names}: applied {applied} of {head}")
    return {"events": float(head), "read": float(read), "wall": wall, "cpu": cpu,
            "load": load()}


def child(db: Path, names: list[str], batch: int) -> dict[str, float]:
    """Measure on a private copy of ``db``."""
    with tempfile.TemporaryDirectory(prefix="views_apply_") as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copyfile(db, copy)
        return measure(copy, names, batch)


def run_in(base: str | None, db: Path, names: list[str], batch: int) -> dict[str, float]:
    """One measurement in a fresh process, of this checkout or of ``base``."""
    env = dict(os.environ)
    if base is not None:
        env["PYTHONPATH"] = base
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--db", str(db), "--views", ",".join(names),
         "--batch", str(batch)],
        check=True, capture_output=True, text=True, env=env,
        cwd=base or str(Path(__file__).resolve().parent.parent))
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Parse the options, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="an existing SQLite store (no views applied)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--views", default="", help="comma-separated; default every view")
    parser.add_argument("--base", help="another checkout to measure in the same run")
    parser.add_argument("--batch", type=int, default=0,
                        help="events per step, every step (default: the runner's "
                        "catch-up size)")
    parser.add_argument("--no-all", action="store_true", help="skip all views together")
    parser.add_argument("--only-all", action="store_true",
                        help="measure all views together only (not each view alone)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.db, args.views.split(","), args.batch)))
        return
    with tempfile.TemporaryDirectory(prefix="views_apply_") as tmp:
        db = args.db or fill(Path(tmp))
        if args.views:
            names = args.views.split(",")
        else:
            from engine.bootstrap import bootstrap
            from engine.settings import Settings

            engine = bootstrap(Settings(db=f"sqlite:///{db}"))
            names = list(engine.views)
            engine.close()
        groups = [[n] for n in names] + ([] if args.no_all or len(names) < 2 else [names])
        if args.only_all:
            groups = [names]
        results: dict[str, dict[str, list[dict[str, float]]]] = {}
        for run in range(args.runs):
            for group in groups:
                label = "all" if len(group) > 1 else group[0]
                for version in ["this"] + (["base"] if args.base else []):
                    r = run_in(args.base if version == "base" else None, db, group, args.batch)
                    results.setdefault(label, {}).setdefault(version, []).append(r)
                    print(f"run {run + 1} {label:<12} {version:<4} "
                          f"{r['events'] / r['wall']:>9,.0f} ev/s  cpu {r['cpu']:6.2f} s  "
                          f"load {r['load']:.2f}", file=sys.stderr)
        print(f"\n{'view':<12} {'this ev/s':>10} {'cpu s':>7}"
              + (f" {'base ev/s':>10} {'cpu s':>7} {'wall x':>7} {'cpu x':>7}" if args.base
                 else "") + "  load")
        for label, by in results.items():
            def med(version: str, key: str, by: dict[str, list[dict[str, float]]] = by
                    ) -> float:
                rs = by[version]
                if key == "rate":
                    return statistics.median(r["events"] / r["wall"] for r in rs)
                return statistics.median(r[key] for r in rs)
            line = f"{label:<12} {med('this', 'rate'):>10,.0f} {med('this', 'cpu'):>7.2f}"
            if args.base:
                line += (f" {med('base', 'rate'):>10,.0f} {med('base', 'cpu'):>7.2f}"
                         f" {med('this', 'rate') / med('base', 'rate'):>7.2f}"
                         f" {med('base', 'cpu') / med('this', 'cpu'):>7.2f}")
            loads = [r["load"] for v in by.values() for r in v]
            print(line + f"  {min(loads):.2f}-{max(loads):.2f}")


if __name__ == "__main__":
    main()
