"""Ingest throughput: JSONL -> store, beside a naive path and raw inserts, same run.

    python3 dev.py bench ingest [--facts 60000] [--runs 3] [--naive-facts 6000]
                                [--postgres URL | --no-postgres]

Prints facts/s for:
- dealflow ingest (batches of 1,000 facts per transaction) into a fresh SQLite file, in one
  process and with --workers 2 (facts routed to two processes by subject);
- (a) the naive path: the same facts, one eventsourcing save per fact (batch size 1);
- (b) a raw SQLite executemany of the same number of event-shaped rows;
- dealflow ingest into a fresh PostgreSQL database (and its naive path);
with medians over --runs runs and the ratios. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from engine.bootstrap import bootstrap
from engine.demo import write_jsonl
from engine.ingest.jsonl import iter_lines, read_batches
from engine.settings import Settings


def ingest_rate(url: str, path: Path, batch_size: int, limit: int | None = None) -> float:
    """Facts/s of the real ingest path on ``path`` (first ``limit`` facts)."""
    engine = bootstrap(Settings(db=url, batch_size=batch_size))
    try:
        done = 0
        started = time.perf_counter()
        for batch in read_batches(path, batch_size):
            if limit is not None:
                batch = batch[: limit - done]
            engine.ingestor.ingest(batch)
            done += len(batch)
            if limit is not None and done >= limit:
                break
        return done / (time.perf_counter() - started)
    finally:
        engine.close()


def parallel_rate(url: str, path: Path, workers: int) -> float:
    """Facts/s of ``dealflow ingest --workers N`` (partitioned by subject)."""
    settings = Settings(db=url, workers=workers)
    engine = bootstrap(settings)  # tables exist before the workers start, as in the CLI
    started = time.perf_counter()
    summary = engine.parallel_ingest(workers).run(iter_lines(path))
    engine.close()
    return summary.inputs / (time.perf_counter() - started)


def raw_sqlite_rate(rows: int) -> float:
    """Rows/s of a bare executemany of event-shaped rows into a file, one transaction."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version "
                     "INTEGER, topic TEXT, state BLOB, PRIMARY KEY (originator_id, "
                     "originator_version))")
        state = b'{"source":"crm-web","fact_id":"crm-000001","occurred_at":' + b"x" * 220 + b"}"
        params = [(uuid.uuid4().hex, 1, "dealflow.deal.activity_logged", state)
                  for _ in range(rows)]
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", params)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        return rows / elapsed


def fresh_sqlite(tmp: Path, name: str) -> str:
    return f"sqlite:///{tmp / name}"


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

    def drop_all(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    values = [measure() for _ in range(runs)]
    return statistics.median(values), values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=60_000, help="facts in the file")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--naive-facts", type=int, default=6_000,
                        help="facts for the naive one-save-per-fact path (it is slow)")
    parser.add_argument("--postgres", default=os.environ.get(
        "DEALFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "facts.jsonl"
        counts = write_jsonl(path, 7, max(1, round(args.facts / 12)))
        facts = counts.lines
        print(f"facts file: {facts:,} lines ({counts.good:,} good, {counts.duplicates:,} "
              f"duplicates, {counts.bad:,} bad); {args.runs} runs each, medians")
        runs = iter(range(10_000))
        batch, base = median_of(args.runs, lambda: ingest_rate(
            fresh_sqlite(tmp, f"b{next(runs)}.db"), path, 1000))
        par, _ = median_of(args.runs, lambda: parallel_rate(
            fresh_sqlite(tmp, f"p{next(runs)}.db"), path, 2))
        naive, _ = median_of(args.runs, lambda: ingest_rate(
            fresh_sqlite(tmp, f"n{next(runs)}.db"), path, 1, args.naive_facts))
        raw, _ = median_of(args.runs, lambda: raw_sqlite_rate(facts))
        rows = [
            ("sqlite: dealflow ingest (1 process, 1,000 facts/transaction)", batch,
             f"= {batch / naive:.1f}x naive, {batch / raw:.2f}x raw"),
            ("sqlite: dealflow ingest --workers 2", par,
             f"= {par / naive:.1f}x naive, {par / raw:.2f}x raw"),
            ("sqlite: (a) naive, one eventsourcing save per fact", naive, "baseline"),
            ("sqlite: (b) raw executemany of event-shaped rows", raw, "baseline"),
        ]
        if not args.no_postgres:
            pg = PostgresDatabases(args.postgres)
            try:
                pg_batch, _ = median_of(args.runs, lambda: ingest_rate(pg.fresh(), path, 1000))
                pg_par, _ = median_of(args.runs, lambda: parallel_rate(pg.fresh(), path, 2))
                pg_naive, _ = median_of(args.runs, lambda: ingest_rate(
                    pg.fresh(), path, 1, args.naive_facts))
            finally:
                pg.drop_all()
            rows += [
                ("postgres: dealflow ingest (1 process)", pg_batch,
                 f"= {pg_batch / pg_naive:.1f}x naive"),
                ("postgres: dealflow ingest --workers 2", pg_par,
                 f"= {pg_par / pg_naive:.1f}x naive"),
                ("postgres: naive, one save per fact", pg_naive, "baseline"),
            ]
    width = max(len(r[0]) for r in rows)
    for label, rate, ratio in rows:
        print(f"{label:<{width}}  {rate:>10,.0f} facts/s  {ratio}")
    print(f"(all sqlite runs: {', '.join(f'{v:,.0f}' for v in base)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
