"""Whole-command ingest throughput beside its baselines, interleaved in one run.

    python3 dev.py bench ingest [--deals 5000] [--runs 3] [--naive-facts 6000]
                                [--base /tmp/base [/tmp/other ...]]
                                [--postgres URL | --no-postgres]
                                [--workers 1 2]

The demo file (seed 7, --deals deals: the 60k-line file for 5,000) is written once; then each
round runs, one after the other (so that a busy machine slows all of them alike):
- ``dealflow ingest FILE -q`` (default workers) into a fresh SQLite file, as a subprocess:
  the whole command, start-up included; and with each ``--workers`` value asked for;
- the same command of each checkout given with --base (e.g. ``git archive d9b6309 | tar -x
  -C /tmp/base`` with its own ``.venv``; several: e.g. main at d9b6309 and this branch
  before a change, measured in the same rounds);
- ``bench/naive_baseline.py``: a minimal eventsourcing application, one save per fact, on
  the first --naive-facts lines (it is slow), into a fresh SQLite file;
- ``dealflow ingest FILE -q`` into a fresh PostgreSQL database (unless --no-postgres), then
  an untimed ``CHECKPOINT``: with five commands and three rounds the default command runs
  right after the PostgreSQL one in two rounds of three, and likely shared the machine with the
  server's deferred writes (loaded runs put it 0.94-1.03x the commit before it while the
  same pairs alone were 0.77x).
Each round starts one command later in that list than the round before (no command always
runs first). Prints every run with the CPU time (user + sys) of its processes, the medians,
the ratios, and the load average before each round. Never part of the test suite.

The commands run as an installed program does, with Python's bytecode cache: each checkout
runs once on the file's first line before the rounds (untimed), so that it has written its
modules' bytecode, and a ``PYTHONDONTWRITEBYTECODE`` in the caller's environment is not
passed on (with it every run compiled every dealflow module from source again, ~3 % of the
whole command). ``--no-bytecode-cache`` keeps the caller's setting and skips the warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.demo import write_jsonl  # noqa: E402


class PostgresDatabases:
    """Create a fresh database per run on the server at ``url``; drop them at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []

    def fresh(self) -> str:
        name = f"dealflow_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def settle(self) -> None:
        """Have the server write out what the last run left in its buffers (CHECKPOINT)
        before the next command starts, so that command does not pay for it: otherwise
        the command after the PostgreSQL run shares the machine with its checkpoint."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def drop_all(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: Whether the commands may use (and write) Python's bytecode cache: see the docstring.
BYTECODE_CACHE = True


def _env() -> dict[str, str]:
    # Settings from the caller's environment would make the commands differ.
    return {k: v for k, v in os.environ.items() if not k.startswith("DEALFLOW_")
            and not (BYTECODE_CACHE and k == "PYTHONDONTWRITEBYTECODE")}


def _children_cpu() -> float:
    """CPU seconds (user + sys) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command_rate(dealflow: Path, path: Path, url: str, lines: int, *extra: str) -> float:
    """Lines/s of the whole ``dealflow ingest FILE -q`` command (start-up included)."""
    started = time.perf_counter()
    subprocess.run([str(dealflow), "ingest", str(path), "-q", "--db", url, *extra],
                   check=True, stdout=subprocess.DEVNULL, env=_env(), cwd=dealflow.parents[2])
    return lines / (time.perf_counter() - started)


def naive_rate(python: Path, path: Path, url: str, limit: int) -> float:
    """Lines/s of the naive path (bench/naive_baseline.py) over ``limit`` lines."""
    out = subprocess.run(
        [str(python), str(ROOT / "bench" / "naive_baseline.py"), str(path), "--db", url,
         "--limit", str(limit), "--json"],
        check=True, capture_output=True, env=_env(), text=True,
    ).stdout
    return float(json.loads(out)["rate"])


def _then_settle(measure: Callable[[], float], pg: PostgresDatabases) -> float:
    """``measure()``, then the server's checkpoint (untimed; see ``settle``)."""
    rate = measure()
    pg.settle()
    return rate


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=5000, help="deals in the demo file")
    parser.add_argument("--file", type=Path, default=None,
                        help="ingest this JSONL file instead of writing the demo file (e.g. "
                        "the base checkout's demo file, which both versions accept)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (medians over them)")
    parser.add_argument("--naive-facts", type=int, default=6_000,
                        help="lines for the naive one-save-per-fact path (it is slow)")
    parser.add_argument("--base", type=Path, nargs="+", default=[],
                        help="checkouts with their own .venv to compare with (e.g. /tmp/base)")
    parser.add_argument("--workers", type=int, nargs="*", default=[],
                        help="also run the command with --workers N for each N")
    parser.add_argument("--postgres", default=os.environ.get(
        "DEALFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep the caller's PYTHONDONTWRITEBYTECODE, no warm-up run")
    args = parser.parse_args()
    global BYTECODE_CACHE
    BYTECODE_CACHE = not args.no_bytecode_cache

    dealflow = ROOT / ".venv" / "bin" / "dealflow"
    python = ROOT / ".venv" / "bin" / "python"
    bases = {f"sqlite: base checkout {b}, same command": b / ".venv" / "bin" / "dealflow"
             for b in args.base}
    rates: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    pg = None if args.no_postgres else PostgresDatabases(args.postgres)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.file is not None:
            path = args.file
            lines = sum(1 for line in path.open("rb") if line.strip())
            print(f"facts file: {path} ({lines:,} lines), "
                  f"{path.stat().st_size / 2**20:.1f} MiB; {args.runs} rounds, medians")
        else:
            path = tmp / "facts.jsonl"
            counts = write_jsonl(path, 7, args.deals)
            lines = counts.lines
            print(f"facts file: {lines:,} lines ({counts.good:,} good, {counts.duplicates:,} "
                  f"duplicates, {counts.bad:,} bad), {path.stat().st_size / 2**20:.1f} MiB; "
                  f"{args.runs} rounds, medians")
        fresh = iter(range(1_000_000))

        def sqlite() -> str:
            return f"sqlite:///{tmp / f'r{next(fresh)}.db'}"

        if BYTECODE_CACHE:
            first = tmp / "first.jsonl"
            with path.open("rb") as source:
                first.write_bytes(source.readline())
            for command in (dealflow, *bases.values()):
                command_rate(command, first, sqlite(), 1)
            print("bytecode cache: on (each checkout ran once on one line first)")
        else:
            print(f"bytecode cache: as the caller's environment (PYTHONDONTWRITEBYTECODE="
                  f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}), no warm-up")

        try:
            for round_number in range(1, args.runs + 1):
                print(f"round {round_number}: {load()}", flush=True)
                measured: dict[str, Callable[[], float]] = {
                    "sqlite: dealflow ingest -q (default workers)":
                    lambda: command_rate(dealflow, path, sqlite(), lines)}
                for n in args.workers:
                    measured[f"sqlite: dealflow ingest -q --workers {n}"] = partial(
                        lambda w: command_rate(dealflow, path, sqlite(), lines,
                                               "--workers", str(w)), n)
                for label, command in bases.items():
                    measured[label] = partial(
                        lambda c: command_rate(c, path, sqlite(), lines), command)
                measured["sqlite: naive, one eventsourcing save per fact"] = (
                    lambda: naive_rate(python, path, sqlite(), args.naive_facts))
                if pg is not None:
                    measured["postgres: dealflow ingest -q (default workers)"] = partial(
                        _then_settle, lambda: command_rate(dealflow, path, pg.fresh(), lines),
                        pg)
                # Each round starts one command later, so that no command always runs
                # first (right after the previous round's PostgreSQL run) or last.
                order = list(measured.items())
                shift = (round_number - 1) % len(order)
                for label, measure in order[shift:] + order[:shift]:
                    before = _children_cpu()
                    rate = measure()
                    cpu = _children_cpu() - before
                    rates[label].append(rate)
                    cpus[label].append(cpu)
                    print(f"  {label}: {rate:,.0f} lines/s, CPU {cpu:.2f} s", flush=True)
        finally:
            if pg is not None:
                pg.drop_all()
    print(f"after: {load()}")
    medians = {label: statistics.median(values) for label, values in rates.items()}
    cpu_medians = {label: statistics.median(values) for label, values in cpus.items()}
    main_label = "sqlite: dealflow ingest -q (default workers)"
    main_rate = medians[main_label]
    naive = medians["sqlite: naive, one eventsourcing save per fact"]
    width = max(map(len, medians))
    for label, rate in medians.items():
        print(f"{label:<{width}}  {rate:>9,.0f} lines/s  = {rate / naive:5.1f}x naive"
              f"  (CPU {cpu_medians[label]:.2f} s)")
    for label, command in bases.items():
        print(f"dealflow / base checkout {command.parents[2]} (SQLite): "
              f"{main_rate / medians[label]:.2f}x (CPU {cpu_medians[main_label]:.2f} s "
              f"against {cpu_medians[label]:.2f} s: "
              f"{cpu_medians[main_label] / cpu_medians[label]:.2f}x)")
    if pg is not None:
        pg_rate = medians["postgres: dealflow ingest -q (default workers)"]
        print(f"PostgreSQL / SQLite (same command): {pg_rate / main_rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
